// Measures what a reader can and cannot see on one book page. Runs inside the browser
// (tests/book/test_browser_pages.py); returns plain data, the test decides what is wrong.
// Every folded <details> is opened first: what it holds must fit too.
const main = document.querySelector('#mdbook-content main') || document.querySelector('main');
for (const d of main.querySelectorAll('details')) {
    d.open = true;
}
const viewWidth = document.documentElement.clientWidth;
const shown = (el) => el.getClientRects().length > 0;
// Short name of an element for the report: "code block 3 (Tools shell): kubectl get ...".
const firstLine = (el) => el.textContent.trim().split('\n')[0].slice(0, 60);

// The visible part of an element: its box, cut by every scrolling or clipping ancestor
// and by the window.
function visibleBox(el) {
    let box = el.getBoundingClientRect();
    let left = Math.max(box.left, 0);
    let right = Math.min(box.right, viewWidth);
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') {
            const r = a.getBoundingClientRect();
            left = Math.max(left, r.left + a.clientLeft);
            right = Math.min(right, r.left + a.clientLeft + a.clientWidth);
        }
    }
    return { left, right };
}

function hiddenPart(rect, el) {
    const v = visibleBox(el);
    return rect.left < v.left - 1 || rect.right > v.right + 1;
}

const blocks = [...main.querySelectorAll('pre > code')].filter(shown);
const result = {
    viewWidth,
    pageScrollsSideways: document.documentElement.scrollWidth > viewWidth + 1,
    pageWidth: document.documentElement.scrollWidth,
    codeBlocks: blocks.length,
    scrolling: [],
    wrapped: [],
    wideLines: [],
    wrappedFileLines: 0,
    markers: 0,
    hiddenMarkers: [],
    inlineCode: 0,
    clippedInline: [],
    figures: [],
};

blocks.forEach((code, i) => {
    const pre = code.parentElement;
    const name = `code block ${i + 1}: ${firstLine(code)}`;
    if (code.scrollWidth > code.clientWidth + 1 || pre.scrollWidth > pre.clientWidth + 1) {
        result.scrolling.push(name);
    }
    // A line wider than the column wraps: more rendered lines than lines of text.
    const lines = code.textContent.replace(/\n$/, '').split('\n').length;
    const style = getComputedStyle(code);
    const inner = code.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const rendered = Math.round(inner / parseFloat(style.lineHeight));
    // A real file's lines (an image digest, a Make recipe) may be longer than the column:
    // they wrap visibly (hanging indent and a bar), and are counted, not refused.
    if (rendered > lines && code.classList.contains('file')) {
        result.wrappedFileLines += rendered - lines;
    } else if (rendered > lines) {
        result.wrapped.push(name);
        // Name the lines that wrap (the book's theme puts each line in a .code-line).
        const tall = [...code.querySelectorAll(':scope > .code-line')].map((l, n) => [l, n])
            .filter(([l]) => l.getBoundingClientRect().height > 1.5 * parseFloat(style.lineHeight));
        for (const [l, n] of tall) {
            result.wideLines.push(`code block ${i + 1}, line ${n + 1} (${l.textContent.length} characters): `
                + l.textContent.slice(0, 70));
        }
        if (tall.length === 0) {
            result.wideLines.push(name);
        }
    }
    // Every "look here" marker must be inside the visible part of its block.
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let at = node.data.indexOf('look here'); at >= 0;
            at = node.data.indexOf('look here', at + 1)) {
            result.markers += 1;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + 'look here'.length);
            const rects = [...range.getClientRects()];
            if (rects.length === 0 || rects.some((r) => hiddenPart(r, code))) {
                result.hiddenMarkers.push(name);
            }
        }
    }
});

for (const code of main.querySelectorAll(':not(pre) > code')) {
    if (!shown(code)) {
        continue;
    }
    result.inlineCode += 1;
    if ([...code.getClientRects()].some((r) => hiddenPart(r, code))) {
        result.clippedInline.push(code.textContent.slice(0, 60));
    }
}

// Figures: how wide they are drawn, against their own width, and what helps on a phone.
for (const img of main.querySelectorAll('img[src$=".svg"]')) {
    if (!shown(img)) {
        continue;
    }
    const box = img.closest('.figure-scroll');
    const link = img.closest('.figure')?.querySelector('a.figure-full-size');
    result.figures.push({
        src: img.getAttribute('src'),
        url: img.src,
        drawnWidth: img.getBoundingClientRect().width,
        naturalWidth: img.naturalWidth,
        scrollBox: !!box && getComputedStyle(box).overflowX === 'auto',
        fullSizeLink: link && shown(link) ? link.href : null,
        filter: getComputedStyle(img).filter,
    });
}
return result;
