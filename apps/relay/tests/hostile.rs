//! Both apps under hostile clients and hostile upstreams: memory stays bounded.

use std::io::Write;
use std::time::Duration;

use testkit::*;

const RELAY: &str = env!("CARGO_BIN_EXE_relay-server");

/// The relay program, started with these flags.
fn start_relay(args: &[&str]) -> Binary {
    Binary::start(RELAY, args, &[])
}

const MB: u64 = 1_000_000;

/// How much a slow body or reply carries. Before the fix each byte that came alone kept an
/// 8 KiB read buffer alive: 16 KB took echo and relay to 67-75 MB (60 KB: 230 MB).
/// Now both stay near 7 MB.
const SLOW_BYTES: usize = 16_000;

/// A 16 KB form, as one `message` field.
fn form() -> Vec<u8> {
    let mut body = b"message=".to_vec();
    body.resize(SLOW_BYTES, b'a');
    body
}

/// Posts the form to echo one byte per segment; returns echo's status (0: no answer).
fn trickle_post(port: u16) -> u16 {
    let body = form();
    let mut s = connect_within(port, Duration::from_secs(30)).unwrap();
    write!(
        s,
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // A write fails when echo is gone (killed for its memory, say): then there is no answer.
    let sent = trickle(&mut s, &body);
    sent.and_then(|()| read_reply(&mut s))
        .map_or(0, |r| r.status)
}

/// An upstream that answers every request with 16 KB (with a Content-Length), one byte per segment.
fn trickling_upstream() -> u16 {
    raw_server(move |mut s| {
        if read_head(&mut s) {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SLOW_BYTES}\r\n\r\n");
            let _ = s.write_all(head.as_bytes());
            let _ = trickle(&mut s, &[b'r'; SLOW_BYTES]);
        }
    })
}

/// An upstream that waits for `n` calls, then answers all of them with 8 KB, a few bytes per
/// segment on each connection in turn, and ends each reply by closing (no Content-Length).
fn trickling_upstream_for(n: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut calls = Vec::new();
        for mut s in listener.incoming().flatten().take(n) {
            if read_head(&mut s) {
                s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    .unwrap();
                s.set_nodelay(true).unwrap();
                calls.push(s);
            }
        }
        // 4 bytes per segment, and no pause: the other 49 writes are the pause. Pieces that
        // join up only make the test gentler. 8 KB each took the old code to 270-330 MB for 50
        // calls (4 KB: 214 MB); now relay stays near 10 MB.
        for _ in 0..2_000 {
            for s in &mut calls {
                let _ = s.write_all(b"rrrr");
            }
            std::thread::yield_now();
        }
    });
    port
}

fn start_echo_for_slow_bodies() -> Binary {
    // A process of its own, so its memory can be measured and limited apart from the test's.
    let echo = sibling_binary(RELAY, "echo-server");
    Binary::start(echo, &[], &[("HEADER_READ_TIMEOUT", "60s")])
}

fn start_relay_for_slow_replies() -> Binary {
    start_relay(&["--call-timeout", "60s"])
}

/// One slow 60 KB body took echo to 230 MB: every 1-byte piece kept an 8 KiB buffer alive.
#[test]
fn a_body_sent_one_byte_at_a_time_keeps_echo_small() {
    let echo = start_echo_for_slow_bodies();
    assert_eq!(trickle_post(echo.port), 200);
    let peak = peak_memory(echo.child.id());
    eprintln!("echo peaked at {:.1} MB", peak as f64 / MB as f64);
    assert!(peak < 24 * MB, "echo peaked at {} MB", peak / MB);
}

/// One slow 60 KB reply took relay to 150 MB.
#[test]
fn a_reply_sent_one_byte_at_a_time_keeps_relay_small() {
    let upstream = trickling_upstream();
    let relay = start_relay_for_slow_replies();
    let r = relay.relay_to(upstream);
    assert_eq!(
        (r.status, r.body.len() > SLOW_BYTES),
        (200, true),
        "{}",
        r.status
    );
    let peak = peak_memory(relay.child.id());
    eprintln!(
        "relay peaked at {:.1} MB for one call",
        peak as f64 / MB as f64
    );
    assert!(peak < 24 * MB, "relay peaked at {} MB", peak / MB);
}

/// Eight slow 60 KB replies at once took relay to 790 MB.
#[test]
fn fifty_slow_replies_at_once_keep_relay_small() {
    let relay = start_relay_for_slow_replies();
    let upstream = trickling_upstream_for(50);
    let port = relay.port;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                get(port, &format!("/relay?echo_server=127.0.0.1:{upstream}"))
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.join().unwrap().status, 200);
    }
    let peak = peak_memory(relay.child.id());
    eprintln!(
        "relay peaked at {:.1} MB for 50 calls",
        peak as f64 / MB as f64
    );
    assert!(
        peak < 64 * MB,
        "relay peaked at {} MB for 50 calls",
        peak / MB
    );
}

/// In a 64 MiB memory cgroup (the lessons' limit) one slow body got echo OOM-killed,
/// and one slow reply got relay OOM-killed.
#[test]
#[cfg_attr(
    not(memcg),
    ignore = "needs a memory cgroup this process may make (root, cgroup v1 or v2 with memory)"
)]
fn in_a_64_mib_cgroup_slow_bodies_and_replies_are_served() {
    let cgroup = Cgroup::new("kube-course-memory", 64 << 20);
    let echo = start_echo_for_slow_bodies();
    let upstream = trickling_upstream();
    let relay = start_relay_for_slow_replies();
    cgroup.add(echo.child.id());
    cgroup.add(relay.child.id());
    let port = relay.port;
    let call = std::thread::spawn(move || {
        try_get(port, &format!("/relay?echo_server=127.0.0.1:{upstream}")).map_or(0, |r| r.status)
    });
    assert_eq!(trickle_post(echo.port), 200, "echo answered the slow body");
    assert_eq!(call.join().unwrap(), 200, "relay answered the slow reply");
    assert_eq!(echo.get("/alive").status, 200, "echo still runs");
    assert_eq!(relay.get("/alive").status, 200, "relay still runs");
    let peak = cgroup.peak();
    eprintln!("the cgroup peaked at {:.1} MB", peak as f64 / MB as f64);
    assert!(peak < 64 << 20, "the cgroup peaked at {} MB", peak / MB);
}
