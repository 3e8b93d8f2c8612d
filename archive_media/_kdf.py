"""The passphrase KDF: scrypt, with its parameters kept in every record that uses it.

``log2_n=17, r=8, p=1`` costs 128 MiB and about half a second: the production default.

All the bounds live here, for the configuration and for the reader alike:

- :func:`bounds_problem`: what any record may ask for, so a crafted record (a key backup, a
  database row) cannot make us allocate gigabytes. scrypt needs ``128 * r * N`` bytes of memory
  and does ``p`` such passes: memory is capped at :data:`MAX_MEMORY`, the work at :data:`MAX_WORK`.
- :func:`weakness_problem`: the floor for *new* records, :data:`MIN_LOG2_N` and :data:`MIN_R`.
  Tests need a fast KDF (``TEST_LOG2_N``, 1,024 iterations); the caller says explicitly when it
  allows that (``insecure_test=True``). Nothing here reads an environment variable.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from pps_archive.errors import IntegrityError, UnsupportedFormat

DEFAULT_LOG2_N = 17
TEST_LOG2_N = 10
KEY_BYTES = 32
SALT_BYTES = 16

#: the most memory a KDF may take (128 * r * N bytes): 1 GiB
MAX_MEMORY = 1 << 30
#: the most work a KDF may take (p passes of 128 * r * N bytes): 4 GiB touched
MAX_WORK = 4 << 30
#: ranges of each parameter any record may carry
LIMITS = {"log2_n": (TEST_LOG2_N, 24), "r": (1, 32), "p": (1, 16)}
#: the floor for new records outside tests: 2**16 iterations of 1 KiB blocks (64 MiB)
MIN_LOG2_N = 16
MIN_R = 8


def memory_bytes(log2_n: int, r: int) -> int:
    """scrypt's memory for N = 2**log2_n and block size r."""
    return 128 * r * (1 << log2_n)


def bounds_problem(log2_n: object, r: object, p: object) -> str | None:
    """Why these parameters may not be used at all (too costly, or nonsense), or ``None``."""
    values = {"log2_n": log2_n, "r": r, "p": p}
    for name, (low, high) in LIMITS.items():
        value = values[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"{name}={value!r} is outside {low}..{high}"
    if memory_bytes(log2_n, r) > MAX_MEMORY:
        return f"log2_n={log2_n} with r={r} needs {memory_bytes(log2_n, r) >> 20} MiB of memory, more than {MAX_MEMORY >> 20} MiB"
    if memory_bytes(log2_n, r) * p > MAX_WORK:
        return f"log2_n={log2_n}, r={r}, p={p} is more work than {MAX_WORK >> 30} passes of 1 GiB"
    return None


def weakness_problem(log2_n: int, r: int, p: int, *, insecure_test: bool = False) -> str | None:
    """Why these parameters are too weak for a new record, or ``None``. With ``insecure_test``
    (the test suite's explicit switch) anything within :func:`bounds_problem` is allowed."""
    problem = bounds_problem(log2_n, r, p)
    if problem is not None or insecure_test:
        return problem
    why = "it would make the passphrase far easier to guess from a copy of the database"
    if log2_n < MIN_LOG2_N:
        return f"log2_n={log2_n} is below the floor of {MIN_LOG2_N}: {why}"
    if r < MIN_R:
        return f"r={r} is below the floor of {MIN_R}: {why}"
    return None


@dataclass(frozen=True)
class KdfParams:
    """scrypt parameters: N = 2**log2_n, block size r, parallelism p, and the salt."""

    log2_n: int
    r: int
    p: int
    salt: bytes

    @classmethod
    def generate(cls, log2_n: int = DEFAULT_LOG2_N, r: int = 8, p: int = 1) -> KdfParams:
        params = cls(log2_n=log2_n, r=r, p=p, salt=os.urandom(SALT_BYTES))
        params.check()
        return params

    def check(self) -> None:
        problem = bounds_problem(self.log2_n, self.r, self.p)
        if problem is not None:
            raise IntegrityError(what="the key record's KDF parameters", problem=problem)
        if not isinstance(self.salt, bytes) or len(self.salt) < SALT_BYTES:
            raise IntegrityError(what="the key record's KDF parameters", problem="the salt is shorter than 16 bytes")

    def derive(self, passphrase: bytes) -> bytes:
        """The 32-byte key-encryption key for ``passphrase``."""
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        self.check()
        return Scrypt(salt=self.salt, length=KEY_BYTES, n=2**self.log2_n, r=self.r, p=self.p).derive(passphrase)

    def to_record(self) -> dict[str, object]:
        return {
            "name": "scrypt",
            "log2_n": self.log2_n,
            "r": self.r,
            "p": self.p,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }

    @classmethod
    def from_record(cls, record: object) -> KdfParams:
        if not isinstance(record, dict) or record.get("name") != "scrypt":
            name = record.get("name") if isinstance(record, dict) else record
            raise UnsupportedFormat(what="the key record's KDF", version=name)
        try:
            salt = base64.b64decode(record["salt"], validate=True)
            params = cls(log2_n=record["log2_n"], r=record["r"], p=record["p"], salt=salt)
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(what="the key record's KDF parameters", problem=f"they are malformed ({exc})") from exc
        params.check()
        return params
