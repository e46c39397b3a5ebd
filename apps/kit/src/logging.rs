//! Log lines to standard output, one line per event.
//!
//! Text is for people reading `kubectl logs`; JSON is for log collectors.
//! A simple level filter decides what shows: requests and probe calls
//! appear only at `debug`, so normal logs stay short.

use tracing::level_filters::LevelFilter;

use crate::config::{LogFormat, LogLevel};

/// Starts logging. Call it once, before anything logs.
pub fn init(format: LogFormat, level: LogLevel) {
    let level = match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout);
    // try_init: a second call (in tests) keeps the first logger instead of failing.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
