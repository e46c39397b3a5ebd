"""`make bench` for real, with a tiny duration: nginx, echo, relay and nginx → nginx on loopback under wrk.

Also: wrk's output is read right, bad settings get plain words, and Ctrl-C leaves nothing running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import run as bench_run  # bench/run.py (pytest.ini puts bench/ on the import path)
from script_tools import REPO, long_sentences, make
from testkit import session_members

pytestmark = pytest.mark.timeout(300)

RUN_PY = REPO / "bench" / "run.py"
SERVERS = ("nginx", "echo", "relay", "nginx_proxy")
TARGETS = ["echo speed", "relay speed", "relay CPU per request", "echo memory", "start to ready", "binary size",
           "connection reuse", "no failed requests"]


def leftovers(pid_log: Path) -> list[int]:
    """Processes still alive in the sessions the benchmark started (it logs each session's leader)."""
    sessions = {int(x) for x in pid_log.read_text().split()} if pid_log.exists() else set()
    return session_members(sessions)


@pytest.fixture(scope="module")
def bench(static_binaries, tmp_path_factory):
    """One `make bench` run of 1 s per server. Returns (completed process, JSON results)."""
    tmp = tmp_path_factory.mktemp("bench")
    out, pids = tmp / "results.json", tmp / "pids"
    done = make("bench", timeout=240, BENCH_SECONDS="1", BENCH_JSON=str(out), BENCH_PID_LOG=str(pids))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(pids.read_text().split()) == 1 + 1 + 2 + 2 + 20, \
        "nginx, echo, relay with echo, nginx → nginx (proxy and backend), 20 starts"
    assert not leftovers(pids), "make bench left a server running"
    return done, json.loads(out.read_text())


def test_bench_prints_every_row(bench):
    done, _ = bench
    text = done.stdout
    for row in ("server ", "nginx ", "echo ", "relay → echo ", "nginx → nginx ",
                "relay → echo uses ", "nginx → nginx is nginx used as a relay",
                "    For comparison: nginx → nginx uses ", "Start to ready (median of 10): echo ",
                "Binary size (stripped): echo-server ", "Cold release build of both apps: skipped",
                "TIME_WAIT sockets to echo's port: ", "Targets:"):
        assert row in text, f"the table lacks {row!r}:\n{text}"
    marks = [line for line in text.splitlines() if line.startswith(("  ✔ met: ", "  ✖ missed: "))]
    assert len(marks) == 8, text
    assert " of 8 targets met." in text
    assert not long_sentences(text)


def test_bench_results_are_real_numbers(bench, static_binaries):
    _, r = bench
    assert r["load"]["seconds"] == 1
    # nginx gets one worker per CPU (its best here); the apps run as shipped, on one thread.
    assert r["load"]["nginx_worker_processes"] == len(os.sched_getaffinity(0))
    assert r["load"]["app_worker_threads"] == 1
    assert set(r["servers"]) == set(SERVERS)
    for name in SERVERS:
        s = r["servers"][name]
        assert s["requests"] > 100, (name, s)
        assert s["requests_per_s"] > 100, (name, s)
        assert 0 < s["p50_ms"] <= s["p99_ms"] < 2000, (name, s)
        assert s["peak_rss_kib"] > 100, (name, s)
        assert s["errors"] == 0, f"{name}: {s['errors']} requests failed under load"
    relay = r["servers"]["relay"]
    assert relay["time_wait_to_echo"] >= relay["time_wait_to_echo_last_round"] >= 0
    assert r["load"]["rounds"] == 1 and len(relay["rounds"]) == 1
    for app in ("echo", "relay"):
        ready = r["start_to_ready"][app]
        assert len(ready["runs_ms"]) == 10
        assert 0 < ready["min_ms"] <= ready["median_ms"] <= ready["max_ms"] < 5000
    for name, path in static_binaries.items():
        sizes = r["binaries"][path.name]
        assert sizes["bytes"] == path.stat().st_size
        assert 0 < sizes["stripped_bytes"] <= sizes["bytes"]
    assert [t["name"] for t in r["targets"]] == TARGETS
    # nginx → nginx: the proxy's master and one worker, the backend's master and one worker.
    assert r["servers"]["nginx_proxy"]["peak_rss_note"] == "sum of 4 processes (masters and workers of both)"
    # The proxy keeps its connections to the backend open, as relay does with echo.
    assert 0 <= r["servers"]["nginx_proxy"]["time_wait_to_backend"] < 100, r["servers"]["nginx_proxy"]
    assert r["load"]["nginx_proxy_worker_processes"] == r["load"]["nginx_proxy_backend_worker_processes"] == 1


def test_bench_cpu_per_request_is_real(bench):
    """CPU time per request comes from /proc/PID/stat: positive; a relay costs more than one server alone."""
    done, r = bench
    s = r["servers"]
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("server "))
    assert lines[header].rstrip().endswith("CPU/request"), lines[header]
    for (name, label), row in zip(bench_run.LABELS.items(), lines[header + 1:header + 5], strict=True):
        v = s[name]
        assert row.startswith(f"{label} "), row
        assert v["cpu_s"] > 0, (name, v)
        assert v["cpu_s"] == pytest.approx(sum(x["cpu_s"] for x in v["rounds"])), name
        assert v["cpu_us_per_request"] == pytest.approx(v["cpu_s"] * 1e6 / v["requests"]), name
        # More than 0 and less than 10 ms of CPU for a tiny loopback request.
        assert 0 < v["cpu_us_per_request"] < 10_000, (name, v)
        assert f"{v['cpu_us_per_request']:.1f} µs" in row, row
    # relay → echo counts relay and the echo behind it: one echo exchange and more.
    assert s["relay"]["cpu_us_per_request"] >= s["echo"]["cpu_us_per_request"], s
    # nginx → nginx counts the proxy and its backend: more than nginx alone.
    assert s["nginx_proxy"]["cpu_us_per_request"] > s["nginx"]["cpu_us_per_request"], s
    assert lines[header + 5].startswith("relay → echo uses "), lines[header + 5]
    assert len(r["load_average_at_end"]) == 3


def test_the_committed_example_is_a_real_ten_second_run():
    examples = sorted((REPO / "bench" / "results").glob("example-*.json"))
    assert examples, "bench/results/ should hold a dated example of a real run"
    for path in examples:
        r = json.loads(path.read_text())
        assert r["load"]["seconds"] == 10
        assert r["load"]["rounds"] == 5, "made by the current method: servers loaded in turns"
        assert path.name.startswith(f"example-{r['date_utc'][:10]}"), "the file name carries the run's date"
        assert set(SERVERS) == set(r["servers"])
        assert all(s["cpu_us_per_request"] > 0 for s in r["servers"].values())
        assert "cold_build" in r, "the example should include the cold build time"
        assert [t["name"] for t in r["targets"]] == [*TARGETS, "cold build"]


def test_wrk_output_is_read_right():
    sample = """Running 1s test @ http://127.0.0.1:1/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   528.11us  300.00us   9.20ms   90.00%
  Latency Distribution
     50%  412.00us
     75%  600.00us
     90%    1.00ms
     99%    2.50ms
  12345 requests in 1.00s, 1.23MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  12340.50
Transfer/sec:      1.23MB
"""
    got = bench_run.parse_wrk(sample)
    assert got == pytest.approx({"requests_per_s": 12340.5, "requests": 12345, "p50_ms": 0.412, "p99_ms": 2.5,
                                 "errors": 7})
    assert bench_run.to_ms("1.5s") == 1500.0
    with pytest.raises(bench_run.BenchError):
        bench_run.parse_wrk("wrk: connection refused")


@pytest.mark.parametrize("setting, value, words", [
    ("BENCH_SECONDS", "ten", "BENCH_SECONDS must be a whole number, not 'ten'."),
    ("BENCH_CONNECTIONS", "0", "BENCH_CONNECTIONS must be 1 or more, not 0."),
])
def test_bad_settings_get_plain_words(setting, value, words):
    env = {**os.environ, setting: value}
    done = subprocess.run([sys.executable, str(RUN_PY), "--no-build"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"✖ {words}" in done.stdout
    assert "Traceback" not in done.stderr


def test_ctrl_c_stops_every_server(static_binaries, tmp_path):
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, str(RUN_PY), "--no-build", "--seconds", "5",
                             "--json", str(tmp_path / "r.json"), "--pid-log", str(pids)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    # Wait until the echo load run is under way: nginx has run, echo is loaded.
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("Step 2 of "):
            break
    time.sleep(2)
    assert leftovers(pids), "the benchmark should be running echo now"
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    out = "".join(lines) + rest
    assert proc.returncode == 130, out
    assert "✖ Stopped before the end. Every server it started is stopped." in out
    assert not leftovers(pids), "a server outlived Ctrl-C"
    assert not (tmp_path / "r.json").exists()


def made_up_result(cpu_us: dict[str, float]) -> dict:
    """A result as Bench.run() makes it, with made-up numbers, for the pure functions."""
    servers = {}
    for name in SERVERS:
        servers[name] = {"requests_per_s": 50_000.0, "p50_ms": 0.5, "p99_ms": 2.0, "errors": 0,
                         "peak_rss_kib": 4000, "cpu_us_per_request": cpu_us[name]}
    servers["nginx"]["requests_per_s"] = 100_000.0
    servers["echo"]["requests_per_s"] = 95_000.0
    servers["nginx"]["peak_rss_note"] = "sum of 3 processes (master and workers)"
    servers["nginx_proxy"]["peak_rss_note"] = "sum of 4 processes (masters and workers of both)"
    servers["relay"].update(time_wait_to_echo_last_round=0, time_wait_to_echo=3, time_wait_total=9)
    r = {"servers": servers, "machine": {"load_average_at_start": [1.0, 1.5, 2.0]},
         "load_average_at_end": [2.0, 1.5, 1.0],
         "start_to_ready": {"echo": {"median_ms": 1.0}, "relay": {"median_ms": 1.5}},
         "binaries": {"echo-server": {"stripped_bytes": 2 * bench_run.MB},
                      "relay-server": {"stripped_bytes": 3 * bench_run.MB}}}
    r["targets"] = bench_run.targets(r)
    return r


@pytest.mark.parametrize("relay_us, met", [(24.0, True), (24.1, False)])
def test_relay_cpu_target_is_three_times_nginx(relay_us, met):
    r = made_up_result({"nginx": 8.0, "echo": 9.0, "relay": relay_us, "nginx_proxy": 28.0})
    assert [t["name"] for t in r["targets"]] == TARGETS
    t = next(t for t in r["targets"] if t["name"] == "relay CPU per request")
    assert t["met"] is met
    assert t["target"] == "at most 3 ×"
    assert t["measured"] == f"relay → echo uses {relay_us / 8:.2f} × nginx's CPU per request"
    assert t["note"] == "For comparison: nginx → nginx uses 3.50 × nginx's CPU per request."
    assert [x for x in r["targets"] if "note" in x] == [t], "only this target carries a note"


def test_table_shows_nginx_to_nginx_and_the_relay_multiples():
    r = made_up_result({"nginx": 8.0, "echo": 9.0, "relay": 30.4, "nginx_proxy": 28.8})
    lines = bench_run.table(r).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("server "))
    rows = lines[header + 1:header + 5]
    assert [row.split("  ")[0] for row in rows] == ["nginx", "echo", "relay → echo", "nginx → nginx"]
    assert rows[3].endswith("28.8 µs") and rows[2].endswith("30.4 µs"), rows
    assert all(len(row) == len(lines[header]) for row in rows), "the columns line up"
    assert lines[header + 5] == "relay → echo uses 3.80 × nginx's CPU per request, and 1.06 × nginx → nginx's."
    text = "\n".join(lines)
    assert ("  ✖ missed: relay → echo uses 3.80 × nginx's CPU per request (target: at most 3 ×)\n"
            "    For comparison: nginx → nginx uses 3.60 × nginx's CPU per request.\n") in text
    assert "Its peak RSS is the sum of 4 processes (masters and workers of both)." in text
    assert "7 of 8 targets met." in text
    assert not long_sentences(text)


def test_cpu_multiple_of_a_server_that_used_no_cpu_is_not_a_crash():
    s = {"relay": {"cpu_us_per_request": 30.0}, "nginx": {"cpu_us_per_request": 0.0}}
    assert bench_run.cpu_times(s, "relay", "nginx") == float("inf")


def test_nginx_config_for_a_fixed_answer(tmp_path):
    prefix, port, text = bench_run.nginx_conf(tmp_path / "nginx", 2, port=8123)
    assert (prefix, port) == (tmp_path / "nginx", 8123)
    assert "worker_processes 2;" in text
    assert "listen 127.0.0.1:8123;" in text
    assert 'return 200 "ok";' in text
    assert "proxy_pass" not in text and "upstream" not in text
    assert f"pid {tmp_path}/nginx/nginx.pid;" in text


def test_nginx_config_for_nginx_used_as_a_relay(tmp_path):
    """One worker, HTTP/1.1 to the backend with the Connection header cleared, and a keep-alive pool."""
    _, port, text = bench_run.nginx_conf(tmp_path / "proxy", 1, upstream_port=9001)
    assert 1 <= port <= 65535
    assert "worker_processes 1;" in text
    assert f"listen 127.0.0.1:{port};" in text
    upstream = text[text.index("upstream backend {"):]
    upstream = upstream[:upstream.index("}") + 1]
    assert upstream.split("\n")[1:-1] == ["        server 127.0.0.1:9001;", "        keepalive 128;",
                                           "        keepalive_requests 100000000;"]
    location = text[text.index("location / {"):]
    location = location[:location.index("}") + 1]
    for line in ("proxy_pass http://backend;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";'):
        assert line in location, location
    assert "return 200" not in text
    assert text.count("{") == text.count("}")
