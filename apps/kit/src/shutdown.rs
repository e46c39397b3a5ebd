//! The polite way to stop: what happens after SIGTERM or SIGINT.
//!
//! Kubernetes sends SIGTERM and, at the same moment, starts removing the
//! pod from its Services. That removal takes a few seconds to reach every
//! node. So we first turn readiness off and keep serving for the shutdown
//! delay. Then we stop accepting, let requests in flight finish, and exit 0.
//! A second signal means "now": we exit at once.

use std::future::Future;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{info, warn};

use crate::config::show_duration;
use crate::metrics::Metrics;
use crate::probes::Probes;

/// Listens for SIGTERM and SIGINT. Create it early, so no signal is missed.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Starts listening. Needs a running tokio runtime.
    pub fn install() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next signal and says which one it was.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

// ANCHOR: shutdown_sequence
/// What `run` gives the server as its shutdown signal: the first SIGTERM or SIGINT.
/// A second signal means "now": the process exits at once with code 1.
pub async fn first_signal(mut signals: Signals) -> &'static str {
    let name = signals.next().await;
    tokio::spawn(async move {
        let name = signals.next().await;
        warn!("Second signal ({name}): exiting now, without waiting.");
        std::process::exit(1);
    });
    name
}

/// Step 1: wait for the stop signal (SIGTERM or SIGINT from [`first_signal`], or a test's
/// channel), turn readiness off, keep serving for `delay`.
/// When this returns, the server stops accepting connections.
pub async fn wait_for_signal(
    stop: impl Future<Output = &'static str>,
    probes: &Probes,
    delay: Duration,
) {
    let name = stop.await;
    probes.start_shutdown();
    let next = match delay.is_zero() {
        true => "The shutdown delay is 0s, so we stop accepting now.".to_string(),
        false => format!(
            "Serving {} more so Kubernetes can stop sending traffic.",
            show_duration(delay)
        ),
    };
    info!("Shutting down after {name}: readiness is now off. {next}");
    tokio::time::sleep(delay).await;
}

/// Step 2: let requests in flight finish, but wait at most `timeout`.
pub async fn drain(requests_done: impl Future<Output = ()>, metrics: &Metrics, timeout: Duration) {
    info!(
        "Stopped accepting connections. Requests in flight: {}. Waiting at most {} for them.",
        metrics.in_flight(),
        show_duration(timeout)
    );
    match tokio::time::timeout(timeout, requests_done).await {
        Ok(()) => info!("✔ All requests finished. Exiting with code 0."),
        Err(_) => warn!(
            "✖ Requests still running after {1}: {0}. Exiting with code 0 anyway.",
            metrics.in_flight(),
            show_duration(timeout)
        ),
    }
}
// ANCHOR_END: shutdown_sequence
