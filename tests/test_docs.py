"""The CLI reference in docs/cli.md is generated from --help and must not go stale."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli._docgen import render

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: run .venv/bin/python -m pipeline.cli._docgen > docs/cli.md"


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:2000]
    assert "make demo" in head and "make test" in head
