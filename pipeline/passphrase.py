"""The master passphrase comes from exactly one source.

``$PPS_ARCHIVE_PASSPHRASE``, ``$PPS_ARCHIVE_PASSPHRASE_FILE`` or an interactive prompt. Two sources
set at once is an error (a script and a person could otherwise disagree about which was used).
The passphrase is never logged and never passed to a child process (see ``pps_archive.exec``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from pps_archive.errors import PassphraseSourceError

ENV_VALUE = "PPS_ARCHIVE_PASSPHRASE"
ENV_FILE = "PPS_ARCHIVE_PASSPHRASE_FILE"

Prompt = Callable[[str, bool], str]


def get_passphrase(environ: Mapping[str, str], prompt: Prompt | None, *, confirm: bool = False) -> bytes:
    """Return the passphrase as bytes. ``prompt(text, confirm)`` is used only if no variable is set."""
    has_value = environ.get(ENV_VALUE) is not None
    has_file = environ.get(ENV_FILE) is not None
    if has_value and has_file:
        raise PassphraseSourceError(
            f"both ${ENV_VALUE} and ${ENV_FILE} are set: the passphrase must come from exactly one "
            f"source. Unset one of them."
        )
    if has_value:
        value = environ[ENV_VALUE]
        source = f"${ENV_VALUE}"
    elif has_file:
        path = Path(environ[ENV_FILE])
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise PassphraseSourceError(
                f"cannot read the passphrase file named by ${ENV_FILE} ({path}): {exc.strerror}. "
                f"Check the path and its permissions."
            ) from exc
        source = str(path)
    elif prompt is not None:
        value = prompt("Master passphrase", confirm)
        source = "the prompt"
    else:
        raise PassphraseSourceError(
            f"this command needs the master passphrase: set ${ENV_VALUE} or ${ENV_FILE}, or run it "
            f"in a terminal to be asked for it."
        )
    if not value:
        raise PassphraseSourceError(f"the passphrase from {source} is empty.")
    return value.encode("utf-8")
