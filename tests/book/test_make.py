"""`make book` and `make serve-book` work as the course says."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request

from testkit import REPO, free_port, wait_for_http


def test_make_help_lists_the_book_targets() -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for target in ("book", "serve-book"):
        assert any(line.split()[:1] == [target] for line in out.splitlines()), out


def test_make_book_builds_the_book() -> None:
    result = subprocess.run(["make", "-s", "book"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✔ The book is ready" in result.stdout
    assert (REPO / "lessons" / "book" / "01-tools" / "index.html").is_file()


def test_make_serve_book_serves_the_book_on_loopback() -> None:
    port = free_port()
    proc = subprocess.Popen(["make", "-s", "serve-book", f"BOOK_PORT={port}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/01-tools/index.html", timeout=5) as r:
            page = r.read().decode()
        assert "1. Your tools" in page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
