//! The HTTP client that calls echo.
//!
//! One client serves the whole process. It keeps connections open and reuses them,
//! so a busy relay does not open a new connection per request.
//! Names go through the system resolver, so Kubernetes search domains work (see lookup.rs).
//! Every resolved address is checked again before the client connects.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kit::http::BodyError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::target::{is_forbidden_ip, Target};

/// Characters sent as they are in a query value; all others are percent-encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
    http: Client<HttpConnector<CheckedResolver>, Empty<Bytes>>,
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
        let mut connector = HttpConnector::new_with_resolver(CheckedResolver);
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            // echo closes a connection after 5 s without a request. We drop it sooner,
            // so a call never races that close.
            .pool_idle_timeout(Duration::from_secs(4))
            // Reply headers larger than the reply limit are refused too.
            .http1_max_buf_size(max_reply_bytes.max(8192))
            .build(connector);
        EchoClient {
            http,
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
        let max = self.max_reply_bytes;
        let uri = echo_uri(target, params);
        // echo answers 414 to a longer address; say so here, in words, and send nothing.
        let path_and_query = uri.len() - format!("http://{target}").len();
        if path_and_query > kit::server::MAX_URI {
            return Err(CallError::TooLong(kit::server::MAX_URI));
        }
        let call = async {
            let request = crate::files::bearer(Request::get(uri), token).body(Empty::new());
            let request = request.map_err(|e| CallError::Other(e.to_string()))?;
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| classify(&e, max))?;
            let status = response.status();
            let body = read_at_most(response.into_body(), max).await?;
            Ok(Reply { status, body })
        };
        tokio::time::timeout(self.call_timeout, call)
            .await
            .unwrap_or(Err(CallError::Timeout(self.call_timeout)))
    }
}
// ANCHOR_END: client

/// Reads a reply body into one buffer, never more than `max` bytes (see [`kit::http::read_at_most`]).
async fn read_at_most(body: Incoming, max: usize) -> Result<Bytes, CallError> {
    match kit::http::read_at_most(body, max).await {
        Ok(body) => Ok(body),
        Err(BodyError::TooLarge) => Err(CallError::TooLarge(max)),
        Err(BodyError::Broken(e)) => Err(classify(&e, max)),
    }
}

/// The URL of echo's `/echo` path, with each value percent-encoded.
pub fn echo_uri(target: &Target, params: &[(&str, &str)]) -> String {
    use std::fmt::Write;
    let mut uri = format!("http://{target}/echo");
    for (i, (key, value)) in params.iter().enumerate() {
        let sep = if i == 0 { '?' } else { '&' };
        let _ = write!(uri, "{sep}{key}={}", utf8_percent_encode(value, VALUE));
    }
    uri
}

/// Finds the first known cause in an error's chain of sources.
fn classify(err: &(dyn StdError + 'static), max_reply_bytes: usize) -> CallError {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(blocked) = e.downcast_ref::<BlockedAddress>() {
            return CallError::Blocked(blocked.0);
        }
        if let Some(failed) = e.downcast_ref::<LookupFailed>() {
            return CallError::NoSuchName(failed.0.clone());
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::ConnectionRefused => CallError::Refused,
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => CallError::Closed,
                _ => CallError::Connect(io.to_string()),
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_parse_too_large() {
                return CallError::TooLarge(max_reply_bytes); // the reply's headers
            }
            if h.is_parse() {
                return CallError::NotHttp;
            }
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                return CallError::Closed;
            }
        }
        cause = e.source();
    }
    CallError::Other(err.to_string())
}

/// The resolver: the system resolver, then a check of every address it returns.
#[derive(Clone, Copy)]
struct CheckedResolver;

#[derive(Debug)]
struct BlockedAddress(IpAddr);

#[derive(Debug)]
struct LookupFailed(String);

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is link-local or a metadata address", self.0)
    }
}
impl StdError for BlockedAddress {}

impl fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} does not resolve", self.0)
    }
}
impl StdError for LookupFailed {}

type BoxError = Box<dyn StdError + Send + Sync>;

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Slow DNS cannot hold calls up past their deadline (see lookup.rs).
            let addrs: Vec<SocketAddr> = crate::lookup::resolve(&host)
                .await
                .map(|found| found.to_vec())
                .unwrap_or_default();
            if addrs.is_empty() {
                return Err(LookupFailed(host).into());
            }
            if let Some(bad) = addrs.iter().find(|a| is_forbidden_ip(a.ip())) {
                return Err(BlockedAddress(bad.ip()).into());
            }
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::parse;

    #[test]
    fn encodes_the_message() {
        let t = parse("echo:8080").unwrap();
        assert_eq!(
            echo_uri(&t, &[("message", "hi")]),
            "http://echo:8080/echo?message=hi"
        );
        assert_eq!(
            echo_uri(&t, &[("message", "a&b=c d+e/f?#%"), ("delay", "5")]),
            "http://echo:8080/echo?message=a%26b%3Dc%20d%2Be%2Ff%3F%23%25&delay=5"
        );
        assert_eq!(
            echo_uri(&t, &[("message", "héllo ✔")]),
            "http://echo:8080/echo?message=h%C3%A9llo%20%E2%9C%94"
        );
        assert_eq!(
            echo_uri(&t, &[("message", "a-b.c_d~e")]),
            "http://echo:8080/echo?message=a-b.c_d~e"
        );
        let v6 = parse("[::1]:80").unwrap();
        assert_eq!(
            echo_uri(&v6, &[("message", "")]),
            "http://[::1]:80/echo?message="
        );
    }

    #[test]
    fn encoded_uris_are_valid() {
        let t = parse("echo:8080").unwrap();
        for m in [
            "",
            "a b",
            "\u{0}\u{7f}",
            "line\nbreak",
            "😀",
            "%zz",
            "[]{}|^`\"<>",
        ] {
            let uri: hyper::Uri = echo_uri(&t, &[("message", m)]).parse().unwrap();
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
        assert_eq!(
            classify(&BlockedAddress("169.254.169.254".parse().unwrap()), 100).outcome(),
            Outcome::Blocked
        );
        assert_eq!(
            classify(&LookupFailed("nope".into()), 100),
            CallError::NoSuchName("nope".into())
        );
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

    #[tokio::test]
    async fn resolver_refuses_nothing_for_localhost() {
        use tower_service::Service;
        let addrs: Vec<_> = CheckedResolver
            .call("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
