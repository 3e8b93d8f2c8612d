"""An office with staff accounts, for the policy tests of issue 12 (reports, messages, diaries)."""

from __future__ import annotations

import pytest


from tests.auth_helpers import PASSWORDS, add_staff

ROLES = {"alice": "staff", "bob": "staff", "carol": "manager"}


@pytest.fixture
def office(workspace):  # noqa: ANN001, ANN201
    """A keyed archive with two advisers (alice, bob) and a manager (carol)."""
    return add_staff(workspace, ROLES)


def login(ws, name: str):  # noqa: ANN001, ANN201 - pipeline.authority.Unlocked
    from pipeline import staff

    return staff.login(ws, name, PASSWORDS[name].encode())
