"""Run the CLI as a user would, in-process (click's CliRunner), with stdout and stderr apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner

from pipeline.cli import cli


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None, expect: int | None = 0) -> Run:
    result = CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)
    r = Run(result.exit_code, result.stdout, result.stderr)
    if expect is not None:
        assert r.code == expect, f"exit {r.code}, expected {expect}\nstdout: {r.out}\nstderr: {r.err}"
    return r
