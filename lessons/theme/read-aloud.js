// Read the lesson aloud with the browser's own voice (speechSynthesis), one sentence at a
// time, and mark the sentence being read. Code blocks are skipped; "Spell out code" reads
// them too, and spells code sign by sign ("kubectl dash n").
(() => {
    'use strict';
    const reading = window.kubeCourseReading;
    const main = document.querySelector('#mdbook-content main');
    if (!reading || !main || !('speechSynthesis' in window)) {
        return;
    }
    const { more, saved, checkbox } = reading;

    // What a sign is called when code is spelled out.
    const SIGNS = {
        '-': 'dash', '.': 'dot', '/': 'slash', ':': 'colon', '=': 'equals', '_': 'underscore',
        '$': 'dollar', '|': 'pipe', '>': 'greater than', '<': 'less than', '&': 'and',
        '~': 'tilde', '*': 'star', '#': 'hash', '@': 'at', '{': 'open brace', '}': 'close brace',
        '(': 'open bracket', ')': 'close bracket', '[': 'open square bracket',
        ']': 'close square bracket', '"': 'quote', "'": 'quote', '\\': 'backslash', ',': 'comma',
    };
    const spell = (code) => code.trim().split(/(\s+|[^A-Za-z0-9\s])/).filter((s) => s.trim())
        .map((s) => SIGNS[s] || s).join(' ');

    // The blocks of text that are read, in page order. A block's own text does not include
    // the text of blocks inside it (a step <li> holds <p> and <pre>).
    const BLOCKS = 'h1, h2, h3, h4, p, li, td, th, dt, dd, summary, pre';
    const SKIP = '.code-label, .buttons, .step-done, .glossary-tip, .figure-full-size, #reading-settings';

    // Sentences of the page: their text to speak and the Range that covers them on screen.
    function sentences(spellCode) {
        const out = [];
        for (const block of main.querySelectorAll(BLOCKS)) {
            if (block.closest(SKIP) || (block.tagName !== 'PRE' && block.closest('pre'))) {
                continue;
            }
            if (block.tagName === 'PRE') {
                if (spellCode) {
                    const code = block.querySelector('code');
                    const range = document.createRange();
                    range.selectNodeContents(code);
                    out.push({ text: spell(code.textContent), range });
                }
                continue;
            }
            // The text nodes that belong to this block, and where each starts in its text.
            const nodes = [];
            let text = '';
            const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT, {
                acceptNode: (n) => (n.parentElement.closest(BLOCKS) === block
                    && !n.parentElement.closest(SKIP) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT),
            });
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                nodes.push({ node: n, start: text.length, code: !!n.parentElement.closest('code') });
                text += n.data;
            }
            // A sentence ends at . ! ? followed by a space, or at the end of the block
            // (so "echo.yaml" and "0.1.0" stay whole).
            // A number like the "8." in "8. kube-scheduler" starts a sentence, it does not end one.
            const re = /[\s\S]+?(?:[.!?]+(?=\s|$)|$)/g;
            let carry = null;
            for (const m of text.matchAll(re)) {
                const raw = m[0];
                const lead = raw.length - raw.trimStart().length;
                const start = carry !== null ? carry : m.index + lead;
                const end = m.index + raw.trimEnd().length;
                carry = null;
                if (/^\s*\d+[.)]\s*$/.test(raw)) {
                    carry = start;
                    continue;
                }
                if (end <= start || !/[A-Za-z0-9]/.test(raw)) {
                    continue;
                }
                const at = (offset, isEnd) => {
                    const hit = nodes.find((x) => (isEnd ? offset <= x.start + x.node.length
                        : offset < x.start + x.node.length));
                    return [hit.node, offset - hit.start];
                };
                const range = document.createRange();
                range.setStart(...at(start, false));
                range.setEnd(...at(end, true));
                // Spoken text: inline code spelled out on request, spaces made single.
                let spoken = '';
                for (const x of nodes) {
                    const a = Math.max(start, x.start);
                    const b = Math.min(end, x.start + x.node.length);
                    if (a < b) {
                        const part = x.node.data.slice(a - x.start, b - x.start);
                        spoken += spellCode && x.code ? ` ${spell(part)} ` : part;
                    }
                }
                out.push({ text: spoken.replace(/\s+/g, ' ').trim(), range });
            }
        }
        return out;
    }

    // ---- Reading, one sentence after the other ----
    let queue = [];
    let current = -1;
    const mark = (range) => {
        if (window.CSS && CSS.highlights) {
            if (range) {
                CSS.highlights.set('read-aloud', new Highlight(range));
            } else {
                CSS.highlights.delete('read-aloud');
            }
        }
    };
    const stop = () => {
        queue = [];
        current = -1;
        speechSynthesis.cancel();
        mark(null);
        setState(false);
    };
    const next = () => {
        current += 1;
        if (current >= queue.length) {
            stop();
            return;
        }
        const sentence = queue[current];
        const u = new SpeechSynthesisUtterance(sentence.text);
        u.lang = document.documentElement.lang || 'en';
        u.onstart = () => {
            mark(sentence.range);
            const box = sentence.range.getBoundingClientRect();
            if (box.top < 60 || box.bottom > innerHeight) {
                window.scrollBy({ top: box.top - innerHeight / 3 });
            }
        };
        const mine = queue;
        u.onend = () => {
            if (queue === mine) { // not stopped in the meantime
                next();
            }
        };
        u.onerror = u.onend;
        speechSynthesis.speak(u);
    };

    // ---- Buttons in the reading settings panel ----
    const play = document.createElement('button');
    play.type = 'button';
    play.id = 'read-aloud';
    const setState = (on) => {
        play.textContent = on ? '\u25A0 Stop reading' : '\u25B6 Read this page aloud';
        play.setAttribute('aria-pressed', String(on));
    };
    setState(false);
    play.addEventListener('click', () => {
        if (queue.length) {
            stop();
            return;
        }
        speechSynthesis.cancel();
        queue = sentences(!!saved.spellCode);
        current = -1;
        setState(true);
        next();
    });

    const spellLabel = checkbox('spellCode', 'read-aloud-code', 'Read code too, sign by sign');
    more.prepend(play, spellLabel);
    window.addEventListener('pagehide', () => speechSynthesis.cancel());
})();
