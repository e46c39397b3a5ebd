//! The HTTP client that calls echo.
//!
//! One client serves the whole process. It keeps connections to echo open and reuses
//! them, so a busy relay does not open a new connection per request. An idle connection
//! is not reused after 4 s and is closed within 5 s, before echo closes it (5 s).
//!
//! Each connection is one hyper HTTP/1.1 connection (`hyper::client::conn::http1`) in a
//! task of its own. The pool is a short list of idle connections: a call takes one for its
//! target, or opens a new one, and gives it back once the reply is read.
//! Names go through the system resolver, so Kubernetes search domains work (see lookup.rs).
//! Every resolved address is checked again before the client connects.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::HOST;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use kit::http::BodyError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::net::TcpStream;

use crate::target::{is_forbidden_ip, Host, Target};

/// Characters sent as they are in a query value; all others are percent-encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An idle connection is not reused after this long, and closed within a second more.
/// echo closes one after 5 s (its `--header-read-timeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// The most idle connections kept; more are closed at once.
const MAX_IDLE: usize = 128;
/// The largest read buffer of a connection. A bigger reply is read in pieces, so an idle
/// connection never holds more than this. Reply headers must fit in it.
const MAX_BUFFER: usize = 64 * 1024;
/// How long to wait for one address before trying the next one, when there are several.
const NEXT_ADDRESS_AFTER: Duration = Duration::from_millis(300);

/// What echo answered: its status and at most `max_reply_bytes` of its body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Why the call to echo failed. `Display` gives one plain sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The name resolved to a link-local or metadata address.
    Blocked(IpAddr),
    /// The name does not resolve.
    NoSuchName(String),
    /// Nothing listens on that port.
    Refused,
    /// Some other failure while connecting, such as "no route to host".
    Connect(String),
    /// The call took longer than `--call-timeout`.
    Timeout(Duration),
    /// The reply was bigger than `--max-reply-bytes`.
    TooLarge(usize),
    /// The answer was not HTTP.
    NotHttp,
    /// The connection closed before the reply was complete.
    Closed,
    /// The message, once encoded, makes an address longer than echo reads. Nothing was sent.
    TooLong(usize),
    /// Anything else.
    Other(String),
}

/// How a call to echo ended, as counted in `relay_upstream_calls_total{outcome="..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    BadStatus,
    Timeout,
    Refused,
    DnsError,
    Blocked,
    ConnectError,
    TooLarge,
    NotHttp,
    Closed,
    Error,
}

impl kit::metrics::CounterLabel for Outcome {
    const ALL: &'static [Self] = &[
        Outcome::Ok,
        Outcome::BadStatus,
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::DnsError,
        Outcome::Blocked,
        Outcome::ConnectError,
        Outcome::TooLarge,
        Outcome::NotHttp,
        Outcome::Closed,
        Outcome::Error,
    ];

    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BadStatus => "bad_status",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::DnsError => "dns_error",
            Outcome::Blocked => "blocked",
            Outcome::ConnectError => "connect_error",
            Outcome::TooLarge => "too_large",
            Outcome::NotHttp => "not_http",
            Outcome::Closed => "closed",
            Outcome::Error => "error",
        }
    }
}

impl CallError {
    /// The outcome this error counts as.
    pub fn outcome(&self) -> Outcome {
        match self {
            CallError::Blocked(_) => Outcome::Blocked,
            CallError::NoSuchName(_) => Outcome::DnsError,
            CallError::Refused => Outcome::Refused,
            CallError::Connect(_) => Outcome::ConnectError,
            CallError::Timeout(_) => Outcome::Timeout,
            CallError::TooLarge(_) => Outcome::TooLarge,
            CallError::NotHttp => Outcome::NotHttp,
            CallError::Closed => Outcome::Closed,
            CallError::TooLong(_) | CallError::Other(_) => Outcome::Error,
        }
    }
}

impl CallError {
    /// The status the relay answers with: 504 for a timeout, 403 for a blocked address, else 502.
    pub fn status(&self) -> StatusCode {
        match self {
            CallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            CallError::Blocked(_) => StatusCode::FORBIDDEN,
            CallError::TooLong(_) => StatusCode::URI_TOO_LONG,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Blocked(ip) => write!(
                f,
                "The name points to {ip}, a link-local or cloud metadata address. The relay never calls it."
            ),
            CallError::NoSuchName(name) => write!(f, "The name {name} does not resolve. Check its spelling and namespace."),
            CallError::Refused => f.write_str("The connection was refused. Nothing listens on that port."),
            CallError::Connect(why) => write!(f, "The relay could not connect: {why}."),
            CallError::Timeout(limit) => write!(f, "The echo server did not answer within {limit:?}."),
            CallError::TooLarge(max) => write!(f, "The reply is larger than {max} bytes. The relay stopped reading."),
            CallError::NotHttp => f.write_str("The reply is not HTTP. Is this port an echo server?"),
            CallError::Closed => f.write_str("The connection closed before the reply was complete."),
            CallError::TooLong(max) => write!(
                f,
                "The message is too long: encoded for the echo server it passes {} KiB. Send a shorter message.",
                max / 1024
            ),
            CallError::Other(why) => write!(f, "The call failed: {why}."),
        }
    }
}

// ANCHOR: client
/// The one HTTP client of the process, with its deadline and size limit.
#[derive(Clone)]
pub struct EchoClient {
    pool: Arc<Pool>,
    call_timeout: Duration,
    max_reply_bytes: usize,
}

impl EchoClient {
    /// The deadline of one call (`--call-timeout`).
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The largest reply read (`--max-reply-bytes`).
    pub fn max_reply_bytes(&self) -> usize {
        self.max_reply_bytes
    }

    pub fn new(call_timeout: Duration, max_reply_bytes: usize) -> Self {
        EchoClient {
            pool: Arc::new(Pool::default()),
            call_timeout,
            max_reply_bytes,
        }
    }

    /// Calls `GET http://TARGET/echo?message=...` and reads the reply, all within the deadline.
    /// With a token, the call sends `Authorization: Bearer <token>` (see [`crate::files`]).
    pub async fn echo(
        &self,
        target: &Target,
        params: &[(&str, &str)],
        token: Option<&str>,
    ) -> Result<Reply, CallError> {
        let path = echo_path(params);
        // echo answers 414 to a longer address; say so here, in words, and send nothing.
        if path.len() > kit::server::MAX_URI {
            return Err(CallError::TooLong(kit::server::MAX_URI));
        }
        let request = || {
            let request = Request::get(path.as_str()).header(HOST, target.as_str());
            let request = crate::files::bearer(request, token).body(Empty::new());
            request.map_err(|e| CallError::Other(e.to_string()))
        };
        tokio::time::timeout(self.call_timeout, self.call(target, request))
            .await
            .unwrap_or(Err(CallError::Timeout(self.call_timeout)))
    }

    /// Sends the request on an idle connection to the target, or on a new one, and reads
    /// the reply. The connection goes back to the pool once the whole reply is read.
    ///
    /// echo may close an idle connection just as a request goes out on it. So a request
    /// that gets no reply on a reused connection goes out again on the next one, or on a
    /// new one. A call to echo is a GET, so sending it twice is safe.
    async fn call(
        &self,
        target: &Target,
        request: impl Fn() -> Result<Request<Empty<Bytes>>, CallError>,
    ) -> Result<Reply, CallError> {
        let max = self.max_reply_bytes;
        loop {
            let (mut conn, reused) = match self.pool.take(target) {
                Some(conn) => (conn, true),
                None => (connect(target, max).await?, false),
            };
            // A new connection takes its first request at once.
            if reused && conn.ready().await.is_err() {
                continue; // it closed while idle
            }
            let response = match conn.send_request(request()?).await {
                Ok(response) => response,
                Err(_) if reused => continue, // no reply came: try the next connection
                Err(e) => return Err(classify(&e, max)),
            };
            let status = response.status();
            let body = read_at_most(response.into_body(), max).await?;
            self.pool.give_back(target, conn);
            return Ok(Reply { status, body });
        }
    }
}
// ANCHOR_END: client

/// The idle connections, oldest first.
#[derive(Default)]
struct Pool {
    idle: Mutex<Vec<Idle>>,
    /// Set once the task that closes old idle connections runs.
    reaper: std::sync::atomic::AtomicBool,
}

struct Idle {
    target: Target,
    conn: http1::SendRequest<Empty<Bytes>>,
    since: Instant,
}

impl Idle {
    /// Still open, and idle for less than [`IDLE_TIMEOUT`].
    fn usable(&self) -> bool {
        !self.conn.is_closed() && self.since.elapsed() < IDLE_TIMEOUT
    }
}

impl Pool {
    /// The newest idle connection to `target` that is still open.
    fn take(&self, target: &Target) -> Option<http1::SendRequest<Empty<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(at) = idle.iter().rposition(|i| i.target == *target) {
            let found = idle.remove(at);
            if found.usable() {
                return Some(found.conn);
            }
        }
        None
    }

    /// Keeps a connection for the next call, unless it is closed or the pool is full.
    fn give_back(self: &Arc<Self>, target: &Target, conn: http1::SendRequest<Empty<Bytes>>) {
        if conn.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_IDLE {
            return; // dropping it closes it
        }
        idle.push(Idle {
            target: target.clone(),
            conn,
            since: Instant::now(),
        });
        drop(idle);
        if !self.reaper.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tokio::spawn(close_old(Arc::downgrade(self)));
        }
    }
}

/// Closes connections idle for [`IDLE_TIMEOUT`], once a second, while the pool exists.
async fn close_old(pool: Weak<Pool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(Idle::usable);
    }
}

/// Opens a connection to the target: looks up its name, checks every address, then
/// tries each address in turn.
async fn connect(
    target: &Target,
    max_reply_bytes: usize,
) -> Result<http1::SendRequest<Empty<Bytes>>, CallError> {
    let addrs: Vec<SocketAddr> = match &target.host {
        // target::parse refuses these already; a second check costs nothing.
        Host::Ip(ip) if is_forbidden_ip(*ip) => return Err(CallError::Blocked(*ip)),
        Host::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        Host::Name(name) => {
            // Slow DNS cannot hold calls up past their deadline (see lookup.rs).
            let found = crate::lookup::resolve(name)
                .await
                .ok_or_else(|| CallError::NoSuchName(name.clone()))?;
            if let Some(bad) = found.iter().find(|a| is_forbidden_ip(a.ip())) {
                return Err(CallError::Blocked(bad.ip()));
            }
            found
                .iter()
                .map(|a| SocketAddr::new(a.ip(), target.port))
                .collect()
        }
    };
    let mut failed = None;
    let last = addrs.len().saturating_sub(1);
    for (i, addr) in addrs.into_iter().enumerate() {
        // An address that does not answer must not use up the whole deadline.
        let wait = if i < last {
            NEXT_ADDRESS_AFTER
        } else {
            Duration::MAX
        };
        let stream = match tokio::time::timeout(wait, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                failed = Some(e);
                continue;
            }
            Err(_) => {
                failed = Some(io::Error::from(io::ErrorKind::TimedOut));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (conn, task) = http1::Builder::new()
            // Reply headers must fit in the buffer: at most the reply limit, or 64 KiB.
            .max_buf_size(max_reply_bytes.clamp(8192, MAX_BUFFER))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| classify(&e, max_reply_bytes))?;
        tokio::spawn(async move {
            if let Err(e) = task.await {
                tracing::debug!("A connection to echo closed with an error: {e}");
            }
        });
        return Ok(conn);
    }
    Err(match failed {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => CallError::Refused,
        Some(e) => CallError::Connect(e.to_string()),
        None => CallError::NoSuchName(target.host.to_string()),
    })
}

/// Reads a reply body into one buffer, never more than `max` bytes (see [`kit::http::read_at_most`]).
async fn read_at_most(body: Incoming, max: usize) -> Result<Bytes, CallError> {
    match kit::http::read_at_most(body, max).await {
        Ok(body) => Ok(body),
        Err(BodyError::TooLarge) => Err(CallError::TooLarge(max)),
        Err(BodyError::Broken(e)) => Err(classify(&e, max)),
    }
}

/// The path and query of echo's `/echo`, with each value percent-encoded.
pub fn echo_path(params: &[(&str, &str)]) -> String {
    let mut path = String::with_capacity(64);
    path.push_str("/echo");
    for (i, (key, value)) in params.iter().enumerate() {
        path.push(if i == 0 { '?' } else { '&' });
        path.push_str(key);
        path.push('=');
        path.extend(utf8_percent_encode(value, VALUE));
    }
    path
}

/// Finds the first known cause in an error's chain of sources. A broken connection or a
/// reply that is not HTTP counts before "closed", which hyper reports as a result of both.
fn classify(err: &(dyn StdError + 'static), max_reply_bytes: usize) -> CallError {
    let chain = || std::iter::successors(Some(err), |&e| e.source());
    for e in chain() {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::ConnectionRefused => CallError::Refused,
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => CallError::Closed,
                _ => CallError::Connect(io.to_string()),
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_parse_too_large() {
                // The reply's headers did not fit in the connection's buffer.
                return CallError::TooLarge(max_reply_bytes.clamp(8192, MAX_BUFFER));
            }
            if h.is_parse() {
                return CallError::NotHttp;
            }
        }
    }
    let closed = chain()
        .filter_map(|e| e.downcast_ref::<hyper::Error>())
        .any(|h| h.is_incomplete_message() || h.is_closed() || h.is_canceled());
    if closed {
        return CallError::Closed;
    }
    CallError::Other(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_message() {
        assert_eq!(echo_path(&[("message", "hi")]), "/echo?message=hi");
        assert_eq!(
            echo_path(&[("message", "a&b=c d+e/f?#%"), ("delay", "5")]),
            "/echo?message=a%26b%3Dc%20d%2Be%2Ff%3F%23%25&delay=5"
        );
        assert_eq!(
            echo_path(&[("message", "héllo ✔")]),
            "/echo?message=h%C3%A9llo%20%E2%9C%94"
        );
        assert_eq!(
            echo_path(&[("message", "a-b.c_d~e")]),
            "/echo?message=a-b.c_d~e"
        );
        assert_eq!(echo_path(&[("message", "")]), "/echo?message=");
    }

    #[test]
    fn encoded_paths_are_valid() {
        for m in [
            "",
            "a b",
            "\u{0}\u{7f}",
            "line\nbreak",
            "😀",
            "%zz",
            "[]{}|^`\"<>",
        ] {
            let uri: hyper::Uri = echo_path(&[("message", m)]).parse().unwrap();
            assert_eq!(uri.path(), "/echo");
            let got: Vec<(String, String)> =
                form_urlencoded::parse(uri.query().unwrap().as_bytes())
                    .into_owned()
                    .collect();
            assert_eq!(got, vec![("message".to_owned(), m.to_owned())]);
        }
    }

    #[test]
    fn classifies_errors() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&refused, 100), CallError::Refused);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&reset, 100), CallError::Closed);
        let other = io::Error::other("no route to host");
        assert_eq!(
            classify(&other, 100),
            CallError::Connect("no route to host".into())
        );
    }

    #[test]
    fn messages_are_plain_sentences() {
        for e in [
            CallError::Blocked("fe80::1".parse().unwrap()),
            CallError::NoSuchName("ecko".into()),
            CallError::Refused,
            CallError::Connect("no route to host".into()),
            CallError::Timeout(Duration::from_secs(2)),
            CallError::TooLarge(65536),
            CallError::NotHttp,
            CallError::Closed,
            CallError::TooLong(8192),
            CallError::Other("boom".into()),
        ] {
            let text = e.to_string();
            assert!(text.ends_with('.') || text.ends_with('?'), "{text}");
            assert!(!text.contains('\n'), "{text}");
            for sentence in text.split(". ") {
                assert!(sentence.split_whitespace().count() <= 20, "{text}");
            }
        }
        assert_eq!(
            CallError::Timeout(Duration::from_secs(2)).to_string(),
            "The echo server did not answer within 2s."
        );
    }
}
