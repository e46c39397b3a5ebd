//! The readiness and liveness probes, and the switches that change them.
//!
//! Kubernetes asks `/ready` to decide whether a pod gets traffic,
//! and `/alive` to decide whether to restart the container.
//! Lessons flip them with `?readiness=false` or `?liveness=false`.
//! The state is two atomic flags, so every request sees the same answer.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use hyper::header::{HeaderValue, ALLOW};
use hyper::{Method, StatusCode};

use crate::http::{query_value, text, Response};

// ANCHOR: probes
/// Whether this process is ready for traffic and alive.
#[derive(Debug)]
pub struct Probes {
    ready: AtomicBool,
    alive: AtomicBool,
    shutting_down: AtomicBool,
}

impl Probes {
    /// Ready means: switched on, and not shutting down.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed) && !self.shutting_down.load(Relaxed)
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Relaxed)
    }
}

/// Whether a request may use a course switch (`/crash`, `?readiness=`, `?liveness=`,
/// echo's `delay` and `status`): only when the switches are on, and only by GET or POST.
/// `None` when it may; else the answer that says why: `403` when they are off,
/// `405` for another method.
pub fn switch_refused(switches_on: bool, method: &Method) -> Option<Response> {
    if !switches_on {
        return Some(text(
            StatusCode::FORBIDDEN,
            "✖ The course switches are off here (COURSE_SWITCHES=off). /crash, delay, status and the probe switches do nothing.\n",
        ));
    }
    if method != Method::GET && method != Method::POST {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "✖ The course switches work only with GET and POST.\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, POST"));
        return Some(r);
    }
    None
}

/// `GET /ready`, or `/ready?readiness=false` to switch readiness off.
/// `refused` says whether this request may not switch (see [`switch_refused`]).
pub fn ready(probes: &Probes, query: Option<&str>, refused: Option<Response>) -> Response {
    if let Some(bad_value) = switch(&probes.ready, "readiness", query, refused) {
        return bad_value;
    }
    match probes.is_ready() {
        true => text(StatusCode::OK, "ready\n"),
        false => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
    }
}

/// `GET /alive`, or `/alive?liveness=false` to switch liveness off.
pub fn alive(probes: &Probes, query: Option<&str>, refused: Option<Response>) -> Response {
    if let Some(bad_value) = switch(&probes.alive, "liveness", query, refused) {
        return bad_value;
    }
    match probes.is_alive() {
        true => text(StatusCode::OK, "alive\n"),
        false => text(StatusCode::SERVICE_UNAVAILABLE, "not alive\n"),
    }
}
// ANCHOR_END: probes

impl Probes {
    /// Ready and alive, not shutting down.
    pub fn new() -> Self {
        Probes {
            ready: AtomicBool::new(true),
            alive: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Readiness goes off for good; liveness stays as it is.
    pub fn start_shutdown(&self) {
        self.shutting_down.store(true, Relaxed);
    }
}

impl Default for Probes {
    fn default() -> Self {
        Self::new()
    }
}

/// Applies `?name=true` or `?name=false` to a flag. Another value gives a `400` answer,
/// a request that may not switch the answer from [`switch_refused`].
fn switch(
    flag: &AtomicBool,
    name: &str,
    query: Option<&str>,
    refused: Option<Response>,
) -> Option<Response> {
    let value = query_value(query, name)?;
    if refused.is_some() {
        return refused;
    }
    match parse_switch(&value) {
        Some(on) => {
            flag.store(on, Relaxed);
            None
        }
        None => Some(bad_switch(name, &value)),
    }
}

fn parse_switch(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn bad_switch(name: &str, value: &str) -> Response {
    let value: String = value.chars().take(40).collect();
    text(
        StatusCode::BAD_REQUEST,
        format!("✖ {name} must be true or false, not '{value}'.\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body_text as body;

    fn ready(p: &Probes, query: Option<&str>) -> Response {
        super::ready(p, query, None)
    }

    fn alive(p: &Probes, query: Option<&str>) -> Response {
        super::alive(p, query, None)
    }

    #[test]
    fn switches_act_only_when_on_and_only_for_get_and_post() {
        assert!(switch_refused(true, &Method::GET).is_none());
        assert!(switch_refused(true, &Method::POST).is_none());
        for method in [Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS] {
            let (status, text) = body(switch_refused(true, &method).unwrap());
            assert_eq!(status, 405, "{method}");
            assert_eq!(text, "✖ The course switches work only with GET and POST.\n");
        }
        let (status, text) = body(switch_refused(false, &Method::GET).unwrap());
        assert_eq!(status, 403);
        assert!(text.contains("COURSE_SWITCHES=off"), "{text}");
        let p = Probes::new();
        let refused = super::ready(
            &p,
            Some("readiness=false"),
            switch_refused(false, &Method::GET),
        );
        assert_eq!(body(refused).0, 403);
        let refused = super::alive(
            &p,
            Some("liveness=false"),
            switch_refused(true, &Method::HEAD),
        );
        assert_eq!(body(refused).0, 405);
        assert!(p.is_ready() && p.is_alive());
        let asked = super::ready(&p, None, switch_refused(false, &Method::HEAD));
        assert_eq!(
            body(asked),
            (200, "ready\n".into()),
            "a plain probe is always answered"
        );
    }

    #[test]
    fn switches_turn_probes_off_and_on() {
        let p = Probes::new();
        assert_eq!(body(ready(&p, None)), (200, "ready\n".into()));
        assert_eq!(
            body(ready(&p, Some("readiness=false"))),
            (503, "not ready\n".into())
        );
        assert_eq!(body(ready(&p, None)), (503, "not ready\n".into()));
        assert_eq!(
            body(ready(&p, Some("readiness=true"))),
            (200, "ready\n".into())
        );
        assert_eq!(
            body(alive(&p, Some("liveness=false"))),
            (503, "not alive\n".into())
        );
        assert_eq!(
            body(alive(&p, Some("liveness=true"))),
            (200, "alive\n".into())
        );
    }

    #[test]
    fn shutdown_keeps_readiness_off_even_when_switched_on() {
        let p = Probes::new();
        p.start_shutdown();
        assert_eq!(body(ready(&p, Some("readiness=true"))).0, 503);
        assert_eq!(body(alive(&p, None)).0, 200);
    }

    #[test]
    fn a_bad_switch_value_is_a_400_that_says_why() {
        let p = Probes::new();
        let (status, text) = body(ready(&p, Some("readiness=maybe")));
        assert_eq!(status, 400);
        assert_eq!(text, "✖ readiness must be true or false, not 'maybe'.\n");
        assert!(p.is_ready());
    }
}
