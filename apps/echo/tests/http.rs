//! The echo contract and bad input, over real HTTP on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use testkit::{get, hostname, raw, raw_within, Binary};

const BIN: &str = env!("CARGO_BIN_EXE_echo-server");

#[test]
fn echo_answers_the_contract_byte_for_byte() {
    let server = Binary::start(BIN, &[], &[]);
    let reply = server.get("/echo?message=hello");
    assert_eq!(reply.status, 200);
    assert!(
        reply.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        reply.head
    );
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        reply.text(),
        format!("Echo host: {}\nMessage: hello\n", hostname())
    );
    assert_eq!(
        reply.header("x-pod-name"),
        None,
        "no pod headers outside Kubernetes"
    );

    let expect = |message: &str| format!("Echo host: {}\nMessage: {message}\n", hostname());
    for (query, message) in [
        ("", ""),
        ("?message=", ""),
        ("?message=a%26b%3Dc+d%20e", "a&b=c d e"),
        ("?message=%E2%9C%94&message=second", "✔"),
    ] {
        assert_eq!(
            server.get(&format!("/echo{query}")).text(),
            expect(message),
            "{query}"
        );
    }
}

#[test]
fn echo_reads_a_posted_form() {
    let server = Binary::start(BIN, &[], &[]);
    let body = "message=from+a+form%21";
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = raw(server.port, request.as_bytes()).unwrap();
    assert_eq!(
        reply.text(),
        format!("Echo host: {}\nMessage: from a form!\n", hostname())
    );

    let big = format!("message={}", "a".repeat(70 * 1024));
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    let reply = raw(server.port, request.as_bytes()).unwrap();
    assert_eq!(
        (reply.status, reply.text()),
        (413, "✖ The request body is larger than 64 KiB.\n".into())
    );

    let head = raw(
        server.port,
        b"HEAD /echo?message=hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = head.unwrap();
    let full_length = format!("Echo host: {}\nMessage: hi\n", hostname())
        .len()
        .to_string();
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some(full_length.as_str()));

    let reply = raw(
        server.port,
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        (reply.status, reply.header("allow")),
        (405, Some("GET, HEAD, POST"))
    );
}

#[test]
fn pod_identity_shows_in_headers_and_json() {
    let server = Binary::start(
        BIN,
        &[],
        &[
            ("POD_NAME", "echo-7d9f-x2k4"),
            ("POD_NAMESPACE", "my-space"),
            ("NODE_NAME", "kube-course-worker"),
            ("POD_IP", "10.244.1.7"),
        ],
    );
    let reply = server.get("/echo?message=hi&format=json");
    assert_eq!(reply.status, 200);
    for (name, value) in [
        ("content-type", "application/json"),
        ("x-pod-name", "echo-7d9f-x2k4"),
        ("x-pod-namespace", "my-space"),
        ("x-node-name", "kube-course-worker"),
        ("x-pod-ip", "10.244.1.7"),
    ] {
        assert_eq!(reply.header(name), Some(value), "{name}");
    }
    let expected = format!(
        r#"{{"host":"{}","message":"hi","namespace":"my-space","node":"kube-course-worker","pod":"echo-7d9f-x2k4","pod_ip":"10.244.1.7"}}"#,
        hostname()
    );
    assert_eq!(reply.text(), expected + "\n");
    // The plain body stays the contract, even in a pod.
    assert_eq!(
        server.get("/echo?message=hi").text(),
        format!("Echo host: {}\nMessage: hi\n", hostname())
    );
    // Every path carries the identity, the probes too.
    assert_eq!(
        server.get("/ready").header("x-pod-name"),
        Some("echo-7d9f-x2k4")
    );
}

#[test]
fn probes_switch_off_and_on() {
    let server = Binary::start(BIN, &[], &[]);
    let check = |path: &str, status: u16, body: &str| {
        let reply = server.get(path);
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (status, body),
            "{path}"
        );
    };
    check("/ready", 200, "ready\n");
    check("/alive", 200, "alive\n");
    check("/ready?readiness=false", 503, "not ready\n");
    check("/ready", 503, "not ready\n");
    assert!(server.get("/metrics").text().contains("\napp_ready 0\n"));
    check(
        "/echo?message=still+here",
        200,
        &format!("Echo host: {}\nMessage: still here\n", hostname()),
    );
    check("/ready?readiness=true", 200, "ready\n");
    check("/alive?liveness=false", 503, "not alive\n");
    check("/alive", 503, "not alive\n");
    check("/alive?liveness=true", 200, "alive\n");
    check(
        "/ready?readiness=yes",
        400,
        "✖ readiness must be true or false, not 'yes'.\n",
    );
    check("/ready", 200, "ready\n");
}

#[test]
fn faults_are_injected_per_request_and_never_touch_probes() {
    let server = Binary::start(BIN, &[], &[]);
    let reply = server.get("/echo?message=oops&status=503");
    assert_eq!(
        (reply.status, reply.text()),
        (503, format!("Echo host: {}\nMessage: oops\n", hostname()))
    );
    assert_eq!(server.get("/echo?status=204").status, 204);

    let port = server.port;
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let reply = get(port, "/echo?message=late&delay=700");
        (reply.status, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(server.get("/ready").status, 200);
    assert_eq!(server.get("/alive").status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "probes wait for nobody"
    );
    let (status, took) = slow.join().unwrap();
    assert_eq!(status, 200);
    assert!(
        took >= Duration::from_millis(700),
        "delay=700 answered after {took:?}"
    );

    for (query, reason) in [
        ("status=99", "✖ status must be a number from 200 to 599.\n"),
        ("status=600", "✖ status must be a number from 200 to 599.\n"),
        (
            "delay=soon",
            "✖ delay must be a whole number of milliseconds, 0 to 30000.\n",
        ),
        (
            "delay=30001",
            "✖ delay must be a whole number of milliseconds, 0 to 30000.\n",
        ),
        ("format=xml", "✖ format must be text or json.\n"),
    ] {
        let reply = server.get(&format!("/echo?{query}"));
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (400, reason),
            "{query}"
        );
    }
}

#[test]
fn odd_bytes_never_break_the_server() {
    let server = Binary::start(BIN, &[], &[]);
    let expect = |message: &str| format!("Echo host: {}\nMessage: {message}\n", hostname());
    // A bad escape stays as written; invalid UTF-8 becomes the replacement character.
    assert_eq!(server.get("/echo?message=%zz%4").text(), expect("%zz%4"));
    assert_eq!(server.get("/echo?message=%ff%fe%c3").text(), expect("���"));
    // Raw bytes above 127 in the address are not HTTP: hyper answers 400.
    let reply = raw(
        server.port,
        b"GET /echo?message=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(reply.unwrap().status, 400);
    assert_eq!(
        raw(server.port, b"NOT HTTP AT ALL\r\n\r\n").unwrap().status,
        400
    );
    assert_eq!(server.get("/echo?message=ok").text(), expect("ok"));
}

#[test]
fn huge_addresses_and_headers_are_refused() {
    let server = Binary::start(BIN, &[], &[]);
    let reply = server.get(&format!("/echo?message={}", "a".repeat(9 * 1024)));
    assert_eq!(reply.status, 414);
    assert_eq!(
        reply.text(),
        "✖ The address is too long. Keep path and query under 8 KiB.\n"
    );
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(70 * 1024)
    );
    assert_eq!(raw(server.port, request.as_bytes()).unwrap().status, 431);
    // An address just under the cap still works.
    let message = "c".repeat(8000);
    assert_eq!(server.get(&format!("/echo?message={message}")).status, 200);
}

#[test]
fn slow_clients_cannot_hold_the_server() {
    let server = Binary::start(BIN, &[], &[("HEADER_READ_TIMEOUT", "500ms")]);
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = testkit::connect_within(server.port, Duration::from_secs(2)).unwrap();
            s.write_all(b"GET /echo?message=slow HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    assert_eq!(server.get("/echo?message=fast").status, 200);
    assert!(started.elapsed() < Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(900));
    for s in &mut slow {
        let mut buf = [0u8; 256];
        // The server closed the connection: read gives 0 bytes (not a timeout of ours).
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
}

/// echo with this connection cap (`MAX_CONNECTIONS`), keeping idle connections open for 30 s.
fn start_with_cap(max: &str) -> Binary {
    Binary::with_env(
        BIN,
        &[("MAX_CONNECTIONS", max), ("HEADER_READ_TIMEOUT", "30s")],
    )
}

/// `MAX_CONNECTIONS` sets the cap, and reaching it is logged once, not for every connection.
/// (kit's tests show, in the test process, that new connections wait until one closes.)
#[test]
fn the_connection_cap_is_logged_once() {
    let server = start_with_cap("2");
    let mut idle: Vec<TcpStream> = (0..2).map(|_| testkit::connect(server.port)).collect();
    server.wait_for_log(
        "Connection limit reached: 2 connections are open. New ones wait until one closes. Raise the limit with --max-connections.",
        Duration::from_secs(2),
    );
    // One waits in the queue; once a connection closes it is answered, and the cap is
    // reached again.
    let port = server.port;
    let late = std::thread::spawn(move || get(port, "/echo?message=late"));
    std::thread::sleep(Duration::from_millis(100));
    drop(idle.pop());
    assert_eq!(late.join().unwrap().status, 200);
    assert_eq!(
        server
            .logs()
            .iter()
            .filter(|l| l.contains("Connection limit reached"))
            .count(),
        1,
        "the line does not repeat for every connection"
    );
}

/// The memory an idle connection costs (ARCHITECTURE.md sizes the default cap with it).
#[test]
fn idle_connections_cost_little_memory() {
    let server = start_with_cap("1001");
    let rss = || {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap();
        kib * 1024
    };
    let before = rss();
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    assert_eq!(
        server.get("/echo?message=hi").status,
        200,
        "all are accepted"
    );
    std::thread::sleep(Duration::from_millis(300));
    let per_connection = (rss() - before) / 1000;
    eprintln!("one idle connection costs {per_connection} bytes of RSS");
    assert!(
        per_connection < 24 * 1024,
        "{per_connection} bytes per idle connection"
    );
    drop(idle);
}

#[test]
fn a_slow_body_gets_408() {
    let server = Binary::start(BIN, &[], &[("HEADER_READ_TIMEOUT", "300ms")]);
    let started = Instant::now();
    let reply = raw_within(
        server.port,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nmessage=only+part",
        Duration::from_secs(3),
    )
    .unwrap();
    assert_eq!(
        (reply.status, reply.text()),
        (
            408,
            "✖ The request body did not arrive within 300ms.\n".into()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn common_pages_answer_in_plain_words() {
    let server = Binary::start(BIN, &[], &[("POD_NAME", "echo-1")]);
    let home = server.get("/");
    assert_eq!(home.status, 200);
    assert_eq!(
        home.text(),
        format!(
            "echo-server 0.1.0 answered you.\nHost: {}\nPod: echo-1\nNamespace: not set\nNode: not set\nPod IP: not set\nTry /echo?message=hello\n",
            hostname()
        )
    );
    let html = raw(
        server.port,
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html,*/*\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(html.text().contains("<dt>Pod</dt><dd>echo-1</dd>"));

    let version = server.get("/version");
    assert!(
        version
            .text()
            .starts_with("name: echo-server\nversion: 0.1.0\ncommit: "),
        "{}",
        version.text()
    );
    let missing = server.get("/nope");
    assert_eq!(
        (missing.status, missing.text()),
        (
            404,
            "✖ Nothing here at /nope. Try /echo?message=hello\n".into()
        )
    );
    assert_eq!(server.get("/crash?code=256").status, 400);
}

#[test]
fn metrics_count_requests_by_path_and_status() {
    let server = Binary::start(BIN, &[], &[]);
    server.get("/echo?message=1");
    server.get("/echo?message=2");
    server.get("/echo?status=503");
    server.get("/no/such/path");
    let reply = server.get("/metrics");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = reply.text();
    for line in [
        "http_requests_total{path=\"/echo\",status=\"200\"} 2",
        "http_requests_total{path=\"/echo\",status=\"503\"} 1",
        "http_requests_total{path=\"other\",status=\"404\"} 1",
        "http_request_duration_seconds_count{path=\"/echo\",status=\"200\"} 2",
        "http_requests_in_flight 1",
        "app_ready 1",
        "app_alive 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
#[cfg_attr(
    not(ipv6_loopback),
    ignore = "this machine has no IPv6 loopback (::1); build.rs looked"
)]
fn ipv6_clients_are_served_too() {
    let server = Binary::start(BIN, &[], &[]);
    let mut s = TcpStream::connect(("::1", server.port)).unwrap();
    s.write_all(b"GET /echo?message=v6 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    assert!(String::from_utf8_lossy(&bytes).ends_with("Message: v6\n"));
}
