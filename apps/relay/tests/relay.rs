//! The real relay-server calls the real echo-server, over loopback, with real HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::*;

const RELAY: &str = env!("CARGO_BIN_EXE_relay-server");

/// The relay program, started with these flags.
fn start_relay(args: &[&str]) -> Binary {
    Binary::start(RELAY, args, &[])
}

#[test]
fn the_contract_holds_byte_for_byte() {
    let echo = InProcess::echo(&[]);
    let relay = Binary::start(
        RELAY,
        &[],
        &[
            ("POD_NAME", "relay-7d9f"),
            ("POD_NAMESPACE", "my-space"),
            ("NODE_NAME", "kind-worker"),
        ],
    );
    let h = hostname();
    let r = relay.get(&format!("/relay?echo_server={}&message=hello", echo.addr()));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let want = format!(
        "Relay-Host: {h}\nRelay-To: 127.0.0.1:{}\nReply:\nEcho host: {h}\nMessage: hello\n",
        echo.port
    );
    assert_eq!(r.body, want);
    assert_eq!(r.header("x-pod-name"), Some("relay-7d9f"));
    assert_eq!(r.header("x-pod-namespace"), Some("my-space"));
    assert_eq!(r.header("x-node-name"), Some("kind-worker"));

    let j = relay.get(&format!(
        "/relay?echo_server={}&message=hello&format=json",
        echo.addr()
    ));
    assert_eq!(j.status, 200);
    assert_eq!(j.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(v["host"], h.as_str());
    assert_eq!(v["pod"], "relay-7d9f");
    assert_eq!(v["node"], "kind-worker");
    assert_eq!(v["relay_to"], echo.addr());
    assert_eq!(v["reply"], format!("Echo host: {h}\nMessage: hello\n"));
}

#[test]
fn ipv6_addresses_and_names_work_as_targets() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    for target in [
        format!("[::1]:{}", echo.port),
        format!("localhost:{}", echo.port),
    ] {
        let r = relay.get(&format!("/relay?echo_server={}&message=hi", enc(&target)));
        r.expect(200, &format!("Relay-To: {target}\nReply:\nEcho host: "));
    }
}

#[test]
fn messages_arrive_exactly_as_sent() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    for message in [
        "a&b=c",
        "two words",
        "plus+sign",
        "ünïcødé ✔",
        "100%",
        "#hash?q=1",
        "",
        "x&echo_server=y",
    ] {
        let r = relay.get(&format!(
            "/relay?echo_server={}&message={}",
            echo.addr(),
            enc(message)
        ));
        assert_eq!(r.status, 200, "{message}: {r:?}");
        assert!(
            r.body.ends_with(&format!("\nMessage: {message}\n")),
            "{message}: {}",
            r.body
        );
    }
    // Bad percent-encoding and invalid UTF-8 never fail: they arrive as written or as �.
    let r = relay.get(&format!(
        "/relay?echo_server={}&message=%zz%ff",
        echo.addr()
    ));
    assert_eq!(r.status, 200);
    assert!(r.body.ends_with("\nMessage: %zz\u{fffd}\n"), "{}", r.body);
}

#[test]
fn a_smuggled_path_is_refused_and_echo_stays_ready() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    for attack in [
        format!(
            "/relay?echo_server={}/ready?readiness=false&&message=hi",
            echo.addr()
        ),
        format!(
            "/relay?echo_server={}&message=hi",
            enc(&format!("{}/ready?readiness=false&", echo.addr()))
        ),
        format!(
            "/relay?echo_server={}",
            enc(&format!("user@{}", echo.addr()))
        ),
        format!(
            "/relay?echo_server={}",
            enc(&format!("http://{}", echo.addr()))
        ),
    ] {
        let r = relay.get(&attack);
        assert_eq!(r.status, 400, "{attack}: {r:?}");
        assert!(
            r.body.starts_with("✖ ") && r.body.ends_with('\n'),
            "{}",
            r.body
        );
        assert_eq!(r.body.lines().count(), 1, "{}", r.body);
    }
    assert_eq!(
        echo.get("/ready").status,
        200,
        "echo's readiness was switched off"
    );
    assert_eq!(echo.get("/ready").body, "ready\n");
}

#[test]
fn missing_or_empty_echo_server_is_400() {
    // Empty variables mean "not set", as a manifest may write them.
    let relay = Binary::start(
        RELAY,
        &[],
        &[("DEFAULT_ECHO_SERVER", ""), ("ALLOWED_ECHO_SERVERS", "")],
    );
    let r = relay.get("/relay?message=hi");
    r.expect(400, "✖ echo_server is missing.");
    let r = relay.get("/relay?echo_server=&message=hi");
    r.expect(400, "✖ echo_server is empty.");
    assert_eq!(relay.get("/relay?echo_server=echo").status, 400);
    relay
        .get("/relay?echo_server=echo:8080&format=xml")
        .expect(400, "✖ format must be text or json.");
}

/// The addresses the guards refuse, bound to loopback inside the test's own network
/// namespace, each with a canary listener on port 80.
const FORBIDDEN: &[&str] = &[
    "169.254.169.254",
    "100.100.100.200",
    "168.63.129.16",
    "fe80::1",
    "fd00:ec2::254",
    "::169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::",
];

/// Runs a guard test where the only network is loopback, so a broken guard can never send
/// a packet off the machine. The test runs itself again under `unshare --net` (root);
/// there it brings up `lo`, binds every forbidden address to it, and listens on port 80
/// of each. The moment anything connects to one, the test process exits with a failure.
fn in_own_network(test: &str, body: impl FnOnce()) {
    if std::env::var_os("RELAY_TEST_OWN_NETWORK").is_none() {
        let exe = std::env::current_exe().unwrap();
        let status = Command::new("unshare")
            .args(["--net", "--pid", "--fork", "--kill-child", "--"])
            .arg(exe)
            .args([test, "--exact", "--nocapture", "--include-ignored"])
            .env("RELAY_TEST_OWN_NETWORK", "1")
            .status()
            .expect("unshare runs");
        assert!(
            status.success(),
            "{test} failed in its own network namespace: {status}"
        );
        return;
    }
    let ip = |args: &[&str]| {
        let status = Command::new("ip").args(args).status().expect("ip runs");
        assert!(status.success(), "ip {args:?}: {status}");
    };
    ip(&["link", "set", "lo", "up"]);
    let unreachable =
        TcpStream::connect_timeout(&"192.0.2.1:80".parse().unwrap(), Duration::from_millis(500));
    assert!(
        unreachable.is_err(),
        "this namespace reaches beyond loopback"
    );
    for addr in FORBIDDEN {
        let v6 = addr.contains(':');
        let prefix = if v6 { "/128" } else { "/32" };
        let mut args = vec![if v6 { "-6" } else { "-4" }, "addr", "add"];
        let with_prefix = format!("{addr}{prefix}");
        args.extend([with_prefix.as_str(), "dev", "lo"]);
        if v6 {
            args.push("nodad");
        }
        ip(&args);
        let ip: std::net::IpAddr = addr.parse().unwrap();
        let listen = match ip {
            std::net::IpAddr::V6(v6) if v6.segments()[0] == 0xfe80 => {
                std::net::SocketAddr::V6(std::net::SocketAddrV6::new(v6, 80, 0, 1))
            }
            ip => std::net::SocketAddr::new(ip, 80),
        };
        let canary = std::net::TcpListener::bind(listen).expect("the canary listens");
        std::thread::spawn(move || {
            if canary.accept().is_ok() {
                eprintln!("✖ Something connected to {listen}: a target guard let it through.");
                std::process::exit(3);
            }
        });
    }
    body();
}

#[test]
#[cfg_attr(
    not(netns),
    ignore = "needs a network namespace of its own (root, unshare --net)"
)]
fn metadata_and_link_local_addresses_are_refused() {
    in_own_network("metadata_and_link_local_addresses_are_refused", || {
        let relay = start_relay(&[]);
        for target in [
            "169.254.169.254:80",
            "100.100.100.200:80",
            "168.63.129.16:80",
            "[fe80::1]:80",
            "[fd00:ec2::254]:80",
            "[::ffff:169.254.169.254]:80",
            "[::169.254.169.254]:80",
            "[::ffff:0:a9fe:a9fe]:80",
            "[64:ff9b::a9fe:a9fe]:80",
            "[2002:a9fe:a9fe::]:80",
            "metadata.google.internal:80",
        ] {
            let r = relay.get(&format!("/relay?echo_server={}", enc(target)));
            r.expect(403, "link-local or cloud metadata");
        }
    });
}

/// Starts the relay with its own /etc/hosts and /etc/resolv.conf, in a private mount namespace.
/// That needs root: tests that use it are ignored where build.rs found no `unshare`.
fn relay_with_name_files(test: &str, hosts: &str, resolv: &str, env: &[(&str, &str)]) -> Binary {
    assert!(is_root(), "needs root to give the relay its own /etc/hosts");
    let dir = std::env::temp_dir().join(format!("relay-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), hosts).unwrap();
    std::fs::write(dir.join("resolv.conf"), resolv).unwrap();
    let script = "mount --bind \"$0/hosts\" /etc/hosts && mount --bind \"$0/resolv.conf\" /etc/resolv.conf && exec \"$1\"";
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c", script])
        .arg(&dir)
        .arg(RELAY);
    Binary::spawn(cmd, env)
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// Names that resolve to forbidden addresses are refused after DNS, before any connection.
#[test]
#[cfg_attr(
    not(netns),
    ignore = "needs a network namespace of its own (root, unshare --net)"
)]
fn names_that_resolve_to_metadata_are_refused() {
    in_own_network(
        "names_that_resolve_to_metadata_are_refused",
        names_to_metadata,
    );
}

fn names_to_metadata() {
    let hosts = "127.0.0.1 localhost good.test mixed.test\n\
                 169.254.169.254 sneaky.test mixed.test\nfe80::1 sneaky6.test\n\
                 ::a9fe:a9fe compat.test\n";
    let relay = relay_with_name_files("hosts", hosts, "nameserver 127.0.0.1\n", &[]);
    let echo = InProcess::echo(&[]);
    let port = echo.port;
    let ok = relay.get(&format!("/relay?echo_server=good.test:{port}&message=hi"));
    assert_eq!(ok.status, 200, "{ok:?}");
    for name in ["sneaky.test", "sneaky6.test", "mixed.test", "compat.test"] {
        let r = relay.get(&format!("/relay?echo_server={name}:80"));
        r.expect(403, "link-local or cloud metadata");
    }
    assert_eq!(relay.calls("blocked"), 4);
}

/// Kubernetes puts search domains into each pod's resolv.conf. Short names like `echo`
/// and `echo.my-space` work because the relay asks the system resolver, which uses them.
#[test]
#[cfg_attr(
    not(netns),
    ignore = "needs root (unshare) to give the relay its own /etc/hosts"
)]
fn short_names_resolve_through_the_search_domains() {
    // Port 53 needs root: say so plainly instead of a failed bind.
    assert!(
        is_root(),
        "needs root to listen on port 53 and to give the relay its own /etc/hosts"
    );
    let dns = std::net::UdpSocket::bind("127.0.0.10:53").expect("port 53 on 127.0.0.10 is free");
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || tiny_dns(dns, "echo.my-space.svc.cluster.local", log));
    let resolv = "nameserver 127.0.0.10\n\
                  search my-space.svc.cluster.local svc.cluster.local cluster.local\n\
                  options ndots:5 timeout:1 attempts:1\n";
    let relay = relay_with_name_files("search", "127.0.0.1 localhost\n", resolv, &[]);
    let echo = InProcess::echo(&[]);
    for name in ["echo", "echo.my-space", "echo.my-space.svc.cluster.local"] {
        let r = relay.get(&format!(
            "/relay?echo_server={name}:{}&message=hi",
            echo.port
        ));
        r.expect(200, &format!("Relay-To: {name}:{}\n", echo.port));
    }
    let asked = asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"echo.my-space.my-space.svc.cluster.local".to_owned()),
        "{asked:?}"
    );
    relay
        .get("/relay?echo_server=nothing:80")
        .expect(502, "does not resolve");
}

/// Answers DNS questions for one name with 127.0.0.1; every other name does not exist.
fn tiny_dns(socket: std::net::UdpSocket, known: &str, asked: Arc<std::sync::Mutex<Vec<String>>>) {
    let mut buf = [0u8; 512];
    while let Ok((n, peer)) = socket.recv_from(&mut buf) {
        let query = &buf[..n];
        // The question starts after the 12-byte header: labels, then type and class.
        let (mut at, mut labels) = (12, Vec::new());
        while at < n && query[at] != 0 && at + 1 + (query[at] as usize) < n {
            let len = query[at] as usize;
            labels.push(String::from_utf8_lossy(&query[at + 1..at + 1 + len]).to_lowercase());
            at += 1 + len;
        }
        let name = labels.join(".");
        let end = at + 5; // the zero byte, type and class
        if n < 12 || end > n {
            continue;
        }
        let is_a = query[at + 2] == 1;
        asked.lock().unwrap().push(name.clone());
        let found = name == known;
        let mut reply = query[..2].to_vec(); // the same id
        reply.extend([0x81, if found { 0x80 } else { 0x83 }]); // an answer; NXDOMAIN when unknown
        reply.extend([0, 1, 0, u8::from(found && is_a), 0, 0, 0, 0]);
        reply.extend(&query[12..end]);
        if found && is_a {
            reply.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]);
        }
        let _ = socket.send_to(&reply, peer);
    }
}

/// A relay whose only DNS server, on `ip` port 53, never answers (5 s per try), with this
/// deadline per call.
fn relay_with_silent_dns(
    test: &str,
    ip: &str,
    hosts: &str,
    call_timeout: &str,
) -> (std::net::UdpSocket, Binary) {
    assert!(
        is_root(),
        "needs root to listen on port 53 and to give the relay its own /etc/hosts"
    );
    let dns = std::net::UdpSocket::bind((ip, 53)).expect("port 53 on that address is free");
    let resolv = format!("nameserver {ip}\noptions timeout:5 attempts:1\n");
    let env = [("CALL_TIMEOUT", call_timeout)];
    (dns, relay_with_name_files(test, hosts, &resolv, &env))
}

/// A DNS server that never answers: each call ends at the deadline, and lookups do not pile up threads.
#[test]
#[cfg_attr(
    not(netns),
    ignore = "needs root (unshare) to give the relay its own /etc/hosts"
)]
fn a_silent_dns_server_gives_504_without_piling_up_threads() {
    let (dns, relay) = relay_with_silent_dns("dns", "127.0.0.9", "127.0.0.1 localhost\n", "1s");
    let port = relay.port;
    let calls: Vec<_> = (0..80)
        .map(|i| {
            std::thread::spawn(move || get(port, &format!("/relay?echo_server=slow{i}.test:80")))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(600));
    let status = std::fs::read_to_string(format!("/proc/{}/status", relay.child.id())).unwrap();
    let threads: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap();
    assert!(threads <= 40, "{threads} threads for 80 slow lookups");
    for call in calls {
        call.join().unwrap().expect(504, "did not answer within 1s");
    }
    drop(dns);
}

/// A DNS server that never answers, and a flood of names only it could answer: calls to
/// names the relay has called lately, and calls by address, still work. Before, the slow
/// lookups held every lookup slot for seconds after their calls had ended, and every call
/// that needed a lookup, even of a name in /etc/hosts, failed with 504.
#[test]
#[cfg_attr(
    not(netns),
    ignore = "needs root (unshare) to give the relay its own /etc/hosts"
)]
fn slow_dns_cannot_starve_calls_to_known_names() {
    let hosts = "127.0.0.1 localhost known.test\n";
    let (_dns, relay) = relay_with_silent_dns("starve", "127.0.0.11", hosts, "2s");
    let echo = InProcess::echo(&[]);
    // Not ready, echo closes each connection after its answer: every call needs a lookup.
    assert_eq!(echo.get("/ready?readiness=false").status, 503);
    let (port, echo_port) = (relay.port, echo.port);
    let found = Instant::now();
    relay
        .get(&format!("/relay?echo_server=known.test:{echo_port}"))
        .expect(200, "Relay-To: known.test:");
    // Three rounds of slow names keep every lookup thread busy for 10 s: the first round
    // holds them 5 s (the DNS timeout), the third takes them over until the end.
    let flood = std::thread::spawn(move || {
        let mut calls = Vec::new();
        for round in 0..3 {
            for i in 0..40 {
                calls.push(std::thread::spawn(move || {
                    let started = Instant::now();
                    let r = get(port, &format!("/relay?echo_server=slow{round}-{i}.test:80"));
                    (r.status, started.elapsed())
                }));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        calls
            .into_iter()
            .map(|c| c.join().unwrap())
            .collect::<Vec<_>>()
    });
    std::thread::sleep(Duration::from_millis(500));
    // Past the 5 s in which a found name needs no lookup: then the relay uses the name as it
    // was while a new lookup waits for a thread.
    let until = found + Duration::from_secs(6);
    let mut known = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let r = relay.get(&format!("/relay?echo_server=known.test:{echo_port}"));
        assert_eq!(r.status, 200, "a known name during the flood: {r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
        relay
            .relay_to_within(echo_port, Duration::from_secs(1))
            .expect(200, "Reply:");
        known += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(known >= 10, "only {known} calls to the known name");
    for (status, took) in flood.join().unwrap() {
        assert_eq!(status, 504);
        assert!(
            took < Duration::from_millis(3500),
            "a slow name took {took:?}"
        );
    }
}

#[test]
fn the_allow_list_lets_only_its_targets_through() {
    let echo = InProcess::echo(&[]);
    let other = InProcess::echo(&[]);
    let relay = Binary::start(
        RELAY,
        &[],
        &[(
            "ALLOWED_ECHO_SERVERS",
            &format!("{}, localhost:1", echo.addr()),
        )],
    );
    assert_eq!(
        relay
            .get(&format!("/relay?echo_server={}&message=hi", echo.addr()))
            .status,
        200
    );
    let r = relay.get(&format!("/relay?echo_server={}", other.addr()));
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.body,
        format!(
            "✖ {} is not on the allow-list. Allowed: {}, localhost:1.\n",
            other.addr(),
            echo.addr()
        )
    );
    // The same flag on the command line.
    let relay = start_relay(&["--allowed-echo-servers", &other.addr()]);
    assert_eq!(
        relay
            .get(&format!("/relay?echo_server={}", other.addr()))
            .status,
        200
    );
    assert_eq!(
        relay
            .get(&format!("/relay?echo_server={}", echo.addr()))
            .status,
        403
    );
}

#[test]
fn the_default_target_is_used_without_echo_server() {
    let echo = InProcess::echo(&[]);
    let relay = Binary::start(RELAY, &[], &[("DEFAULT_ECHO_SERVER", &echo.addr())]);
    let r = relay.get("/relay?message=hi");
    r.expect(200, &format!("Relay-To: {}\n", echo.addr()));
    assert!(r.body.ends_with("Message: hi\n"));
    // The default is allowed even when an allow-list names other targets.
    let relay = start_relay(&[
        "--default-echo-server",
        &echo.addr(),
        "--allowed-echo-servers",
        "localhost:1",
    ]);
    assert_eq!(relay.get("/relay?message=hi").status, 200);
}

#[test]
fn a_wrong_status_from_upstream_is_a_502_counted_as_bad_status() {
    let port = wrong_status_upstream(418);
    let relay = start_relay(&[]);
    let r = relay.relay_to(port);
    r.expect(502, "answered 418");
    r.expect(502, "not what you wanted");
    assert_eq!(relay.calls("bad_status"), 1);
}

#[test]
fn an_echo_error_becomes_502_with_echos_status_and_body() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    let r = relay.get(&format!(
        "/relay?echo_server={}&message=hi&status=500",
        echo.addr()
    ));
    assert_eq!(r.status, 502);
    let h = hostname();
    assert_eq!(
        r.body,
        format!(
            "✖ The echo server at {} answered 500 Internal Server Error.\nReply:\nEcho host: {h}\nMessage: hi\n",
            echo.addr()
        )
    );
    let j = relay.get(&format!(
        "/relay?echo_server={}&message=hi&status=503&format=json",
        echo.addr()
    ));
    assert_eq!(j.status, 502);
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(v["status"], 502);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("answered 503 Service Unavailable"),
        "{v}"
    );
    assert_eq!(v["reply"], format!("Echo host: {h}\nMessage: hi\n"));
}

#[test]
fn a_slow_echo_gives_504_after_the_default_two_seconds() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    let started = Instant::now();
    let r = relay.get(&format!(
        "/relay?echo_server={}&message=hi&delay=5000",
        echo.addr()
    ));
    let took = started.elapsed();
    r.expect(504, "did not answer within 2s");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(3000),
        "{took:?}"
    );
    // A delay inside the deadline is fine.
    let r = relay.get(&format!(
        "/relay?echo_server={}&message=hi&delay=100",
        echo.addr()
    ));
    assert_eq!(r.status, 200);
}

#[test]
fn a_closed_port_gives_502_refused() {
    let relay = start_relay(&[]);
    let r = relay.get(&format!(
        "/relay?echo_server=127.0.0.1:{}&message=hi",
        closed_port()
    ));
    r.expect(502, "The connection was refused.");
    let r = relay.get("/relay?echo_server=no-such-name.invalid:8080");
    r.expect(502, "does not resolve");
}

/// 8000 `+` fit the relay's 8 KiB address limit but grow threefold once encoded for echo.
#[test]
fn a_message_too_long_for_echo_once_encoded_gets_414_from_the_relay() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    let long = relay.get(&format!(
        "/relay?echo_server={}&message={}",
        echo.addr(),
        "+".repeat(8000)
    ));
    assert_eq!(long.status, 414, "{long:?}");
    assert_eq!(
        long.body,
        format!(
            "✖ Relay to {} failed. The message is too long: encoded for the echo server it passes 8 KiB. Send a shorter message.\n",
            echo.addr()
        )
    );
    assert_eq!(relay.calls("error"), 0, "nothing was sent to echo");
    let fits = relay.get(&format!(
        "/relay?echo_server={}&message={}",
        echo.addr(),
        "+".repeat(2700)
    ));
    fits.expect(200, &format!("Message: {}\n", " ".repeat(2700)));
}

#[test]
fn an_endless_body_stops_at_the_size_limit() {
    let port = endless_upstream();
    let relay = start_relay(&["--max-reply-bytes", "100000"]);
    let r = relay.relay_to_within(port, Duration::from_secs(1));
    r.expect(502, "larger than 100000 bytes");
    // A declared length over the limit is refused before reading.
    let port = raw_answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\nabc",
        Duration::from_secs(5),
    );
    let r = relay.relay_to(port);
    r.expect(502, "larger than");
    assert_eq!(relay.calls("too_large"), 2);
}

#[test]
fn a_silent_server_gives_504_at_the_deadline() {
    let port = slow_upstream(Duration::from_secs(10));
    let relay = start_relay(&["--call-timeout", "300ms"]);
    let r = relay.relay_to_within(port, Duration::from_secs(2));
    r.expect(504, "did not answer within 300ms");
    // Headers then a body that never ends in time: also the deadline.
    let port = raw_answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        Duration::from_secs(10),
    );
    assert_eq!(relay.relay_to(port).status, 504);
}

#[test]
fn a_reply_that_is_not_http_gives_502() {
    let garbage = raw_answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", Duration::ZERO);
    let hangs_up = raw_answer(b"", Duration::ZERO);
    let short = raw_answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part",
        Duration::ZERO,
    );
    let relay = start_relay(&[]);
    let r = relay.relay_to(garbage);
    r.expect(502, "The reply is not HTTP.");
    for port in [hangs_up, short] {
        let r = relay.relay_to(port);
        r.expect(502, "closed before the reply was complete");
    }
}

#[test]
fn endless_reply_headers_stop_at_the_size_limit() {
    let port = raw_server(|mut s| {
        if read_head(&mut s) {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
            while s
                .write_all(b"X-Filler: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n")
                .is_ok()
            {}
        }
    });
    let relay = start_relay(&["--max-reply-bytes", "10000"]);
    let r = relay.relay_to_within(port, Duration::from_secs(1));
    r.expect(502, "larger than 10000 bytes");
}

#[test]
fn connections_to_echo_are_reused() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let port = raw_server(move |mut s| {
        counter.fetch_add(1, Ordering::SeqCst);
        while read_head(&mut s) {
            let body = "Echo host: raw\nMessage: hi\n";
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            if s.write_all(format!("{head}{body}").as_bytes()).is_err() {
                return;
            }
        }
    });
    let relay = start_relay(&[]);
    for _ in 0..100 {
        let r = relay.get(&format!("/relay?echo_server=127.0.0.1:{port}&message=hi"));
        assert_eq!(r.status, 200, "{r:?}");
    }
    let opened = accepted.load(Ordering::SeqCst);
    assert!(
        opened <= 2,
        "100 sequential calls opened {opened} connections"
    );
    assert_eq!(relay.calls("ok"), 100);
}

/// echo closes a connection that carries no request for its header read timeout (5 s; 300 ms
/// here, so the test is quick). The relay keeps idle connections 4 s: here echo closes them
/// first, and the relay must notice and not send a call down a closed connection.
#[test]
fn calls_still_work_after_echo_closes_idle_connections() {
    let echo = InProcess::echo(&["--header-read-timeout", "300ms"]);
    let relay = start_relay(&[]);
    let url = format!("/relay?echo_server={}&message=hi", echo.addr());
    assert_eq!(relay.get(&url).status, 200);
    let mut idle = echo.connect();
    assert_eq!(send(&mut idle, "/echo").status, 200);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        idle.read(&mut [0u8; 16]).unwrap(),
        0,
        "echo closed its idle connection"
    );
    for _ in 0..3 {
        let r = relay.get(&url);
        assert_eq!(r.status, 200, "{r:?}");
    }
}

#[test]
fn sigterm_lets_a_call_in_flight_finish() {
    let echo = InProcess::echo(&[]);
    let mut relay = start_relay(&[]);
    let port = relay.port;
    let url = format!("/relay?echo_server={}&message=bye&delay=700", echo.addr());
    let call = std::thread::spawn(move || get(port, &url));
    std::thread::sleep(Duration::from_millis(200));
    let pid = relay.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let r = call.join().unwrap();
    r.expect(200, "Message: bye\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let code = loop {
        if let Some(status) = relay.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn only_get_and_head_are_answered() {
    let relay = start_relay(&[]);
    let answer = ask(relay.port, "DELETE", "/relay?echo_server=echo:8080", &[]);
    assert_eq!(answer.status, 405, "{answer:?}");
    assert_eq!(answer.header("allow"), Some("GET, HEAD"), "{answer:?}");
    let r = relay.get("/nothing-here");
    assert_eq!(r.status, 404);
    assert!(
        r.body
            .contains("Try /relay?echo_server=echo:8080&message=hello"),
        "{}",
        r.body
    );
}

/// echo's fault options pass through the relay only by GET, and only when its switches are on.
#[test]
fn the_relay_passes_faults_on_only_when_its_switches_allow() {
    let echo = InProcess::echo(&[]);
    let relay = start_relay(&[]);
    let path = format!("/relay?echo_server={}&status=500", echo.addr());
    let answer = ask(relay.port, "HEAD", &path, &[]);
    assert_eq!(answer.status, 405, "{answer:?}");
    relay
        .get(&path)
        .expect(502, "answered 500 Internal Server Error");
    let off = start_relay(&["--course-switches", "off"]);
    off.get(&path).expect(403, "COURSE_SWITCHES=off");
    off.get(&format!("/relay?echo_server={}&delay=2000", echo.addr()))
        .expect(403, "COURSE_SWITCHES=off");
    off.get(&format!("/relay?echo_server={}&message=hi", echo.addr()))
        .expect(200, "Message: hi\n");
    assert_eq!(off.calls("bad_status") + off.calls("ok"), 1);
}

#[test]
fn healthcheck_asks_the_local_port() {
    let relay = start_relay(&[]);
    let check = |port: u16| {
        let out = Command::new(RELAY)
            .arg("healthcheck")
            .env("PORT", port.to_string())
            .output()
            .unwrap();
        out.status.code()
    };
    assert_eq!(check(relay.port), Some(0));
    assert_eq!(relay.get("/alive?liveness=false").status, 503);
    assert_eq!(check(relay.port), Some(1));
    assert_eq!(check(closed_port()), Some(1));
}

#[test]
fn bad_settings_stop_the_program_with_a_plain_reason() {
    for (args, reason) in [
        (
            &["--default-echo-server", "169.254.169.254:80"][..],
            "link-local or cloud metadata",
        ),
        (&["--default-echo-server", "echo:8080/ready"][..], "no path"),
        (
            &["--allowed-echo-servers", "echo:8080,oops"][..],
            "oops: echo_server needs a port",
        ),
        (&["--call-timeout", "0"][..], "more than 0"),
        (&["--call-timeout", "soon"][..], "Write it like 500ms"),
        (&["--max-reply-bytes", "0"][..], "max-reply-bytes"),
    ] {
        let out = Command::new(RELAY).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let help = Command::new(RELAY).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--default-echo-server",
        "DEFAULT_ECHO_SERVER",
        "--allowed-echo-servers",
        "ALLOWED_ECHO_SERVERS",
        "--call-timeout",
        "CALL_TIMEOUT",
        "--max-reply-bytes",
        "MAX_REPLY_BYTES",
        "--port",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn relay_describes_its_settings_once_after_the_kits_line() {
    let relay = start_relay(&["--call-timeout", "3s"]);
    relay.wait_for_log("Relay settings:", Duration::from_secs(5));
    let logs = relay.logs();
    let starting = logs
        .iter()
        .position(|l| l.contains("Starting relay-server"));
    let settings: Vec<_> = logs
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("Relay settings:"))
        .collect();
    assert_eq!(settings.len(), 1, "{logs:#?}");
    assert!(starting < Some(settings[0].0), "{logs:#?}");
    assert!(
        settings[0]
            .1
            .contains("default echo server none. Allowed: any. Call timeout 3s."),
        "{logs:#?}"
    );
}
