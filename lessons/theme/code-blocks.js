// Code blocks and figures that fit the page (issue 9, part 1).
// Runs after mdBook's book.js, so the code is already coloured and has its copy button.
(() => {
    'use strict';
    const main = document.querySelector('#mdbook-content main');
    if (!main) {
        return;
    }

    // The label each kind of block shows, from the class after the language
    // (```bash,tools becomes <code class="language-bash tools">). See tests/book/lesson-format.md.
    const LABELS = {
        laptop: 'Laptop',
        tools: 'Tools shell',
        'terminal-2': 'Terminal 2',
        output: 'Output',
        file: 'File',
    };

    // Put each line of a block in its own element, so a long line can wrap with a hanging
    // indent. Coloured parts (<span class="hljs-...">) that run over a line end are split
    // in two. The newline stays between the lines: copying gives back the original text.
    function splitLines(code) {
        // Every piece of text, with the coloured spans around it (outermost first).
        const pieces = [];
        const collect = (node, chain) => {
            for (const child of node.childNodes) {
                if (child.nodeType === Node.TEXT_NODE) {
                    pieces.push({ text: child.data, chain });
                } else if (child.nodeType === Node.ELEMENT_NODE) {
                    collect(child, chain.concat(child));
                }
            }
        };
        collect(code, []);
        const lines = [document.createElement('span')];
        for (const { text, chain } of pieces) {
            text.split('\n').forEach((part, i) => {
                if (i > 0) {
                    lines.push(document.createElement('span'));
                }
                if (!part) {
                    return;
                }
                // Rebuild the coloured spans around this part, inside the current line.
                let parent = lines[lines.length - 1];
                for (const span of chain) {
                    parent = parent.appendChild(span.cloneNode(false));
                }
                parent.appendChild(document.createTextNode(part));
            });
        }
        if (lines.length > 1 && lines[lines.length - 1].childNodes.length === 0) {
            lines.pop(); // the newline at the end of the block
        }
        code.textContent = '';
        lines.forEach((line, i) => {
            line.className = 'code-line';
            if (i > 0) {
                code.appendChild(document.createTextNode('\n'));
            }
            code.appendChild(line);
        });
        code.classList.add('code-lines');
    }

    for (const code of main.querySelectorAll('pre > code')) {
        const pre = code.parentElement;
        const kind = Object.keys(LABELS).find((k) => code.classList.contains(k));
        const label = document.createElement('span');
        label.className = 'code-label' + (kind ? ' code-label-' + kind : '');
        label.textContent = kind ? LABELS[kind] : '';
        pre.insertBefore(label, code);
        splitLines(code);
    }

    // A block that still scrolls sideways (a very long word) can be reached with the keyboard.
    const focusScrollers = () => {
        for (const el of main.querySelectorAll('pre > code, .figure-scroll, .table-wrapper')) {
            if (el.scrollWidth > el.clientWidth + 1) {
                el.tabIndex = 0;
            } else if (!el.classList.contains('figure-scroll')) {
                el.removeAttribute('tabindex');
            }
        }
    };

    // Figures: a scroll box that keeps the text at least 12px on a phone, and a link to
    // the full-size drawing. mdBook wraps each picture in a zoom <label>; the box holds it.
    for (const img of main.querySelectorAll('img[src$=".svg"]')) {
        if (img.closest('.img-wrapper')) {
            continue; // mdBook's zoomed copy of the same picture
        }
        const holder = img.closest('label.checkbox-label') || img;
        const figure = document.createElement('div');
        figure.className = 'figure';
        const box = document.createElement('div');
        box.className = 'figure-scroll';
        box.tabIndex = 0;
        box.setAttribute('role', 'group');
        box.setAttribute('aria-label', 'Figure: ' + (img.alt || 'diagram'));
        holder.replaceWith(figure);
        box.appendChild(holder);
        figure.appendChild(box);
        const link = document.createElement('a');
        link.className = 'figure-full-size';
        link.href = img.getAttribute('src');
        link.textContent = 'Open the figure full size';
        figure.appendChild(link);
    }

    focusScrollers();
    window.addEventListener('resize', focusScrollers);
})();
