//! Helpers for the relay tests: start the real binaries, speak plain HTTP/1.1.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running app, stopped when dropped.
pub struct App {
    pub child: Child,
    pub port: u16,
}

impl App {
    /// Starts `bin` on a free loopback port with these flags and environment variables.
    pub fn start(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> App {
        let mut cmd = Command::new(bin);
        cmd.args(args);
        App::spawn(cmd, env)
    }

    /// Starts a prepared command; sets `PORT` and waits until `/ready` answers 200.
    pub fn spawn(mut cmd: Command, env: &[(&str, &str)]) -> App {
        let port = free_port();
        cmd.env("PORT", port.to_string())
            .env_remove("DEFAULT_ECHO_SERVER")
            .env_remove("ALLOWED_ECHO_SERVERS")
            .env_remove("CALL_TIMEOUT")
            .env_remove("MAX_REPLY_BYTES")
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        let child = cmd.spawn().expect("the app starts");
        let mut app = App { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = try_get(port, "/ready") {
                if r.status == 200 {
                    return app;
                }
            }
            if let Ok(Some(status)) = app.child.try_wait() {
                panic!("the app stopped before it was ready: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the app was not ready within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        get(self.port, path)
    }

    /// `/relay` to a server on a loopback port, with no message.
    pub fn relay_to(&self, port: u16) -> Reply {
        self.get(&format!("/relay?echo_server=127.0.0.1:{port}"))
    }

    /// Like `relay_to`, and asserts the answer came within `limit`.
    pub fn relay_to_within(&self, port: u16, limit: Duration) -> Reply {
        let started = Instant::now();
        let reply = self.relay_to(port);
        assert!(
            started.elapsed() < limit,
            "the answer took {:?}",
            started.elapsed()
        );
        reply
    }

    /// The relay's count of calls to echo with this outcome, from `/metrics`.
    pub fn calls(&self, outcome: &str) -> u64 {
        let metrics = self.get("/metrics").body;
        let line = format!("relay_upstream_calls_total{{outcome=\"{outcome}\"}} ");
        let found = metrics.lines().find_map(|l| l.strip_prefix(line.as_str()));
        found
            .unwrap_or_else(|| panic!("no {line} in /metrics"))
            .parse()
            .unwrap()
    }

    /// `HOST:PORT` of this app on IPv4 loopback.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relay binary, built by cargo for this test.
pub fn relay_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_relay-server"))
}

/// The echo binary, next to the relay binary. Built with cargo when it is missing.
pub fn echo_bin() -> PathBuf {
    let relay = relay_bin();
    let dir = relay.parent().expect("the relay binary is in a folder");
    let echo = dir.join("echo-server");
    if !echo.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "echo-server", "--bin", "echo-server"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p echo-server failed");
    }
    assert!(echo.is_file(), "{} is missing", echo.display());
    echo
}

pub fn start_echo() -> App {
    App::start(&echo_bin(), &[], &[])
}

pub fn start_relay(args: &[&str]) -> App {
    App::start(&relay_bin(), args, &[])
}

/// The kernel's host name, as the apps report it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP answer: status, header lines (lower case names) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// Asserts the status and that the body holds these words.
    pub fn expect(&self, status: u16, words: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.body.contains(words),
            "{words:?} is not in {:?}",
            self.body
        );
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on 127.0.0.1:port, one connection per request.
pub fn get(port: u16, path: &str) -> Reply {
    try_get(port, path).unwrap_or_else(|e| panic!("GET {path} failed: {e}"))
}

pub fn try_get(port: u16, path: &str) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).expect("the answer is UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("the answer has a head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Reads one request head from a raw connection. `false` when the peer closed it.
pub fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// A raw TCP server on a free port: runs `serve` for each accepted connection, in a thread.
pub fn raw_server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

/// A raw server that reads a request head, writes `answer`, then holds the connection for `hold`.
pub fn raw_answer(answer: &'static [u8], hold: Duration) -> u16 {
    raw_server(move |mut s| {
        if read_head(&mut s) {
            let _ = s.write_all(answer);
            std::thread::sleep(hold);
        }
    })
}

/// The peak memory (`VmHWM`) of a process, in bytes.
pub fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .map(|v| v.trim().parse().unwrap())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

/// Writes `data` one byte per TCP segment, with a short pause after each,
/// so the reader gets one tiny piece at a time.
pub fn trickle(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    for byte in data {
        stream.write_all(std::slice::from_ref(byte))?;
        std::thread::sleep(Duration::from_micros(40));
    }
    Ok(())
}

/// A memory cgroup made for one test under this process's own cgroup, removed when dropped.
/// (build.rs sets `cfg(memcg)` where one can be made.)
pub struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

impl Cgroup {
    /// A new cgroup with a memory limit of `bytes` (and no swap).
    pub fn new(name: &str, bytes: u64) -> Cgroup {
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let (dir, v2) = text
            .lines()
            .find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let path = path.trim_start_matches('/');
                if controllers.split(',').any(|c| c == "memory") {
                    Some((Path::new("/sys/fs/cgroup/memory").join(path), false))
                } else if id == "0" && controllers.is_empty() {
                    Some((Path::new("/sys/fs/cgroup").join(path), true))
                } else {
                    None
                }
            })
            .expect("a memory cgroup");
        let dir = dir.join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot make {}: {e}", dir.display()));
        let cgroup = Cgroup { dir, v2 };
        if v2 {
            cgroup.write("memory.max", &bytes.to_string());
            cgroup.write("memory.swap.max", "0");
        } else {
            cgroup.write("memory.limit_in_bytes", &bytes.to_string());
            if cgroup.dir.join("memory.memsw.limit_in_bytes").exists() {
                cgroup.write("memory.memsw.limit_in_bytes", &bytes.to_string());
            }
        }
        cgroup
    }

    fn write(&self, file: &str, value: &str) {
        let path = self.dir.join(file);
        std::fs::write(&path, value)
            .unwrap_or_else(|e| panic!("cannot write {value} to {}: {e}", path.display()));
    }

    /// Moves a process into the cgroup.
    pub fn add(&self, pid: u32) {
        self.write("cgroup.procs", &pid.to_string());
    }

    /// The most memory the cgroup used, in bytes.
    pub fn peak(&self) -> u64 {
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        let text = std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        text.trim().parse().unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The processes in it are gone by now (App is dropped first); a cgroup with none is removed.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
