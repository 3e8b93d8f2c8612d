"""The passphrase KDF: scrypt, with its parameters kept in every record that uses it.

``log2_n=17, r=8, p=1`` costs 128 MiB and about half a second: the production default.
Tests pick ``TEST_LOG2_N`` (1,024 iterations) themselves; nothing here switches on an
environment variable, so a fast setting can never leak into a real archive by accident.
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

#: bounds a record must respect, so a crafted record cannot make us allocate gigabytes
_LIMITS = {"log2_n": (TEST_LOG2_N, 22), "r": (1, 32), "p": (1, 16)}


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
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise IntegrityError(
                    what="the key record's KDF parameters", problem=f"{name}={value!r} is outside {low}..{high}"
                )
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
