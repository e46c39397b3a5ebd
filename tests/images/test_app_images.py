"""The echo and relay images: what is inside, and how their containers behave.

Images are built from target/static/ through the same images/Dockerfile
that learners use (only the builder stage is swapped for "prebuilt").
Containers run on a real podman, with a read-only root file system,
and are reached over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import io
import re
import tarfile
import threading
import time

import pytest

from podman_tools import APPS, VERSION, record

pytestmark = pytest.mark.timeout(300)

SIZE_BUDGET = 5_000_000  # bytes: each image must stay under 5 MB
ENTRYPOINT = ["/usr/local/bin/server"]


# --- What is inside the images ---------------------------------------------------------------


@pytest.mark.parametrize("app", APPS)
def test_image_is_small(podman, app_images, app):
    size = podman.inspect("image", app_images[app])["Size"]
    record(f"image_bytes_{app}", size)
    assert size < SIZE_BUDGET, f"{app} image is {size} bytes; the budget is {SIZE_BUDGET}"


@pytest.mark.parametrize("app", APPS)
def test_image_config_user_entrypoint_port_healthcheck(podman, app_images, app):
    info = podman.inspect("image", app_images[app])
    config = info["Config"]
    assert config["User"] == "65532:65532", "numeric user and group, not root"
    assert config["Entrypoint"] == ENTRYPOINT
    assert not config.get("Cmd"), "the entrypoint alone starts the app"
    assert set(config["ExposedPorts"]) == {"8080/tcp"}
    assert config["StopSignal"] == "SIGTERM"
    assert info["Healthcheck"]["Test"] == ["CMD", *ENTRYPOINT, "healthcheck"]


@pytest.mark.parametrize("app", APPS)
def test_image_labels(podman, app_images, app):
    labels = podman.inspect("image", app_images[app])["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == f"{app}-server"
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"] == podman.revision
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")


@pytest.mark.parametrize("app", APPS)
def test_image_holds_one_program_and_no_shell(podman, app_images, app, name):
    """The runtime stage is FROM scratch: the program is the only file."""
    podman.containers.append(name)
    podman("create", "--name", name, app_images[app])
    export = podman.export(name)
    with tarfile.open(fileobj=io.BytesIO(export)) as tar:
        files = sorted(m.name.lstrip("./") for m in tar.getmembers() if m.isfile())
    # podman adds empty files for the engine to mount over (/etc/hosts, ...).
    engine_files = {"etc/hostname", "etc/hosts", "etc/resolv.conf", "run/.containerenv"}
    assert [f for f in files if f not in engine_files] == ["usr/local/bin/server"]


def test_build_context_leaves_out_build_output(podman, repo, tmp_path, name):
    """.dockerignore: target/ stays out of the build context, except target/static/."""
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text("FROM scratch\nCOPY . /context/\n")
    tag = f"localhost/{name}:context"
    podman.images.append(tag)
    podman("build", "-q", "-f", str(containerfile), "-t", tag, str(repo), timeout=300)
    podman.containers.append(name)
    podman("create", "--name", name, tag, "none")
    with tarfile.open(fileobj=io.BytesIO(podman.export(name))) as tar:
        names = {m.name.lstrip("./") for m in tar.getmembers()}
    assert "context/target/static/echo-server" in names
    assert "context/apps/echo/Cargo.toml" in names
    for left_out in ("context/.git", "context/target/debug", "context/target/release",
                     "context/.venv"):
        assert not any(n == left_out or n.startswith(left_out + "/") for n in names), left_out


# --- How the containers behave ---------------------------------------------------------------


def test_run_echo_answers_with_the_container_host_name(podman, app_images, name):
    """Like `make run-echo`: publish 8080, ask /echo, see the container's host name."""
    echo = podman.start(app_images["echo"], name)
    status, headers, body = echo.get("/echo?message=hello")
    info = echo.inspect()
    hostname = info["Config"]["Hostname"]
    assert hostname == info["Id"][:12], "podman names the host after the short container id"
    assert status == 200
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body == f"Echo host: {hostname}\nMessage: hello\n"


def test_relay_reaches_echo_by_container_name(podman, app_images, name):
    """The engine's DNS on a user-defined network, through relay's own name lookup."""
    network = podman.network(f"{name}-net")
    echo_name = f"{name}-echo"
    echo = podman.start(app_images["echo"], echo_name, "--network", network, port=False)
    relay = podman.start(app_images["relay"], f"{name}-relay", "--network", network,
                         env={"DEFAULT_ECHO_SERVER": f"{echo_name}:8080"})
    echo_host = echo.inspect()["Config"]["Hostname"]

    for path in ("/relay?message=hi", f"/relay?echo_server={echo_name}:8080&message=hi"):
        status, _, body = _get_until_ok(relay, path)
        assert status == 200, body
        assert f"Relay-To: {echo_name}:8080\n" in body
        assert f"Echo host: {echo_host}\nMessage: hi\n" in body

    # A name nobody has: a clear error, quickly, not a hang.
    start = time.monotonic()
    status, _, body = relay.get(f"/relay?echo_server={name}-nobody:8080&message=hi")
    assert 500 <= status < 600, body
    assert time.monotonic() - start < 5
    assert body.strip(), "the error says what went wrong"


def _get_until_ok(container, path: str, tries: int = 20):
    """The engine's DNS can lag a moment behind a new container; retry briefly."""
    for _ in range(tries):
        status, headers, body = container.get(path)
        if status == 200:
            break
        time.sleep(0.25)
    return status, headers, body


@pytest.mark.parametrize("app", APPS)
def test_read_only_root_and_no_privileges(podman, app_images, app, name):
    box = podman.start(app_images[app], name, "--cap-drop", "ALL",
                       "--security-opt", "no-new-privileges")
    assert box.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    for path in ("/ready", "/alive", "/version", "/metrics"):
        status, _, body = box.get(path)
        assert status == 200, f"{path}: {status} {body}"


def test_healthcheck_subcommand_reports_alive_and_not_alive(podman, app_images, name):
    """HEALTHCHECK runs `server healthcheck` inside the image (no shell, no curl)."""
    echo = podman.start(app_images["echo"], name)
    healthy = podman("healthcheck", "run", name, check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    status, _, _ = echo.get("/alive?liveness=false")
    assert status == 503
    sick = podman("healthcheck", "run", name, check=False)
    assert sick.returncode != 0, "liveness is off, so the health check must fail"


@pytest.mark.parametrize("app", APPS)
def test_stop_is_graceful(podman, app_images, app, name):
    """`podman stop` sends SIGTERM: a request in flight finishes, the app exits 0 quickly."""
    if app == "echo":
        box = podman.start(app_images["echo"], name)
    else:  # relay passes delay on to echo, so its call to echo is the slow request
        network = podman.network(f"{name}-net")
        podman.start(app_images["echo"], f"{name}-echo", "--network", network, port=False)
        box = podman.start(app_images["relay"], name, "--network", network,
                           env={"DEFAULT_ECHO_SERVER": f"{name}-echo:8080"})
        assert _get_until_ok(box, "/relay?message=warm-up")[0] == 200
    result: dict[str, object] = {}

    def slow_request():
        result["answer"] = box.get(f"/{app}?message=slow&delay=1500", timeout=10)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.3)  # the request is now in flight
    start = time.monotonic()
    podman("stop", "-t", "10", name, timeout=30)
    seconds = time.monotonic() - start
    thread.join(timeout=10)
    record(f"stop_seconds_{app}_with_a_request_in_flight", round(seconds, 2))

    state = box.inspect()["State"]
    logs = box.logs()
    assert state["ExitCode"] == 0, logs
    assert seconds < 5, f"stop took {seconds:.1f}s; the stop timeout is 10s\n{logs}"
    status, _, body = result["answer"]
    assert status == 200, body
    assert body.endswith("Message: slow\n")
    assert seconds > 1.0, "stop waited for the request in flight"
    for phase in (r"SIGTERM", r"[Ss]topped accepting", r"[Ff]inish"):
        assert re.search(phase, logs), f"no log line for {phase!r}:\n{logs}"


def test_stop_without_requests_is_quick(podman, app_images, name):
    box = podman.start(app_images["echo"], name)
    start = time.monotonic()
    podman("stop", "-t", "10", name, timeout=30)
    seconds = time.monotonic() - start
    record("stop_seconds_echo_idle", round(seconds, 2))
    assert box.inspect()["State"]["ExitCode"] == 0
    assert seconds < 2, f"an idle app stops at once, not after {seconds:.1f}s"
