"""The statistical report over time at the scale of a busy service's whole history.

    .venv/bin/python bench/trends.py [--cases 10000] [--docs-per-case 10] [--months 120]

Generates a register (SQLite, the embedded default) of N cases opened over ten years, each with
two recorded activities in the audit log, 10 documents and a hold for one case in twenty, then
times ``report stats`` (pipeline.trends.trends) over the whole period, its CSV and its PDF.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(folder: Path, n_cases: int, per_case: int):  # noqa: ANN201 - a Workspace
    from sqlalchemy import insert

    from pipeline.db import migrate
    from pipeline.models import AuditEvent, Case, Document, Hold, Input
    from pipeline.workspace import Workspace

    os.environ["PPS_ARCHIVE__CRYPTO__KDF_LOG2_N"] = "10"
    os.environ["PPS_ARCHIVE_INSECURE_TEST_KDF"] = "1"
    ws = Workspace.load(folder / "home", environ={**os.environ, "PPS_ARCHIVE_HOME": str(folder / "home")})
    ws.create_dirs()
    migrate(ws.engine)
    rng = random.Random(1)
    start = dt.date(2016, 1, 1)
    classes = list(ws.config.classes)
    cases, events, inputs, docs, holds = [], [], [], [], []
    seq = 0
    for c in range(1, n_cases + 1):
        opened = start + dt.timedelta(days=rng.randint(0, 3600))
        touches = sorted(opened + dt.timedelta(days=rng.randint(0, 400)) for _ in range(2))
        ref = f"PPS-{2016 + c // 5000:04d}-{c % 10000:04d}"
        cases.append({"id": c, "ref": ref, "anonymous": False, "opened_on": opened, "last_activity": touches[-1],
                      "store_consent": True, "la_identify": False})
        for action, day in (("case.open", opened), *(("case.touch", t) for t in touches)):
            seq += 1
            events.append({"seq": seq, "at": "2026-01-01T00:00:00Z", "actor": "bench", "action": action, "case_ref": ref,
                           "details": json.dumps({"on": day.isoformat()}), "prev_hash": "0" * 64, "hash": f"{seq:064x}"})
        inputs.append({"id": c, "sha256": f"{c:064x}", "display_name": f"{c}.pdf", "profile": "office", "members": 1,
                       "size": 1, "received_at": dt.datetime.combine(opened, dt.time()), "state": "done", "attempts": 1})
        for _ in range(per_case):
            docs.append({"input_id": c, "case_id": c, "doc_class": rng.choice(classes), "decision": "shred", "reason": "r",
                         "source": "barcode", "pages": 1, "source_pages": "[]", "state": "shred-only", "archiving": False,
                         "created_at": dt.datetime.combine(opened + dt.timedelta(days=rng.randint(0, 300)), dt.time())})
        if c % 20 == 0:
            holds.append({"case_id": c, "reason": rng.choice(["sar", "complaint", "tribunal"]), "note": "n",
                          "placed_on": opened, "placed_by": "bench"})
    with ws.transaction() as s:
        for model, rows in ((Case, cases), (AuditEvent, events), (Input, inputs), (Document, docs), (Hold, holds)):
            for i in range(0, len(rows), 5000):
                s.execute(insert(model), rows[i:i + 5000])
    return ws


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--docs-per-case", type=int, default=10)
    ap.add_argument("--months", type=int, default=120)
    args = ap.parse_args()
    from pipeline.dates import add_months
    from pipeline.trends import trends, trends_csv, trends_pdf

    with tempfile.TemporaryDirectory() as tmp:
        ws = build(Path(tmp), args.cases, args.docs_per_case)
        start = dt.date(2016, 1, 1)
        end = add_months(start, args.months) - dt.timedelta(days=1)
        t0 = time.perf_counter()
        with ws.reader() as s:
            t = trends(s, ws.config, start, end)
        t1 = time.perf_counter()
        trends_csv(t)
        t2 = time.perf_counter()
        pdf = trends_pdf(t, "Parent Partnership Service")
        t3 = time.perf_counter()
        print(f"{args.cases} cases, {args.cases * args.docs_per_case} documents, {len(t.months)} months: "
              f"counts {t1 - t0:.2f} s, CSV {t2 - t1:.3f} s, PDF {t3 - t2:.2f} s ({len(pdf):,} bytes)")
        ws.close()


if __name__ == "__main__":
    main()
