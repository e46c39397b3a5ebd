"""Every page of the book in headless Chromium: nothing cut off, figures readable, no
accessibility violations (axe-core), no red next to green in the code colours. Issue 9.

At 1280 px: no code block scrolls sideways; commands and output never wrap (each line fits
the text column); an excerpt of a real file (```yaml,file) may wrap, visibly; and
every "look here" marker is in sight. At 390 px (a phone): the page does not scroll
sideways, no inline code is cut off, no marker is hidden, the figures' text is 12 px or
more in a scroll box with a full-size link. A page whose text breaks a rule is named with
what breaks; fix the text (tests/book/lesson-format.md), not this test.
Each check also runs on a small book made to break it (bad_book), and must fail there.
"""

from __future__ import annotations

import colorsys
import re
from pathlib import Path

import pytest
from bookkit import REPO, fail_with
from browserkit import (AXE_JS, DARK_THEMES, DESKTOP, PHONE, THEMES, book_pages, book_url,  # noqa: F401
                        browser, build_small_book, open_book_page, script, script_errors, serve)

PAGES = book_pages()
# Text in a figure must be drawn at least this big on a phone (px).
MIN_FIGURE_TEXT = 11.5


def svg_smallest_text(svg: str) -> float:
    """The smallest font size an SVG file sets, in its own units."""
    sizes = [float(s) for s in re.findall(r'font-size(?:="|:\s*)([0-9.]+)', svg)]
    return min(sizes) if sizes else 16.0


def measure(browser, url: str, page: str, size) -> dict:
    open_book_page(browser, url, page, size=size)
    return browser.execute_script(script("layout.js"))


def desktop_problems(m: dict) -> list[str]:
    return ([f"scrolls sideways: {n}" for n in m["scrolling"]]
            + [f"wider than the text column (it wraps): {n}" for n in m["wideLines"]]
            + [f"'look here' marker out of sight: {n}" for n in m["hiddenMarkers"]])


def phone_problems(m: dict, book: Path, page: str) -> list[str]:
    wrong = [f"'look here' marker out of sight: {n}" for n in m["hiddenMarkers"]]
    wrong += [f"inline code cut off: `{c}`" for c in m["clippedInline"]]
    wrong += [f"code block scrolls sideways: {n}" for n in m["scrolling"]]
    if m["pageScrollsSideways"]:
        wrong.append(f"the page scrolls sideways: it is {m['pageWidth']} px wide in a "
                     f"{m['viewWidth']} px window")
    for fig in m["figures"]:
        svg = (book / page).parent / fig["src"]
        smallest = svg_smallest_text(svg.read_text(encoding="utf-8")) if svg.is_file() else 16
        drawn = smallest * fig["drawnWidth"] / max(fig["naturalWidth"], 1)
        if round(drawn, 1) < MIN_FIGURE_TEXT:  # 11.4999 px is 11.5 px
            wrong.append(f"figure {fig['src']}: its smallest text is drawn at {drawn:.1f} px "
                         f"(at least {MIN_FIGURE_TEXT} px)")
        if not fig["scrollBox"] or not fig["fullSizeLink"]:
            wrong.append(f"figure {fig['src']}: needs a scroll box and a full-size link on a phone")
    return wrong


@pytest.mark.parametrize("page", PAGES)
def test_code_fits_the_column_at_1280(browser, book_url, page: str) -> None:
    m = measure(browser, book_url, page, DESKTOP)
    fail_with(f"{page} at {DESKTOP[0]} px: code that does not fit "
              "(lines the reader types and output: 60 characters at most)",
              desktop_problems(m))


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_a_phone(browser, book_url, book_html: Path, page: str) -> None:
    script_errors(browser)  # forget what earlier pages wrote
    m = measure(browser, book_url, page, PHONE)
    fail_with(f"{page} on a {PHONE[0]} px phone: something is cut off or too small",
              phone_problems(m, book_html, page))
    fail_with(f"{page}: the book's scripts failed", script_errors(browser))


# Mean brightness (0 dark .. 1 light) of a figure as drawn, with the page's CSS filter.
FIGURE_BRIGHTNESS = """
const done = arguments[arguments.length - 1];
const img = document.querySelector('main .figure-scroll img');
if (!img) { done(null); return; }
const c = document.createElement('canvas');
c.width = 200; c.height = 150;
const ctx = c.getContext('2d');
ctx.filter = getComputedStyle(img).filter === 'none' ? 'none' : getComputedStyle(img).filter;
const draw = () => {
    ctx.drawImage(img, 0, 0, c.width, c.height);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) {
        sum += (0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2]) / 255;
    }
    done(sum / (px.length / 4));
};
img.complete ? draw() : img.addEventListener('load', draw);
"""

FIGURE_PAGES = [p for p in PAGES if list((REPO / "lessons" / Path(p).parent).glob("*.svg"))
                and "/" in p]


@pytest.mark.parametrize("page", FIGURE_PAGES)
def test_figures_follow_the_dark_themes(browser, book_url, page: str) -> None:
    light = None
    for theme in ("light",) + DARK_THEMES:
        open_book_page(browser, book_url, page, theme=theme)
        brightness = browser.execute_async_script(FIGURE_BRIGHTNESS)
        assert brightness is not None, f"✖ {page} has no figure in a .figure-scroll box"
        if theme == "light":
            light = brightness
            continue
        assert brightness < 0.45, (
            f"✖ {page}: in the {theme} theme the figure is a bright box "
            f"(brightness {brightness:.2f}; light theme {light:.2f}). It must follow the dark theme.")


def axe_violations(browser) -> list:
    browser.execute_script(AXE_JS.read_text(encoding="utf-8"))
    return browser.execute_async_script(script("axe-run.js"))


@pytest.fixture(scope="module")
def axe_present() -> None:
    if not AXE_JS.is_file():
        pytest.fail(f"✖ axe-core is missing ({AXE_JS}). "
                    "Install it with: bash scripts/setup-test-tools.sh", pytrace=False)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("page", PAGES)
def test_axe_finds_no_violations(browser, book_url, axe_present, page: str, theme: str) -> None:
    open_book_page(browser, book_url, page, theme=theme)
    browser.execute_script("document.getElementById('reading-settings-toggle').click();")
    assert browser.execute_script("return !document.getElementById('reading-settings').hidden;")
    found = axe_violations(browser)
    fail_with(f"axe-core finds accessibility problems on {page} ({theme} theme, reading settings open)",
              [f"{v['id']} ({v['impact']}, {v['count']}x): {v['help']} at {', '.join(v['nodes'])}"
               for v in found])


# The colour of every coloured piece of code (highlight.js classes), per theme.
CODE_COLOURS = """
const out = {};
for (const el of document.querySelectorAll('main pre code [class*="hljs-"]')) {
    const name = [...el.classList].find((c) => c.startsWith('hljs-'));
    out[name] = getComputedStyle(el).color;
}
return out;
"""


def red_or_green(rgb: str) -> str | None:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", rgb)[:3])
    hue, light, sat = colorsys.rgb_to_hls(r, g, b)
    hue *= 360
    if sat < 0.25 or light < 0.12 or light > 0.92:
        return None  # grey, black or white: not a colour pair
    if hue < 20 or hue >= 340:
        return "red"
    if 75 <= hue < 165:
        return "green"
    return None


def colour_problems(colours: dict[str, str]) -> list[str]:
    kinds = {name: red_or_green(rgb) for name, rgb in colours.items()}
    reds = [n for n, k in kinds.items() if k == "red"]
    greens = [n for n, k in kinds.items() if k == "green"]
    if reds and greens:
        return [f"red: {', '.join(f'{n} {colours[n]}' for n in reds)}",
                f"green: {', '.join(f'{n} {colours[n]}' for n in greens)}"]
    return []


def test_code_colours_never_put_red_next_to_green(browser, book_url) -> None:
    """Every highlight.js class the book uses, in every theme mdBook offers."""
    wrong = []
    used = set()
    for page in PAGES:
        open_book_page(browser, book_url, page)
        for theme in ("light", "rust") + DARK_THEMES:
            browser.execute_script(
                "document.documentElement.classList.remove('light','coal','navy','ayu','rust');"
                "document.documentElement.classList.add(arguments[0]);", theme)
            colours = browser.execute_script(CODE_COLOURS)
            used.update(colours)
            wrong += [f"{page} ({theme}): {w}" for w in colour_problems(colours)]
    assert used, "✖ No coloured code found: the check measured nothing"
    fail_with("The code colours put red next to green (course-style.md rule 20)", wrong)


# ---- The same checks on a small book made to break them: each must fail there. ----

BAD_PAGE = """# Bad page

**Lesson 1 of 17** · about 5 minutes

<style>
/* Undo the book's wrapping and the figure box: lines and figures that do not fit. */
main pre > code.code-lines > .code-line { white-space: pre !important; }
main pre > code.code-lines { white-space: pre !important; overflow-x: auto !important; }
main .figure-scroll img { min-width: 0 !important; }
main .figure-scroll { overflow-x: visible !important; }
main .figure-full-size { display: none; }
main :not(pre) > code { white-space: nowrap !important; display: inline !important; }
main .hljs-string { color: #d00000 !important; }
main .hljs-attr { color: #00a000 !important; }
main .low { color: #bbbbbb; background: #ffffff; }
</style>

A paragraph with a long piece of inline code: `kubectl --context kind-kube-course --namespace my-space get pods --output wide --show-labels --sort-by=.metadata.name` in it.

<p class="low">Grey text on white, too faint to read.</p>

```bash,tools
kubectl --context kind-kube-course --namespace my-space get pods --output jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}'   # look here
```

```yaml,file
name: "echo"
image: kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566400000000000000000000000000
```

```text,output
1234567890123456789012345678901234567890123456789012345678901234
```

1. A step with 64 characters of output and a 60-character command:

   ```text,output
   1234567890123456789012345678901234567890123456789012345678901234
   ```

   ```bash,tools
   kubectl --context kind-kube-course -n my-space get pods -o w
   ```

![A small figure](small.svg)

<img src="small.svg">
"""

SMALL_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 300" width="1000" '
             'height="300"><rect width="1000" height="300" fill="#fdfcf8"/>'
             '<text x="10" y="40" font-size="14">Tiny text</text></svg>')


@pytest.fixture(scope="module")
def bad_book(tmp_path_factory: pytest.TempPathFactory):
    """A one-page book with the real theme, whose page breaks every rule above."""
    out = build_small_book(tmp_path_factory.mktemp("bad-book"), {"bad.md": BAD_PAGE},
                           {"small.svg": SMALL_SVG})
    with serve(out) as url:
        yield out, url


def test_the_page_checks_fail_on_a_bad_page(browser, bad_book) -> None:
    out, url = bad_book
    desktop = desktop_problems(measure(browser, url, "bad.html", DESKTOP))
    assert any("scrolls sideways" in w for w in desktop), desktop
    assert any("marker out of sight" in w for w in desktop), desktop
    phone = phone_problems(measure(browser, url, "bad.html", PHONE), out, "bad.html")
    assert any("inline code cut off" in w for w in phone), phone
    assert any("marker out of sight" in w for w in phone), phone
    assert any("drawn at" in w for w in phone), phone
    assert any("needs a scroll box" in w for w in phone), phone


def test_the_wrap_check_fails_on_a_line_too_long_for_the_column(browser, bad_book) -> None:
    """With the book's own wrapping on, a too-long line is still reported at 1280 px."""
    _, url = bad_book
    open_book_page(browser, url, "bad.html", size=DESKTOP)
    browser.execute_script("document.querySelector('main style').remove();")
    m = browser.execute_script(script("layout.js"))
    assert m["wrapped"] and not m["scrolling"] and not m["hiddenMarkers"], m
    # A real file's long line wraps too, and is counted apart (it may wrap, visibly).
    assert m["wrappedFileLines"] >= 1 and not [n for n in m["wrapped"] if "kindest" in n], m


def test_axe_and_colour_checks_fail_on_a_bad_page(browser, bad_book, axe_present) -> None:
    _, url = bad_book
    open_book_page(browser, url, "bad.html")
    found = {v["id"] for v in axe_violations(browser)}
    assert {"image-alt", "color-contrast"} <= found, found
    assert colour_problems(browser.execute_script(CODE_COLOURS)), "red and green were not found"


def test_a_script_error_is_reported(browser, bad_book) -> None:
    _, url = bad_book
    open_book_page(browser, url, "bad.html")
    script_errors(browser)
    browser.execute_script("setTimeout(() => { throw new Error('broken on purpose'); }, 0);")
    browser.execute_script("return new Promise(r => setTimeout(r, 100));")
    assert any("broken on purpose" in e for e in script_errors(browser))


def test_a_bright_figure_fails_the_dark_theme_check(browser, bad_book) -> None:
    _, url = bad_book
    open_book_page(browser, url, "bad.html", theme="navy")
    browser.execute_script("for (const i of document.querySelectorAll('img')) i.style.filter = 'none';")
    assert browser.execute_async_script(FIGURE_BRIGHTNESS) > 0.45


def test_the_column_holds_64_characters_of_code(browser, bad_book) -> None:
    """Output of 64 characters and a 60-character command fit at 1280 px, inside a step too."""
    _, url = bad_book
    open_book_page(browser, url, "bad.html", size=DESKTOP)
    browser.execute_script("document.querySelector('main style').remove();")
    m = browser.execute_script(script("layout.js"))
    assert not [n for n in m["wrapped"] if "1234567890" in n or "get pods -o" in n], m["wrapped"]
    assert len([n for n in m["wrapped"] if "--namespace my-space" in n]) == 1, "the long line must wrap"
