"""Fixtures for the book checks: one build of the book per test run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bookkit import REPO, Build, build_book


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The course book, built once into a temporary folder (not lessons/book)."""
    return build_book(REPO / "lessons", tmp_path_factory.mktemp("book") / "html")


@pytest.fixture(scope="session")
def book_html(built_book: Build) -> Path:
    if built_book.returncode != 0:
        pytest.fail("✖ The book did not build, so this check cannot run. "
                    f"mdbook said:\n{built_book.log}", pytrace=False)
    return built_book.out
