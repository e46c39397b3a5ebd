//! Settings the relay reads from files on each request: the token for echo and a note.
//!
//! In Kubernetes the files come from a Secret and a ConfigMap, mounted into the pod.
//! The kubelet updates mounted files when the object changes, so the relay sees a
//! new token or a new note without a restart. A missing or empty file means: none.

use kit::hyper::header::{HeaderValue, AUTHORIZATION};
use kit::hyper::http::request::Builder;
use kit::setting_file::SettingFile;

/// The header that carries the note in every `/relay` answer.
pub const NOTE_HEADER: &str = "x-relay-note";

/// The relay's setting files. Each one is optional.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The token to send to echo (`TOKEN_FILE`).
    pub token: Option<SettingFile>,
    /// One line of text for the `x-relay-note` header (`NOTE_FILE`).
    pub note: Option<SettingFile>,
}

impl Files {
    /// The token, read now. A file that cannot be read is logged and sends no token.
    pub fn token(&self) -> Option<String> {
        read_logged(self.token.as_ref(), "token")
    }

    /// The note as a header value, read now: its first line, if it is valid in a header.
    pub fn note(&self) -> Option<HeaderValue> {
        let text = read_logged(self.note.as_ref(), "note")?;
        let line = text.lines().next().unwrap_or_default().trim();
        match HeaderValue::from_str(line) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!("✖ The note has characters a header cannot carry. Use plain text.");
                None
            }
        }
    }
}

fn read_logged(file: Option<&SettingFile>, what: &str) -> Option<String> {
    match file?.read() {
        Ok(value) => value,
        Err(why) => {
            tracing::warn!("✖ The relay cannot read its {what} file: {why}.");
            None
        }
    }
}

/// Adds `Authorization: Bearer <token>` to a request, when there is a token.
pub fn bearer(request: Builder, token: Option<&str>) -> Builder {
    match token {
        Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
        None => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(name: &str, content: &str) -> SettingFile {
        let dir = std::env::temp_dir().join(format!("relay-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, content).unwrap();
        SettingFile::new(path)
    }

    #[test]
    fn the_note_is_its_first_line_and_bad_text_is_left_out() {
        let files = Files {
            token: None,
            note: Some(file("note", "Hello from the ConfigMap\nsecond line\n")),
        };
        assert_eq!(files.note().unwrap(), "Hello from the ConfigMap");
        let bad = Files {
            token: None,
            note: Some(file("bad-note", "tab\tis fine but \u{7f} is not")),
        };
        assert_eq!(bad.note(), None);
        assert_eq!(Files::default().note(), None);
    }

    #[test]
    fn a_token_becomes_a_bearer_header_and_no_token_adds_nothing() {
        let files = Files {
            token: Some(file("token", "s3cret\n")),
            note: None,
        };
        let token = files.token();
        let request = bearer(kit::hyper::Request::get("/"), token.as_deref())
            .body(())
            .unwrap();
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer s3cret");
        let plain = bearer(kit::hyper::Request::get("/"), None)
            .body(())
            .unwrap();
        assert!(plain.headers().get(AUTHORIZATION).is_none());
        let missing = Files {
            token: Some(SettingFile::new("/no/such/token")),
            note: None,
        };
        assert_eq!(missing.token(), None);
    }
}
