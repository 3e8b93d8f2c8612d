"""The master passphrase comes from exactly one source.

``$PPS_ARCHIVE_PASSPHRASE``, ``$PPS_ARCHIVE_PASSPHRASE_FILE`` or an interactive prompt. Two sources
set at once is an error (a script and a person could otherwise disagree about which was used).
The passphrase is never logged and never passed to a child process (see ``pps_archive.exec``).

A new passphrase (the master key's, and any staff password that wraps a key slot) must pass
:func:`check_strength`: the wrapped master key in a stolen database can be attacked offline, so
only the passphrase's strength stands between a copy of the database and every case.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pps_archive.errors import PassphraseSourceError, WeakPassphrase

log = logging.getLogger(__name__)

#: the shortest new passphrase accepted, in characters
MIN_LENGTH = 12
#: zxcvbn's score (0-4) a new passphrase must reach: 4 means an estimated 10**10 guesses or more
MIN_SCORE = 4

ENV_VALUE = "PPS_ARCHIVE_PASSPHRASE"
ENV_FILE = "PPS_ARCHIVE_PASSPHRASE_FILE"
ENV_NEW_VALUE = "PPS_ARCHIVE_NEW_PASSPHRASE"

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
        value = _read_file(path)
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


def get_new_passphrase(environ: Mapping[str, str], prompt: Prompt | None, *, env_value: str = ENV_NEW_VALUE,
                       env_file: str | None = None, label: str = "New master passphrase",
                       what: str = "the new passphrase", context: Iterable[str] = ()) -> bytes:
    """A new secret (a new master passphrase, or a staff password), checked before any key is
    touched: from exactly one of ``$env_value`` and ``$env_file`` (if given), else typed twice at
    ``prompt(label, True)``; then :func:`check_strength`. No prompt and no variable is
    :class:`PassphraseSourceError`."""
    has_value = environ.get(env_value) is not None
    has_file = env_file is not None and environ.get(env_file) is not None
    if has_value and has_file:
        raise PassphraseSourceError(f"both ${env_value} and ${env_file} are set: {what} must come from exactly one source. "
                                    f"Unset one of them.")
    if has_value:
        value, source = environ[env_value], f"${env_value}"
    elif has_file:
        value, source = _read_file(Path(environ[env_file]), env_file), str(environ[env_file])
    elif prompt is not None:
        value, source = prompt(label, True), "the prompt"
    else:
        names = f"${env_value}" + (f" or ${env_file}" if env_file else "")
        raise PassphraseSourceError(f"{what} is needed: set {names}, or run this in a terminal to be asked for it twice.")
    if not value:
        raise PassphraseSourceError(f"{what} from {source} is empty.")
    check_strength(value, context=context, what=what)
    return value.encode("utf-8")


def _read_file(path: Path, env_file: str = ENV_FILE) -> str:
    try:
        data = path.read_bytes()
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise PassphraseSourceError(
            f"cannot read the passphrase file named by ${env_file} ({path}): {exc.strerror}. "
            f"Check the path and its permissions."
        ) from exc
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        who = "anyone on this machine" if mode & stat.S_IROTH else "its group"
        log.warning("the passphrase file %s can be read by %s: restrict it with 'chmod 600 %s'", path, who, path)
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise PassphraseSourceError(
            f"the passphrase file named by ${env_file} ({path}) is not UTF-8 text: write the passphrase "
            f"into it again as plain UTF-8 text (one line)."
        ) from None


def check_strength(passphrase: str | bytes, *, context: Iterable[str] = (), what: str = "the new passphrase") -> None:
    """Raise :class:`WeakPassphrase` unless ``passphrase`` is long enough and not guessable.

    At least :data:`MIN_LENGTH` characters, and zxcvbn's estimate (a dictionary of common
    passwords, English words and names, keyboard patterns, dates, repeats and l33t spellings) of
    at least 10**10 guesses. ``context`` adds words an attacker would try first (the service's
    name, the staff member's name). Reusable for any secret that wraps a key."""
    if isinstance(passphrase, bytes):
        try:
            passphrase = passphrase.decode("utf-8")
        except UnicodeDecodeError:
            raise WeakPassphrase(what=what, problem="it is not UTF-8 text") from None
    if len(passphrase) < MIN_LENGTH:
        raise WeakPassphrase(what=what, problem=f"it has {len(passphrase)} characters, and at least {MIN_LENGTH} are needed")
    from zxcvbn import zxcvbn

    result = zxcvbn(passphrase, user_inputs=[w for w in context if w])
    if result["score"] < MIN_SCORE:
        hint = (result.get("feedback") or {}).get("warning") or "it would be guessed too quickly"
        raise WeakPassphrase(what=what, problem=hint[0].lower() + hint[1:].rstrip("."))


#: a staff account's password for scripts (the login of ``--user``); a prompt otherwise
ENV_PASSWORD_FILE = "PPS_ARCHIVE_PASSWORD_FILE"
#: a new staff password for scripts (``staff add``, ``passwd``, ``reset``)
ENV_NEW_PASSWORD_FILE = "PPS_ARCHIVE_NEW_PASSWORD_FILE"


def get_password(environ: Mapping[str, str], prompt: Prompt | None, *, text: str, env: str = ENV_PASSWORD_FILE,
                 confirm: bool = False) -> bytes:
    """A staff password from the file named by ``env``, else ``prompt(text, confirm)``."""
    if environ.get(env) is not None:
        path = Path(environ[env])
        value, source = _read_file(path, env), str(path)
    elif prompt is not None:
        value, source = prompt(text, confirm), "the prompt"
    else:
        raise PassphraseSourceError(f"this needs a password: set ${env} to a file holding it, or run it in a terminal to be asked for it.")
    if not value:
        raise PassphraseSourceError(f"the password from {source} is empty.")
    return value.encode("utf-8")
