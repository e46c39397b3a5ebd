//! The `/relay` path: call an echo server and wrap its reply.
//!
//! `/relay?echo_server=echo:8080&message=hi` calls `http://echo:8080/echo?message=hi`
//! and answers `Relay-Host: <host>\nRelay-To: echo:8080\nReply:\n<the echo body>`.
//! Each failure has its own status and one line in plain words.

use kit::http::{
    json, method_not_allowed, not_found, read_fields, text, Format, Request, Response,
};
use kit::hyper::{Method, StatusCode};
use kit::metrics::CounterFamily;
use kit::Context;
use serde_json::{Map, Value};

use crate::client::{CallError, EchoClient, Outcome, Reply};
use crate::target::{self, Target, TargetError};

/// The fields `/relay` reads from its query. `delay` and `status` are echo's fault
/// options, which the relay passes on.
const FIELDS: [&str; 5] = ["echo_server", "message", "delay", "status", "format"];

/// The relay app: its settings, its one HTTP client and its call counter.
pub struct Relay {
    pub client: EchoClient,
    pub default_target: Option<Target>,
    /// `None` means any target is allowed.
    pub allowed: Option<Vec<Target>>,
    pub calls: CounterFamily<Outcome>,
    /// The token and note files, read on each request.
    pub files: crate::files::Files,
}

impl Relay {
    pub fn new(
        client: EchoClient,
        default_target: Option<Target>,
        allowed: Option<Vec<Target>>,
    ) -> Self {
        let calls = CounterFamily::new(
            "relay_upstream_calls_total",
            "Calls from the relay to echo servers, by outcome.",
            "outcome",
        );
        Relay {
            client,
            default_target,
            allowed,
            calls,
            files: crate::files::Files::default(),
        }
    }
}

impl kit::App for Relay {
    const PATHS: &'static [&'static str] = &["/relay"];
    const HINT: &'static str = "Try /relay?echo_server=echo:8080&message=hello";

    async fn handle(&self, req: Request, ctx: &Context) -> Response {
        match (req.uri().path(), req.method()) {
            ("/relay", &Method::GET | &Method::HEAD) => {
                let mut answer = self.relay(req.method(), req.uri().query(), ctx).await;
                if let Some(note) = self.files.note() {
                    answer.headers_mut().insert(crate::files::NOTE_HEADER, note);
                }
                answer
            }
            ("/relay", _) => method_not_allowed("GET, HEAD"),
            (path, _) => not_found(path, Self::HINT),
        }
    }

    fn write_metrics(&self, out: &mut String) {
        self.calls.render(out);
    }

    fn describe(&self) -> Option<String> {
        Some(describe(
            &self.default_target,
            &self.allowed,
            self.client.call_timeout(),
            self.client.max_reply_bytes(),
        ))
    }
}

impl Relay {
    // ANCHOR: relay_handler
    /// `/relay`: check the target, call echo, wrap its reply.
    async fn relay(&self, method: &Method, query: Option<&str>, ctx: &Context) -> Response {
        // One pass over the query reads every field.
        let [echo_server, message, delay, status, format] =
            read_fields(&FIELDS, query.map(str::as_bytes));
        let as_json = match Format::parse(format.as_deref()) {
            Ok(format) => format == Format::Json,
            Err(reason) => return failure(StatusCode::BAD_REQUEST, reason, None, false),
        };
        let target = match self.choose_target(echo_server.as_deref()) {
            Ok(target) => target,
            Err((status, reason)) => return failure(status, reason, None, as_json),
        };
        // delay and status pass on echo's course switches: the relay's own setting rules too.
        let mut params = vec![("message", message.as_deref().unwrap_or_default())];
        params.extend(delay.as_deref().map(|value| ("delay", value)));
        params.extend(status.as_deref().map(|value| ("status", value)));
        if params.len() > 1 {
            if let Some(refused) = ctx.switch_refused(method) {
                return refused;
            }
        }
        let reply = match self.call(&target, &params).await {
            Ok(reply) => reply,
            Err(e) => {
                let reason = format!("Relay to {target} failed. {e}");
                return failure(e.status(), reason, None, as_json);
            }
        };
        let body = String::from_utf8_lossy(&reply.body);
        if !reply.status.is_success() {
            let reason = format!("The echo server at {target} answered {}.", reply.status);
            return failure(StatusCode::BAD_GATEWAY, reason, Some(&body), as_json);
        }
        if as_json {
            let mut fields = ctx.identity.json_fields();
            fields.insert("relay_to".into(), target.as_str().into());
            fields.insert("reply".into(), body.into());
            return json(StatusCode::OK, &fields.into());
        }
        text(
            StatusCode::OK,
            relay_text(&ctx.identity.hostname, &target, &body),
        )
    }
    // ANCHOR_END: relay_handler

    /// Calls echo with the message and echo's fault options. Counts the outcome.
    async fn call(&self, target: &Target, params: &[(&str, &str)]) -> Result<Reply, CallError> {
        let token = self.files.token();
        let result = self.client.echo(target, params, token.as_deref()).await;
        if let Err(CallError::TooLong(_)) = result {
            return result; // the caller's mistake, and no call was made
        }
        self.calls.inc(match &result {
            Ok(reply) if reply.status.is_success() => Outcome::Ok,
            Ok(_) => Outcome::BadStatus,
            Err(e) => e.outcome(),
        });
        if let Err(e) = &result {
            tracing::warn!("✖ Relay to {target} failed: {e}");
        }
        result
    }

    /// The target from `echo_server`, or the default one; then the allow-list check.
    fn choose_target(&self, echo_server: Option<&str>) -> Result<Target, (StatusCode, String)> {
        let target =
            match (echo_server, &self.default_target) {
                (Some(text), _) => target::parse(text).map_err(|e| match e {
                    TargetError::Malformed(_) => (StatusCode::BAD_REQUEST, e.to_string()),
                    TargetError::Refused(_) => (StatusCode::FORBIDDEN, e.to_string()),
                })?,
                (None, Some(default)) => default.clone(),
                (None, None) => return Err((
                    StatusCode::BAD_REQUEST,
                    "echo_server is missing. Add it like /relay?echo_server=echo:8080&message=hi"
                        .into(),
                )),
            };
        match &self.allowed {
            Some(list)
                if !list
                    .iter()
                    .chain(&self.default_target)
                    .any(|t| t.same_as(&target)) =>
            {
                let names: Vec<String> = list.iter().map(Target::to_string).collect();
                Err((
                    StatusCode::FORBIDDEN,
                    format!(
                        "{target} is not on the allow-list. Allowed: {}.",
                        names.join(", ")
                    ),
                ))
            }
            _ => Ok(target),
        }
    }
}

/// The contract, byte for byte: `Relay-Host: <host>\nRelay-To: <target>\nReply:\n<echo's body>`.
fn relay_text(host: &str, target: &Target, reply: &str) -> String {
    [
        "Relay-Host: ",
        host,
        "\nRelay-To: ",
        target.as_str(),
        "\nReply:\n",
        reply,
    ]
    .concat()
}

/// An error answer: `✖ <reason>`, then echo's reply when there is one.
fn failure(status: StatusCode, reason: String, reply: Option<&str>, as_json: bool) -> Response {
    if as_json {
        let mut fields = Map::new();
        fields.insert("error".into(), reason.into());
        fields.insert("status".into(), status.as_u16().into());
        if let Some(reply) = reply {
            fields.insert("reply".into(), reply.into());
        }
        return json(status, &Value::Object(fields));
    }
    match reply {
        Some(reply) => text(status, format!("✖ {reason}\nReply:\n{reply}")),
        None => text(status, format!("✖ {reason}\n")),
    }
}

/// The relay's settings, in one log line.
fn describe(
    default: &Option<Target>,
    allowed: &Option<Vec<Target>>,
    timeout: std::time::Duration,
    max: usize,
) -> String {
    let default = default
        .as_ref()
        .map_or("none".to_owned(), Target::to_string);
    let allowed = match allowed {
        Some(list) => list
            .iter()
            .map(Target::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        None => "any".to_owned(),
    };
    let timeout = kit::config::show_duration(timeout);
    format!("Relay settings: default echo server {default}. Allowed: {allowed}. Call timeout {timeout}. Largest reply {max} bytes.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn relay(default: Option<&str>, allowed: Option<&str>) -> Relay {
        Relay::new(
            EchoClient::new(Duration::from_secs(1), 1024),
            default.map(|d| target::parse(d).unwrap()),
            allowed.map(|a| target::parse_list(a).unwrap()),
        )
    }

    fn choose(r: &Relay, query: &str) -> Result<String, (u16, String)> {
        let echo_server = kit::http::query_value(Some(query), "echo_server");
        r.choose_target(echo_server.as_deref())
            .map(|t| t.to_string())
            .map_err(|(s, m)| (s.as_u16(), m))
    }

    #[test]
    fn picks_the_given_or_the_default_target() {
        let r = relay(Some("echo.my-space:8080"), None);
        assert_eq!(choose(&r, "echo_server=echo:8080"), Ok("echo:8080".into()));
        assert_eq!(
            choose(&r, "echo_server=echo%3A8080"),
            Ok("echo:8080".into())
        );
        assert_eq!(choose(&r, "message=hi"), Ok("echo.my-space:8080".into()));
        let err = choose(&relay(None, None), "message=hi").unwrap_err();
        assert_eq!(err.0, 400);
        assert!(err.1.starts_with("echo_server is missing."), "{}", err.1);
    }

    #[test]
    fn maps_bad_targets_to_400_and_403() {
        let r = relay(None, None);
        assert_eq!(
            choose(&r, "echo_server=echo:8080/ready?readiness=false&")
                .unwrap_err()
                .0,
            400
        );
        assert_eq!(choose(&r, "echo_server=").unwrap_err().0, 400);
        assert_eq!(
            choose(&r, "echo_server=169.254.169.254:80").unwrap_err().0,
            403
        );
        assert_eq!(
            choose(&r, "echo_server=metadata.google.internal:80")
                .unwrap_err()
                .0,
            403
        );
    }

    #[test]
    fn allow_list_lets_only_its_targets_and_the_default_through() {
        let r = relay(Some("echo:8080"), Some("echo.my-space:8080,[::1]:9000"));
        assert!(choose(&r, "echo_server=ECHO.my-space.:8080").is_ok());
        assert!(choose(&r, "echo_server=[::1]:9000").is_ok());
        assert!(choose(&r, "echo_server=echo:8080").is_ok());
        let (status, reason) = choose(&r, "echo_server=other:8080").unwrap_err();
        assert_eq!(status, 403);
        assert_eq!(
            reason,
            "other:8080 is not on the allow-list. Allowed: echo.my-space:8080, [::1]:9000."
        );
        assert_eq!(
            choose(&r, "echo_server=echo.my-space:8081").unwrap_err().0,
            403
        );
    }

    #[test]
    fn failures_are_one_line_with_the_reply_after_it() {
        let plain = failure(
            StatusCode::BAD_GATEWAY,
            "It broke.".into(),
            Some("Echo host: x\n"),
            false,
        );
        assert_eq!(plain.status(), 502);
        let body = plain.into_body();
        let bytes = futures_now(body);
        assert_eq!(bytes, "✖ It broke.\nReply:\nEcho host: x\n");
        let j = failure(StatusCode::GATEWAY_TIMEOUT, "Too slow.".into(), None, true);
        let v: Value = serde_json::from_str(&futures_now(j.into_body())).unwrap();
        assert_eq!(v, serde_json::json!({"error": "Too slow.", "status": 504}));
    }

    fn futures_now(body: kit::http::Body) -> String {
        use http_body_util::BodyExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt.block_on(body.collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
