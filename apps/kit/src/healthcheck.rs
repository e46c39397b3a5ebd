//! The `healthcheck` subcommand: is the app on this machine alive?
//!
//! Our images have no shell and no curl, so Docker's HEALTHCHECK runs
//! `echo-server healthcheck`. It sends `GET /alive` to 127.0.0.1 on the
//! app's port and exits 0 when the answer is 200, else 1. Plain std, no runtime.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// How long the whole check may take, per step.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `/alive` on `127.0.0.1:port`, prints one line, and gives the exit code.
pub fn run(port: u16) -> ExitCode {
    match check(port) {
        Ok(()) => {
            println!("✔ alive: /alive on port {port} answered 200.");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("✖ not alive: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok` when `/alive` answers 200; otherwise the reason in plain words.
pub fn check(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| format!("could not connect to port {port} ({e})."))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|_| stream.set_write_timeout(Some(TIMEOUT)))
        .ok();
    stream
        .write_all(b"GET /alive HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("could not send the request ({e})."))?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < 12 {
        match stream.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) => {
                return Err(format!(
                    "no answer within {} seconds ({e}).",
                    TIMEOUT.as_secs()
                ))
            }
        }
    }
    let status_line = String::from_utf8_lossy(&head[..len]);
    match status_line.get(9..12) {
        Some("200") if status_line.starts_with("HTTP/1.") => Ok(()),
        Some(code) if status_line.starts_with("HTTP/1.") => Err(format!("/alive answered {code}.")),
        _ => Err("the answer was not HTTP.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn one_answer(reply: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        });
        port
    }

    #[test]
    fn status_200_is_alive() {
        assert_eq!(check(one_answer(b"HTTP/1.1 200 OK\r\n\r\nalive\n")), Ok(()));
    }

    #[test]
    fn other_answers_are_not_alive() {
        assert_eq!(
            check(one_answer(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")),
            Err("/alive answered 503.".into())
        );
        assert_eq!(
            check(one_answer(b"SSH-2.0-OpenSSH\r\n")),
            Err("the answer was not HTTP.".into())
        );
    }

    #[test]
    fn a_closed_port_is_not_alive() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(check(port)
            .unwrap_err()
            .starts_with("could not connect to port"));
    }
}
