//! Settings that both apps share, read from flags or environment variables.
//!
//! Each flag has an environment variable of the same meaning (`--port` and `PORT`).
//! Kubernetes manifests set the variables; people at a terminal use the flags.
//! An app puts [`Common`] into its own clap parser with `#[command(flatten)]`.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

/// The flags every app has. Put it in the app's parser with `#[command(flatten)]`.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Port to listen on, on all addresses (IPv4 and IPv6).
    #[arg(long, env = "PORT", default_value_t = 8080, global = true)]
    pub port: u16,

    /// After SIGTERM: keep serving this long with readiness off. Write it like 500ms, 5s or 2 (seconds).
    #[arg(long, env = "SHUTDOWN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,

    /// Then: how long requests in flight may take to finish. Write it like 500ms, 5s or 2 (seconds).
    #[arg(long, env = "DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// How log lines look: text for people, json for log tools.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Which log lines to show. debug also shows every request and probe call.
    #[arg(long, env = "LOG_LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// The most client connections open at once. More wait in the queue until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// The course switches: /crash, ?readiness=, ?liveness= and echo's delay and status.
    /// A real service would not expose them: set off to turn them all off.
    #[arg(long, env = "COURSE_SWITCHES", value_enum, default_value_t = OnOff::On)]
    pub course_switches: OnOff,

    /// Worker threads. One fits a pod whose CPU limit is under one CPU: to serve more,
    /// run more replicas.
    #[arg(long, env = "THREADS", default_value_t = 1, value_parser = parse_threads)]
    pub threads: u16,

    /// How long a client may take to send its request headers or body (hidden: for tests).
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "5s", value_parser = parse_duration, hide = true)]
    pub header_read_timeout: Duration,
}

/// How log lines look.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One plain line per event, easy to read in `kubectl logs`.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A setting that is on or off.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

/// The least important log lines to show.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Subcommands every app has.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ask /alive on the local port. Exit 0 when alive, 1 when not. For images without curl.
    Healthcheck,
}

/// Reads a number of worker threads: a whole number from 1 to 256.
pub fn parse_threads(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(n @ 1..=256) => Ok(n),
        _ => Err(format!(
            "'{text}' is not a number of threads. Write a whole number from 1 to 256."
        )),
    }
}

/// Reads a duration written like `500ms`, `5s`, `2m` or `2` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("'{text}' is not a duration. Write it like 500ms, 5s or 2 (seconds).");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if duration > Duration::from_secs(24 * 3600) {
        return Err(format!("'{text}' is too long. Use at most one day."));
    }
    Ok(duration)
}

/// Writes a duration the way people say it: `500ms`, `5s`, `1.5s`.
pub fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_all_written_forms() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_how_to_write_them() {
        for bad in [
            "",
            "s",
            "5 s",
            "-1",
            "1.5s",
            "5h",
            "abc",
            "99999999999999999999",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("Write it like 500ms"), "{bad}: {err}");
        }
        assert!(parse_duration("100000m")
            .unwrap_err()
            .contains("at most one day"));
    }

    #[test]
    fn threads_are_a_whole_number_from_1_to_256() {
        assert_eq!(parse_threads("1"), Ok(1));
        assert_eq!(parse_threads("256"), Ok(256));
        for bad in ["0", "257", "two", "", "-1", "1.5"] {
            let err = parse_threads(bad).unwrap_err();
            assert!(err.contains("from 1 to 256"), "{bad}: {err}");
        }
    }

    #[test]
    fn durations_are_shown_plainly() {
        assert_eq!(show_duration(Duration::from_secs(5)), "5s");
        assert_eq!(show_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
    }
}
