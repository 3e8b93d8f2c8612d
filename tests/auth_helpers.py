"""An unlocked key store for library tests of destructive actions (the CLI asks for the passphrase)."""

from __future__ import annotations

from pipeline.config import Config
from tests.conftest import PASSPHRASE


def unlocked(s, cfg: Config, actor: str = "alice"):  # noqa: ANN001, ANN201 - a Session; pipeline.authority.Unlocked
    """Set up the master key in this database if needed, then unlock it as ``actor``."""
    from pipeline import authority, keystore

    archive = keystore.ensure_archive_id(s)
    if not keystore.master_key_exists(s):
        keystore.ensure_master_key(s, cfg, PASSPHRASE.encode(), archive, actor="init")
    return authority.unlock(s, PASSPHRASE.encode(), actor=actor)
