//! `kit::serve` in this test process: routing, probes, `Connection: close` when not
//! ready, the shutdown delay and the drain. No binary, no log reading: each test binds
//! 127.0.0.1:0, serves a small app and stops it through a channel.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kit::http::{text, Request, Response};
use kit::hyper::StatusCode;
use testkit::{send, InProcess};

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

fn start(flags: &[&str]) -> InProcess {
    InProcess::start(kit::app_info!(), Hello, flags)
}

#[test]
fn kit_paths_and_app_paths_are_routed() {
    let server = start(&[]);
    let root = server.get("/");
    assert_eq!(root.status, 200);
    assert!(root.body.contains("answered you."), "{}", root.body);
    assert!(root.body.contains("Try /hello."), "{}", root.body);
    assert_eq!(server.get("/hello").body, "hello\n");
    let version = server.get("/version");
    assert!(version.body.starts_with("name: kit\n"), "{}", version.body);
    assert_eq!(server.get("/nope").status, 404);
    // One format= for every path: json or text, anything else is a 400 that says so.
    assert!(server.get("/version?format=json").body.starts_with("{"));
    assert!(server.get("/?format=json").body.contains("\"host\""));
    for path in ["/version?format=xml", "/?format=yaml"] {
        let bad = server.get(path);
        assert_eq!(bad.status, 400, "{path}");
        assert_eq!(bad.body, "✖ format must be text or json.\n", "{path}");
    }
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
    let server = start(&[]);
    assert_eq!(server.get("/ready").body, "ready\n");
    let mut pooled = server.connect();
    let reply = send(&mut pooled, "/hello");
    assert_eq!(reply.header("connection"), None);
    // The switch answers with the new state.
    assert_eq!(server.get("/ready?readiness=false").status, 503);
    let ready = server.get("/ready");
    assert_eq!((ready.status, ready.body.as_str()), (503, "not ready\n"));
    // The pooled connection gets its answer, told to close, and then closes.
    let reply = send(&mut pooled, "/hello");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(pooled.read(&mut [0u8; 16]).unwrap(), 0);
    assert_eq!(server.get("/alive").body, "alive\n");
    assert_eq!(server.get("/ready?readiness=true").status, 200);
    assert_eq!(server.get("/ready").status, 200);
}

#[test]
fn course_switches_off_refuses_the_probe_switches() {
    let server = start(&["--course-switches", "off"]);
    assert_eq!(server.get("/ready?readiness=false").status, 403);
    assert_eq!(server.get("/ready").status, 200);
}

#[test]
fn the_shutdown_delay_serves_with_readiness_off_then_stops_accepting() {
    let mut server = start(&["--shutdown-delay", "600ms"]);
    assert_eq!(server.get("/ready").status, 200);
    server.stop();
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
        TcpStream::connect(server.addr()).is_err(),
        "the port is closed after serve returns"
    );
}

/// Waits until one request is in flight besides the `/metrics` request that asks.
fn wait_for_one_in_flight(server: &InProcess) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .get("/metrics")
        .body
        .contains("http_requests_in_flight 2")
    {
        assert!(Instant::now() < deadline, "the slow request never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn requests_in_flight_finish_before_serve_returns() {
    let mut server = start(&[]);
    let port = server.port;
    let slow = std::thread::spawn(move || {
        let mut s = testkit::connect(port);
        send(&mut s, "/slow?ms=500")
    });
    wait_for_one_in_flight(&server);
    server.stop();
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
    let mut server = start(&["--drain-timeout", "200ms"]);
    let port = server.port;
    let _slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = write!(s, "GET /slow?ms=5000 HTTP/1.1\r\nHost: test\r\n\r\n");
        let _ = s.read(&mut [0u8; 64]);
    });
    wait_for_one_in_flight(&server);
    server.stop();
    let took = server.wait();
    assert!(took < Duration::from_secs(3), "waited {took:?}");
}

#[test]
fn the_connection_cap_holds_new_connections_until_one_closes() {
    let server = start(&["--max-connections", "1"]);
    let mut first = server.connect();
    assert_eq!(send(&mut first, "/hello").status, 200);
    // The second connection waits in the queue while the first is open.
    let port = server.port;
    let second = std::thread::spawn(move || {
        let mut s = testkit::connect(port);
        let started = Instant::now();
        let reply = send(&mut s, "/hello");
        (reply.status, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(first);
    let (status, waited) = second.join().unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(250), "waited {waited:?}");
}
