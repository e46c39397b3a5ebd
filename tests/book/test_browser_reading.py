"""The reader's tools, used in headless Chromium as a reader would: click, reload, still set.

Reading settings, reading ruler, read-aloud (the speech API is stubbed in the page and its
utterances recorded), tick boxes per step, glossary meanings, code labels, the copy button.
They run on a small book made with the real theme (lessons/theme) and the real glossary,
so they do not depend on what the lesson texts say today. Issue 9, parts 2 and 3.
"""

from __future__ import annotations

import json
import re

import pytest
from browserkit import (ARTIFACTS, DESKTOP, PHONE, browser, build_small_book,  # noqa: F401
                        open_book_page, serve)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

LESSON = """# 8. A lesson to test

**Lesson 8 of 17** · about 20 minutes

## Goal

Learn how the tools of book 0.1.0 work.

## New words

- [Taint](glossary.md#taint): a mark on a node that keeps pods away.

## Steps

1. Run this to list the nodes, with `kubectl -n my-space`:

   ```bash,tools
   kubectl --context kind-kube-course get nodes
   ```

2. Look at the output. It shows one node!

   ```text,output
   NAME                       STATUS
   kube-course-control-plane  Ready
   # ↑ look here
   ```

3. Open a second terminal and run this:

   ```bash,terminal-2
   make logs-echo
   ```

   <details>
   <summary>The whole file: echo.yaml</summary>

   ```yaml,file
   name: echo
   ```

   </details>

A [container](glossary.md#container) runs one image. Read more about it later.

```bash,laptop
make run
```

```yaml,file
name: "echo"  # a long comment that makes this line wrap on a phone, and then some more
```

## You did it

You can now:

- read which node runs a pod;
- use the tools of this book.
"""

SENTENCES = [
    "8. A lesson to test",
    "Lesson 8 of 17 · about 20 minutes",
    "Goal",
    "Learn how the tools of book 0.1.0 work.",
    "New words",
    "Taint: a mark on a node that keeps pods away.",
    "Steps",
    "Run this to list the nodes, with kubectl -n my-space:",
    "Look at the output.",
    "It shows one node!",
    "Open a second terminal and run this:",
    "The whole file: echo.yaml",
    "A container runs one image.",
    "Read more about it later.",
    "You did it",
    "You can now:",
    "read which node runs a pod;",
    "use the tools of this book.",
]
PAGE = "lesson.html"
READING_KEY = "kube-course-reading"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):
    out = build_small_book(tmp_path_factory.mktemp("reading-book"), {"lesson.md": LESSON})
    with serve(out) as url:
        yield url


def open_lesson(browser, url: str, **kwargs) -> None:
    open_book_page(browser, url, PAGE, **kwargs)


def open_panel(browser) -> None:
    browser.find_element(By.ID, "reading-settings-toggle").click()
    assert browser.find_element(By.ID, "reading-settings").is_displayed()


TEXT_STYLE = """
const p = document.querySelector('main p:not(.lesson-meta)');
const s = getComputedStyle(p);
const main = getComputedStyle(document.querySelector('main'));
const family = s.fontFamily.split(',')[0].replace(/"/g, '').trim();
return {size: parseFloat(s.fontSize), line: parseFloat(s.lineHeight),
        gap: parseFloat(s.marginBlockEnd), letter: parseFloat(main.letterSpacing) || 0,
        word: parseFloat(main.wordSpacing) || 0, family,
        loaded: document.fonts.check('1em "' + family + '"') &&
                [...document.fonts].some(f => f.family.replace(/"/g, '') === family && f.status === 'loaded')};
"""


def test_reading_settings_change_the_text_and_are_kept(browser, book) -> None:
    open_lesson(browser, book)
    before = browser.execute_script(TEXT_STYLE)
    open_panel(browser)
    Select(browser.find_element(By.ID, "reading-size")).select_by_visible_text("Big")
    Select(browser.find_element(By.ID, "reading-line")).select_by_visible_text("Wider")
    Select(browser.find_element(By.ID, "reading-letter")).select_by_visible_text("Wide")
    Select(browser.find_element(By.ID, "reading-word")).select_by_visible_text("Wider")
    browser.find_element(By.ID, "reading-font-lexend").click()
    browser.execute_script("return document.fonts.ready;")
    changed = browser.execute_script(TEXT_STYLE)
    browser.refresh()
    browser.execute_script("return document.fonts.ready;")
    kept = browser.execute_script(TEXT_STYLE)
    browser.save_screenshot(str(ARTIFACTS / "book-reading-settings.png"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    assert before["size"] == 20 and before["family"] == "Open Sans", before
    assert changed["size"] == pytest.approx(26, abs=0.1), changed
    assert changed["line"] == pytest.approx(2.1 * 26, abs=0.5), changed
    assert changed["letter"] == pytest.approx(0.05 * 26, abs=0.1), changed
    assert changed["word"] == pytest.approx(0.3 * 26, abs=0.1), changed
    assert changed["gap"] >= 1.5 * changed["line"] - 0.5, "paragraph gap below 1.5 lines"
    assert changed["family"] == "Lexend" and changed["loaded"], changed
    assert kept == changed, f"✖ The settings were not kept after a reload: {kept} != {changed}"
    open_panel(browser)
    assert Select(browser.find_element(By.ID, "reading-size")).first_selected_option.text == "Big"
    assert browser.find_element(By.ID, "reading-font-lexend").is_selected()

    browser.find_element(By.ID, "reading-size").send_keys(Keys.ESCAPE)
    assert not browser.find_element(By.ID, "reading-settings").is_displayed(), "✖ Escape did not close the panel"
    assert browser.switch_to.active_element.get_attribute("id") == "reading-settings-toggle"
    open_panel(browser)
    browser.find_element(By.ID, "reading-reset").click()
    browser.refresh()
    assert browser.execute_script(TEXT_STYLE)["size"] == 20
    assert browser.execute_script(f"return localStorage.getItem('{READING_KEY}');") is None


@pytest.mark.parametrize("font, family", [("atkinson", "Atkinson Hyperlegible Next"),
                                          ("lexend", "Lexend"), ("opendyslexic", "OpenDyslexic"),
                                          ("default", "Open Sans")])
def test_every_font_is_served_by_the_book(browser, book, font: str, family: str) -> None:
    open_lesson(browser, book, storage={READING_KEY: json.dumps({"font": font})})
    style = browser.execute_script(TEXT_STYLE)
    assert style["family"] == family and style["loaded"], (
        f"✖ The font {family} did not load from the book's own files: {style}")


# Runs before the page: records the text size at the moment the lesson's content is parsed.
EARLY_PROBE = """
window.__early = null;
new MutationObserver((_, obs) => {
    if (document.getElementById('mdbook-content')) {
        window.__early = getComputedStyle(document.documentElement).getPropertyValue('--reading-scale');
        obs.disconnect();
    }
}).observe(document, {childList: true, subtree: true});
"""


def test_reading_settings_apply_before_the_page_is_drawn(browser, book) -> None:
    probe = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": EARLY_PROBE})
    try:
        open_lesson(browser, book, storage={READING_KEY: json.dumps({"size": 1.5})})
        early = browser.execute_script("return window.__early;")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                {"identifier": probe["identifier"]})
    assert early is not None and early.strip() == "1.5", (
        f"✖ The text size was {early!r} when the lesson appeared: it must be set in the page head")


RULER = """
const band = document.getElementById('reading-ruler');
const r = band.getBoundingClientRect();
return {shown: !band.hidden && r.height > 0, top: r.top, bottom: r.bottom};
"""


def test_reading_ruler_follows_the_pointer_and_the_focused_step(browser, book) -> None:
    open_lesson(browser, book)
    para = browser.find_element(By.CSS_SELECTOR, "main p:not(.lesson-meta)")
    ActionChains(browser).move_to_element(para).perform()
    assert not browser.execute_script(RULER)["shown"], "✖ The ruler shows while it is off"

    open_panel(browser)
    browser.find_element(By.ID, "reading-ruler-toggle").click()
    browser.refresh()
    assert browser.execute_script("return document.documentElement.classList.contains('reading-ruler-on');"), \
        "✖ The ruler setting was not kept after a reload"
    para = browser.find_element(By.CSS_SELECTOR, "main p:not(.lesson-meta)")
    ActionChains(browser).move_to_element(para).perform()
    band = browser.execute_script(RULER)
    box = para.rect
    middle = box["y"] - browser.execute_script("return scrollY;") + box["height"] / 2
    assert band["shown"] and band["top"] <= middle <= band["bottom"], (
        f"✖ The ruler is not on the line under the pointer: band {band}, pointer at y={middle}")
    assert band["bottom"] - band["top"] < 2 * 31 + 4, f"✖ The ruler covers more than a line: {band}"

    tick = browser.find_elements(By.CSS_SELECTOR, "main li .step-done input")[1]
    browser.execute_script("arguments[0].focus();", tick)
    marked = browser.execute_script(
        "return [...document.querySelectorAll('main li.ruler-focus')].map(li => li.textContent.trim().slice(0, 30));")
    assert len(marked) == 1 and marked[0].startswith("Look at the output."), (
        f"✖ The focused step is not marked: {marked}")


# Replaces the browser's voice: every utterance is recorded with the text marked on screen
# when it starts, then "ends" at once so the next one comes.
SPEECH_STUB = """
window.__spoken = [];
speechSynthesis.speak = (u) => {
    setTimeout(() => {
        u.onstart && u.onstart();
        const h = CSS.highlights.get('read-aloud');
        window.__spoken.push({text: u.text, marked: h ? [...h][0].toString() : null});
        u.onend && u.onend();
    }, 0);
};
speechSynthesis.cancel = () => { window.__cancelled = (window.__cancelled || 0) + 1; };
"""


def read_aloud(browser, spell: bool = False) -> list[dict]:
    browser.execute_script(SPEECH_STUB)
    open_panel(browser)
    if spell:
        browser.find_element(By.ID, "read-aloud-code").click()
    browser.find_element(By.ID, "read-aloud").click()
    browser.execute_async_script("""
        const done = arguments[0];
        const wait = () => document.getElementById('read-aloud').getAttribute('aria-pressed') === 'false'
            ? done() : setTimeout(wait, 20);
        wait();""")
    return browser.execute_script("return window.__spoken;")


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_read_aloud_speaks_each_sentence_and_marks_it(browser, book) -> None:
    open_lesson(browser, book)
    spoken = read_aloud(browser)
    texts = [s["text"] for s in spoken]
    assert texts == SENTENCES, f"✖ Read-aloud spoke other sentences:\n{json.dumps(texts, indent=1)}"
    for s in spoken:
        assert squash(s["marked"] or "") == s["text"], f"✖ The marked text is not the sentence: {s}"
    assert not any("kubectl --context" in t or "look here" in t for t in texts), \
        "✖ Read-aloud read a code block"


def test_read_aloud_spells_code_on_request(browser, book) -> None:
    open_lesson(browser, book)
    texts = [s["text"] for s in read_aloud(browser, spell=True)]
    assert "Run this to list the nodes, with kubectl dash n my dash space :" in texts, texts
    assert "kubectl dash dash context kind dash kube dash course get nodes" in texts, texts
    browser.refresh()
    open_panel(browser)
    assert browser.find_element(By.ID, "read-aloud-code").is_selected(), \
        "✖ 'Read code too' was not kept after a reload"


def test_read_aloud_stops_when_asked(browser, book) -> None:
    open_lesson(browser, book)
    browser.execute_script(SPEECH_STUB + "speechSynthesis.speak = (u) => { window.__spoken.push(u.text); };")
    open_panel(browser)
    button = browser.find_element(By.ID, "read-aloud")
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    assert browser.execute_script("return window.__spoken.length;") == 1
    assert browser.execute_script("return window.__cancelled >= 1 && !CSS.highlights.has('read-aloud');")


def test_step_tick_boxes_are_kept(browser, book) -> None:
    open_lesson(browser, book)
    boxes = browser.find_elements(By.CSS_SELECTOR, "main ol > li > .step-done input")
    labels = [b.find_element(By.XPATH, "..").text for b in boxes]
    assert labels == ["Done: step 1", "Done: step 2", "Done: step 3"], labels
    boxes[1].click()
    browser.refresh()
    ticked = [b.is_selected() for b in browser.find_elements(
        By.CSS_SELECTOR, "main ol > li > .step-done input")]
    assert ticked == [False, True, False], f"✖ The ticks were not kept after a reload: {ticked}"
    # The tick comes last in its step, after a folded file.
    last = browser.execute_script(
        "return [...document.querySelectorAll('main ol > li')].map(li => li.lastElementChild.className);")
    assert last == ["step-done"] * 3, last
    assert browser.find_elements(By.CSS_SELECTOR, "main ol > li:nth-child(3) > details")
    # Outside the steps there are no tick boxes.
    assert len(browser.find_elements(By.CSS_SELECTOR, "main ul .step-done")) == 0


def test_meta_line_and_you_did_it_are_boxes(browser, book) -> None:
    open_lesson(browser, book)
    boxes = browser.execute_script("""
        return ['.lesson-meta', '.you-did-it'].map((sel) => {
            const el = document.querySelector('main ' + sel);
            if (!el) return null;
            const s = getComputedStyle(el);
            const text = (el.querySelector('h2') || el).textContent.trim();
            return {text, border: parseFloat(s.borderTopWidth)};
        });""")
    assert boxes[0] == {"text": "Lesson 8 of 17 · about 20 minutes", "border": 2}, boxes
    assert boxes[1] and boxes[1]["text"] == "You did it" and boxes[1]["border"] == 2, boxes


def glossary_meaning(browser, url: str, anchor: str) -> str:
    """The first sentence of a glossary entry, read from the built glossary page."""
    browser.get(url + "glossary.html")
    text = browser.execute_script(
        "return document.getElementById(arguments[0]).nextElementSibling.textContent;", anchor)
    return re.match(r".+?[.!?](\s|$)", squash(text)).group(0).strip()


def wait_for_glossary(browser) -> None:
    """The meanings come from the glossary page: wait until the page has read it."""
    browser.execute_async_script("""
        const done = arguments[0];
        const wait = () => document.querySelector('main.glossary-ready') ? done() : setTimeout(wait, 20);
        wait();""")


TIP = "const t = document.getElementById('glossary-tip'); return t && !t.hidden ? t.textContent : null;"


def test_glossary_words_show_their_meaning(browser, book) -> None:
    container = glossary_meaning(browser, book, "container")
    open_lesson(browser, book)
    wait_for_glossary(browser)
    prose = browser.find_element(By.CSS_SELECTOR, "main p a[href*='glossary.html#container']")
    new_word = browser.find_element(By.CSS_SELECTOR, "main li a[href*='glossary.html#taint']")
    assert browser.execute_script(TIP) is None
    ActionChains(browser).move_to_element(prose).perform()
    assert browser.execute_script(TIP) == f"container: {container}", "✖ hover shows no meaning"
    ActionChains(browser).move_to_element(browser.find_element(By.CSS_SELECTOR, "main h1")).perform()
    assert browser.execute_script(TIP) is None, "✖ the meaning stays after the pointer leaves"
    browser.execute_script("arguments[0].focus();", new_word)
    assert browser.execute_script(TIP) == "Taint: a mark on a node that keeps pods away."
    assert new_word.get_attribute("aria-describedby") == "glossary-tip"


def test_a_tap_on_a_glossary_word_shows_its_meaning(browser, book) -> None:
    open_lesson(browser, book, size=PHONE)
    wait_for_glossary(browser)
    link = browser.find_element(By.CSS_SELECTOR, "main p a[href*='glossary.html#container']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    r = browser.execute_script("const r = arguments[0].getBoundingClientRect(); "
                               "return [r.left + r.width / 2, r.top + r.height / 2];", link)
    for kind in ("touchStart", "touchEnd"):
        browser.execute_cdp_cmd("Input.dispatchTouchEvent", {
            "type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": r[0], "y": r[1]}]})
    assert browser.current_url.endswith(PAGE), "✖ the first tap left the page"
    assert (browser.execute_script(TIP) or "").startswith("container: ")


# The text of each code block as the book wrote it, read from the page before any script.
ORIGINAL_CODE = """
const done = arguments[0];
fetch(location.href).then(r => r.text()).then(html => {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    done([...doc.querySelectorAll('main pre > code')].map(c => c.textContent));
});
"""


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_copying_code_gives_the_original_text(browser, book, size) -> None:
    open_lesson(browser, book, size=size)
    original = browser.execute_async_script(ORIGINAL_CODE)
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        "origin": book.rstrip("/")})
    blocks = browser.find_elements(By.CSS_SELECTOR, "main pre")
    browser.execute_script("for (const d of document.querySelectorAll('main details')) d.open = true;")
    assert len(blocks) == len(original) == 6
    wrapped = browser.execute_script(
        "return [...document.querySelectorAll('main pre .code-line')].some(l => l.getClientRects()[0].height > 40);")
    if size == PHONE:
        assert wrapped, "✖ no line wraps on the phone: this check would prove nothing"
    for pre, text in zip(blocks, original):
        button = pre.find_element(By.CSS_SELECTOR, ".clip-button")
        assert button.is_displayed() and button.value_of_css_property("opacity") == "1", \
            "✖ the copy button is hidden until hovered"
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()
        copied = browser.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('ERROR ' + e));")
        assert copied.rstrip("\n") == text.rstrip("\n"), f"✖ the copy button gave {copied!r}"
        selected = browser.execute_script("""
            const code = arguments[0].querySelector('code');
            const range = document.createRange(); range.selectNodeContents(code);
            const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
            return sel.toString();""", pre)
        assert selected.rstrip("\n") == text.rstrip("\n"), f"✖ selecting gave {selected!r}"


def test_code_blocks_say_where_they_run(browser, book) -> None:
    open_lesson(browser, book)
    labels = browser.execute_script(
        "return [...document.querySelectorAll('main pre > .code-label')].map(l => l.textContent);")
    assert labels == ["Tools shell", "Output", "Terminal 2", "File", "Laptop", "File"], labels
    # The label is not copied with the code when a reader selects the whole block.
    selected = browser.execute_script("""
        const pre = document.querySelector('main pre');
        const range = document.createRange(); range.selectNode(pre);
        const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
        return sel.toString();""")
    assert "Tools shell" not in selected and "kubectl" in selected, selected


def test_the_table_of_contents_button_works(browser, book) -> None:
    open_lesson(browser, book, size=PHONE)
    button = browser.find_element(By.ID, "toc-toggle")
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert browser.execute_script("return document.documentElement.classList.contains('sidebar-visible');")
