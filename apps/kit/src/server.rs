//! The HTTP server: accept connections, answer the common paths, hand the rest to the app.
//!
//! One listening socket on `[::]:PORT` takes IPv4 and IPv6 clients.
//! hyper speaks HTTP/1.1 with keep-alive, caps header sizes (431) and
//! gives slow clients a deadline for their headers. We cap the address
//! length (414). After a signal the shutdown module takes over.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, ACCEPT, CONNECTION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};

use crate::config::{show_duration, Common, OnOff};
use crate::http::{escape_html, json, query_value, text, Format, Request, Response, HTML};
use crate::{probes, shutdown, App, Context};

/// The longest path and query we read: 8 KiB. Longer ones get `414`.
pub const MAX_URI: usize = 8 * 1024;
/// The most header bytes we read: 64 KiB. More gets `431`.
pub const MAX_HEADERS: usize = 64 * 1024;

/// The paths the kit answers itself, before the app sees a request.
pub const KIT_PATHS: [&str; 6] = ["/", "/ready", "/alive", "/metrics", "/version", "/crash"];

struct Shared<A> {
    app: A,
    ctx: Context,
}

/// How often the "connection limit reached" line may repeat.
const LIMIT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Serves on `listener` until `shutdown` finishes, then stops politely. Returns when it is
/// safe to exit.
///
/// The caller opens the port ([`bind`]) and chooses the shutdown signal: `kit::run` waits
/// for SIGTERM or SIGINT, a test for a channel. `shutdown` says what stopped us, for the log.
/// Then readiness turns off and the server keeps serving for the shutdown delay, answers
/// the connections already waiting, and lets requests in flight finish (at most the drain
/// timeout).
pub async fn serve<A: App>(
    listener: TcpListener,
    ctx: Context,
    app: A,
    shutdown: impl Future<Output = &'static str>,
) -> std::io::Result<()> {
    let config = ctx.config.clone();
    let shared = Arc::new(Shared { app, ctx });
    // One permit per open connection: `--max-connections`.
    let slots = Arc::new(Semaphore::new(config.max_connections as usize));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_header_size(MAX_HEADERS)
        // Our answers are small: one flat buffer per answer is faster than writev on loopback.
        .writev(false)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();

    let port = listener.local_addr()?.port();
    info!("✔ Ready: listening on port {port}. Try http://localhost:{port}/");
    let stop = shutdown::wait_for_signal(shutdown, &shared.ctx.probes, config.shutdown_delay);
    tokio::pin!(stop);
    let mut limit_logged: Option<Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if limit_logged.is_none_or(|at| at.elapsed() >= LIMIT_LOG_EVERY) {
                    limit_logged = Some(Instant::now());
                    warn!(
                        "Connection limit reached: {} connections are open. New ones wait until one closes. Raise the limit with --max-connections.",
                        config.max_connections
                    );
                }
                tokio::select! {
                    biased;
                    () = &mut stop => break,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let stream = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment instead of spinning.
                    warn!("Could not accept a connection ({e}). Trying again shortly.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        serve_connection(&shared, &http, Some(&graceful), stream, Some(slot));
    }
    // The kernel may hold connections it has accepted for us. Closing the listener would
    // reset them, so stop new handshakes first and answer those that are already waiting:
    // one request each, then close. (Graceful shutdown would close them unread.)
    let queued = take_the_queue(&listener).await;
    drop(listener);
    if !queued.is_empty() {
        info!(
            "Answering the {} connections that were already waiting. Each gets one answer, then closes.",
            queued.len()
        );
    }
    let mut last = http.clone();
    last.keep_alive(false);
    let queued: Vec<_> = queued
        .into_iter()
        .map(|stream| {
            let slot = slots.clone().try_acquire_owned().ok();
            serve_connection(&shared, &last, None, stream, slot)
        })
        .collect();
    let all_done = async move {
        graceful.shutdown().await;
        for conn in queued {
            let _ = conn.await;
        }
    };
    shutdown::drain(all_done, &shared.ctx.metrics, config.drain_timeout).await;
    Ok(())
}

/// Serves one connection in its own task; its slot is given back when it closes.
/// A connection `graceful` watches finishes its request and closes at shutdown.
fn serve_connection<A: App>(
    shared: &Arc<Shared<A>>,
    http: &http1::Builder,
    graceful: Option<&GracefulShutdown>,
    stream: tokio::net::TcpStream,
    slot: Option<OwnedSemaphorePermit>,
) -> tokio::task::JoinHandle<()> {
    let _ = stream.set_nodelay(true);
    let shared = Arc::clone(shared);
    let service = service_fn(move |req| answer(Arc::clone(&shared), req));
    let conn = http.serve_connection(TokioIo::new(stream), service);
    async fn run(
        conn: impl Future<Output = hyper::Result<()>>,
        _slot: Option<OwnedSemaphorePermit>,
    ) {
        if let Err(e) = conn.await {
            debug!("Connection closed with an error: {e}");
        }
    }
    match graceful {
        Some(graceful) => tokio::spawn(run(graceful.watch(conn), slot)),
        None => tokio::spawn(run(conn, slot)),
    }
}

/// How long handshakes already under way get to finish after new ones are stopped.
const HANDSHAKE_SETTLE: Duration = Duration::from_millis(100);

/// Stops new handshakes, lets those under way finish, then takes every connection the
/// kernel has queued for us. New clients then find the port closed and try elsewhere.
async fn take_the_queue(listener: &TcpListener) -> Vec<tokio::net::TcpStream> {
    let socket = socket2::SockRef::from(listener);
    // A filter on the listening socket drops every incoming SYN: no new handshake starts.
    // Classic BPF: load the TCP flags byte (offset 13); SYN set: drop, else keep.
    let drop_syn = [
        socket2::SockFilter::new(0x30, 0, 0, 13), // BPF_LD | BPF_B | BPF_ABS
        socket2::SockFilter::new(0x45, 0, 1, 0x02), // BPF_JMP | BPF_JSET | BPF_K: SYN
        socket2::SockFilter::new(0x06, 0, 0, 0),  // BPF_RET: drop
        socket2::SockFilter::new(0x06, 0, 0, u32::MAX), // BPF_RET: keep all of it
    ];
    match socket.attach_filter(&drop_syn) {
        Ok(()) => tokio::time::sleep(HANDSHAKE_SETTLE).await,
        Err(e) => debug!("Could not stop new handshakes ({e}); closing the port as it is."),
    }
    let mut queued = Vec::new();
    loop {
        match socket.accept() {
            Ok((conn, _)) => {
                let stream = std::net::TcpStream::from(conn);
                let stream = stream
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::TcpStream::from_std(stream));
                queued.extend(stream.ok());
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(_) => break, // WouldBlock: the queue is empty
        }
    }
    queued
}

/// Binds `[::]:port` for IPv4 and IPv6; falls back to `0.0.0.0` where IPv6 is off.
pub fn bind(port: u16) -> std::io::Result<TcpListener> {
    let open = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        if addr.is_ipv6() {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    let listener = open((Ipv6Addr::UNSPECIFIED, port).into()).or_else(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse | std::io::ErrorKind::PermissionDenied => Err(e),
        _ => open((Ipv4Addr::UNSPECIFIED, port).into()),
    });
    let listener = listener.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => std::io::Error::new(
            e.kind(),
            format!("port {port} is already in use. Stop the other program, or choose another port with --port."),
        ),
        _ => std::io::Error::new(e.kind(), format!("could not open port {port} ({e}).")),
    })?;
    TcpListener::from_std(listener)
}

/// Answers one request, counts it, and adds the identity headers.
async fn answer<A: App>(shared: Arc<Shared<A>>, req: Request) -> Result<Response, Infallible> {
    let started = Instant::now();
    let ctx = &shared.ctx;
    let _in_flight = ctx.metrics.start_request();
    let label = ctx.metrics.path_label(req.uri().path());
    let log =
        tracing::enabled!(tracing::Level::DEBUG).then(|| (req.method().clone(), req.uri().clone()));

    let mut response = route(&shared, req).await;

    let headers = response.headers_mut();
    for (name, value) in ctx.identity.headers() {
        headers.insert(name, value.clone());
    }
    if !ctx.probes.is_ready() {
        // Not ready (switched off, or shutting down): ask keep-alive clients to reconnect.
        // Kubernetes only steers new connections, so this is what moves a client's
        // pooled connection (the relay's, say) to a pod that is ready.
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let status = response.status().as_u16();
    ctx.metrics.record(label, status, started.elapsed());
    if let Some((method, uri)) = log {
        debug!(
            "{method} {uri} → {status} in {:.3} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(response)
}

async fn route<A: App>(shared: &Shared<A>, req: Request) -> Response {
    let ctx = &shared.ctx;
    if req.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_URI {
        return text(
            StatusCode::URI_TOO_LONG,
            "✖ The address is too long. Keep path and query under 8 KiB.\n",
        );
    }
    let query = req.uri().query();
    match req.uri().path() {
        "/ready" => probes::ready(&ctx.probes, query, ctx.switch_refused(req.method())),
        "/alive" => probes::alive(&ctx.probes, query, ctx.switch_refused(req.method())),
        "/metrics" => {
            let mut out = String::with_capacity(4096);
            ctx.metrics.render(&ctx.probes, &mut out);
            shared.app.write_metrics(&mut out);
            let mut r = text(StatusCode::OK, out);
            r.headers_mut()
                .insert(hyper::header::CONTENT_TYPE, PROMETHEUS);
            r
        }
        "/version" => with_format(query, |format| version(ctx, format)),
        "/crash" => match ctx.switch_refused(req.method()) {
            None => crash(query),
            Some(refused) => refused,
        },
        "/" => with_format(query, |format| who_answered(ctx, A::HINT, &req, format)),
        _ => shared.app.handle(req, ctx).await,
    }
}

const PROMETHEUS: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// Reads `format=` and answers with `answer`, or `400` for a format we do not write.
fn with_format(query: Option<&str>, answer: impl FnOnce(Format) -> Response) -> Response {
    match Format::from_query(query) {
        Ok(format) => answer(format),
        Err(reason) => text(StatusCode::BAD_REQUEST, format!("✖ {reason}\n")),
    }
}

/// `/version`: app name, version and git commit.
fn version(ctx: &Context, format: Format) -> Response {
    let info = &ctx.info;
    let commit = info.commit.unwrap_or("unknown");
    if format == Format::Json {
        let value =
            serde_json::json!({"name": info.name, "version": info.version, "commit": commit});
        return json(StatusCode::OK, &value);
    }
    text(
        StatusCode::OK,
        format!(
            "name: {}\nversion: {}\ncommit: {commit}\n",
            info.name, info.version
        ),
    )
}

/// `/crash?code=N`: answer, then exit with code N (default 1), for restart lessons.
fn crash(query: Option<&str>) -> Response {
    let code = match query_value(query, "code").as_deref().map(str::parse::<u8>) {
        None => 1,
        Some(Ok(code)) => code,
        Some(Err(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                "✖ code must be a whole number from 0 to 255.\n",
            );
        }
    };
    warn!("Crash requested: exiting with code {code}.");
    tokio::spawn(async move {
        // A moment to send the answer first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::process::exit(i32::from(code));
    });
    let mut r = text(
        StatusCode::OK,
        format!("Crashing now with exit code {code}.\n"),
    );
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

/// `/`: who answered, in plain words. HTML when the client asks for it.
fn who_answered(ctx: &Context, hint: &str, req: &Request, format: Format) -> Response {
    let (info, id) = (&ctx.info, &ctx.identity);
    if format == Format::Json {
        let mut fields = id.json_fields();
        fields.insert("name".into(), info.name.into());
        fields.insert("version".into(), info.version.into());
        return json(StatusCode::OK, &fields.into());
    }
    let not_set = "not set";
    let rows = [
        ("Host", id.hostname.as_str()),
        ("Pod", id.pod_name.as_deref().unwrap_or(not_set)),
        ("Namespace", id.pod_namespace.as_deref().unwrap_or(not_set)),
        ("Node", id.node_name.as_deref().unwrap_or(not_set)),
        ("Pod IP", id.pod_ip.as_deref().unwrap_or(not_set)),
    ];
    let title = format!("{} {} answered you.", info.name, info.version);
    let asks_html = req
        .headers()
        .get(ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !asks_html {
        let mut body = format!("{title}\n");
        for (name, value) in rows {
            body.push_str(&format!("{name}: {value}\n"));
        }
        body.push_str(&format!("{hint}\n"));
        return text(StatusCode::OK, body);
    }
    let mut body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\n\
         <style>body{{font-family:sans-serif;font-size:20px;line-height:1.6;max-width:40em;margin:2em}}\
         dt{{font-weight:bold}}</style></head>\n<body><h1>{0}</h1>\n<dl>\n",
        escape_html(&title)
    );
    for (name, value) in rows {
        body.push_str(&format!("<dt>{name}</dt><dd>{}</dd>\n", escape_html(value)));
    }
    body.push_str(&format!(
        "</dl>\n<p>{}</p>\n</body></html>\n",
        escape_html(hint)
    ));
    crate::http::answer(StatusCode::OK, HTML, body)
}

/// How the server was set up, in one log line.
pub fn describe(config: &Common) -> String {
    let switches = match config.course_switches {
        OnOff::On => "on",
        OnOff::Off => "off",
    };
    let threads = match config.threads {
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    format!(
        "port {}, {threads}, at most {} connections, shutdown delay {}, drain timeout {}, course switches {switches}",
        config.port,
        config.max_connections,
        show_duration(config.shutdown_delay),
        show_duration(config.drain_timeout)
    )
}
