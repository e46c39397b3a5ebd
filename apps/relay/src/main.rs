//! relay-server: calls an echo server and wraps its reply.
//!
//! The second app of the course. `/relay?echo_server=echo:8080&message=hi`
//! calls echo and answers with both host names. Lessons use it to show
//! how one pod finds another: by Service name, by full DNS name, by pod IP.

mod client;
mod files;
mod lookup;
mod relay;
mod target;

use std::time::Duration;

use clap::{Args, Parser};

use crate::target::Target;

/// The relay server of the Kubernetes course.
///
/// It answers GET /relay?echo_server=HOST:PORT&message=hi.
/// It calls the echo server at HOST:PORT and shows its reply.
/// Each flag can also be set with the environment variable shown.
#[derive(Parser)]
#[command(
    name = "relay-server",
    version,
    after_help = "Paths:\n  \
        /relay?echo_server=echo:8080&message=hi\n      calls the echo server at echo:8080 and shows its reply\n  \
        /relay?message=hi\n      calls the default echo server\n  \
        /\n      shows which host and pod answered\n  \
        /ready, /alive\n      the probes; add ?readiness=false or ?liveness=false to switch them\n  \
        /metrics\n      numbers for Prometheus\n  \
        /version\n      name, version and git commit\n  \
        /crash?code=3\n      stops the program with exit code 3\n\n\
        Add delay=3000 or status=500 to /relay to pass them on to echo.\n\n\
        Example:\n  relay-server --port 8082 --default-echo-server localhost:8081\n  \
        curl 'http://localhost:8082/relay?message=hello'"
)]
struct Cli {
    #[command(flatten)]
    common: kit::config::Common,

    #[command(flatten)]
    relay: RelayArgs,

    #[command(subcommand)]
    command: Option<kit::config::Command>,
}

/// The flags only the relay has.
#[derive(Args)]
struct RelayArgs {
    /// The echo server to call when a request has no echo_server. Write it as HOST:PORT.
    #[arg(long, env = "DEFAULT_ECHO_SERVER", value_name = "HOST:PORT", value_parser = parse_default)]
    default_echo_server: Option<DefaultTarget>,

    /// Call only these echo servers: a comma list of HOST:PORT. Without it, any is allowed.
    #[arg(long, env = "ALLOWED_ECHO_SERVERS", value_name = "LIST", value_parser = parse_allowed)]
    allowed_echo_servers: Option<AllowList>,

    /// How long a call to echo may take. Write it like 500ms, 5s or 2.
    #[arg(long, env = "CALL_TIMEOUT", default_value = "2s", value_parser = parse_timeout)]
    call_timeout: Duration,

    /// The largest echo reply to read, in bytes. A larger reply gives 502.
    #[arg(long, env = "MAX_REPLY_BYTES", default_value_t = 65536,
          value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    max_reply_bytes: u32,

    /// A file with a token. When it holds one, every call to echo sends
    /// "Authorization: Bearer <token>". The relay reads the file on each call.
    #[arg(long, env = "TOKEN_FILE", value_name = "PATH")]
    token_file: Option<std::path::PathBuf>,

    /// A file with one line of text. The relay reads it on each request and
    /// sends it back in the header x-relay-note.
    #[arg(long, env = "NOTE_FILE", value_name = "PATH")]
    note_file: Option<std::path::PathBuf>,
}

/// The allow-list. A newtype, so clap reads it as one value.
#[derive(Clone)]
struct AllowList(Vec<Target>);

/// The default target. Empty text means none, as when `DEFAULT_ECHO_SERVER=""`.
#[derive(Clone)]
struct DefaultTarget(Option<Target>);

fn parse_default(text: &str) -> Result<DefaultTarget, String> {
    match text.trim() {
        "" => Ok(DefaultTarget(None)),
        text => target::parse(text)
            .map(|t| DefaultTarget(Some(t)))
            .map_err(|e| e.to_string()),
    }
}

fn parse_allowed(text: &str) -> Result<AllowList, String> {
    target::parse_list(text).map(AllowList)
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    match kit::config::parse_duration(text)? {
        d if d.is_zero() => Err("The call timeout must be more than 0.".into()),
        d => Ok(d),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let args = cli.relay;
    let client = client::EchoClient::new(args.call_timeout, args.max_reply_bytes as usize);
    // An empty list means: no list given, any target is allowed.
    let default = args.default_echo_server.and_then(|d| d.0);
    let allowed = args
        .allowed_echo_servers
        .map(|list| list.0)
        .filter(|list| !list.is_empty());
    let mut app = relay::Relay::new(client, default, allowed);
    app.files = files::Files {
        token: args.token_file.map(kit::setting_file::SettingFile::new),
        note: args.note_file.map(kit::setting_file::SettingFile::new),
    };
    kit::run(kit::app_info!(), cli.common, cli.command, app)
}
