// The parts of a lesson page (tests/book/lesson-format.md) made easy to find and use:
// the "Lesson N of 17" line and "You did it" as boxes, a tick box per step that the
// browser keeps, and the short meaning of each glossary word on hover, focus or tap.
(() => {
    'use strict';
    const main = document.querySelector('#mdbook-content main');
    if (!main) {
        return;
    }
    const page = location.pathname.replace(/index\.html$/, '');

    // Everything after a heading, up to the next heading of the same level.
    const sectionAfter = (heading) => {
        const parts = [];
        for (let el = heading.nextElementSibling; el && el.tagName !== heading.tagName;
            el = el.nextElementSibling) {
            parts.push(el);
        }
        return parts;
    };

    // "**Lesson 8 of 17** · about 20 minutes", right under the title.
    const title = main.querySelector('h1');
    const meta = title && title.nextElementSibling;
    if (meta && meta.tagName === 'P' && /^Lesson \d+ of \d+\b/.test(meta.textContent.trim())) {
        meta.classList.add('lesson-meta');
    }

    // "## You did it" and its list, in one box.
    const done = main.querySelector('h2#you-did-it');
    if (done) {
        const box = document.createElement('section');
        box.className = 'you-did-it';
        box.setAttribute('aria-labelledby', 'you-did-it');
        const parts = sectionAfter(done);
        done.replaceWith(box);
        box.append(done, ...parts);
    }

    // A tick box at the end of each numbered step, kept in localStorage per page.
    const stepsHeading = main.querySelector('h2#steps');
    const steps = stepsHeading && sectionAfter(stepsHeading).find((el) => el.tagName === 'OL');
    if (steps) {
        const key = 'kube-course-steps:' + page;
        let ticked = [];
        try {
            ticked = JSON.parse(localStorage.getItem(key) || '[]');
        } catch (e) {
            ticked = [];
        }
        const first = Number(steps.getAttribute('start') || 1);
        [...steps.children].forEach((li, i) => {
            const number = first + i;
            const label = document.createElement('label');
            label.className = 'step-done';
            const box = document.createElement('input');
            box.type = 'checkbox';
            box.checked = ticked.includes(number);
            li.classList.toggle('step-is-done', box.checked);
            label.append(box, document.createTextNode(`Done: step ${number}`));
            li.appendChild(label);
            box.addEventListener('change', () => {
                ticked = ticked.filter((n) => n !== number);
                if (box.checked) {
                    ticked.push(number);
                }
                li.classList.toggle('step-is-done', box.checked);
                localStorage.setItem(key, JSON.stringify(ticked));
            });
        });
    }

    // Glossary words. The meanings come from the built glossary page (when the book is
    // served over http, as `make serve-book` does), and from this page's "New words" list.
    const links = [...main.querySelectorAll('a[href*="glossary.html#"]')];
    if (links.length === 0) {
        return;
    }
    const meanings = new Map();
    const firstSentence = (text) => {
        const m = text.trim().replace(/\s+/g, ' ').match(/^.+?[.!?](\s|$)/);
        return m ? m[0].trim() : text.trim();
    };
    // "- [Taint](../glossary.md#taint): a mark on a node that keeps pods away."
    for (const a of links) {
        const li = a.closest('li');
        if (li && li.firstElementChild === a) {
            const text = li.textContent.slice(a.textContent.length).replace(/^\s*:\s*/, '');
            if (text) {
                meanings.set(a.hash.slice(1), text.trim());
            }
        }
    }
    // The first sentence under each heading of the glossary page.
    const readGlossary = (doc) => {
        for (const h of doc.querySelectorAll('main h2[id]')) {
            const p = h.nextElementSibling;
            if (p && p.tagName === 'P' && !meanings.has(h.id)) {
                meanings.set(h.id, firstSentence(p.textContent));
            }
        }
    };
    const glossaryUrl = new URL(links[0].getAttribute('href'), location.href);
    glossaryUrl.hash = '';
    const loaded = location.protocol.startsWith('http')
        ? fetch(glossaryUrl).then((r) => (r.ok ? r.text() : ''))
            .then((html) => readGlossary(new DOMParser().parseFromString(html, 'text/html')))
            .catch(() => { /* the page's own list still works */ })
        : Promise.resolve();

    // One box for all links; it says the word, its meaning, and how to open the glossary.
    const tip = document.createElement('div');
    tip.className = 'glossary-tip';
    tip.id = 'glossary-tip';
    tip.setAttribute('role', 'tooltip');
    tip.hidden = true;
    main.appendChild(tip);
    let shownFor = null;

    const show = (a) => {
        const meaning = meanings.get(decodeURIComponent(a.hash.slice(1)));
        if (!meaning) {
            return false;
        }
        tip.textContent = '';
        const word = document.createElement('strong');
        word.textContent = a.textContent + ': ';
        tip.append(word, document.createTextNode(meaning));
        const r = a.getBoundingClientRect();
        const box = main.getBoundingClientRect();
        tip.hidden = false;
        // main is the positioned parent of the box (custom.css).
        tip.style.top = `${r.bottom - box.top + 6}px`;
        tip.style.left = `${Math.max(0, Math.min(r.left - box.left, box.width - tip.offsetWidth))}px`;
        a.setAttribute('aria-describedby', tip.id);
        shownFor = a;
        return true;
    };
    const hide = () => {
        if (shownFor) {
            shownFor.removeAttribute('aria-describedby');
        }
        tip.hidden = true;
        shownFor = null;
    };

    loaded.then(() => {
        main.classList.add('glossary-ready');
        for (const a of links) {
            a.classList.add('glossary-word');
            a.addEventListener('mouseenter', () => show(a));
            a.addEventListener('mouseleave', hide);
            a.addEventListener('focus', () => show(a));
            a.addEventListener('blur', hide);
            // On a touch screen the first tap shows the meaning, a second tap opens the glossary.
            // (The tap also focuses the link, so look at what was shown before the tap.)
            let firstTap = false;
            a.addEventListener('pointerdown', (e) => {
                firstTap = e.pointerType === 'touch' && shownFor !== a;
            });
            a.addEventListener('click', (e) => {
                if (firstTap && show(a)) {
                    e.preventDefault();
                }
                firstTap = false;
            });
        }
        document.addEventListener('keydown', (e) => {
            if (e.key === 'Escape') {
                hide();
            }
        });
    });
})();
