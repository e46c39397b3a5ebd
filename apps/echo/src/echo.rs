//! The `/echo` path: send a message, get it back with the host name.
//!
//! Options for lessons about faults: `delay` waits that many milliseconds
//! before answering, `status` answers with that status code.
//! `format=json` answers in JSON, with the pod details too.

use std::borrow::Cow;
use std::time::Duration;

use kit::http::{
    form_value, json, method_not_allowed, query_value, read_body, text, Request, Response, MAX_BODY,
};
use kit::hyper::{Method, StatusCode};
use kit::Context;

/// The longest `delay` we accept: 30 seconds.
pub const MAX_DELAY_MS: u64 = 30_000;

/// The echo app.
pub struct Echo;

impl kit::App for Echo {
    const PATHS: &'static [&'static str] = &["/echo"];
    const HINT: &'static str = "Try /echo?message=hello";

    async fn handle(&self, req: Request, ctx: &Context) -> Response {
        match req.uri().path() {
            "/echo" => echo(req, ctx).await,
            path => kit::http::not_found(path, Self::HINT),
        }
    }
}

/// What a request asks for, read from its query and form body.
#[derive(Debug, PartialEq)]
pub struct Options<'a> {
    pub message: Cow<'a, str>,
    pub delay: Duration,
    pub status: StatusCode,
    pub json: bool,
}

// ANCHOR: echo_handler
/// `/echo`: answers with the host name and the message.
async fn echo(req: Request, ctx: &Context) -> Response {
    let query = req.uri().query().map(str::to_owned);
    let form = match *req.method() {
        Method::GET | Method::HEAD => None,
        Method::POST => match read_body(req.into_body(), MAX_BODY).await {
            Ok(body) => Some(body),
            Err(answer) => return answer,
        },
        _ => return method_not_allowed("GET, HEAD, POST"),
    };
    let options = match Options::read(query.as_deref(), form.as_deref()) {
        Ok(options) => options,
        Err(reason) => return text(StatusCode::BAD_REQUEST, format!("✖ {reason}\n")),
    };
    if !options.delay.is_zero() {
        tokio::time::sleep(options.delay).await;
    }
    let host = &ctx.identity.hostname;
    if options.json {
        let mut fields = ctx.identity.json_fields();
        fields.insert("message".into(), options.message.into());
        return json(options.status, &fields.into());
    }
    text(
        options.status,
        format!("Echo host: {host}\nMessage: {}\n", options.message),
    )
}
// ANCHOR_END: echo_handler

impl<'a> Options<'a> {
    /// Reads the options. A form field wins over the same query field.
    /// A missing message is an empty message.
    pub fn read(query: Option<&'a str>, form: Option<&'a [u8]>) -> Result<Self, String> {
        let get = |key: &str| {
            form.and_then(|f| form_value(f, key))
                .or_else(|| query_value(query, key))
        };
        let delay = match get("delay") {
            None => 0,
            Some(ms) => ms
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= MAX_DELAY_MS)
                .ok_or_else(|| {
                    format!("delay must be a whole number of milliseconds, 0 to {MAX_DELAY_MS}.")
                })?,
        };
        let status = match get("status") {
            None => StatusCode::OK,
            Some(code) => code
                .parse::<u16>()
                .ok()
                .filter(|code| (200..=599).contains(code))
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or("status must be a number from 200 to 599.")?,
        };
        let json = match get("format").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(_) => return Err("format must be text or json.".into()),
        };
        Ok(Options {
            message: get("message").unwrap_or_default(),
            delay: Duration::from_millis(delay),
            status,
            json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(query: &str) -> Result<Options<'_>, String> {
        Options::read(Some(query), None)
    }

    #[test]
    fn message_and_defaults() {
        let o = read("message=hello").unwrap();
        assert_eq!(
            (o.message.as_ref(), o.delay, o.status, o.json),
            ("hello", Duration::ZERO, StatusCode::OK, false)
        );
        assert_eq!(Options::read(None, None).unwrap().message, "");
    }

    #[test]
    fn form_fields_win_over_the_query() {
        let o = Options::read(Some("message=query&status=201"), Some(b"message=form")).unwrap();
        assert_eq!((o.message.as_ref(), o.status.as_u16()), ("form", 201));
    }

    #[test]
    fn faults_and_format() {
        let o = read("delay=250&status=503&format=json").unwrap();
        assert_eq!(
            (o.delay, o.status.as_u16(), o.json),
            (Duration::from_millis(250), 503, true)
        );
        assert!(!read("format=text").unwrap().json);
    }

    #[test]
    fn bad_options_say_what_is_allowed() {
        for (query, reason) in [
            ("delay=-1", "delay must be"),
            ("delay=30001", "delay must be"),
            ("delay=1.5", "delay must be"),
            ("status=199", "status must be"),
            ("status=600", "status must be"),
            ("status=abc", "status must be"),
            ("format=xml", "format must be"),
        ] {
            assert!(read(query).unwrap_err().starts_with(reason), "{query}");
        }
    }
}
