"""The book's fonts are the files of their npm packages, with their licenses beside them.

lessons/theme/fonts/ holds copies (the book must not fetch a font from the internet);
tests/book/browser/package.json pins the packages they come from.
"""

from __future__ import annotations

import re

from bookkit import REPO, fail_with
from browserkit import BROWSER_DIR

FONTS = REPO / "lessons" / "theme" / "fonts"
CSS = REPO / "lessons" / "theme" / "custom.css"


def test_each_font_file_is_the_npm_packages_file_with_its_license() -> None:
    packages = BROWSER_DIR / "node_modules" / "@fontsource"
    wrong = []
    files = sorted(FONTS.glob("*.woff2"))
    if not files:
        wrong.append(f"no font files in {FONTS}")
    for font in files:
        family = re.sub(r"-latin-\d+-normal\.woff2$", "", font.name)
        source = packages / family / "files" / font.name
        if not source.is_file():
            wrong.append(f"{font.name}: not in the npm package @fontsource/{family} "
                         "(run: bash scripts/setup-test-tools.sh)")
        elif source.read_bytes() != font.read_bytes():
            wrong.append(f"{font.name}: differs from {source}")
        license_file = FONTS / f"{family}-LICENSE.txt"
        if not license_file.is_file() or "Open Font License" not in license_file.read_text(encoding="utf-8"):
            wrong.append(f"{font.name}: the license file {license_file.name} is missing")
    fail_with("The book's fonts do not match their npm packages", wrong)


def test_the_css_uses_only_the_books_own_font_files() -> None:
    css = CSS.read_text(encoding="utf-8")
    urls = re.findall(r"url\(\"?([^\")]+)\"?\)", css)
    wrong = [u for u in urls if u.startswith(("http:", "https:", "//"))]
    wrong += [u for u in urls if u.startswith("fonts/") and not (FONTS / u[len("fonts/"):]).is_file()]
    assert urls, "no font url found in custom.css"
    fail_with("custom.css loads a font that is not in lessons/theme/fonts/", wrong)
