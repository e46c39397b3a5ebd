// A button in the menu bar: switch the text to OpenDyslexic, a font made for
// readers with dyslexia, and back. The book remembers the choice.
(() => {
    const key = 'kube-course-font';
    const html = document.documentElement;
    const use = (on) => html.classList.toggle('dyslexic-font', on);
    use(localStorage.getItem(key) === 'dyslexic');

    const bar = document.querySelector('#mdbook-menu-bar .left-buttons');
    if (!bar) {
        return;
    }
    const button = document.createElement('button');
    button.id = 'font-toggle';
    button.type = 'button';
    button.className = 'icon-button';
    button.title = 'Switch to the OpenDyslexic font, and back';
    button.setAttribute('aria-label', button.title);
    button.setAttribute('aria-pressed', String(html.classList.contains('dyslexic-font')));
    button.textContent = 'Aa';
    button.addEventListener('click', () => {
        const on = !html.classList.contains('dyslexic-font');
        use(on);
        localStorage.setItem(key, on ? 'dyslexic' : 'standard');
        button.setAttribute('aria-pressed', String(on));
    });
    bar.appendChild(button);
})();
