//! The `/echo` path: send a message, get it back with the host name.
//!
//! Options for lessons about faults: `delay` waits that many milliseconds
//! before answering, `status` answers with that status code.
//! `format=json` answers in JSON, with the pod details too.

use std::borrow::Cow;
use std::time::Duration;

use kit::http::{json, method_not_allowed, read_body, text, Format, Request, Response, MAX_BODY};
use kit::hyper::{Method, StatusCode};
use kit::Context;

/// The longest `delay` we accept: 30 seconds.
pub const MAX_DELAY_MS: u64 = 30_000;

/// The echo app. With a token file, `/echo` asks for the token (see [`crate::token`]).
pub struct Echo {
    pub token_file: Option<kit::setting_file::SettingFile>,
}

impl kit::App for Echo {
    const PATHS: &'static [&'static str] = &["/echo"];
    const HINT: &'static str = "Try /echo?message=hello";

    async fn handle(&self, req: Request, ctx: &Context) -> Response {
        match req.uri().path() {
            "/echo" => match crate::token::refusal(self.token_file.as_ref(), req.headers()) {
                None => echo(req, ctx).await,
                Some(refused) => refused,
            },
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
    let (head, body) = req.into_parts();
    let form = match head.method {
        Method::GET | Method::HEAD => None,
        Method::POST => match read_body(body, MAX_BODY, ctx.config.header_read_timeout).await {
            Ok(form) => Some(form),
            Err(answer) => return answer,
        },
        _ => return method_not_allowed("GET, HEAD, POST"),
    };
    let options = match Options::read(head.uri.query(), form.as_deref()) {
        Ok(options) => options,
        Err(reason) => return text(StatusCode::BAD_REQUEST, format!("✖ {reason}\n")),
    };
    // delay and status are course switches: off with COURSE_SWITCHES, and only GET and POST.
    if !options.delay.is_zero() || options.status != StatusCode::OK {
        if let Some(refused) = ctx.switch_refused(&head.method) {
            return refused;
        }
    }
    if !options.delay.is_zero() {
        tokio::time::sleep(options.delay).await;
    }
    // ANCHOR: echo_answer
    if options.json {
        let mut fields = ctx.identity.json_fields();
        fields.insert("message".into(), options.message.into());
        return json(options.status, &fields.into());
    }
    text(
        options.status,
        body_text(&ctx.identity.hostname, &options.message),
    )
    // ANCHOR_END: echo_answer
}

/// The contract, byte for byte: `Echo host: <hostname>\nMessage: <message>\n`.
pub fn body_text(host: &str, message: &str) -> String {
    ["Echo host: ", host, "\nMessage: ", message, "\n"].concat()
}
// ANCHOR_END: echo_handler

/// The fields `/echo` reads, in the order of [`Options::read`]'s slots.
const FIELDS: [&str; 4] = ["message", "delay", "status", "format"];

impl<'a> Options<'a> {
    /// Reads the options in one pass over each source. The first value of a field wins,
    /// and a form field wins over the same query field. A missing message is empty.
    pub fn read(query: Option<&'a str>, form: Option<&'a [u8]>) -> Result<Self, String> {
        let sources = [form, query.map(str::as_bytes)].into_iter().flatten();
        let [message, delay, status, format] = kit::http::read_fields(&FIELDS, sources);
        let delay = match delay {
            None => 0,
            Some(ms) => ms
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= MAX_DELAY_MS)
                .ok_or_else(|| {
                    format!("delay must be a whole number of milliseconds, 0 to {MAX_DELAY_MS}.")
                })?,
        };
        let status = match status {
            None => StatusCode::OK,
            Some(code) => code
                .parse::<u16>()
                .ok()
                .filter(|code| (200..=599).contains(code))
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or("status must be a number from 200 to 599.")?,
        };
        let json = Format::parse(format.as_deref())? == Format::Json;
        Ok(Options {
            message: message.unwrap_or_default(),
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

    #[test]
    fn the_body_is_the_contract() {
        assert_eq!(
            body_text("pod-1", "hi there"),
            "Echo host: pod-1\nMessage: hi there\n"
        );
        assert_eq!(body_text("pod-1", ""), "Echo host: pod-1\nMessage: \n");
    }

    /// A tiny random generator, so the property tests need no extra crate.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn any_message_comes_back_exactly() {
        let alphabet: Vec<char> = "aZ09 +&=%?#/\\\n\t\0éß✔😀<>\"'".chars().collect();
        let mut seed = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let len = next(&mut seed) % 30;
            let message: String = (0..len)
                .map(|_| alphabet[(next(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            let encoded: String = form_urlencoded::byte_serialize(message.as_bytes()).collect();
            let query = format!("delay=0&message={encoded}&message=second");
            assert_eq!(Options::read(Some(&query), None).unwrap().message, message);
            let form = format!("message={encoded}");
            assert_eq!(
                Options::read(Some("message=q"), Some(form.as_bytes()))
                    .unwrap()
                    .message,
                message
            );
        }
    }

    #[test]
    fn no_input_makes_reading_panic() {
        let pieces: [&[u8]; 12] = [
            b"message",
            b"delay",
            b"status",
            b"format",
            b"=",
            b"&",
            b"%",
            b"%f",
            b"%ff",
            b"\xff\xfe",
            b"9",
            b"json",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5000 {
            let len = next(&mut seed) % 12;
            let input: Vec<u8> = (0..len)
                .flat_map(|_| pieces[(next(&mut seed) % pieces.len() as u64) as usize])
                .copied()
                .collect();
            let _ = Options::read(None, Some(&input));
            let lossy = String::from_utf8_lossy(&input);
            let _ = Options::read(Some(&lossy), None);
        }
    }
}
