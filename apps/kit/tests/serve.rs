//! `kit::serve` in this test process: routing, probes, `Connection: close` when not
//! ready, the shutdown delay and the drain. No binary, no log reading: each test binds
//! 127.0.0.1:0, serves a small app and stops it through a channel.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;
use kit::http::{text, Request, Response};
use kit::hyper::StatusCode;

/// A small app: `/hello`, and `/slow?ms=N` that answers after N milliseconds.
struct Hello;

impl kit::App for Hello {
    const PATHS: &'static [&'static str] = &["/hello", "/slow"];
    const HINT: &'static str = "Try /hello.";

    async fn handle(&self, req: Request, _ctx: &kit::Context) -> Response {
        match req.uri().path() {
            "/hello" => text(StatusCode::OK, "hello\n"),
            "/slow" => {
                let ms = kit::http::query_value(req.uri().query(), "ms")
                    .and_then(|ms| ms.parse().ok())
                    .unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                text(StatusCode::OK, "slow done\n")
            }
            path => kit::http::not_found(path, Self::HINT),
        }
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    common: kit::config::Common,
}

/// A server on its own thread and runtime, stopped by a channel instead of a signal.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Serves `Hello` with these flags (like `--shutdown-delay 1s`).
    fn start(flags: &[&str]) -> Server {
        let cli = Cli::try_parse_from(std::iter::once("test").chain(flags.iter().copied()))
            .expect("the test's flags parse");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let ctx = kit::Context::new::<Hello>(kit::app_info!(), cli.common);
                let shutdown = async move {
                    let _ = stopped.await;
                    "the test's stop"
                };
                kit::serve(listener, ctx, Hello, shutdown).await
            })
        });
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Tells the server to stop, like SIGTERM does.
    fn signal(&mut self) {
        let _ = self.stop.take().expect("signal once").send(());
    }

    /// Waits for `serve` to return; says how long that took.
    fn wait(&mut self) -> Duration {
        let started = Instant::now();
        let result = self.thread.take().unwrap().join().expect("serve panicked");
        result.expect("serve returns Ok");
        started.elapsed()
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    fn get(&self, target: &str) -> Reply {
        send(&mut self.connect(), target, true)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one GET on `stream` and reads one answer (bodies here have a Content-Length).
fn send(stream: &mut TcpStream, target: &str, close: bool) -> Reply {
    let connection = if close { "close" } else { "keep-alive" };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: test\r\nConnection: {connection}\r\n\r\n"
    )
    .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
                let status = head[9..12].parse().unwrap();
                return Reply { status, head, body };
            }
        }
        let n = stream.read(&mut buf).expect("the server answers");
        assert!(n > 0, "the connection closed before a whole answer came");
        data.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn kit_paths_and_app_paths_are_routed() {
    let server = Server::start(&[]);
    let root = server.get("/");
    assert_eq!(root.status, 200);
    assert!(root.body.contains("answered you."), "{}", root.body);
    assert!(root.body.contains("Try /hello."), "{}", root.body);
    assert_eq!(server.get("/hello").body, "hello\n");
    let version = server.get("/version");
    assert!(version.body.starts_with("name: kit\n"), "{}", version.body);
    assert_eq!(server.get("/nope").status, 404);
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains(r#"path="/hello",status="200""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"path="other",status="404""#),
        "{metrics}"
    );
}

#[test]
fn probes_switch_and_a_pod_that_is_not_ready_closes_keep_alive_connections() {
    let server = Server::start(&[]);
    assert_eq!(server.get("/ready").body, "ready\n");
    let mut pooled = server.connect();
    let reply = send(&mut pooled, "/hello", false);
    assert_eq!(reply.header("connection"), None);
    // The switch answers with the new state.
    assert_eq!(server.get("/ready?readiness=false").status, 503);
    let ready = server.get("/ready");
    assert_eq!((ready.status, ready.body.as_str()), (503, "not ready\n"));
    // The pooled connection gets its answer, told to close, and then closes.
    let reply = send(&mut pooled, "/hello", false);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(pooled.read(&mut [0u8; 16]).unwrap(), 0);
    assert_eq!(server.get("/alive").body, "alive\n");
    assert_eq!(server.get("/ready?readiness=true").status, 200);
    assert_eq!(server.get("/ready").status, 200);
}

#[test]
fn course_switches_off_refuses_the_probe_switches() {
    let server = Server::start(&["--course-switches", "off"]);
    assert_eq!(server.get("/ready?readiness=false").status, 403);
    assert_eq!(server.get("/ready").status, 200);
}

#[test]
fn the_shutdown_delay_serves_with_readiness_off_then_stops_accepting() {
    let mut server = Server::start(&["--shutdown-delay", "600ms"]);
    assert_eq!(server.get("/ready").status, 200);
    server.signal();
    // During the delay: still serving, readiness off, keep-alive clients told to close.
    let deadline = Instant::now() + Duration::from_secs(5);
    let ready = loop {
        let ready = server.get("/ready");
        if ready.status == 503 || Instant::now() > deadline {
            break ready;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(ready.status, 503);
    assert_eq!(ready.header("connection"), Some("close"));
    assert_eq!(server.get("/hello").status, 200);
    let took = server.wait();
    assert!(took >= Duration::from_millis(300), "stopped after {took:?}");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "the port is closed after serve returns"
    );
}

#[test]
fn requests_in_flight_finish_before_serve_returns() {
    let mut server = Server::start(&[]);
    let addr = server.addr;
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        send(&mut s, "/slow?ms=500", false)
    });
    // Wait until the slow request is in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .get("/metrics")
        .body
        .contains("http_requests_in_flight 2")
    {
        assert!(Instant::now() < deadline, "the slow request never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal();
    let took = server.wait();
    let reply = slow.join().unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (200, "slow done\n"));
    assert!(
        took >= Duration::from_millis(200),
        "returned after {took:?}"
    );
}

#[test]
fn the_drain_timeout_stops_waiting_for_slow_requests() {
    let mut server = Server::start(&["--drain-timeout", "200ms"]);
    let addr = server.addr;
    let _slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = write!(s, "GET /slow?ms=5000 HTTP/1.1\r\nHost: test\r\n\r\n");
        let _ = s.read(&mut [0u8; 64]);
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .get("/metrics")
        .body
        .contains("http_requests_in_flight 2")
    {
        assert!(Instant::now() < deadline, "the slow request never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal();
    let took = server.wait();
    assert!(took < Duration::from_secs(3), "waited {took:?}");
}

#[test]
fn the_connection_cap_holds_new_connections_until_one_closes() {
    let server = Server::start(&["--max-connections", "1"]);
    let mut first = server.connect();
    assert_eq!(send(&mut first, "/hello", false).status, 200);
    // The second connection waits in the queue while the first is open.
    let addr = server.addr;
    let second = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let reply = send(&mut s, "/hello", true);
        (reply.status, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(first);
    let (status, waited) = second.join().unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(250), "waited {waited:?}");
}
