"""The output the lessons show is what the programs print (issue 9, item 7).

- App log lines (`... INFO message` in an output block) are compared with the lines the real
  binaries print: the test starts echo and relay (target/static/, built by `make build-static`),
  sends requests, stops them with SIGTERM, and reads their logs.
- Relay's error answers (`✖ Relay to ... failed. ...`) are compared with the real answer for a
  refused connection; other relay errors need DNS or a cluster, so they are compared with the
  message texts in apps/relay/src/ (this cannot prove the words appear at run time).
- ✔ / ✖ lines of the Makefile and scripts are compared with the texts in make/*.mk and
  scripts/*.sh, where `$(VAR)`, `$VAR` and `${VAR}` stand for any word. A cluster or Docker
  is needed to print most of them, so this check reads the sources; tests/images and
  tests/scripts run the targets that can run here.
Numbers are compared as "a number": a port or a duration may differ between runs.
A shown line that ends with " ..." stands for the start of a line: the rest is cut
(lessons/README.md: "`...` at the end of a line stands for the rest of that line").
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from bookkit import REPO, fail_with
from mdblocks import page_files, read_blocks
from testkit import free_port

LOG_SHOWN = re.compile(r"^\s*\.\.\. (INFO|WARN|ERROR) (.+?)\s*$")
# tracing's text format: "2026-11-30T06:00:00.123456Z  INFO message"
LOG_REAL = re.compile(r"^\S+Z\s+(INFO|WARN|ERROR|DEBUG)\s+(.*)$")
OLD_MARKER = re.compile(r"\s+#\s*(<-|↑)\s*look here\s*$")
TICK_LINE = re.compile(r"^\s*([✔✖] .+?)\s*$")
CUT = " ..."  # a shown line that ends like this shows only the start of the real line


def cut(text: str) -> tuple[str, bool]:
    """The shown text without a trailing " ...", and whether it was cut."""
    return (text[: -len(CUT)], True) if text.endswith(CUT) else (text, False)


@dataclass(frozen=True)
class Shown:
    page: str
    line: int
    text: str


def norm(text: str) -> str:
    """Numbers, durations and ports compare as one token; zero stays zero (no delay is not a delay)."""
    text = OLD_MARKER.sub("", text).strip()
    return re.sub(r"(?<![\d.])(?!0(?:ms|s)?(?![\d.]))\d+(?:\.\d+)?(?:ms|s)?", "#", text)


def output_lines() -> list[Shown]:
    """Every line of every output (or plain text) code block of the book."""
    found = []
    for page in page_files(REPO):
        for block in read_blocks(page.read_text(encoding="utf-8")):
            if block.kind == "code" and ("output" in block.tags or block.lang in ("text", "")):
                for offset, raw in enumerate(block.lines):
                    found.append(Shown(str(page.relative_to(REPO)), block.line + 1 + offset, raw))
    return found


def shown_log_lines(lines: list[Shown]) -> list[tuple[Shown, str, str]]:
    return [(s, m.group(1), m.group(2)) for s in lines if (m := LOG_SHOWN.match(s.text))]


# --- the real programs ------------------------------------------------------------------

def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class App:
    """One app binary on a free loopback port, its log lines kept."""

    def __init__(self, binary: Path, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(binary)], env={**os.environ, "PORT": str(self.port), **env},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if get(self.base + "/ready")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{binary.name} did not become ready:\n{self.logs()}")

    def stop(self, *signals: signal.Signals) -> int:
        for sig in signals or (signal.SIGTERM,):
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                time.sleep(0.2)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def logs(self) -> list[str]:
        out, _ = self.proc.communicate() if self.proc.poll() is not None else ("", "")
        return out.splitlines()


def log_messages(lines: list[str]) -> set[tuple[str, str]]:
    return {(m.group(1), norm(m.group(2))) for line in lines if (m := LOG_REAL.match(line))}


@pytest.fixture(scope="module")
def real_output(static_binaries: dict[str, Path]) -> tuple[set[tuple[str, str]], set[str]]:
    """Log lines and relay answers from short real runs of both apps."""
    logs: set[tuple[str, str]] = set()
    answers: set[str] = set()
    # 1. Start, answer, stop with no delay (lessons 2 and 4).
    echo = App(static_binaries["echo"])
    relay = App(static_binaries["relay"], ECHO_SERVER=f"127.0.0.1:{echo.port}")
    get(relay.base + "/relay?message=hello")
    closed = free_port()
    status, body = get(f"{relay.base}/relay?message=hi&echo_server=localhost:{closed}")
    answers.update(norm(line) for line in body.splitlines() if line.startswith("✖"))
    relay.stop()
    echo.stop()
    logs |= log_messages(relay.logs()) | log_messages(echo.logs())
    # 2. A shutdown delay, and a second signal during it (lesson 12).
    echo = App(static_binaries["echo"], SHUTDOWN_DELAY="2s")
    echo.stop(signal.SIGTERM, signal.SIGTERM)
    logs |= log_messages(echo.logs())
    echo = App(static_binaries["echo"], SHUTDOWN_DELAY="1s")
    echo.stop()
    logs |= log_messages(echo.logs())
    # 3. A crash on request (lessons 11 and 14).
    echo = App(static_binaries["echo"])
    try:
        get(echo.base + "/crash?code=3")
    except OSError:
        pass
    echo.proc.wait(timeout=10)
    logs |= log_messages(echo.logs())
    assert logs, "the apps printed no log line the test could read"
    return logs, answers


def test_log_lines_in_the_lessons_are_real(real_output) -> None:
    logs, _ = real_output
    shown = shown_log_lines(output_lines())
    def real(level: str, msg: str) -> bool:
        text, is_cut = cut(norm(msg))
        return any(lv == level and (m.startswith(text) if is_cut else m == text) for lv, m in logs)

    bad = [f"{s.page}:{s.line}: {level} {msg}" for s, level, msg in shown if not real(level, msg)]
    fail_with("These log lines are not what the apps print. Run the app and copy its real line "
              "(numbers may differ):", bad)


def source_templates(files: list[Path]) -> list[list[str]]:
    """Quoted texts with ✔ or ✖ in them, as their literal parts: variables and {} between
    two parts stand for any text."""
    out = []
    for f in files:
        for m in re.finditer(r"[\"']([^\"'\n]*[✔✖][^\"'\n]*)[\"']", f.read_text(encoding="utf-8")):
            text = m.group(1)
            start = text.index("✔") if "✔" in text and ("✖" not in text or text.index("✔") < text.index("✖")) \
                else text.index("✖")
            parts = re.split(r"\$\([^)]*\)|\$\{[^}]*\}|\$\$?\w+|\{[^}]*\}|%s|\\n", text[start:])
            out.append([norm(p) for p in parts])
    return out


def fits(text: str, parts: list[str], is_cut: bool) -> bool:
    """The text is what the template prints; when it is cut, the start of what it prints."""
    if not is_cut:
        return re.fullmatch(".+?".join(map(re.escape, parts)), text) is not None
    for k, last in enumerate(parts):
        head = "".join(re.escape(p) + ".+?" for p in parts[:k])
        if any(re.fullmatch(head + re.escape(last[:j]), text) for j in range(len(last) + 1)):
            return True
    return False


def tick_lines(lines: list[Shown]) -> list[Shown]:
    return [s for s in lines if TICK_LINE.match(OLD_MARKER.sub("", s.text))
            and not LOG_SHOWN.match(s.text)]


def unmatched(shown: list[Shown], templates: list[list[str]], answers: set[str]) -> list[str]:
    bad = []
    for s in shown:
        text, is_cut = cut(norm(TICK_LINE.match(OLD_MARKER.sub("", s.text)).group(1)))
        if any(a.startswith(text) if is_cut else a == text for a in answers) \
                or any(fits(text, t, is_cut) for t in templates):
            continue
        bad.append(f"{s.page}:{s.line}: {s.text.strip()}")
    return bad


def test_tick_lines_in_the_lessons_are_printed_by_the_project(real_output) -> None:
    _, answers = real_output
    files = sorted((REPO / "make").glob("*.mk")) + sorted((REPO / "scripts").glob("*.sh")) \
        + [REPO / "Makefile"] + sorted((REPO / "apps").glob("*/src/*.rs"))
    bad = unmatched(tick_lines(output_lines()), source_templates(files), answers)
    fail_with("These ✔/✖ lines are printed by no make target, script or app. Copy the real "
              "line from make/*.mk, scripts/*.sh or the app:", bad)


def test_the_output_checks_can_fail(real_output, tmp_path: Path) -> None:
    logs, answers = real_output
    assert ("INFO", norm("✔ All requests finished. Exiting with code 0.")) in logs
    assert norm("Serving 5s more, port 8081.") == norm("Serving 2s more, port 39001.")
    assert norm("Serving 0s more.") != norm("Serving 5s more.")
    assert ("INFO", norm("✔ All requests are done. Exiting with code 0.")) not in logs
    assert any("connection was refused" in a for a in answers), answers
    script = tmp_path / "s.sh"
    script.write_text('say "✔ The cluster $(CLUSTER_NAME) is ready."\n', encoding="utf-8")
    templates = source_templates([script])
    good = Shown("p", 1, "   ✔ The cluster kube-course is ready.   # <- look here")
    wrong = Shown("p", 2, "✔ The cluster kube-course is up.")
    assert unmatched([good, wrong], templates, set()) == ["p:2: ✔ The cluster kube-course is up."]
    # A cut line must be the start of a real one; a cut log line too.
    start = Shown("p", 3, "✔ The cluster kube-course ...")
    cut_wrong = Shown("p", 4, "✔ A cluster kube-course is up ...")
    assert unmatched([start, cut_wrong], templates, set()) == ["p:4: ✔ A cluster kube-course is up ..."]
