"""What the browser checks of the book share: headless Chromium, the book served over http,
the list of pages, and the scripts in tests/book/browser/ that measure a page.

The book is served the way `make serve-book` serves it (http on 127.0.0.1), so the checks see
what a reader sees. Each test file imports the fixtures it needs from here.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest
from bookkit import HERE, REPO, build_book

ARTIFACTS = REPO / "tests" / ".artifacts"
BROWSER_DIR = HERE / "browser"
AXE_JS = BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DESKTOP = (1280, 900)
PHONE = (390, 844)
# Themes the checks use: the default light one and one dark one.
THEMES = ("light", "navy")
DARK_THEMES = ("coal", "navy", "ayu")


def book_pages() -> list[str]:
    """Every page of the book in reading order, as built paths (from SUMMARY.md)."""
    summary = (REPO / "lessons" / "SUMMARY.md").read_text(encoding="utf-8")
    pages = []
    for link in re.findall(r"\]\(([^)#]+\.md)\)", summary):
        page = re.sub(r"(^|/)README\.md$", r"\1index.html", link)
        pages.append(page[:-3] + ".html" if page.endswith(".md") else page)
    return pages


def script(name: str) -> str:
    """A measuring script from tests/book/browser/."""
    return (BROWSER_DIR / name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def book_url(book_html: Path):
    """The built book on http://127.0.0.1:PORT/, served from a thread for the whole run."""
    with serve(book_html) as url:
        yield url


@contextlib.contextmanager
def serve(folder: Path):
    """Serve a folder on a free loopback port, like `make serve-book` does."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test output stays readable
        pass


def start_browser(profile: Path):
    """Headless Chromium as the checks use it: a laptop-sized window, script errors kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"✖ {path} is missing. Install it with: bash scripts/setup-test-tools.sh",
                        pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Keep the page's script errors, so a test can say a page's script broke.
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
                 "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    return driver


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium for the whole run."""
    pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    driver = start_browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def set_viewport(browser, size: tuple[int, int]) -> None:
    """Make the page as wide as a laptop window or a phone (390 px, with touch)."""
    width, height = size
    phone = width < 600
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone})
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": phone})


def open_book_page(browser, base_url: str, page: str, *, theme: str = "light",
                   size: tuple[int, int] = DESKTOP, storage: dict | None = None) -> None:
    """Open a page with a clean browser store, a theme, and a window size; wait for fonts."""
    set_viewport(browser, size)
    browser.get(base_url + page)
    browser.execute_script("localStorage.clear();")
    browser.execute_script("localStorage.setItem('mdbook-theme', arguments[0]);", theme)
    for key, value in (storage or {}).items():
        browser.execute_script("localStorage.setItem(arguments[0], arguments[1]);", key, value)
    browser.refresh()
    browser.execute_script("return document.fonts.ready;")


def build_small_book(tmp: Path, pages: dict[str, str], files: dict[str, str] | None = None) -> Path:
    """A small book with the real theme and book.toml: pages in order (name -> markdown),
    and other files beside them. The real glossary comes along as glossary.md."""
    src = tmp / "src"
    src.mkdir()
    shutil.copy(REPO / "lessons" / "book.toml", src / "book.toml")
    shutil.copytree(REPO / "lessons" / "theme", src / "theme")
    shutil.copy(REPO / "lessons" / "glossary.md", src / "glossary.md")
    summary = ["# Summary", ""] + [f"- [{name}]({name})" for name in pages]
    (src / "SUMMARY.md").write_text("\n".join(summary + ["- [Glossary](glossary.md)", ""]),
                                    encoding="utf-8")
    for name, text in {**pages, **(files or {})}.items():
        (src / name).write_text(text, encoding="utf-8")
    built = build_book(src, tmp / "html")
    if built.returncode != 0:
        pytest.fail(f"✖ The test book did not build:\n{built.log}", pytrace=False)
    return built.out


def script_errors(browser) -> list[str]:
    """Errors the page's scripts wrote to the console since the last call."""
    return [e["message"] for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
