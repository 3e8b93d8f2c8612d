"""Generate docs/cli.md from the commands' own --help (a test fails when the file is stale).

Regenerate with ``.venv/bin/python -m pipeline.cli._docgen > docs/cli.md``.
"""

from __future__ import annotations

import click

from pipeline.cli import cli


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out = [(path, command)]
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            out.extend(_walk(command.commands[name], [*path, name]))
    return out


def render() -> str:
    parts = ["# pps-archive command reference", "", "Generated from `--help`; do not edit by hand.", ""]
    for path, command in _walk(cli, ["pps-archive"]):
        ctx = click.Context(command, info_name=" ".join(path), terminal_width=100, max_content_width=100,
                            help_option_names=["-h", "--help"])
        parts += [f"## `{' '.join(path)}`", "", "```", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
