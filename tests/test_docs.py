"""The CLI reference in docs/cli.md is generated from --help and must not go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli._docgen import DOCS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(DOCS))
def test_generated_docs_are_current(name: str) -> None:
    current = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert current == DOCS[name](), f"docs/{name} is stale: run .venv/bin/python -m pipeline.cli._docgen"


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:2000]
    assert "make demo" in head and "make test" in head
