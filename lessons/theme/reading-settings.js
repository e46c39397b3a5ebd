// The "Reading settings" button in the menu bar, on every page: text size, line spacing,
// letter and word spacing, font, and the reading ruler. The browser keeps the choices
// (localStorage 'kube-course-reading'); head.hbs applies them before the page is drawn.
(() => {
    'use strict';
    const KEY = 'kube-course-reading';
    const html = document.documentElement;
    const CHOICES = {
        size: { label: 'Text size', css: '--reading-scale', values: [
            [1, 'Normal'], [1.15, 'Bigger'], [1.3, 'Big'], [1.5, 'Very big'], [1.75, 'Huge']] },
        line: { label: 'Line spacing', css: '--reading-line', values: [
            [1.55, 'Normal'], [1.8, 'Wide'], [2.1, 'Wider'], [2.5, 'Widest']] },
        letter: { label: 'Letter spacing', css: '--reading-letter', values: [
            [0, 'Normal'], [0.05, 'Wide'], [0.1, 'Wider'], [0.15, 'Widest']] },
        word: { label: 'Word spacing', css: '--reading-word', values: [
            [0, 'Normal'], [0.15, 'Wide'], [0.3, 'Wider'], [0.5, 'Widest']] },
    };
    const FONTS = [
        ['default', 'Open Sans (the book\u2019s font)'],
        ['atkinson', 'Atkinson Hyperlegible Next'],
        ['lexend', 'Lexend'],
        ['opendyslexic', 'OpenDyslexic'],
    ];

    let saved = {};
    try {
        saved = JSON.parse(localStorage.getItem(KEY) || '{}');
    } catch (e) {
        saved = {};
    }
    const save = () => localStorage.setItem(KEY, JSON.stringify(saved));

    // Apply one setting to the page (head.hbs does the same before the first paint).
    const apply = () => {
        for (const [key, c] of Object.entries(CHOICES)) {
            if (typeof saved[key] === 'number') {
                html.style.setProperty(c.css, String(saved[key]));
            } else {
                html.style.removeProperty(c.css);
            }
        }
        for (const [font] of FONTS) {
            html.classList.toggle('font-' + font, font !== 'default' && saved.font === font);
        }
        html.classList.toggle('reading-ruler-on', !!saved.ruler);
        ruler.update();
    };

    // ---- The reading ruler: a band on the line under the pointer; a frame on the step
    // that holds the keyboard focus. ----
    const ruler = (() => {
        const band = document.createElement('div');
        band.id = 'reading-ruler';
        band.hidden = true;
        band.setAttribute('aria-hidden', 'true');
        document.body.appendChild(band);
        let focused = null;
        const on = () => html.classList.contains('reading-ruler-on');
        const moveTo = (x, y) => {
            const main = document.querySelector('#mdbook-content main');
            const caret = document.caretRangeFromPoint && document.caretRangeFromPoint(x, y);
            if (!on() || !main || !caret || !main.contains(caret.startContainer)) {
                band.hidden = true;
                return;
            }
            // The line box of the text under the pointer: its top and its height.
            const rect = caret.getBoundingClientRect();
            const el = caret.startContainer.parentElement;
            const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || rect.height;
            const top = rect.height ? rect.top + rect.height / 2 - lineHeight / 2 : y - lineHeight / 2;
            const column = main.getBoundingClientRect();
            band.style.top = `${top}px`;
            band.style.height = `${lineHeight}px`;
            band.style.left = `${column.left - 8}px`;
            band.style.width = `${column.width + 16}px`;
            band.hidden = false;
        };
        document.addEventListener('mousemove', (e) => moveTo(e.clientX, e.clientY), { passive: true });
        document.addEventListener('scroll', () => { band.hidden = true; }, { passive: true });
        document.addEventListener('focusin', (e) => {
            if (focused) {
                focused.classList.remove('ruler-focus');
            }
            focused = e.target.closest && e.target.closest('#mdbook-content main li');
            if (focused) {
                focused.classList.add('ruler-focus');
            }
        });
        return { update: () => { if (!on()) { band.hidden = true; } }, moveTo };
    })();

    // ---- The panel ----
    const bar = document.querySelector('#mdbook-menu-bar .left-buttons');
    const page = document.querySelector('#mdbook-content');
    if (!bar || !page) {
        apply();
        return;
    }
    const button = document.createElement('button');
    button.id = 'reading-settings-toggle';
    button.type = 'button';
    button.textContent = 'Aa Reading settings';
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('aria-controls', 'reading-settings');
    bar.appendChild(button);

    const panel = document.createElement('section');
    panel.id = 'reading-settings';
    panel.hidden = true;
    panel.setAttribute('aria-labelledby', 'reading-settings-title');
    panel.innerHTML = '<h2 id="reading-settings-title">Reading settings</h2>'
        + '<div class="settings-grid"></div><div class="row settings-more"></div>';
    const grid = panel.querySelector('.settings-grid');
    const more = panel.querySelector('.settings-more');

    for (const [key, c] of Object.entries(CHOICES)) {
        const id = 'reading-' + key;
        const wrap = document.createElement('div');
        const label = document.createElement('label');
        label.htmlFor = id;
        label.textContent = c.label;
        const select = document.createElement('select');
        select.id = id;
        for (const [value, name] of c.values) {
            select.add(new Option(name, String(value)));
        }
        select.value = String(typeof saved[key] === 'number' ? saved[key] : c.values[0][0]);
        select.addEventListener('change', () => {
            saved[key] = Number(select.value);
            save();
            apply();
        });
        wrap.append(label, select);
        grid.appendChild(wrap);
    }

    const fonts = document.createElement('fieldset');
    fonts.innerHTML = '<legend>Font</legend>';
    for (const [font, name] of FONTS) {
        const label = document.createElement('label');
        label.className = 'font-' + font;
        const radio = document.createElement('input');
        radio.type = 'radio';
        radio.name = 'reading-font';
        radio.value = font;
        radio.id = 'reading-font-' + font;
        radio.checked = (saved.font || 'default') === font;
        radio.addEventListener('change', () => {
            saved.font = font;
            save();
            apply();
        });
        label.append(radio, document.createTextNode(' ' + name));
        fonts.appendChild(label);
    }
    grid.appendChild(fonts);

    // A tick box for a yes/no setting, kept in saved[key]; read-aloud.js uses it too.
    const checkbox = (key, id, text) => {
        const label = document.createElement('label');
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.id = id;
        box.checked = !!saved[key];
        box.addEventListener('change', () => {
            saved[key] = box.checked;
            save();
            apply();
        });
        label.append(box, document.createTextNode(' ' + text));
        return label;
    };
    const rulerLabel = checkbox('ruler', 'reading-ruler-toggle',
        'Reading ruler: mark the line under the pointer');
    const rulerBox = rulerLabel.querySelector('input');
    more.appendChild(rulerLabel);

    const reset = document.createElement('button');
    reset.type = 'button';
    reset.id = 'reading-reset';
    reset.textContent = 'Back to the book\u2019s settings';
    reset.addEventListener('click', () => {
        for (const key of Object.keys(saved)) {
            delete saved[key]; // the same object read-aloud.js holds
        }
        localStorage.removeItem(KEY);
        for (const [key, c] of Object.entries(CHOICES)) {
            panel.querySelector('#reading-' + key).value = String(c.values[0][0]);
        }
        panel.querySelector('#reading-font-default').checked = true;
        rulerBox.checked = false;
        apply();
    });
    more.appendChild(reset);

    // The panel sits right under the menu bar, above the lesson.
    page.parentElement.insertBefore(panel, page);
    const showPanel = (on) => {
        panel.hidden = !on;
        button.setAttribute('aria-expanded', String(on));
    };
    button.addEventListener('click', () => {
        showPanel(panel.hidden);
        if (!panel.hidden) {
            panel.querySelector('select').focus();
        }
    });
    // Escape closes the panel and gives the focus back to its button.
    panel.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
            showPanel(false);
            button.focus();
        }
    });
    // read-aloud.js adds its buttons here.
    window.kubeCourseReading = { panel, more, saved, checkbox };
    apply();

    // ---- Small repairs of mdBook's menu bar for screen readers (axe-core) ----
    // The table-of-contents button is a <label> for a hidden tick box, which screen readers
    // cannot use well. A real button takes its place and clicks the label. The menu bar
    // becomes a landmark.
    const toggle = document.getElementById('mdbook-sidebar-toggle');
    const anchor = document.getElementById('mdbook-sidebar-toggle-anchor');
    if (toggle && anchor) {
        const tocButton = document.createElement('button');
        tocButton.type = 'button';
        tocButton.id = 'toc-toggle';
        tocButton.className = 'icon-button';
        tocButton.title = 'Table of contents';
        tocButton.setAttribute('aria-label', tocButton.title);
        tocButton.setAttribute('aria-controls', 'mdbook-sidebar');
        tocButton.innerHTML = toggle.innerHTML;
        const sync = () => tocButton.setAttribute('aria-expanded', String(anchor.checked));
        tocButton.addEventListener('click', () => {
            toggle.click();
            sync();
        });
        anchor.addEventListener('change', sync);
        sync();
        toggle.hidden = true;
        toggle.before(tocButton);
    }
    const menu = document.getElementById('mdbook-menu-bar');
    if (menu) {
        menu.setAttribute('role', 'banner');
    }
})();
