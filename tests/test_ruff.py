"""The style holds without anyone enforcing it: ``ruff check`` over the whole tree, with the rules
in pyproject.toml's ``[tool.ruff]``. ruff comes with the test extras (``pip install -e '.[test]'``),
so this always runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_passes_over_the_tree() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "No module named ruff" not in proc.stderr, "ruff is missing: install the test extras (pip install -e '.[test]')"
    assert proc.returncode == 0, proc.stdout + proc.stderr
