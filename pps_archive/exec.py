"""One wrapper for every external program (OCRmyPDF's ``_exec`` does the same).

- logs the argv and, on failure, the tail of stderr (argv carries paths with opaque ids only);
- probes each tool's version once and enforces a minimum, raising :class:`MissingDependency`
  with the Debian install command;
- children get a clean environment: no passphrase, no key, nothing of ours but what is asked.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pps_archive.errors import ExternalProgramFailed, MissingDependency

log = logging.getLogger("pps_archive.exec")

#: program -> (Debian package, minimum version, version argv)
KNOWN_PROGRAMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "tesseract": ("tesseract-ocr", "4.1", ("--version",)),
    "gs": ("ghostscript", "9.54", ("--version",)),
    "qpdf": ("qpdf", "10.0", ("--version",)),
    "xorriso": ("xorriso", "1.5", ("-version",)),
    "osirrox": ("xorriso", "1.5", ("-version",)),
    "isoinfo": ("genisoimage", "1.1", ("--version",)),
    "7z": ("p7zip-full", "16.0", ()),
    "age": ("age", "1.0", ("--version",)),
    "pdftotext": ("poppler-utils", "0.80", ("-v",)),
    "dvdisaster": ("dvdisaster", "0.79", ("--version",)),
    "unpaper": ("unpaper", "6.1", ("--version",)),
    "pngquant": ("pngquant", "2.0", ("--version",)),
    "tiffinfo": ("libtiff-tools", "0", ()),
    "pg_dump": ("postgresql-client", "15", ("--version",)),
    "pg_restore": ("postgresql-client", "15", ("--version",)),
}

#: environment variables a child may see; everything else (passphrases included) is dropped
_PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "HOME", "TMPDIR", "TESSDATA_PREFIX", "OMP_THREAD_LIMIT")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LC_ALL", "C.UTF-8")
    if extra:
        env.update(extra)
    return env


def _version_tuple(text: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return ()
    return tuple(int(x) for x in m.groups() if x is not None)


@functools.cache
def require(program: str) -> str:
    """Return the program's path, once checked to exist and be new enough."""
    package, minimum, version_args = KNOWN_PROGRAMS.get(program, (program, "0", ()))
    install = f"sudo apt-get install {package}"
    path = shutil.which(program)
    if path is None:
        raise MissingDependency(program=program, problem="is not installed", install=install)
    if version_args:
        try:
            proc = subprocess.run(
                [path, *version_args], capture_output=True, text=True, timeout=30, env=clean_env()
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MissingDependency(program=program, problem=f"does not start ({exc})", install=install) from exc
        found = _version_tuple(proc.stdout + proc.stderr)
        if found and found < _version_tuple(minimum):
            raise MissingDependency(
                program=program,
                problem=f"is version {'.'.join(map(str, found))}, older than the {minimum} we need",
                install=install,
            )
    return path


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run an external program with a clean environment; raise on failure when ``check``."""
    program = str(argv[0])
    path = require(program)
    args = [path, *map(str, argv[1:])]
    log.debug("run %s", " ".join(args))
    try:
        proc = subprocess.run(
            args, capture_output=True, env=clean_env(env), cwd=cwd, timeout=timeout, input=input
        )
    except subprocess.TimeoutExpired as exc:
        raise ExternalProgramFailed(program=program, returncode="timeout", stderr=f"no answer after {timeout} s") from exc
    if check and proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-800:]
        log.debug("%s exited %s: %s", program, proc.returncode, tail)
        raise ExternalProgramFailed(program=program, returncode=proc.returncode, stderr=tail or "(no message)")
    return proc
