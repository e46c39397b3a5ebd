//! The relay's pool of connections to echo: a connection is reused while it is open,
//! and never after the echo server said `Connection: close` (what a pod that is not
//! ready says, so the relay moves to a ready pod).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use testkit::*;

const RELAY: &str = env!("CARGO_BIN_EXE_relay-server");

/// An upstream that counts its connections and answers each request with `hi`.
/// With `close`, each answer says `Connection: close` and the connection then closes.
fn counting_upstream(close: bool) -> (u16, Arc<AtomicUsize>) {
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    let port = raw_server(move |mut stream| {
        seen.fetch_add(1, SeqCst);
        let close_header = if close { "Connection: close\r\n" } else { "" };
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n{close_header}\r\nhi\n");
        while read_head(&mut stream) {
            if stream.write_all(answer.as_bytes()).is_err() || close {
                return;
            }
        }
    });
    (port, connections)
}

/// Makes five calls through a new relay; returns how many connections the upstream saw.
fn connections_for_five_calls(close: bool) -> usize {
    let (port, connections) = counting_upstream(close);
    let relay = Binary::start(RELAY, &[], &[]);
    for _ in 0..5 {
        relay.relay_to(port).expect(200, "Reply:\nhi\n");
    }
    assert_eq!(relay.calls("ok"), 5);
    connections.load(SeqCst)
}

#[test]
fn calls_in_a_row_share_one_connection() {
    assert_eq!(connections_for_five_calls(false), 1);
}

#[test]
fn a_connection_the_upstream_closes_is_not_reused() {
    assert_eq!(connections_for_five_calls(true), 5);
}

#[test]
fn a_call_on_a_connection_the_upstream_just_closed_goes_out_again() {
    // The upstream answers one request per connection, then closes it a moment later
    // without saying so: what echo does when it closes an idle connection.
    let port = raw_server(|mut stream| {
        if read_head(&mut stream) {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
    let relay = Binary::start(RELAY, &[], &[]);
    for i in 0..60 {
        std::thread::sleep(std::time::Duration::from_millis(i % 4));
        relay.relay_to(port).expect(200, "Reply:\nhi\n");
    }
    assert_eq!(relay.calls("ok"), 60);
}
