//! What the apps' tests share, in one place (a development crate: `publish = false`).
//!
//! - [`InProcess`]: any [`kit::App`] served by `kit::serve` in the test process, on a port
//!   the kernel picks, stopped through a channel. [`InProcess::echo`] is the echo app.
//! - [`Binary`]: a real program (echo-server, relay-server) with `PORT=0`; the port is read
//!   from its "listening on port N" log line, so no two tests race for a free port.
//! - A small HTTP/1.1 client: [`get`], [`ask`], [`raw`] and [`raw_within`] (raw bytes, read
//!   with a timeout), [`connect`], [`send`], and [`Reply`].
//! - Upstream stand-ins for relay's tests: [`raw_server`], [`raw_answer`], [`slow_upstream`],
//!   [`endless_upstream`], [`wrong_status_upstream`].
//! - Memory: [`peak_memory`] and [`Cgroup`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;

// ---------------------------------------------------------------- in the test process

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    common: kit::config::Common,
}

/// An app served by `kit::serve` on its own thread and runtime, on a port the kernel
/// picks. [`InProcess::stop`] plays the part of SIGTERM; dropping it stops it too.
pub struct InProcess {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl InProcess {
    /// Serves `app` with these flags of `kit::config::Common` (like `--shutdown-delay 1s`).
    pub fn start<A: kit::App>(info: kit::AppInfo, app: A, flags: &[&str]) -> InProcess {
        let flags = Flags::try_parse_from(std::iter::once("test").chain(flags.iter().copied()))
            .unwrap_or_else(|e| panic!("the test's flags do not parse: {e}"));
        let (port_tx, port_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                // Port 0 on all addresses, IPv4 and IPv6, the way the programs open theirs.
                let listener = kit::server::bind(0)?;
                let _ = port_tx.send(listener.local_addr()?.port());
                let ctx = kit::Context::new::<A>(info, flags.common);
                let shutdown = async move {
                    let _ = stopped.await;
                    "the test's stop"
                };
                kit::serve(listener, ctx, app, shutdown).await
            })
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server opens a port");
        InProcess {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The echo app, without a token file.
    pub fn echo(flags: &[&str]) -> InProcess {
        InProcess::echo_app(echo_server::Echo { token_file: None }, flags)
    }

    /// The echo app as given (with a token file, say).
    pub fn echo_app(app: echo_server::Echo, flags: &[&str]) -> InProcess {
        let info = kit::AppInfo {
            name: "echo-server",
            version: env!("CARGO_PKG_VERSION"),
            commit: None,
        };
        InProcess::start(info, app, flags)
    }

    /// Tells the server to stop, like SIGTERM does for the program.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits until `kit::serve` has returned; says how long that took.
    pub fn wait(&mut self) -> Duration {
        let started = Instant::now();
        let thread = self.thread.take().expect("wait once");
        let served = thread.join().expect("kit::serve panicked");
        served.expect("kit::serve returns Ok");
        started.elapsed()
    }

    pub fn get(&self, path: &str) -> Reply {
        get(self.port, path)
    }

    /// `HOST:PORT` on IPv4 loopback.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A new connection with a 10 s read timeout.
    pub fn connect(&self) -> TcpStream {
        connect(self.port)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------- real binaries

/// A running program. Dropping it kills the process.
pub struct Binary {
    pub child: Child,
    pub port: u16,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts `bin` with these flags and environment variables (only `PATH` is kept from
    /// the test's own) and waits until it logs its port.
    pub fn start(bin: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut cmd = Command::new(bin.as_ref());
        cmd.args(args);
        Binary::spawn(cmd, env)
    }

    /// Starts `bin` without flags, with these environment variables.
    pub fn with_env(bin: impl AsRef<Path>, env: &[(&str, &str)]) -> Binary {
        Binary::start(bin, &[], env)
    }

    /// Starts a prepared command (one that ends by running an app) with `PORT=0`.
    pub fn spawn(mut cmd: Command, env: &[(&str, &str)]) -> Binary {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("the program starts");
        let stdout = child.stdout.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on port ").nth(1) {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = port_tx.send(digits.parse::<u16>().unwrap());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(port) => port,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                panic!(
                    "the program logged no port within 10 s (exit: {status:?}). Logs: {:#?}",
                    logs.lock().unwrap()
                )
            }
        };
        Binary { child, port, logs }
    }

    pub fn get(&self, path: &str) -> Reply {
        get(self.port, path)
    }

    /// `HOST:PORT` on IPv4 loopback.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends a signal with the `kill` program.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the program did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// All log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains `text`.
    pub fn wait_for_log(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?} in {:#?}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
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
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The program `name` in the same folder as `beside` (a binary cargo built for this test).
/// Cargo builds every binary of the workspace for `cargo nextest run --workspace`; a test
/// does not start a build itself.
pub fn sibling_binary(beside: &str, name: &str) -> PathBuf {
    let dir = Path::new(beside).parent().expect("a binary is in a folder");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing. Build it first (cargo build -p {name}), or run the tests with --workspace.",
        path.display()
    );
    path
}

/// A loopback port that was free a moment ago and has nothing listening: a target
/// that refuses connections.
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- the HTTP client

/// One HTTP answer: status, head (status line and headers) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        self.body.clone()
    }

    /// The value of a header (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// Asserts the status and that the body holds these words.
    pub fn expect(&self, status: u16, words: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.body.contains(words),
            "{words:?} is not in {:?}",
            self.body
        );
    }
}

/// `GET path` on 127.0.0.1:port, on its own connection.
pub fn get(port: u16, path: &str) -> Reply {
    try_get(port, path).unwrap_or_else(|e| panic!("GET {path} failed: {e}"))
}

pub fn try_get(port: u16, path: &str) -> std::io::Result<Reply> {
    raw(port, request("GET", path, &[]).as_bytes())
}

/// `METHOD target` with these extra headers, on its own connection.
pub fn ask(port: u16, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    raw(port, request(method, target, headers).as_bytes())
        .unwrap_or_else(|e| panic!("{method} {target} failed: {e}"))
}

/// The bytes of a request without a body that asks the server to close the connection after it.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> String {
    let mut text = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text + "Connection: close\r\n\r\n"
}

/// A new connection to 127.0.0.1:port; each read on it waits at most `limit`.
pub fn connect_within(port: u16, limit: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(limit))?;
    Ok(stream)
}

/// A new connection to 127.0.0.1:port; each read on it waits at most 10 s.
pub fn connect(port: u16) -> TcpStream {
    connect_within(port, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("cannot connect to port {port}: {e}"))
}

/// Sends raw bytes on a new connection and reads the answer until the server closes it.
/// Each read waits at most 60 s.
pub fn raw(port: u16, request: &[u8]) -> std::io::Result<Reply> {
    raw_within(port, request, Duration::from_secs(60))
}

/// Like [`raw`], but each read waits at most `limit` (then the error is a timeout).
pub fn raw_within(port: u16, request: &[u8], limit: Duration) -> std::io::Result<Reply> {
    let mut stream = connect_within(port, limit)?;
    stream.write_all(request)?;
    read_reply(&mut stream)
}

/// Reads an answer until the server closes the connection.
pub fn read_reply(stream: &mut TcpStream) -> std::io::Result<Reply> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    parse(&bytes)
}

/// Sends `GET target` on an open connection and reads one answer by its Content-Length,
/// so the connection can carry the next request.
pub fn send(stream: &mut TcpStream, target: &str) -> Reply {
    try_send(stream, target).unwrap_or_else(|e| panic!("GET {target} failed: {e}"))
}

/// Like [`send`], with the failure as an error: for clients that count failures.
pub fn try_send(stream: &mut TcpStream, target: &str) -> std::io::Result<Reply> {
    write!(stream, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let reply = parse(&data[..end + 4])?;
            let length: usize = reply
                .header("content-length")
                .map_or(0, |l| l.parse().unwrap_or(0));
            if data.len() >= end + 4 + length {
                return parse(&data[..end + 4 + length]);
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed before a whole answer came",
            ));
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// Splits an HTTP/1.1 answer (with Content-Length or no body) into status, head and body.
pub fn parse(bytes: &[u8]) -> std::io::Result<Reply> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let body = String::from_utf8(bytes[split + 4..].to_vec()).map_err(|_| bad("not UTF-8"))?;
    Ok(Reply { status, head, body })
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The kernel's host name, as the apps report it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// Time since the Unix epoch, to line up test events with a server's log.
pub fn now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

// ---------------------------------------------------------------- upstream stand-ins

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

/// A raw TCP server on a loopback port: runs `serve` for each connection, in a thread.
pub fn raw_server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = Arc::new(serve);
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

/// An upstream that reads the request and says nothing for `silence`.
pub fn slow_upstream(silence: Duration) -> u16 {
    raw_answer(b"", silence)
}

/// An upstream whose reply body never ends (chunked, 16 KiB pieces).
pub fn endless_upstream() -> u16 {
    raw_server(|mut s| {
        if read_head(&mut s) {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
            while s.write_all(chunk.as_bytes()).is_ok() {}
        }
    })
}

/// An upstream that answers every request with `status` and a short body, keeping the
/// connection open for the next one.
pub fn wrong_status_upstream(status: u16) -> u16 {
    raw_server(move |mut s| {
        while read_head(&mut s) {
            let body = "not what you wanted\n";
            let answer = format!(
                "HTTP/1.1 {status} Stand-in\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if s.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    })
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

// ---------------------------------------------------------------- memory

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
