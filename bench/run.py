#!/usr/bin/env python3
"""make bench: load-test echo and relay against nginx on loopback, in one run.

It also loads nginx used as a relay (nginx → nginx): the floor for relay → echo.

What it measures (see bench/README.md):
  - requests per second, p50 and p99 latency, failed requests (wrk --latency),
  - CPU time per request of each server (user + sys from /proc/PID/stat, in µs),
  - peak memory (VmHWM) of each server, and each app's speed as a share of nginx,
  - start-to-ready time (exec to the first 200 on /ready, median of 10),
  - stripped binary sizes, TIME_WAIT sockets after the relay run,
  - the cold release build time of both apps (only with --cold-build or COLD_BUILD=1).

It uses the Python standard library only. Every process it starts runs in its own
session and is stopped at the end, also on Ctrl-C, SIGTERM or an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

if __name__ == "__main__":
    # `python3 bench/run.py` (make bench) puts only bench/ on the import path. The helpers it
    # shares with the tests live in tests/testkit.py; the tests import this file as a module
    # and find testkit through pytest.ini. One shared module beats a copy in each place.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from testkit import REPO, free_port, group_members, stat_fields  # noqa: E402

RESULTS = REPO / "bench" / "results"

# Targets from issue 2 ("Speed and size").
ECHO_SHARE_MIN = 0.90
RELAY_SHARE_MIN = 0.30
ECHO_RSS_MAX_MB = 8.0
READY_MAX_MS = 5.0
BINARY_MAX_MB = 4.0
COLD_BUILD_MAX_S = 60.0
TIME_WAIT_MAX = 100  # the Go relay left about 14,000: a new connection per call
# Target from issue 11: relay → echo costs at most 3 times nginx's CPU per request.
RELAY_CPU_MAX_X = 3.0
MB = 1_000_000  # sizes use decimal megabytes: 8 MB = 8,000,000 bytes

# The servers in the order of the table, with the names the table shows.
LABELS = {"nginx": "nginx", "echo": "echo", "relay": "relay → echo", "nginx_proxy": "nginx → nginx"}


class BenchError(Exception):
    """A problem we explain in plain words (no traceback)."""


class Stopped(Exception):
    """SIGTERM or SIGHUP arrived."""


def say(line: str = "") -> None:
    print(line, flush=True)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < 1:
        raise BenchError(f"{name} must be 1 or more, not {value}.")
    return value


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "yes", "true", "on")


def find_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise BenchError(f"{name} is missing. Install it with: bash scripts/setup-test-tools.sh")
    return found


# --- processes -------------------------------------------------------------------


class Servers:
    """Starts servers in their own session and stops every one of them at the end."""

    def __init__(self, pid_log: Path | None = None) -> None:
        self.procs: list[subprocess.Popen] = []
        self.pid_log = pid_log

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        self.procs.append(proc)
        if self.pid_log:
            with self.pid_log.open("a") as f:
                f.write(f"{proc.pid}\n")
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM to the whole process group, SIGKILL after 5 s."""
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # nginx workers may outlive their master by a moment: kill what is left of the group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc)


def wait_ready(url: str, proc: subprocess.Popen, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} stopped at start (exit code {proc.returncode}).")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise BenchError(f"{name} did not answer 200 on {url} within {timeout:.0f} s.")


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        raise BenchError(f"No answer from {url}: {e}") from None


def peak_rss_kib(pid: int) -> int:
    """VmHWM (peak resident memory) of one process, in KiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + sys CPU time of these processes, with their waited-for children, in seconds.

    Fields 14-17 of /proc/PID/stat: utime, stime, cutime, cstime, in clock ticks.
    Every thread of a process counts in its own line.
    """
    ticks = 0
    for pid in pids:
        fields = stat_fields(pid)
        if fields is None:
            raise BenchError(f"Process {pid} stopped during the load run.")
        ticks += sum(int(f) for f in fields[11:15])  # field 3 (state) is fields[0]
    return ticks / CLOCK_TICKS


# --- wrk -------------------------------------------------------------------------

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise BenchError(f"wrk printed a latency I cannot read: {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(out: str) -> dict:
    def grab(pattern: str) -> re.Match:
        m = re.search(pattern, out, re.M)
        if not m:
            raise BenchError(f"wrk output lacks {pattern!r}. Output was:\n{out}")
        return m

    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return {
        "requests_per_s": float(grab(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "requests": int(grab(r"^\s+(\d+) requests in").group(1)),
        "p50_ms": to_ms(grab(r"^\s+50%\s+(\S+)").group(1)),
        "p99_ms": to_ms(grab(r"^\s+99%\s+(\S+)").group(1)),
        "errors": errors,
    }


def run_wrk(wrk: str, url: str, seconds: int, connections: int, threads: int) -> dict:
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s", "--latency", url]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not stop after {seconds + 30} s.") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed (exit code {done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


# --- the steps -------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.servers = Servers(args.pid_log)
        self.tmp = Path(tempfile.mkdtemp(prefix="kube-course-bench-"))
        self.wrk = find_tool("wrk")
        self.nginx = find_tool("nginx")
        self.bins = {app: args.bin_dir / f"{app}-server" for app in ("echo", "relay")}
        self.step_no = 0
        self.steps = 5 + (0 if args.no_build else 1) + (1 if args.cold_build else 0)
        # nginx has its access log off; the apps log no request at warn.
        # The apps run as shipped: one thread each (THREADS unset).
        # nginx gets its best setting here: one worker process per CPU.
        self.app_env = {"LOG_LEVEL": "warn"}
        self.result: dict = {
            "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_info(),
            "load": {"tool": "wrk", "seconds": args.seconds, "rounds": args.rounds,
                     "round_seconds": args.round_seconds, "connections": args.connections,
                     "threads": args.threads, "warmup_seconds": args.warmup,
                     "nginx_worker_processes": args.workers, "app_worker_threads": 1,
                     "nginx_proxy_worker_processes": 1, "nginx_proxy_backend_worker_processes": 1},
            "servers": {},
        }

    def step(self, text: str) -> None:
        self.step_no += 1
        say(f"Step {self.step_no} of {self.steps}: {text}")

    def done(self, text: str) -> None:
        say(f"  ✔ {text}")

    # Step: build
    def build(self) -> None:
        self.step("Build the release binaries (make build-static)")
        done = subprocess.run(["make", "-s", "build-static"], cwd=REPO)
        if done.returncode != 0:
            raise BenchError("make build-static failed. Read the lines above.")
        self.done("Binaries are in target/static/")

    def check_binaries(self) -> None:
        for path in self.bins.values():
            if not path.is_file():
                raise BenchError(f"{path} is missing. Build it with: make build-static")

    # Step: start the servers
    def start_servers(self) -> dict[str, dict]:
        """nginx, echo, relay with its own echo, and nginx → nginx. Each is checked once."""
        self.step("Start nginx, echo, relay with its own echo, and nginx → nginx")
        nginx, base = self.start_nginx("nginx", nginx_conf(self.tmp / "nginx", self.args.workers))
        check(base + "/", "nginx", is_ok, "'ok'")

        echo, echo_base = self.start_app("echo")
        echo_url = echo_base + "/echo?message=hello"
        check(echo_url, "echo", lambda b: re.fullmatch(r"Echo host: .+\nMessage: hello\n", b), "'Echo host: ...'")

        behind, behind_base = self.start_app("echo")
        behind_port = int(behind_base.rsplit(":", 1)[1])
        relay, relay_base = self.start_app("relay")
        relay_url = f"{relay_base}/relay?echo_server=127.0.0.1:{behind_port}&message=hello"
        check(relay_url, "relay", lambda b: "\nMessage: hello\n" in b, "echo's reply")

        # nginx used as a relay: one worker in front of its own backend with one worker,
        # like relay and its echo (one thread each).
        backend, backend_base = self.start_nginx("the nginx backend", nginx_conf(self.tmp / "backend", 1))
        backend_port = int(backend_base.rsplit(":", 1)[1])
        proxy, proxy_base = self.start_nginx("nginx → nginx",
                                             nginx_conf(self.tmp / "proxy", 1, upstream_port=backend_port))
        check(proxy_base + "/", "nginx → nginx", is_ok, "'ok'")
        self.done("All four answer 200 with the right body.")
        return {
            "nginx": {"procs": [nginx], "url": base + "/"},
            "echo": {"procs": [echo], "url": echo_url},
            "relay": {"procs": [relay, behind], "url": relay_url, "behind_port": behind_port},
            "nginx_proxy": {"procs": [proxy, backend], "url": proxy_base + "/", "backend_port": backend_port},
        }

    def start_nginx(self, name: str, conf: tuple[Path, int, str]) -> tuple[subprocess.Popen, str]:
        """Start nginx with the config from nginx_conf() in its own folder; wait for its 200."""
        prefix, port, text = conf
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(text)
        error_log = prefix / "error.log"
        proc = self.servers.start(name, [self.nginx, "-p", str(prefix), "-e", str(error_log),
                                         "-c", str(prefix / "nginx.conf")])
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base + "/", proc, name)
        except BenchError as e:
            log = error_log.read_text(errors="replace").strip().splitlines() if error_log.exists() else []
            raise BenchError(f"{e} Its error log says: {(log or ['(empty)'])[-1]}") from None
        return proc, base

    def start_app(self, app: str, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
        port = free_port()
        env = {**self.app_env, "PORT": str(port), **(extra_env or {})}
        proc = self.servers.start(app, [str(self.bins[app])], env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/ready", proc, f"{app}-server")
        return proc, base

    # Step: load them in turns
    def load_in_rounds(self, servers: dict[str, dict]) -> None:
        """Load the servers in turns, so a change in the machine's other load hits them all alike."""
        a = self.args
        self.step(f"Load each server {a.rounds * a.round_seconds} s in all: "
                  f"{a.rounds} rounds of {a.round_seconds} s, in turns")
        names = list(servers)
        if a.warmup:
            for name in names:
                run_wrk(self.wrk, servers[name]["url"], a.warmup, a.connections, a.threads)
        rounds: dict[str, list[dict]] = {name: [] for name in names}
        relay = servers["relay"]
        new_time_wait = 0
        for i in range(a.rounds):
            order = names[i % len(names):] + names[:i % len(names)]  # each server goes first in turn
            for name in order:
                # Between rounds relay idles, and its pool closes connections idle for 4 s.
                # So 1 s of load that is not counted opens them again, and only what the
                # last relay round leaves in TIME_WAIT counts.
                if name == "relay":
                    run_wrk(self.wrk, servers[name]["url"], 1, a.connections, a.threads)
                before = time_wait(relay["behind_port"])
                pids = server_pids(servers[name])
                cpu_before = cpu_seconds(pids)
                result = run_wrk(self.wrk, servers[name]["url"], a.round_seconds, a.connections, a.threads)
                result["cpu_s"] = cpu_seconds(pids) - cpu_before
                rounds[name].append(result)
                if name == "relay":
                    new_time_wait = time_wait(relay["behind_port"]) - before
            self.done(f"round {i + 1} of {a.rounds}: " + ", ".join(
                f"{LABELS[name]} {rounds[name][-1]['requests_per_s']:,.0f}/s" for name in names))
        time_wait_to_echo = time_wait(relay["behind_port"])
        time_wait_total = time_wait(None)
        for name in names:
            self.result["servers"][name] = combine(rounds[name], servers[name]["url"])
        for name, whose in (("nginx", "master and workers"), ("nginx_proxy", "masters and workers of both")):
            pids = server_pids(servers[name])
            self.result["servers"][name]["peak_rss_kib"] = sum(peak_rss_kib(p) for p in pids)
            self.result["servers"][name]["peak_rss_note"] = f"sum of {len(pids)} processes ({whose})"
        self.result["servers"]["echo"]["peak_rss_kib"] = peak_rss_kib(servers["echo"]["procs"][0].pid)
        r = self.result["servers"]["relay"]
        relay_proc, behind = relay["procs"]
        r["peak_rss_kib"] = peak_rss_kib(relay_proc.pid)
        r["echo_behind_relay_peak_rss_kib"] = peak_rss_kib(behind.pid)
        r["time_wait_to_echo_last_round"] = max(new_time_wait, 0)
        r["time_wait_to_echo"] = time_wait_to_echo
        # nginx → nginx keeps its connections to the backend open too, or the comparison is not fair.
        self.result["servers"]["nginx_proxy"]["time_wait_to_backend"] = time_wait(
            servers["nginx_proxy"]["backend_port"])
        r["time_wait_total"] = time_wait_total
        self.done(f"TIME_WAIT sockets to echo's port: {r['time_wait_to_echo_last_round']} new in the last "
                  f"relay round, {time_wait_to_echo} in all")
        self.servers.stop_all()

    # Step: start to ready
    def run_start_to_ready(self) -> None:
        self.step("Start to ready: exec to the first 200 on /ready, median of 10")
        out = {}
        for app in ("echo", "relay"):
            times = [self.one_start(app) for _ in range(10)]
            out[app] = {"median_ms": statistics.median(times), "min_ms": min(times),
                        "max_ms": max(times), "runs_ms": times}
            self.done(f"{app}: {out[app]['median_ms']:.2f} ms")
        self.result["start_to_ready"] = out

    def one_start(self, app: str) -> float:
        port = free_port()
        env = {**os.environ, **self.app_env, "PORT": str(port)}
        # Popen returns once exec has succeeded, so the clock starts at exec.
        proc = self.servers.start(app, [str(self.bins[app])], env)
        t0 = time.perf_counter()
        request = b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        try:
            while True:
                elapsed = time.perf_counter() - t0
                if elapsed > 5:
                    raise BenchError(f"{app}-server was not ready 5 s after start.")
                if proc.poll() is not None:
                    raise BenchError(f"{app}-server stopped at start (exit code {proc.returncode}).")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                        s.sendall(request)
                        head = s.recv(64)
                except OSError:
                    time.sleep(0.0001)
                    continue
                if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
                    return (time.perf_counter() - t0) * 1000
                time.sleep(0.0001)
        finally:
            self.servers.stop(proc)

    # Step: sizes
    def run_sizes(self) -> None:
        self.step("Binary sizes, stripped")
        strip = shutil.which("strip")
        out = {}
        for app, path in self.bins.items():
            size = path.stat().st_size
            stripped = size
            if strip:
                copy = self.tmp / path.name
                done = subprocess.run([strip, "-o", str(copy), str(path)], capture_output=True)
                if done.returncode == 0:
                    stripped = copy.stat().st_size
            out[path.name] = {"bytes": size, "stripped_bytes": stripped}
            self.done(f"{path.name}: {stripped / MB:.2f} MB")
        self.result["binaries"] = out

    # Step: cold build
    def run_cold_build(self) -> None:
        self.step("Cold release build of both apps, in an empty target folder")
        subprocess.run(["cargo", "fetch", "--locked", "--quiet"], cwd=REPO, check=False)
        host = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
        target = re.search(r"^host: (\S+)", host, re.M).group(1)
        cmd = ["cargo", "build", "--release", "--locked", "--quiet", "--target", target,
               "-p", "echo-server", "-p", "relay-server"]
        env = {**os.environ, "CARGO_TARGET_DIR": str(self.tmp / "cold-target"),
               "RUSTFLAGS": "-C target-feature=+crt-static", "RUSTC_WRAPPER": ""}
        load_before = os.getloadavg()
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, env=env)
        seconds = time.perf_counter() - t0
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        if done.returncode != 0:
            raise BenchError("The cold build failed. Read the lines above.")
        self.result["cold_build"] = {"seconds": seconds, "cpu_seconds": cpu, "command": " ".join(cmd),
                                     "rustflags": env["RUSTFLAGS"], "jobs": os.cpu_count(),
                                     "load_average_before": load_before,
                                     "note": "crates were fetched before the clock started"}
        self.done(f"{seconds:.1f} s ({cpu:.0f} s of CPU time)")

    def run(self) -> dict:
        a = self.args
        say(f"Benchmark: wrk, {a.seconds} s per server, {a.connections} connections, {a.threads} threads, loopback.")
        say(f"nginx has {a.workers} worker processes. Each app runs on one thread, as shipped.")
        say("nginx → nginx is nginx used as a relay: one worker, in front of its own nginx with one worker.")
        if not a.no_build:
            self.build()
        self.check_binaries()
        self.load_in_rounds(self.start_servers())
        self.run_start_to_ready()
        self.run_sizes()
        if a.cold_build:
            self.run_cold_build()
        self.step("Check the targets")
        self.result["load_average_at_end"] = os.getloadavg()
        self.result["targets"] = targets(self.result)
        self.done("Done")
        return self.result

    def cleanup(self) -> None:
        self.servers.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


def nginx_conf(prefix: Path, workers: int, upstream_port: int | None = None,
               port: int | None = None) -> tuple[Path, int, str]:
    """(folder, port, config text) for one nginx of this run.

    Without upstream_port it gives a fixed answer: 200 ok.
    With it, nginx is a relay: it passes each request on to 127.0.0.1:upstream_port.
    It keeps its connections to that backend open, as relay does with echo.
    """
    port = port or free_port()
    if upstream_port is None:
        what, upstream, answer = "A fixed answer: 200 ok.", "", '''
            default_type text/plain;
            return 200 "ok";'''
    else:
        what = f"A relay to 127.0.0.1:{upstream_port}, with open connections to it."
        upstream = f'''
    upstream backend {{
        server 127.0.0.1:{upstream_port};
        keepalive 128;
        keepalive_requests 100000000;
    }}'''
        answer = '''
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";'''
    text = f"""\
# Written by bench/run.py for one run. {what}
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 100000000;{upstream}
    server {{
        listen 127.0.0.1:{port};
        location / {{{answer}
        }}
    }}
}}
"""
    return prefix, port, text


def is_ok(body: str) -> bool:
    return body == "ok"


def check(url: str, name: str, good, expected: str) -> None:
    status, body = fetch(url)
    if status != 200 or not good(body):
        raise BenchError(f"{name} answered {status} {body!r}, expected 200 with {expected}.")


def server_pids(server: dict) -> list[int]:
    """The processes that serve one server's requests.

    nginx: its master and workers. relay → echo: relay and its echo.
    nginx → nginx: the masters and workers of the proxy and of its backend.
    Each process we start leads its own process group.
    """
    return [pid for proc in server["procs"] for pid in group_members(proc.pid)]


def combine(rounds: list[dict], url: str) -> dict:
    """One server's rounds as one result: requests, errors and CPU time add up; rates and latencies are medians."""
    requests = sum(r["requests"] for r in rounds)
    cpu_s = sum(r["cpu_s"] for r in rounds)
    return {
        "url": url,
        "requests": requests,
        "cpu_s": cpu_s,
        "cpu_us_per_request": cpu_s * 1e6 / requests if requests else 0.0,
        "requests_per_s": statistics.median(r["requests_per_s"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "rounds": rounds,
    }


def time_wait(port: int | None) -> int:
    argv = ["ss", "-Htan", "state", "time-wait"]
    if port is not None:
        argv += [f"( dport = :{port} or sport = :{port} )"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return -1
    return len([line for line in out.splitlines() if line.strip()])


def machine_info() -> dict:
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"

    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
        "rustc": first_line(["rustc", "--version"]),
        "nginx": first_line([find_tool("nginx"), "-v"]),
        "wrk": first_line([find_tool("wrk"), "-v"]),
        "git_commit": first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


# --- the verdict ---------------------------------------------------------------


def cpu_times(s: dict, name: str, base: str) -> float:
    """CPU per request of server `name` as a multiple of server `base`'s (3.0 means 3 times)."""
    base_us = s[base]["cpu_us_per_request"]
    return s[name]["cpu_us_per_request"] / base_us if base_us > 0 else float("inf")


def targets(r: dict) -> list[dict]:
    s = r["servers"]
    relay_cpu = cpu_times(s, "relay", "nginx")
    proxy_cpu = cpu_times(s, "nginx_proxy", "nginx")
    nginx_rps = s["nginx"]["requests_per_s"] or 1.0
    echo_share = s["echo"]["requests_per_s"] / nginx_rps
    relay_share = s["relay"]["requests_per_s"] / nginx_rps
    echo_rss_mb = s["echo"]["peak_rss_kib"] * 1024 / MB
    ready = max(v["median_ms"] for v in r["start_to_ready"].values())
    biggest = max(v["stripped_bytes"] for v in r["binaries"].values()) / MB
    failed = sum(v["errors"] for v in s.values())
    time_wait = s["relay"]["time_wait_to_echo_last_round"]
    out = [
        ("echo speed", f"echo reaches {echo_share:.0%} of nginx", "at least 90%", echo_share >= ECHO_SHARE_MIN),
        ("relay speed", f"relay reaches {relay_share:.0%} of nginx", "at least 30%",
         relay_share >= RELAY_SHARE_MIN),
        ("relay CPU per request", f"relay → echo uses {relay_cpu:.2f} × nginx's CPU per request",
         "at most 3 ×", relay_cpu <= RELAY_CPU_MAX_X),
        ("echo memory", f"echo peaks at {echo_rss_mb:.1f} MB", "under 8 MB", echo_rss_mb < ECHO_RSS_MAX_MB),
        ("start to ready", f"the slower app is ready in {ready:.2f} ms", "under 5 ms", ready < READY_MAX_MS),
        ("binary size", f"the bigger binary is {biggest:.2f} MB", "under 4 MB", biggest < BINARY_MAX_MB),
        ("connection reuse", f"TIME_WAIT sockets to echo after one relay round: {time_wait}", "under 100",
         0 <= time_wait < TIME_WAIT_MAX),
        ("no failed requests", f"{failed} requests failed", "0", failed == 0),
    ]
    if "cold_build" in r:
        sec = r["cold_build"]["seconds"]
        out.append(("cold build", f"the cold build takes {sec:.0f} s", "under 60 s", sec < COLD_BUILD_MAX_S))
    found = [{"name": n, "measured": m, "target": t, "met": ok} for n, m, t, ok in out]
    # Not a target, but the yardstick for the one above: nginx used as a relay.
    found[2]["note"] = f"For comparison: nginx → nginx uses {proxy_cpu:.2f} × nginx's CPU per request."
    return found


def table(r: dict) -> str:
    s = r["servers"]
    nginx_rps = s["nginx"]["requests_per_s"] or 1.0
    lines = [
        f"{'server':<14}{'requests/s':>12}{'p50':>12}{'p99':>12}{'failed':>8}{'peak RSS':>11}{'vs nginx':>10}"
        f"{'CPU/request':>14}",
    ]
    for name, label in LABELS.items():
        v = s[name]
        lines.append(
            f"{label:<14}{v['requests_per_s']:>12,.0f}{v['p50_ms']:>9.2f} ms{v['p99_ms']:>9.2f} ms"
            f"{v['errors']:>8}{v['peak_rss_kib'] * 1024 / MB:>8.1f} MB{v['requests_per_s'] / nginx_rps:>10.0%}"
            f"{v['cpu_us_per_request']:>11.1f} µs"
        )
    lines.append(f"relay → echo uses {cpu_times(s, 'relay', 'nginx'):.2f} × nginx's CPU per request, "
                 f"and {cpu_times(s, 'relay', 'nginx_proxy'):.2f} × nginx → nginx's.")
    lines.append("")
    ready = r["start_to_ready"]
    lines.append("Start to ready (median of 10): "
                 + ", ".join(f"{app} {v['median_ms']:.2f} ms" for app, v in ready.items()))
    lines.append("Binary size (stripped): "
                 + ", ".join(f"{n} {v['stripped_bytes'] / MB:.2f} MB" for n, v in r["binaries"].items()))
    if "cold_build" in r:
        cold = r["cold_build"]
        lines.append(f"Cold release build of both apps: {cold['seconds']:.1f} s. "
                     f"It used {cold['cpu_seconds']:.0f} s of CPU time on {cold['jobs']} CPUs.")
    else:
        lines.append("Cold release build of both apps: skipped (run make bench COLD_BUILD=1 to measure it)")
    lines.append(f"TIME_WAIT sockets to echo's port: {s['relay']['time_wait_to_echo_last_round']} new in the "
                 f"last relay round, {s['relay']['time_wait_to_echo']} in all after the run. "
                 f"On the machine: {s['relay']['time_wait_total']}.")
    lines.append(f"nginx peak RSS is the {s['nginx']['peak_rss_note']}.")
    lines.append(f"nginx → nginx is nginx used as a relay, in front of its own nginx. "
                 f"Its peak RSS is the {s['nginx_proxy']['peak_rss_note']}.")
    lines.append("CPU/request: user + sys CPU time of the server's processes, divided by its requests. "
                 "For relay → echo and nginx → nginx it counts both servers.")
    lines.append(f"Load average at the start: {' '.join(f'{x:.2f}' for x in r['machine']['load_average_at_start'])}; "
                 f"at the end: {' '.join(f'{x:.2f}' for x in r['load_average_at_end'])}.")
    lines.append("")
    lines.append("Targets:")
    for t in r["targets"]:
        mark = "✔" if t["met"] else "✖"
        word = "met" if t["met"] else "missed"
        lines.append(f"  {mark} {word}: {t['measured']} (target: {t['target']})")
        if "note" in t:
            lines.append(f"    {t['note']}")
    met = sum(t["met"] for t in r["targets"])
    lines.append(f"{met} of {len(r['targets'])} targets met.")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Load-test echo and relay against nginx, and nginx used as a relay, on loopback. "
                    "Print a table and write JSON.",
        epilog="Environment: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_WORKERS, "
               "COLD_BUILD=1, BENCH_JSON, BENCH_PID_LOG.",
    )
    p.add_argument("--seconds", type=int, default=None, help="length of each load run (default 10)")
    p.add_argument("--connections", type=int, default=None, help="open connections (default 64)")
    p.add_argument("--threads", type=int, default=None, help="wrk threads (default 2)")
    p.add_argument("--workers", type=int, default=None,
                   help="nginx worker processes (default: one per CPU); the apps run on one thread")
    p.add_argument("--cold-build", action="store_true", help="also time a cold release build")
    p.add_argument("--no-build", action="store_true", help="use target/static as it is")
    p.add_argument("--bin-dir", type=Path, default=REPO / "target" / "static", help="where the binaries are")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    p.add_argument("--pid-log", type=Path, default=None,
                   help="append the id of each process started (each leads its own session); for tests")
    a = p.parse_args(argv)
    a.seconds = a.seconds or env_int("BENCH_SECONDS", 10)
    a.connections = a.connections or env_int("BENCH_CONNECTIONS", 64)
    a.threads = a.threads or env_int("BENCH_THREADS", 2)
    a.workers = a.workers or env_int("BENCH_WORKERS", len(os.sched_getaffinity(0)))
    a.cold_build = a.cold_build or env_flag("COLD_BUILD")
    a.warmup = 1 if a.seconds >= 5 else 0
    # Rounds of 2 s: the servers take turns, so a change in the machine's load hits them all alike.
    a.rounds = max(1, a.seconds // 2)
    a.round_seconds = a.seconds // a.rounds
    if a.pid_log is None and os.environ.get("BENCH_PID_LOG", "").strip():
        a.pid_log = Path(os.environ["BENCH_PID_LOG"].strip())
    if a.json is None:
        env_json = os.environ.get("BENCH_JSON", "").strip()
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        a.json = Path(env_json) if env_json else RESULTS / f"bench-{stamp}.json"
    for name in ("seconds", "connections", "threads", "workers"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be 1 or more")
    if a.threads > a.connections:
        p.error("--threads must not be more than --connections")
    return a


def main(argv: list[str]) -> int:
    def on_signal(signum, _frame):
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    bench = None
    try:
        args = parse_args(argv)
        bench = Bench(args)
        result = bench.run()
        say()
        say(table(result))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        say(f"✔ Results are in {args.json}")
        return 0
    except BenchError as e:
        say(f"✖ {e}")
        say("✖ The benchmark did not finish. Every server it started is stopped.")
        return 1
    except (KeyboardInterrupt, Stopped):
        say("\n✖ Stopped before the end. Every server it started is stopped.")
        return 130
    finally:
        if bench is not None:
            # Signals must not cut the cleanup short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            bench.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
