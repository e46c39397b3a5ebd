//! What echo and relay share: config, probes, shutdown, identity, logging,
//! metrics, and the HTTP server loop.
//!
//! The kit answers the common paths itself: `/`, `/ready`, `/alive`,
//! `/metrics`, `/version` and `/crash`. Every other path goes to the app,
//! through the [`App`] trait. An app plugs in like this:
//!
//! ```no_run
//! use clap::Parser;
//! use kit::http::{text, Request, Response};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: kit::config::Common,
//!     #[command(subcommand)]
//!     command: Option<kit::config::Command>,
//! }
//!
//! struct Hello;
//! impl kit::App for Hello {
//!     const PATHS: &'static [&'static str] = &["/hello"];
//!     const HINT: &'static str = "Try /hello.";
//!     async fn handle(&self, req: Request, ctx: &kit::Context) -> Response {
//!         match req.uri().path() {
//!             "/hello" => text(hyper::StatusCode::OK, format!("Hello from {}\n", ctx.identity.hostname)),
//!             path => kit::http::not_found(path, Self::HINT),
//!         }
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     kit::run(kit::app_info!(), cli.common, cli.command, Hello)
//! }
//! ```
//!
//! Answers of the kit's paths: `/ready` gives `200 ready\n` or `503 not ready\n`,
//! `/alive` gives `200 alive\n` or `503 not alive\n` (bodies end with a line break).
//! Every answer carries the `X-Pod-*` identity headers that are set.
//!
//! The server runs on one thread. To serve more, run more replicas: that is the Kubernetes way,
//! and it fits pods whose CPU limit is under one CPU. `--threads N` (`THREADS=N`) gives N worker threads.
//! Idle keep-alive connections close after the header read timeout (5 s), so a client's
//! connection pool should drop idle connections sooner.

use std::future::Future;
use std::process::ExitCode;

pub mod config;
pub mod healthcheck;
pub mod http;
pub mod identity;
pub mod logging;
pub mod metrics;
pub mod probes;
pub mod server;
pub mod setting_file;
pub mod shutdown;

pub use hyper;
pub use server::serve;

/// An app: the paths it answers beyond the kit's own.
pub trait App: Send + Sync + Sized + 'static {
    /// The app's paths, to name them in metrics. Other paths count as `other`.
    const PATHS: &'static [&'static str];
    /// One line that tells a learner what to try, like "Try /echo?message=hello."
    const HINT: &'static str;

    /// Answers a request for any path the kit does not answer itself.
    fn handle(
        &self,
        req: http::Request,
        ctx: &Context,
    ) -> impl Future<Output = http::Response> + Send;

    /// Adds the app's own numbers to `/metrics` (see [`metrics::CounterFamily`]).
    fn write_metrics(&self, _out: &mut String) {}

    /// The app's own settings in one line, logged at start after the kit's own.
    fn describe(&self) -> Option<String> {
        None
    }
}

/// Name, version and git commit of the program. Make it with [`app_info!`].
#[derive(Debug, Clone, Copy)]
pub struct AppInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub commit: Option<&'static str>,
}

/// The calling crate's name and version, and `GIT_COMMIT` if it was set at build time.
#[macro_export]
macro_rules! app_info {
    () => {
        $crate::AppInfo {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            commit: option_env!("GIT_COMMIT"),
        }
    };
}

/// What every request handler may look at.
#[derive(Debug)]
pub struct Context {
    pub info: AppInfo,
    pub identity: identity::Identity,
    pub probes: probes::Probes,
    pub metrics: metrics::Metrics,
    /// The settings: port, delays, limits, the course switches (`COURSE_SWITCHES`).
    pub config: config::Common,
}

impl Context {
    /// A context for this app: identity from the environment, probes on, metrics empty.
    pub fn new<A: App>(info: AppInfo, config: config::Common) -> Self {
        Context {
            info,
            identity: identity::Identity::from_env(),
            probes: probes::Probes::new(),
            metrics: metrics::Metrics::new(
                server::KIT_PATHS
                    .into_iter()
                    .chain(A::PATHS.iter().copied()),
            ),
            config,
        }
    }

    /// `None` when this request may use a course switch; else the answer that says why.
    pub fn switch_refused(&self, method: &hyper::Method) -> Option<http::Response> {
        probes::switch_refused(self.config.course_switches == config::OnOff::On, method)
    }
}

/// Runs the app: the healthcheck subcommand, or the server until a signal stops it.
pub fn run<A: App>(
    info: AppInfo,
    common: config::Common,
    command: Option<config::Command>,
    app: A,
) -> ExitCode {
    if command == Some(config::Command::Healthcheck) {
        return healthcheck::run(common.port);
    }
    logging::init(common.log_format, common.log_level);
    tracing::info!(
        "Starting {} {}: {}.",
        info.name,
        info.version,
        server::describe(&common)
    );
    if let Some(settings) = app.describe() {
        tracing::info!("{settings}");
    }
    let runtime = match runtime(common.threads) {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("could not start the async runtime ({e}).")),
    };
    let port = common.port;
    let ctx = Context::new::<A>(info, common);
    let served = runtime.block_on(async {
        // Signals first, so none is missed; then the port.
        let signals = shutdown::Signals::install()?;
        let listener = server::bind(port)?;
        serve(listener, ctx, app, shutdown::first_signal(signals)).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e.to_string()),
    }
}

/// One thread by default. Measured with `make bench` on 2 CPUs: one thread served echo at
/// 94-96% of nginx's requests per second, two threads at 78-84% (threads hopping between
/// CPUs cost more than they gave). `--threads N` chooses N worker threads.
fn runtime(threads: u16) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build(),
    }
}

fn fail(reason: String) -> ExitCode {
    tracing::error!("✖ Cannot run: {reason}");
    ExitCode::FAILURE
}
