"""`make demo DEMO_MODE=local`: the apps as local programs, run for real.

A learner's `make demo` uses Docker or podman (test_laptop_walks.py walks it). DEMO_MODE=local is
for people who work on the Rust code: it builds the apps (the static_binaries fixture runs
`make build-static`), starts echo and relay as local programs, calls relay, and stops both.
"""

from __future__ import annotations

import re
import socket

import pytest

from script_tools import NO_KIND, REPO, long_sentences, make, relay_reply

pytestmark = pytest.mark.timeout(600)

REPLY = relay_reply(r"127\.0\.0\.1:(?P<echo_port>\d+)")


def port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def demo(static_binaries):
    """One run of `make demo` with local programs and kind out of reach."""
    done = make("demo", KIND=NO_KIND, DEMO_MODE="local")
    return done


def test_demo_exits_0(demo):
    assert demo.returncode == 0, demo.stdout + demo.stderr


def test_demo_says_it_runs_locally(demo):
    assert "DEMO_MODE=local: the demo runs both apps as local programs, with no container." in demo.stdout


def test_demo_shows_each_step_with_a_tick(demo):
    for n in range(1, 7):
        assert f"Step {n} of 6: " in demo.stdout
    assert demo.stdout.count("  ✔ ") >= 6
    assert "✖" not in demo.stdout
    assert "✔ The local demo worked." in demo.stdout


def test_demo_prints_relay_reply_with_the_right_shape(demo):
    m = REPLY.search(demo.stdout)
    assert m, demo.stdout
    host = socket.gethostname()
    assert m["relay_host"] == host
    assert m["echo_host"] == host
    assert m["message"] == "hello from the demo"
    assert f"echo answers on http://127.0.0.1:{m['echo_port']}" in demo.stdout


def test_demo_stops_both_apps(demo):
    ports = [int(p) for p in re.findall(r"answers on http://127\.0\.0\.1:(\d+)", demo.stdout)]
    assert len(ports) == 2, demo.stdout
    for port in ports:
        assert not port_answers(port), f"something still answers on port {port}"
    assert "Both apps stopped cleanly (exit code 0)" in demo.stdout
    assert not list((REPO / ".cache" / "demo").glob("*.pid"))


def test_demo_output_follows_the_course_style(demo):
    assert not long_sentences(demo.stdout)


def test_demo_takes_another_port_when_8081_is_busy(static_binaries):
    with socket.socket() as busy:
        try:
            busy.bind(("127.0.0.1", 8081))
        except OSError:
            pytest.skip("port 8081 is in use on this machine already")
        busy.listen()
        done = make("demo", KIND=NO_KIND, DEMO_MODE="local")
    assert done.returncode == 0, done.stdout + done.stderr
    m = REPLY.search(done.stdout)
    assert m and m["echo_port"] != "8081", done.stdout


def test_demo_down_without_kind(demo):
    done = make("demo-down", KIND=NO_KIND, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✔ No demo program or container is running on this machine." in done.stdout
    assert "✔ There is no kind here, so there is no cluster to delete." in done.stdout


def test_cluster_mode_without_kind_fails_in_plain_words():
    done = make("demo", KIND=NO_KIND, DEMO_MODE="cluster", timeout=60)
    assert done.returncode != 0
    assert "✖ Missing: kind. Get it:" in done.stdout
    assert "✖ DEMO_MODE=cluster needs all of these." in done.stdout
    assert "line " not in done.stderr


def test_an_unknown_mode_is_refused():
    done = make("demo", DEMO_MODE="space", timeout=60)
    assert done.returncode != 0
    assert "✖ DEMO_MODE must be auto, cluster, containers or local, not 'space'." in done.stdout
