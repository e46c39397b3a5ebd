//! The readiness and liveness probes, and the switches that change them.
//!
//! Kubernetes asks `/ready` to decide whether a pod gets traffic,
//! and `/alive` to decide whether to restart the container.
//! Lessons flip them with `?readiness=false` or `?liveness=false`.
//! The state is two atomic flags, so every request sees the same answer.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use hyper::StatusCode;

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

/// `GET /ready`, or `/ready?readiness=false` to switch readiness off.
pub fn ready(probes: &Probes, query: Option<&str>) -> Response {
    if let Some(bad_value) = switch(&probes.ready, "readiness", query) {
        return bad_value;
    }
    match probes.is_ready() {
        true => text(StatusCode::OK, "ready\n"),
        false => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
    }
}

/// `GET /alive`, or `/alive?liveness=false` to switch liveness off.
pub fn alive(probes: &Probes, query: Option<&str>) -> Response {
    if let Some(bad_value) = switch(&probes.alive, "liveness", query) {
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

/// Applies `?name=true` or `?name=false` to a flag. Another value gives a `400` answer.
fn switch(flag: &AtomicBool, name: &str, query: Option<&str>) -> Option<Response> {
    let value = query_value(query, name)?;
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
