"""The built book in a real browser (headless Chromium): the page-design rules, measured.

Rules 16-20 of course-style.md. The screenshot and the measured figures are saved in
tests/.artifacts/ so that a person can look at them.
"""

from __future__ import annotations

import json
from pathlib import Path

from browserkit import ARTIFACTS, DESKTOP, browser, set_viewport  # noqa: F401

LESSON = "04-containers/index.html"

# Measures body text, code and spacing in the page. Runs inside the browser.
MEASURE = """
const main = document.querySelector('#mdbook-content main') || document.querySelector('main');
const paras = [...main.querySelectorAll(':scope > p')].filter(p => p.innerText.trim().length > 0);
const px = v => parseFloat(v);
const loaded = (family) => [...document.fonts].some(
    f => f.family.replace(/"/g, '') === family && f.status === 'loaded');
const ch = (el) => {
    const probe = document.createElement('span');
    probe.textContent = '0'.repeat(100);
    probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;font:inherit';
    el.appendChild(probe);
    const w = probe.getBoundingClientRect().width / 100;
    probe.remove();
    return w;
};
const gaps = [];
for (const p of paras) {
    const next = p.nextElementSibling;
    if (next && next.tagName === 'P') {
        gaps.push(next.getBoundingClientRect().top - p.getBoundingClientRect().bottom);
    }
}
const first = paras[0];
const s = getComputedStyle(first);
const block = main.querySelector('pre > code');
const inline = main.querySelector('p code');
return {
    paragraphs: paras.length,
    fontFamily: s.fontFamily,
    fontSize: px(s.fontSize),
    lineHeight: px(s.lineHeight),
    textAlign: s.textAlign,
    hyphens: s.hyphens || s.webkitHyphens,
    widthPx: Math.max(...paras.map(p => p.getBoundingClientRect().width)),
    chPx: ch(first),
    smallestGap: gaps.length ? Math.min(...gaps) : null,
    blockCodeSize: block ? px(getComputedStyle(block).fontSize) : null,
    inlineCodeSize: inline ? px(getComputedStyle(inline).fontSize) : null,
    bodyFontLoaded: loaded('Open Sans'),
    background: getComputedStyle(document.documentElement).backgroundColor,
    italicEm: [...main.querySelectorAll('em')].filter(e => getComputedStyle(e).fontStyle === 'italic').length,
};
"""


def open_page(browser, book_html: Path, page: str, theme: str = "light") -> dict:
    """Open a page of the built book from its file, as a reader who double-clicks it would."""
    set_viewport(browser, DESKTOP)
    browser.get((book_html / page).as_uri())
    browser.execute_script(f"localStorage.setItem('mdbook-theme', '{theme}');")
    browser.refresh()
    browser.execute_script("return document.fonts.ready;")
    return browser.execute_script(MEASURE)


def test_lesson_page_meets_the_page_design_rules(browser, book_html: Path) -> None:
    m = open_page(browser, book_html, LESSON)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "book-lesson.png"))
    width_ch = m["widthPx"] / m["chPx"]
    figures = {**m, "lineHeightRatio": round(m["lineHeight"] / m["fontSize"], 3),
               "widthCh": round(width_ch, 1),
               "gapPerLine": round((m["smallestGap"] or 0) / m["lineHeight"], 3)}
    (ARTIFACTS / "book-browser.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print("Browser check:", json.dumps(figures))

    wrong = []
    if m["paragraphs"] < 3:
        wrong.append(f"the page {LESSON} has only {m['paragraphs']} paragraphs to measure")
    if m["fontSize"] < 18:
        wrong.append(f"body text is {m['fontSize']}px: it must be 18px or more (rule 16)")
    if "sans" not in m["fontFamily"].lower() or not m["bodyFontLoaded"]:
        wrong.append(f"the body font {m['fontFamily']} is not a loaded sans-serif font (rule 16)")
    if m["lineHeight"] < 1.5 * m["fontSize"]:
        wrong.append(f"line height is {figures['lineHeightRatio']} times the font size: "
                     "it must be 1.5 or more (rule 17)")
    if m["smallestGap"] is None or m["smallestGap"] < 1.5 * m["lineHeight"]:
        wrong.append(f"the space between paragraphs is {m['smallestGap']}px: it must be at least "
                     f"1.5 lines ({1.5 * m['lineHeight']:.0f}px) (rule 17)")
    if width_ch > 72:
        wrong.append(f"the text column is {width_ch:.0f} characters wide: "
                     "it must be about 70 or less (rule 18)")
    if m["textAlign"] not in ("left", "start"):
        wrong.append(f"text is aligned '{m['textAlign']}': it must be left aligned (rule 19)")
    if m["hyphens"] == "auto":
        wrong.append("words are hyphenated: turn hyphenation off (rule 19)")
    for kind in ("blockCodeSize", "inlineCodeSize"):
        if m[kind] is None or m[kind] < m["fontSize"]:
            wrong.append(f"{kind} is {m[kind]}px: code must be at least as big as the body text (rule 16)")
    if m["italicEm"]:
        wrong.append(f"{m['italicEm']} pieces of text are in italics (rule 7)")
    assert not wrong, "✖ The lesson page breaks the page-design rules:\n" + "\n".join(
        f"  {w}" for w in wrong) + f"\n  Measured: {json.dumps(figures)}"


def test_the_reader_can_switch_to_a_dark_theme(browser, book_html: Path) -> None:
    from selenium.webdriver.common.by import By

    light = open_page(browser, book_html, LESSON, "light")["background"]
    browser.find_element(By.ID, "mdbook-theme-toggle").click()
    browser.find_element(By.ID, "mdbook-theme-navy").click()
    dark = browser.execute_script(MEASURE)["background"]
    browser.save_screenshot(str(ARTIFACTS / "book-lesson-dark.png"))
    assert light != dark, f"✖ The theme button did not change the background ({light}) (rule 20)"
    assert light != "rgb(255, 255, 255)", "✖ The light theme must be off-white, not pure white (rule 20)"
    browser.execute_script("localStorage.removeItem('mdbook-theme');")


def test_text_grows_with_the_readers_font_setting(browser, book_html: Path) -> None:
    """Sizes are relative, so a bigger default font in the browser makes all text bigger."""
    normal = open_page(browser, book_html, LESSON)
    browser.execute_script("document.documentElement.style.fontSize = '125%';")
    bigger = browser.execute_script(MEASURE)
    assert bigger["fontSize"] >= 1.9 * normal["fontSize"] and \
        bigger["blockCodeSize"] >= bigger["fontSize"], (
            f"✖ Text did not grow with the browser's font size: {normal['fontSize']}px became "
            f"{bigger['fontSize']}px (rule 20)")


def test_the_reader_can_switch_to_a_dyslexia_font(browser, book_html: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, book_html, LESSON)
    browser.find_element(By.ID, "reading-settings-toggle").click()
    browser.find_element(By.ID, "reading-font-opendyslexic").click()
    browser.execute_script("return document.fonts.ready;")
    family, loaded = browser.execute_script(
        "const p = document.querySelector('main p');"
        "return [getComputedStyle(p).fontFamily, [...document.fonts].some("
        "f => f.family.replace(/\"/g, '') === 'OpenDyslexic' && f.status === 'loaded')];")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "book-lesson-opendyslexic.png"))
    browser.execute_script("localStorage.removeItem('kube-course-reading');")
    assert family.replace('"', "").startswith("OpenDyslexic") and loaded, (
        f"✖ The reading settings did not switch the text to OpenDyslexic: font {family}, loaded {loaded}")


def test_the_browser_check_can_fail(browser, tmp_path: Path) -> None:
    """A page with small, justified, wide text fails the same measurements."""
    page = tmp_path / "bad.html"
    page.write_text("<main>" + "<p style='font:12px serif;text-align:justify;line-height:1'>"
                    + "word " * 300 + "</p>" * 1 + "</main>", encoding="utf-8")
    browser.get(page.as_uri())
    m = browser.execute_script(MEASURE)
    assert m["fontSize"] < 18 and m["textAlign"] == "justify"
    assert m["lineHeight"] < 1.5 * m["fontSize"] and m["widthPx"] / m["chPx"] > 72
