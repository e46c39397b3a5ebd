//! Numbers for Prometheus at `/metrics`, in its plain text format.
//!
//! We count requests and time them, by path and status, and show the
//! probe states and the requests in flight. Counting is a few atomic
//! additions per request. An app adds its own numbers with [`CounterFamily`]
//! and [`crate::App::write_metrics`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;
use std::time::Duration;

use crate::probes::Probes;

/// Upper bounds of the latency histogram buckets, in nanoseconds (0.5 ms to 30 s).
const BUCKETS: [u64; 12] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
    5_000_000_000,
    30_000_000_000,
];

/// The label for paths that no route knows, so odd URLs cannot flood Prometheus.
pub const OTHER_PATH: &str = "other";

/// Request counts and latencies, by path and status.
#[derive(Debug)]
pub struct Metrics {
    paths: Vec<&'static str>,
    /// Keyed by (path label, status): a BTreeMap keeps them in the order we show them.
    series: RwLock<BTreeMap<(u16, u16), Series>>,
    in_flight: AtomicI64,
}

#[derive(Debug, Default)]
struct Series {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Metrics {
    /// Metrics that name these paths; every other path counts as `other`.
    pub fn new(paths: impl IntoIterator<Item = &'static str>) -> Self {
        Metrics {
            paths: paths.into_iter().collect(),
            series: RwLock::default(),
            in_flight: AtomicI64::new(0),
        }
    }

    /// The label number of a path (the last number means `other`).
    pub fn path_label(&self, path: &str) -> u16 {
        let index = self
            .paths
            .iter()
            .position(|p| *p == path)
            .unwrap_or(self.paths.len());
        index as u16
    }

    /// Counts one answered request.
    pub fn record(&self, path_label: u16, status: u16, took: Duration) {
        let key = (path_label, status);
        let nanos = took.as_nanos().min(u64::MAX as u128) as u64;
        let bucket = BUCKETS.iter().position(|b| nanos <= *b);
        let add = |s: &Series| {
            s.count.fetch_add(1, Relaxed);
            s.sum_nanos.fetch_add(nanos, Relaxed);
            if let Some(b) = bucket {
                s.buckets[b].fetch_add(1, Relaxed);
            }
        };
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return add(series);
        }
        add(self
            .series
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default());
    }

    /// Marks a request as in flight until the guard is dropped.
    pub fn start_request(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(&self.in_flight)
    }

    /// How many requests are being answered right now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Relaxed)
    }

    /// Writes every number in the Prometheus text format.
    pub fn render(&self, probes: &Probes, out: &mut String) {
        let series = self.series.read().unwrap_or_else(|e| e.into_inner());
        let name = |label: u16| {
            self.paths
                .get(label as usize)
                .copied()
                .unwrap_or(OTHER_PATH)
        };

        header(
            out,
            "http_requests_total",
            "counter",
            "Requests answered, by path and status.",
        );
        for (&(p, s), one) in series.iter() {
            let count = one.count.load(Relaxed);
            let _ = writeln!(
                out,
                "http_requests_total{{path=\"{}\",status=\"{s}\"}} {count}",
                name(p)
            );
        }
        header(
            out,
            "http_request_duration_seconds",
            "histogram",
            "Time to answer, by path and status.",
        );
        for (&(p, s), one) in series.iter() {
            let labels = format!("path=\"{}\",status=\"{s}\"", name(p));
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&one.buckets) {
                cumulative += bucket.load(Relaxed);
                let bound = *bound as f64 / 1e9;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = one.count.load(Relaxed);
            let sum = one.sum_nanos.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        header(
            out,
            "http_requests_in_flight",
            "gauge",
            "Requests being answered right now.",
        );
        let _ = writeln!(out, "http_requests_in_flight {}", self.in_flight());
        header(
            out,
            "app_ready",
            "gauge",
            "1 when the readiness probe answers 200.",
        );
        let _ = writeln!(out, "app_ready {}", u8::from(probes.is_ready()));
        header(
            out,
            "app_alive",
            "gauge",
            "1 when the liveness probe answers 200.",
        );
        let _ = writeln!(out, "app_alive {}", u8::from(probes.is_alive()));
    }
}

/// A request in flight; dropping it counts the request as finished.
pub struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// The values of a [`CounterFamily`]'s label: a fixed list, usually an enum, so a
/// misspelled value does not compile (a string would silently never be counted).
pub trait CounterLabel: Copy + PartialEq + Send + Sync + 'static {
    /// Every value, in the order `/metrics` shows them.
    const ALL: &'static [Self];
    /// The value as Prometheus shows it, like `ok` or `too_large`.
    fn name(self) -> &'static str;
}

/// A counter with one label and a fixed list of values, for an app's own numbers.
///
/// ```
/// use kit::metrics::{CounterFamily, CounterLabel};
///
/// #[derive(Clone, Copy, PartialEq)]
/// enum Outcome { Ok, Timeout }
/// impl CounterLabel for Outcome {
///     const ALL: &'static [Self] = &[Outcome::Ok, Outcome::Timeout];
///     fn name(self) -> &'static str {
///         match self { Outcome::Ok => "ok", Outcome::Timeout => "timeout" }
///     }
/// }
///
/// let calls = CounterFamily::<Outcome>::new(
///     "relay_upstream_calls_total", "Calls to echo, by outcome.", "outcome");
/// calls.inc(Outcome::Ok);
/// let mut out = String::new();
/// calls.render(&mut out);
/// assert!(out.contains("relay_upstream_calls_total{outcome=\"ok\"} 1"));
/// ```
#[derive(Debug)]
pub struct CounterFamily<L: CounterLabel> {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    counts: Box<[AtomicU64]>,
    values: std::marker::PhantomData<L>,
}

impl<L: CounterLabel> CounterFamily<L> {
    pub fn new(name: &'static str, help: &'static str, label: &'static str) -> Self {
        let counts = L::ALL.iter().map(|_| AtomicU64::new(0)).collect();
        CounterFamily {
            name,
            help,
            label,
            counts,
            values: std::marker::PhantomData,
        }
    }

    fn slot(&self, value: L) -> &AtomicU64 {
        let i = L::ALL.iter().position(|v| *v == value);
        &self.counts[i.expect("CounterLabel::ALL lists every value")]
    }

    /// Adds one to the counter with this label value.
    pub fn inc(&self, value: L) {
        self.slot(value).fetch_add(1, Relaxed);
    }

    /// The current count for a label value.
    pub fn get(&self, value: L) -> u64 {
        self.slot(value).load(Relaxed)
    }

    /// Writes the counter in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        header(out, self.name, "counter", self.help);
        for (value, count) in L::ALL.iter().zip(self.counts.iter()) {
            let _ = writeln!(
                out,
                "{}{{{}=\"{}\"}} {}",
                self.name,
                self.label,
                value.name(),
                count.load(Relaxed)
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_path_and_status() {
        let m = Metrics::new(["/echo", "/ready"]);
        let echo = m.path_label("/echo");
        m.record(echo, 200, Duration::from_micros(300));
        m.record(echo, 200, Duration::from_millis(3));
        m.record(m.path_label("/nope"), 404, Duration::from_secs(100));
        let mut out = String::new();
        m.render(&Probes::new(), &mut out);
        assert!(
            out.contains("http_requests_total{path=\"/echo\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("http_requests_total{path=\"other\",status=\"404\"} 1\n"));
        assert!(out.contains("_bucket{path=\"/echo\",status=\"200\",le=\"0.0005\"} 1\n"));
        assert!(out.contains("_bucket{path=\"/echo\",status=\"200\",le=\"0.005\"} 2\n"));
        assert!(out.contains("_bucket{path=\"other\",status=\"404\",le=\"30\"} 0\n"));
        assert!(out.contains("_bucket{path=\"other\",status=\"404\",le=\"+Inf\"} 1\n"));
        assert!(out
            .contains("http_request_duration_seconds_sum{path=\"/echo\",status=\"200\"} 0.0033\n"));
        assert!(out.contains("app_ready 1\n") && out.contains("app_alive 1\n"));
    }

    #[test]
    fn in_flight_goes_down_when_the_guard_drops() {
        let m = Metrics::new([]);
        let guard = m.start_request();
        assert_eq!(m.in_flight(), 1);
        drop(guard);
        assert_eq!(m.in_flight(), 0);
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Outcome {
        Ok,
        Error,
    }

    impl CounterLabel for Outcome {
        const ALL: &'static [Self] = &[Outcome::Ok, Outcome::Error];
        fn name(self) -> &'static str {
            match self {
                Outcome::Ok => "ok",
                Outcome::Error => "error",
            }
        }
    }

    #[test]
    fn counter_family_counts_each_value_in_order() {
        let c = CounterFamily::<Outcome>::new("x_total", "X.", "outcome");
        c.inc(Outcome::Ok);
        c.inc(Outcome::Ok);
        assert_eq!((c.get(Outcome::Ok), c.get(Outcome::Error)), (2, 0));
        let mut out = String::new();
        c.render(&mut out);
        assert_eq!(out, "# HELP x_total X.\n# TYPE x_total counter\nx_total{outcome=\"ok\"} 2\nx_total{outcome=\"error\"} 0\n");
    }
}
