//! echo-server: answers with the message you send and the name of the host that answered.
//!
//! The first app of the course. `/echo?message=hello` answers
//! `Echo host: <hostname>\nMessage: hello\n`. Lessons use it to see
//! which pod answered, and to try probes, restarts and faults.

use clap::Parser;

/// The echo server of the Kubernetes course.
///
/// It answers GET /echo?message=hello with the host name and your message.
/// You can also set each flag with the environment variable shown.
#[derive(Parser)]
#[command(
    name = "echo-server",
    version,
    after_help = "Paths:\n  \
        /echo?message=hi   answers with the host name and your message\n  \
        /                  shows which host and pod answered\n  \
        /ready, /alive     the probes; add ?readiness=false or ?liveness=false to switch them\n  \
        /metrics           numbers for Prometheus\n  \
        /version           name, version and git commit\n  \
        /crash?code=3      stops the program with exit code 3\n\n\
        Example:\n  echo-server --port 8081\n  curl 'http://localhost:8081/echo?message=hello'"
)]
struct Cli {
    #[command(flatten)]
    common: kit::config::Common,

    /// A file with a token. When it holds one, /echo answers only requests that send
    /// "Authorization: Bearer <token>". Echo reads the file on each request.
    #[arg(long, env = "TOKEN_FILE", value_name = "PATH")]
    token_file: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Option<kit::config::Command>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let token_file = cli.token_file.map(kit::setting_file::SettingFile::new);
    kit::run(
        kit::app_info!(),
        cli.common,
        cli.command,
        echo_server::Echo { token_file },
    )
}
