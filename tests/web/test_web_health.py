"""``/health``: JSON without case data, no login, from this machine only (issue 11)."""

from __future__ import annotations

import json


def test_health_from_this_machine_without_login(app) -> None:  # noqa: ANN001
    from starlette.testclient import TestClient

    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        r = local.get("/health")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert data["ok"] is True and data["review"] == 0 and data["audit_events"] >= 1
    text = json.dumps(data)
    assert "alice" not in text and "PPS-" not in text


def test_health_is_refused_from_elsewhere(app) -> None:  # noqa: ANN001
    from starlette.testclient import TestClient

    with TestClient(app, client=("192.0.2.7", 40000)) as remote:
        r = remote.get("/health")
    assert r.status_code == 403 and "ok" in r.json() and r.json()["ok"] is False
