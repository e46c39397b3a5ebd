//! Settings read from a file each time they are used.
//!
//! Kubernetes can mount a ConfigMap or a Secret as files in a pod. When the object
//! changes, the kubelet updates the files after a short delay. An app that reads the
//! file again on each request sees the change without a restart.
//! A missing or empty file means: no value.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest file we read. A token or one line of text is far smaller.
pub const MAX_BYTES: usize = 4096;

/// A file that holds one setting, like a token or a line of text.
#[derive(Debug, Clone)]
pub struct SettingFile {
    path: PathBuf,
}

impl SettingFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SettingFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text of the file without white space around it.
    /// `Ok(None)` when the file is missing or holds only white space.
    pub fn read(&self) -> Result<Option<String>, String> {
        let shown = self.path.display();
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot open {shown}: {e}")),
        };
        let mut bytes = Vec::new();
        file.take(MAX_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {shown}: {e}"))?;
        if bytes.len() > MAX_BYTES {
            return Err(format!("{shown} is larger than {MAX_BYTES} bytes"));
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))?;
        let text = text.trim();
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, content: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kit-setting-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn reads_the_trimmed_text_each_time() {
        let path = temp_file("token", b"  s3cret\n");
        let setting = SettingFile::new(&path);
        assert_eq!(setting.read(), Ok(Some("s3cret".into())));
        std::fs::write(&path, b"changed").unwrap();
        assert_eq!(setting.read(), Ok(Some("changed".into())));
    }

    #[test]
    fn missing_or_blank_files_have_no_value() {
        assert_eq!(SettingFile::new("/no/such/file").read(), Ok(None));
        let blank = temp_file("blank", b" \n\t\n");
        assert_eq!(SettingFile::new(blank).read(), Ok(None));
    }

    #[test]
    fn large_binary_or_unreadable_files_say_why() {
        let large = temp_file("large", &vec![b'a'; MAX_BYTES + 1]);
        let err = SettingFile::new(large).read().unwrap_err();
        assert!(err.ends_with("is larger than 4096 bytes"), "{err}");
        let binary = temp_file("binary", b"\xff\xfe");
        let err = SettingFile::new(binary).read().unwrap_err();
        assert!(err.ends_with("is not UTF-8 text"), "{err}");
        let dir = std::env::temp_dir();
        let err = SettingFile::new(&dir).read().unwrap_err();
        assert!(err.starts_with("cannot read"), "{err}");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abz"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
