//! Start, stop and crash: signals, the shutdown sequence, the CLI and the healthcheck.

use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use testkit::{ask, get, Binary};

const BIN: &str = env!("CARGO_BIN_EXE_echo-server");

/// Sends requests over one keep-alive connection; reconnects when the server says `Connection: close`.
/// Returns (answers, failures).
fn keep_alive_client(port: u16, stop: Arc<AtomicBool>) -> (u32, Vec<String>) {
    let (mut answers, mut failures) = (0, Vec::new());
    let mut conn: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let stream = conn.get_or_insert_with(|| testkit::connect(port));
        let close = match testkit::try_send(stream, "/echo?message=ka") {
            Ok(reply) => {
                match reply.status {
                    200 => answers += 1,
                    _ => failures.push(reply.head.clone()),
                }
                reply.header("connection") == Some("close")
            }
            Err(e) => {
                failures.push(format!(
                    "keep-alive request failed at {:?}: {e}",
                    testkit::now()
                ));
                true
            }
        };
        if close {
            conn = None;
        }
    }
    (answers, failures)
}

/// Sends requests, each on a new connection, until told to stop. Returns (answers, failures).
fn new_connection_client(port: u16, stop: Arc<AtomicBool>) -> (u32, Vec<String>) {
    let (mut answers, mut failures) = (0, Vec::new());
    while !stop.load(Ordering::Relaxed) {
        match testkit::raw(
            port,
            b"GET /echo?message=load HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ) {
            Ok(reply) if reply.status == 200 && reply.text().ends_with("Message: load\n") => {
                answers += 1
            }
            Ok(reply) => failures.push(format!("{reply:?}")),
            Err(e) => failures.push(format!("request failed at {:?}: {e}", testkit::now())),
        }
    }
    (answers, failures)
}

/// echo with this shutdown delay, and 5 s for the requests in flight after it.
fn start_with_shutdown_delay(delay: &str) -> Binary {
    Binary::with_env(BIN, &[("SHUTDOWN_DELAY", delay), ("DRAIN_TIMEOUT", "5s")])
}

#[test]
fn sigterm_during_load_fails_no_request_and_exits_0() {
    let mut server = start_with_shutdown_delay("1500ms");
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..4 {
        let stop = stop.clone();
        clients.push(thread::spawn(move || match i {
            0 => keep_alive_client(port, stop),
            _ => new_connection_client(port, stop),
        }));
    }
    // Slow requests that are still running when the server stops accepting.
    let slow: Vec<_> = (0..3)
        .map(|_| thread::spawn(move || get(port, "/echo?message=slow&delay=2000")))
        .collect();
    thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    eprintln!("SIGTERM sent at {:?}", testkit::now());
    server.signal("TERM");
    thread::sleep(Duration::from_millis(300));

    // The shutdown delay: readiness is off, liveness is on, requests still work.
    assert_eq!(
        (server.get("/ready").status, server.get("/ready").text()),
        (503, "not ready\n".into())
    );
    assert_eq!(server.get("/alive").status, 200);
    let during = server.get("/echo?message=during");
    assert_eq!(during.status, 200);
    assert_eq!(
        during.header("connection"),
        Some("close"),
        "keep-alive clients are asked to move"
    );

    thread::sleep(Duration::from_millis(400)); // Kubernetes has stopped sending traffic by now.
    stop.store(true, Ordering::Relaxed);
    eprintln!("load stopped at {:?}", testkit::now());
    let mut total = 0;
    for client in clients {
        let (answers, failures) = client.join().unwrap();
        assert!(failures.is_empty(), "failed requests: {failures:#?}");
        total += answers;
    }
    assert!(total > 50, "only {total} requests ran during the test");
    for s in slow {
        let reply = s.join().unwrap();
        assert_eq!(
            (reply.status, reply.text().ends_with("Message: slow\n")),
            (200, true)
        );
    }
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(
        signalled.elapsed() >= Duration::from_millis(1700),
        "the slow requests finished before the exit"
    );

    let logs = server.logs().join("\n");
    let phases = [
        "Shutting down after SIGTERM: readiness is now off. Serving 1.5s more so Kubernetes can stop sending traffic.",
        "Stopped accepting connections. Requests in flight: ",
        ". Waiting at most 5s for them.",
        "✔ All requests finished. Exiting with code 0.",
    ];
    let positions: Vec<_> = phases
        .iter()
        .map(|p| {
            logs.find(p)
                .unwrap_or_else(|| panic!("no {p:?} in\n{logs}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "phases out of order:\n{logs}"
    );
}

#[test]
fn after_the_delay_new_connections_are_refused_while_requests_finish() {
    let mut server = Binary::start(BIN, &[], &[("SHUTDOWN_DELAY", "200ms")]);
    let port = server.port;
    let slow = thread::spawn(move || get(port, "/echo?message=slow&delay=1200"));
    thread::sleep(Duration::from_millis(100));
    server.signal("INT");
    thread::sleep(Duration::from_millis(500));
    let refused = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.kind());
    assert_eq!(refused.err(), Some(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(slow.join().unwrap().status, 200);
    assert_eq!(server.wait_exit(Duration::from_secs(3)).code(), Some(0));
    server.wait_for_log("Shutting down after SIGINT", Duration::ZERO);
}

/// When the shutdown delay ends, the connections the kernel has already accepted for us
/// are answered (with `Connection: close`), not reset. 50 clients reconnect all through it.
#[test]
fn connections_waiting_in_the_queue_are_answered_at_shutdown() {
    let mut server = start_with_shutdown_delay("1s");
    let port = server.port;
    let clients: Vec<_> = (0..50)
        .map(|_| {
            thread::spawn(move || {
                let (mut answers, mut lost) = (0u32, Vec::new());
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    let request = testkit::request("GET", "/echo?message=q", &[]);
                    match testkit::raw_within(port, request.as_bytes(), Duration::from_secs(10)) {
                        Ok(reply) if reply.status == 200 => answers += 1,
                        // A refused connection is no lost request: the client tries another pod.
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                        other => lost.push(format!("at {:?}: {other:?}", testkit::now())),
                    }
                }
                (answers, lost)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    eprintln!("SIGTERM at {:?}", testkit::now());
    server.signal("TERM");
    let (mut answers, mut lost) = (0, Vec::new());
    for client in clients {
        let (a, l) = client.join().unwrap();
        answers += a;
        lost.extend(l);
    }
    assert!(
        lost.is_empty(),
        "{} of {} requests lost: {lost:#?}",
        lost.len(),
        answers + lost.len() as u32
    );
    assert!(answers > 100, "only {answers} answers");
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut server = Binary::start(BIN, &[], &[("SHUTDOWN_DELAY", "20s")]);
    server.signal("TERM");
    server.wait_for_log("Shutting down after SIGTERM", Duration::from_secs(2));
    let started = Instant::now();
    server.signal("INT");
    let status = server.wait_exit(Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(status.code(), Some(1));
    server.wait_for_log(
        "Second signal (SIGINT): exiting now, without waiting.",
        Duration::from_secs(1),
    );
}

#[test]
fn the_drain_timeout_limits_the_wait() {
    let mut server = Binary::start(BIN, &[], &[("DRAIN_TIMEOUT", "300ms")]);
    let port = server.port;
    let slow = thread::spawn(move || {
        testkit::raw(port, b"GET /echo?delay=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
    });
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(3)).code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    server.wait_for_log(
        "readiness is now off. The shutdown delay is 0s, so we stop accepting now.",
        Duration::ZERO,
    );
    server.wait_for_log(
        "✖ Requests still running after 300ms: 1. Exiting with code 0 anyway.",
        Duration::ZERO,
    );
    assert!(
        slow.join().unwrap().is_err(),
        "the cut request closes without an answer"
    );
}

#[test]
fn crash_exits_with_the_code_asked_for() {
    let mut server = Binary::start(BIN, &[], &[]);
    let reply = server.get("/crash?code=7");
    assert_eq!(
        (reply.status, reply.text()),
        (200, "Crashing now with exit code 7.\n".into())
    );
    assert_eq!(server.wait_exit(Duration::from_secs(2)).code(), Some(7));
    server.wait_for_log("Crash requested: exiting with code 7.", Duration::ZERO);
}

/// `curl -I '/crash?code=0'` made echo exit. Switches act only on GET and POST.
#[test]
fn course_switches_act_only_on_get_and_post() {
    let mut server = Binary::start(BIN, &[], &[]);
    let port = server.port;
    for (method, path) in [
        ("HEAD", "/crash?code=0"),
        ("PUT", "/crash"),
        ("DELETE", "/ready?readiness=false"),
        ("HEAD", "/alive?liveness=false"),
        ("OPTIONS", "/ready?readiness=false"),
        ("HEAD", "/echo?status=500"),
        ("HEAD", "/echo?delay=3000"),
    ] {
        let started = Instant::now();
        let reply = ask(port, method, path, &[]);
        assert_eq!(reply.status, 405, "{method} {path}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{method} {path}"
        );
        if method != "HEAD" {
            assert_eq!(
                reply.text(),
                "✖ The course switches work only with GET and POST.\n"
            );
        }
    }
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.child.try_wait().unwrap(),
        None,
        "the server still runs"
    );
    assert_eq!(server.get("/ready").status, 200);
    assert_eq!(server.get("/alive").status, 200);
    assert_eq!(
        ask(port, "HEAD", "/ready", &[]).status,
        200,
        "a plain probe works with any method"
    );
    assert_eq!(ask(port, "POST", "/ready?readiness=false", &[]).status, 503);
    assert_eq!(ask(port, "GET", "/ready?readiness=true", &[]).status, 200);
    assert_eq!(ask(port, "POST", "/crash?code=4", &[]).status, 200);
    assert_eq!(server.wait_exit(Duration::from_secs(2)).code(), Some(4));
}

/// `COURSE_SWITCHES=off` (or `--course-switches off`) turns every switch off.
#[test]
fn course_switches_off_turns_them_all_off() {
    let mut server = Binary::start(BIN, &[], &[("COURSE_SWITCHES", "off")]);
    server.wait_for_log("course switches off", Duration::ZERO);
    for path in [
        "/crash?code=0",
        "/ready?readiness=false",
        "/alive?liveness=false",
        "/echo?status=500",
        "/echo?delay=3000",
    ] {
        let reply = server.get(path);
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (403, "✖ The course switches are off here (COURSE_SWITCHES=off). /crash, delay, status and the probe switches do nothing.\n"),
            "{path}"
        );
    }
    assert_eq!(server.get("/ready").status, 200);
    assert_eq!(server.get("/alive").status, 200);
    assert_eq!(server.get("/echo?message=hi").status, 200);
    assert_eq!(
        server.child.try_wait().unwrap(),
        None,
        "the server still runs"
    );
    let out = Command::new(BIN)
        .args(["--course-switches", "maybe"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[possible values: on, off]"), "{err}");
}

#[test]
fn help_is_written_for_learners() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for text in [
        "The echo server of the Kubernetes course.",
        "--port <PORT>",
        "[env: PORT=]",
        "[default: 8080]",
        "[env: SHUTDOWN_DELAY=]",
        "[env: DRAIN_TIMEOUT=]",
        "[env: LOG_FORMAT=]",
        "[env: LOG_LEVEL=]",
        "healthcheck",
        "/echo?message=hi",
        "curl 'http://localhost:8081/echo?message=hello'",
    ] {
        assert!(help.contains(text), "--help lacks {text:?}:\n{help}");
    }
    assert!(
        !help.contains("HEADER_READ_TIMEOUT"),
        "the test-only flag stays hidden"
    );
    let version = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        "echo-server 0.1.0\n"
    );
}

#[test]
fn bad_flags_get_a_plain_error() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).env_clear().output().unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, err) = run(&["--shutdown-delay", "5x"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("'5x' is not a duration. Write it like 500ms, 5s or 2 (seconds)."),
        "{err}"
    );
    let (code, err) = run(&["--port", "99999"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("99999"), "{err}");
    for threads in ["0", "two", "1000"] {
        let (code, err) = run(&["--threads", threads]);
        assert_eq!(code, Some(2), "--threads {threads}");
        assert!(err.contains("Write a whole number from 1 to 256."), "{err}");
    }
    let out = Command::new(BIN)
        .env_clear()
        .env("THREADS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "THREADS=many");
    let (code, err) = run(&["--log-level", "loud"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("possible values: error, warn, info, debug"),
        "{err}"
    );
}

#[test]
fn a_busy_port_is_explained() {
    let first = Binary::start(BIN, &[], &[]);
    let out = Command::new(BIN)
        .env_clear()
        .env("PORT", first.port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "✖ Cannot run: port {} is already in use.",
            first.port
        )),
        "{stdout}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut server = Binary::start(BIN, &[], &[("LOG_FORMAT", "json"), ("LOG_LEVEL", "debug")]);
    server.get("/echo?message=logged");
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(3));
    let logs = server.logs();
    for line in &logs {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["message"].is_string() && value["level"].is_string(),
            "{line}"
        );
    }
    assert!(
        logs.iter()
            .any(|l| l.contains("GET /echo?message=logged → 200")),
        "{logs:#?}"
    );
}

#[test]
fn probe_calls_are_logged_only_at_debug() {
    let mut server = Binary::start(BIN, &[], &[]);
    server.get("/ready");
    server.get("/echo?message=quiet");
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(3));
    let logs = server.logs().join("\n");
    assert!(
        !logs.contains("/ready") && !logs.contains("quiet"),
        "{logs}"
    );
}

#[test]
fn healthcheck_asks_alive_on_the_local_port() {
    let server = Binary::start(BIN, &[], &[]);
    let check = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_clear()
            .env("PORT", server.port.to_string())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let ok = format!("✔ alive: /alive on port {} answered 200.\n", server.port);
    assert_eq!(check(&["healthcheck"]), (Some(0), ok.clone()));
    assert_eq!(
        check(&["healthcheck", "--port", &server.port.to_string()]),
        (Some(0), ok)
    );
    server.get("/alive?liveness=false");
    assert_eq!(
        check(&["healthcheck"]),
        (Some(1), "✖ not alive: /alive answered 503.\n".into())
    );
    let (code, out) = check(&["healthcheck", "--port", "1"]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("✖ not alive: could not connect to port 1"),
        "{out}"
    );
}
