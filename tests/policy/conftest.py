"""An office with staff accounts, for the policy tests of issue 12 (reports, messages, diaries)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSPHRASE

PASSWORDS = {"alice": "violet harbour cinnamon 42", "bob": "tangerine glacier pylon 17", "carol": "moss lantern quarry 93 owl"}
ROLES = {"alice": "staff", "bob": "staff", "carol": "manager"}


@pytest.fixture
def office(workspace):  # noqa: ANN001, ANN201
    """A keyed archive with two advisers (alice, bob) and a manager (carol)."""
    from pipeline import authority, keystore, staff

    with workspace.transaction() as s:
        archive = keystore.ensure_archive_id(s)
        keystore.ensure_master_key(s, workspace.config, PASSPHRASE.encode(), archive, actor="init")
    recovery = authority.recover(workspace, PASSPHRASE.encode())
    for name, role in ROLES.items():
        staff.add(workspace, recovery, name, role, PASSWORDS[name].encode())
    return workspace


def login(ws, name: str):  # noqa: ANN001, ANN201 - pipeline.authority.Unlocked
    from pipeline import staff

    return staff.login(ws, name, PASSWORDS[name].encode())
