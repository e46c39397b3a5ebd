"""Count what the browser checks find on every page of a built book, for a before/after report.

Usage: .venv/bin/python tests/book/measure_book.py BUILT_BOOK_DIR
(build one with: mdbook build lessons -d /tmp/book). It prints totals: code blocks that
scroll sideways or wrap, hidden "look here" markers, cut-off inline code at 1280 and 390 px,
and axe-core violations (light and navy themes, reading settings open when the book has them).
The tests themselves are tests/book/test_browser_pages.py.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

if __name__ == "__main__":
    # Run on its own, Python finds only tests/book; bookkit needs tests/testkit.py.
    # Under pytest, pytest.ini puts tests/ on the path.
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from browserkit import (AXE_JS, DESKTOP, PHONE, THEMES, book_pages, open_book_page, script, serve,
                        start_browser)


def main(book: Path) -> None:
    profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
    browser = start_browser(Path(profile.name))
    totals: Counter = Counter()
    axe_rules: Counter = Counter()
    try:
        with serve(book) as url:
            for page in book_pages():
                for width, size in (("1280", DESKTOP), ("390", PHONE)):
                    open_book_page(browser, url, page, size=size)
                    m = browser.execute_script(script("layout.js"))
                    totals[f"code blocks at {width}"] += m["codeBlocks"]
                    totals[f"code blocks that scroll sideways at {width}"] += len(m["scrolling"])
                    totals[f"code blocks with a line wider than the column at {width}"] += len(m["wrapped"])
                    totals[f"look here markers at {width}"] += m["markers"]
                    totals[f"hidden markers at {width}"] += len(m["hiddenMarkers"])
                    totals[f"cut-off inline code at {width}"] += len(m["clippedInline"])
                    totals[f"pages that scroll sideways at {width}"] += int(m["pageScrollsSideways"])
                for theme in THEMES:
                    open_book_page(browser, url, page, theme=theme)
                    browser.execute_script(
                        "const b = document.getElementById('reading-settings-toggle'); if (b) b.click();")
                    browser.execute_script(AXE_JS.read_text(encoding="utf-8"))
                    for v in browser.execute_async_script(script("axe-run.js")):
                        axe_rules[v["id"]] += v["count"]
    finally:
        browser.quit()
        profile.cleanup()
    for name, count in totals.items():
        print(f"{name}: {count}")
    print(f"axe-core violations (elements, {' and '.join(THEMES)}): {sum(axe_rules.values())}")
    for rule, count in axe_rules.most_common():
        print(f"  {rule}: {count}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1], "index.html").is_file():
        sys.exit("Usage: .venv/bin/python tests/book/measure_book.py BUILT_BOOK_DIR\n"
                 "Build the book first: mdbook build lessons -d /tmp/book")
    main(Path(sys.argv[1]))
