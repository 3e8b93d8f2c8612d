"""Setting the archive up (``init``): the data directory, the schema, the master key, the keys' pin.

:func:`initialise` is safe to run again: it only upgrades the schema, checks the passphrase and
re-checks the keys (``keystore.authenticate_keys``). It opens its own transactions; the passphrase
is asked for (``passphrase(confirm)``) only once the schema is up to date, with ``confirm`` true
when the master key is about to be made (a person types a new passphrase twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.workspace import Workspace


@dataclass(frozen=True)
class Initialised:
    data_dir: Path
    #: "created", "upgraded" or "up to date"
    database: str
    schema: str
    archive_id: str
    #: whether the master key was made just now (else the passphrase was checked against it)
    master_created: bool
    #: case keys signed on first use (an archive made by an older version)
    signed: tuple[str, ...]
    #: what was put right from the keys' wrapped secrets (the database or data dir was changed)
    repaired: tuple[str, ...]


def initialise(ws: Workspace, passphrase: Callable[[bool], bytes]) -> Initialised:
    """Create the data dir, migrate the database to the newest schema, make or check the master
    key (the recovery passphrase) and authenticate the keys, recorded as ``init``."""
    from pipeline import keystore
    from pipeline.db import migrate

    ws.create_dirs()
    before, after = migrate(ws.engine)
    with ws.transaction() as s:
        archive_id = keystore.ensure_archive_id(s)
        created = keystore.master_key_exists(s) is False
    secret = passphrase(created)
    with ws.transaction() as s:
        master = keystore.ensure_master_key(s, ws.config, secret, archive_id, actor="init")
        keys = keystore.authenticate_keys(s, master, ws.data_dir, actor="init")
    database = "created" if before is None else "upgraded" if before != after else "up to date"
    return Initialised(data_dir=ws.data_dir, database=database, schema=after, archive_id=archive_id, master_created=created,
                       signed=tuple(keys["signed"]), repaired=tuple(keys["repaired"]))
