"""Two data directories on one database and one machine (issue 9, finding 6): each data dir's
workers take only the inputs whose spool copy is theirs, so nothing is quarantined empty and no
spool copy is deleted as an orphan. Real processes: a daemon on one data dir, ingest on the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import kill_group, pps, pps_env, start, wait_for

pytestmark = pytest.mark.slow
REF = "PPS-2024-0137"
KINDS = ("school-letter", "sen-letter", "ehcp", "ep-report")
CLASS = {"school-letter": "SCHOOL-LETTER", "sen-letter": "SEN-LETTER", "ehcp": "EHCP", "ep-report": "EP-REPORT"}
FAST = {"PPS_ARCHIVE__INTAKE__STABLE_SECONDS": "0.5", "PPS_ARCHIVE__INTAKE__RESCAN_SECONDS": "2",
        "PPS_ARCHIVE__INTAKE__WORKERS": "2"}


def test_two_data_dirs_sharing_a_database_never_take_each_others_inputs(database_url: str, tmp_path: Path) -> None:
    env_a = pps_env(tmp_path / "a", database_url, **FAST)
    env_b = pps_env(tmp_path / "b", database_url, **FAST)
    pps(env_a, "init")
    pps(env_b, "init")
    assert (tmp_path / "a" / "spool-id").read_text() != (tmp_path / "b" / "spool-id").read_text()
    pps(env_a, "case", "open", REF, "--consent-to-store")
    factory = ScanFactory(seed=8)
    drop = tmp_path / "drop"
    files = [factory.batch(drop, f"scan_{i:04d}.pdf", [Cover(REF, "shred", CLASS[kind]), Doc(kind, REF, pages=1 + i // 4)],
                           dpi=150).path for i, kind in enumerate(KINDS * 2)]
    (tmp_path / "b-drop").mkdir()
    log = tmp_path / "watch-b.log"
    daemon = start(env_b, "watch", "--folder", str(tmp_path / "b-drop"), log=log)
    try:
        wait_for(lambda: log.exists() and "watching" in log.read_text(), 60, "the other data dir's daemon to start")
        results = pps(env_a, "ingest", *map(str, files), "--json", timeout=600).json()["inputs"]
        assert [r["outcome"] for r in results] == ["done"] * len(files), results
        assert all(r["documents"] for r in results)
        assert daemon.poll() is None
    finally:
        kill_group(daemon)
    assert pps(env_a, "quarantine", "list", "--json").json() == []
    assert list((tmp_path / "a" / "spool").iterdir()) == [] and list((tmp_path / "b" / "spool").iterdir()) == []
