//! Finds out which of the tests that need root can run on this machine.
//!
//! `netns`: a network namespace can be made (`unshare --net`), so the target-guard tests
//! run where the only network is loopback. `memcg`: a memory cgroup can be made under
//! this process's own cgroup, so the memory tests run under a 64 MiB limit.
//! Tests that need what is missing are marked ignored, with the reason.

use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(netns)");
    println!("cargo::rustc-check-cfg=cfg(memcg)");
    let netns = Command::new("unshare")
        .args(["--net", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if netns {
        println!("cargo:rustc-cfg=netns");
    }
    if own_memory_cgroup().is_some_and(|dir| can_make_child(&dir)) {
        println!("cargo:rustc-cfg=memcg");
    }
}

/// The folder of this process's memory cgroup (v2 or v1).
fn own_memory_cgroup() -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            return Some(std::path::Path::new("/sys/fs/cgroup/memory").join(path));
        }
        if id == "0" && controllers.is_empty() {
            let dir = std::path::Path::new("/sys/fs/cgroup").join(path);
            // A child gets a memory limit only when the parent hands the controller down.
            let v2 = std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
            if v2 {
                return Some(dir);
            }
        }
    }
    None
}

fn can_make_child(dir: &std::path::Path) -> bool {
    let probe = dir.join(format!("build-probe-{}", std::process::id()));
    let made = std::fs::create_dir(&probe).is_ok();
    if made {
        let _ = std::fs::remove_dir(&probe);
    }
    made
}
