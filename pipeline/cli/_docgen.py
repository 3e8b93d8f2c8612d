"""Generate docs/cli.md from the commands' own --help, and docs/errors.md from the error classes
(a test fails when either file is stale).

Regenerate with ``.venv/bin/python -m pipeline.cli._docgen``.
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


_KINDS = {"NotFound", "Conflict", "PolicyRefusal", "InvalidValue"}


def render_errors() -> str:
    import archive_media  # noqa: F401 - every package's error classes
    import scanners  # noqa: F401
    from pps_archive.errors import ExitCode, all_error_classes

    by_code = {cls.exit_code: cls for cls in all_error_classes()}
    lines = ["# Exit codes and errors", "", "Generated from `pps_archive/errors.py`; do not edit by hand.", "",
             "0 is success, 2 a command-line usage error, 3-99 errors (one per class), 100-127 warnings.",
             "HTTP is the status a web front-end answers with (the class's `http_status`); the kind is the",
             "class a front-end can catch: NotFound, Conflict, PolicyRefusal or InvalidValue (BadValue).", "",
             "| code | error | kind | HTTP | message |", "| --- | --- | --- | --- | --- |"]
    for code in ExitCode:
        cls = by_code.get(code)
        name = cls.__name__ if cls else code.name.lower().replace("_", " ")
        text = (cls.template if cls else "").replace("|", "\\|").replace("{", "<").replace("}", ">")
        kind = next((k.__name__ for k in (cls.__mro__[1:] if cls else ()) if k.__name__ in _KINDS), "")
        http = str(cls.http_status) if cls else ""
        lines.append(f"| {int(code)} | {name} | {kind} | {http} | {text} |")
    return "\n".join(lines) + "\n"


DOCS = {"cli.md": render, "errors.md": render_errors}


if __name__ == "__main__":
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "docs"
    for name, fn in DOCS.items():
        (root / name).write_text(fn(), encoding="utf-8")
        print(f"wrote docs/{name}")
