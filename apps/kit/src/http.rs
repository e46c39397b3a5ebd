//! Small helpers to read requests and build answers.
//!
//! Every answer has a full body in memory ([`Body`]): our answers are small.
//! Query values are decoded leniently: a bad `%` escape stays as written
//! and invalid UTF-8 becomes `�`, so no input can make a handler fail.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::StatusCode;

/// The body type of every answer.
pub type Body = Full<Bytes>;
/// An answer.
pub type Response = hyper::Response<Body>;
/// A request, as the server hands it to an app.
pub type Request = hyper::Request<Incoming>;

/// `text/plain; charset=utf-8`.
pub const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
/// `application/json`.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json");
/// `text/html; charset=utf-8`.
pub const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

/// An answer with a status, a content type and a body.
pub fn answer(status: StatusCode, content_type: HeaderValue, body: impl Into<Bytes>) -> Response {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// A plain-text answer.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    answer(status, TEXT, body)
}

/// A JSON answer, with a line break at the end so it reads well in a terminal.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut body = value.to_string();
    body.push('\n');
    answer(status, JSON, body)
}

/// `404 Not Found`, with a hint where to go instead.
pub fn not_found(path: &str, hint: &str) -> Response {
    let path: String = path.chars().take(100).collect();
    text(
        StatusCode::NOT_FOUND,
        format!("✖ Nothing here at {path}. {hint}\n"),
    )
}

/// `405 Method Not Allowed`, with the `Allow` header.
pub fn method_not_allowed(allowed: &'static str) -> Response {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("✖ This path only answers {allowed}.\n"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allowed));
    response
}

/// How an answer is written: `format=text` (the default) or `format=json`.
/// Every path reads it the same way: another value is a `400` that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

impl Format {
    /// Reads a `format` value; none given means text.
    pub fn parse(value: Option<&str>) -> Result<Format, String> {
        match value {
            None | Some("text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(_) => Err("format must be text or json.".to_string()),
        }
    }

    /// Reads `format=` from a query.
    pub fn from_query(query: Option<&str>) -> Result<Format, String> {
        Format::parse(query_value(query, "format").as_deref())
    }
}

/// The first value of `key` in a query, decoded. To read several keys, use [`read_fields`].
pub fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<Cow<'a, str>> {
    let [value] = read_fields(&[key], query.map(str::as_bytes));
    value
}

/// The first value of each field in `names`, in one pass over each source (a query or a
/// form body). A value in an earlier source wins over one in a later source.
pub fn read_fields<'a, const N: usize>(
    names: &[&str; N],
    sources: impl IntoIterator<Item = &'a [u8]>,
) -> [Option<Cow<'a, str>>; N] {
    let mut found: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
    for source in sources {
        for (key, value) in form_urlencoded::parse(source) {
            if let Some(slot) = names.iter().position(|name| *name == key) {
                found[slot].get_or_insert(value);
            }
        }
    }
    found
}

/// The largest request body [`read_body`] accepts by default: 64 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// Why [`read_at_most`] stopped.
#[derive(Debug)]
pub enum BodyError {
    /// The body is larger than the limit.
    TooLarge,
    /// The connection failed or closed before the body was complete.
    Broken(hyper::Error),
}

/// Reads a whole body (a request's or a reply's) into one buffer, never more than `limit` bytes.
///
/// The buffer is sized by the smaller of Content-Length and the limit, and each piece is
/// copied in and let go at once. So memory stays bounded by the limit whatever the framing:
/// a body sent one byte at a time does not keep a read buffer alive per byte.
pub async fn read_at_most(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    use hyper::body::Body as _;
    let hint = body.size_hint();
    if hint.lower() > limit as u64 {
        return Err(BodyError::TooLarge); // Content-Length says so: do not read at all.
    }
    // Without a length (chunked, or read to the end), start small and grow up to the limit.
    let expected = hint.exact().unwrap_or(16 * 1024);
    let mut buf = Vec::with_capacity(limit.min(usize::try_from(expected).unwrap_or(limit)));
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(BodyError::Broken)?.into_data() else {
            continue; // trailers
        };
        if data.len() > limit - buf.len() {
            return Err(BodyError::TooLarge);
        }
        if data.len() > buf.capacity() - buf.len() {
            // Grow by doubling, but never past the limit.
            let want = (buf.len() + data.len()).max(buf.capacity() * 2).min(limit);
            buf.reserve_exact(want - buf.len());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.into())
}

/// Reads a whole request body, at most `limit` bytes, within `timeout`.
/// Too big gives a `413` answer, too slow a `408`, a broken upload a `400`.
pub async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, Response> {
    let Ok(read) = tokio::time::timeout(timeout, read_at_most(body, limit)).await else {
        let wait = crate::config::show_duration(timeout);
        let reason = format!("✖ The request body did not arrive within {wait}.\n");
        return Err(text(StatusCode::REQUEST_TIMEOUT, reason));
    };
    match read {
        Ok(body) => Ok(body),
        Err(BodyError::TooLarge) => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("✖ The request body is larger than {} KiB.\n", limit / 1024),
        )),
        Err(BodyError::Broken(_)) => Err(text(
            StatusCode::BAD_REQUEST,
            "✖ The request body could not be read.\n",
        )),
    }
}

/// Escapes text for HTML, so a value can never become markup.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Status and body text of an answer (for tests).
#[cfg(test)]
pub(crate) fn body_text(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = runtime
        .block_on(response.into_body().collect())
        .unwrap()
        .to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded_leniently() {
        for (query, decoded) in [
            ("message=hello+world&x=1", "hello world"),
            ("message=a%26b%3Dc", "a&b=c"),
            ("message=%zz%4", "%zz%4"),
            ("message=%ff%fe", "��"),
            ("message=1&message=2", "1"),
            ("message", ""),
        ] {
            assert_eq!(
                query_value(Some(query), "message").unwrap(),
                decoded,
                "{query}"
            );
        }
        assert_eq!(query_value(Some("other=1"), "message"), None);
        assert_eq!(query_value(None, "message"), None);
    }

    #[test]
    fn fields_are_read_in_one_pass_and_the_first_source_wins() {
        let form: &[u8] = b"message=from+form&b=2";
        let query: &[u8] = b"a=1&message=from-query&a=3&b%3D=x";
        let [a, message, b, missing] =
            read_fields(&["a", "message", "b=", "missing"], [form, query]);
        assert_eq!(a.as_deref(), Some("1"));
        assert_eq!(message.as_deref(), Some("from form"));
        assert_eq!(b.as_deref(), Some("x"));
        assert_eq!(missing, None);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<b a=\"1\">&'"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
    }
}
