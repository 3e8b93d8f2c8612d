"""Worker mechanics that keep plaintext private and long jobs owned."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from pipeline import queue, spool
from pipeline.models import Input
from pipeline.worker import heartbeat, private_temp


def test_library_temp_files_go_into_the_job_folder(tmp_path: Path) -> None:
    job = tmp_path / "j1-1"
    job.mkdir()
    before = os.environ.get("TMPDIR")
    with private_temp(job):
        with tempfile.NamedTemporaryFile() as fh:
            assert Path(fh.name).parent == job
        assert os.environ["TMPDIR"] == str(job)
    assert os.environ.get("TMPDIR") == before
    assert Path(tempfile.gettempdir()) != job


def test_heartbeat_renews_the_lease_of_a_long_job(workspace, tmp_path: Path) -> None:
    f = tmp_path / "a.pdf"
    f.write_bytes(b"%PDF a")
    spool.take_in(workspace, [f], ["a.pdf"], "office", now=dt.datetime(2026, 1, 1))
    with workspace.transaction() as s:
        row = queue.claim(s, "w1", now=queue.utcnow(), lease=dt.timedelta(seconds=1))
        first = row.lease_until
    with heartbeat(workspace, row.id, "w1", every=0.2):
        time.sleep(0.8)
    with workspace.transaction() as s:
        assert s.get(Input, row.id).lease_until > first + dt.timedelta(minutes=10)
