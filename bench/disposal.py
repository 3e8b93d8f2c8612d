"""The disposal planner at the scale of a busy service's whole history.

    .venv/bin/python bench/disposal.py [--cases 10000] [--docs-per-case 10] [--discs 150]

Generates a register (SQLite, the embedded default) of N cases, 10 documents each, all on verified
discs, and one signed disc index per disc, laid out as mounted discs (folders). Times
``pps-archive dispose --dry-run``'s work — reading and signature-checking every index, then
planning against the register — at full size and at half size, to show it grows linearly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(folder: Path, n_cases: int, per_case: int, n_discs: int) -> tuple[object, list[Path]]:
    from sqlalchemy import insert

    from archive_media import _disc_layout as layout
    from archive_media import keys
    from pipeline import keystore
    from pipeline.db import migrate
    from pipeline.models import Case, Disc, DiscItemRow, Document, Hold, Input, WrappedKey
    from pipeline.workspace import Workspace

    os.environ["PPS_ARCHIVE__CRYPTO__KDF_LOG2_N"] = "10"
    os.environ["PPS_ARCHIVE_INSECURE_TEST_KDF"] = "1"  # a throw-away archive: the fast KDF is allowed
    ws = Workspace.load(folder / "home", environ={**os.environ, "PPS_ARCHIVE_HOME": str(folder / "home")})
    ws.create_dirs()
    migrate(ws.engine)
    with ws.transaction() as s:
        archive = keystore.ensure_archive_id(s)
        keystore.ensure_master_key(s, ws.config, b"bench passphrase for a throw-away archive", archive, actor="bench")
        master = keystore.unlock(s, b"bench passphrase for a throw-away archive")
        keystore.authenticate_keys(s, master, ws.data_dir, actor="bench")  # pins the signing key, as init does
        signing = keys.unwrap_signing_key(master, archive, keystore._row(s, "signing").record)  # noqa: SLF001 - a benchmark sets up what the library keeps private
    rng = random.Random(1)
    start = dt.date(2015, 1, 1)
    now = dt.datetime(2020, 1, 1)
    cases, inputs, docs, items = [], [], [], []
    for c in range(1, n_cases + 1):
        last = start + dt.timedelta(days=rng.randint(0, 3650))
        cases.append({"id": c, "ref": f"PPS-{2015 + c // 5000:04d}-{c % 10000:04d}", "anonymous": False, "opened_on": last,
                      "last_activity": last, "store_consent": True})
        inputs.append({"id": c, "sha256": f"{c:064x}", "display_name": f"{c}.pdf", "profile": "office", "members": 1,
                       "size": 1, "received_at": now, "state": "done", "attempts": 1})
    per_disc = -(-n_cases * per_case // n_discs)
    discs = [{"id": d, "label": f"PPS-{2021 + d % 10}-{d:03d}", "iso_sha256": "0" * 64, "size": 1, "dispose_year": 2021 + d % 10,
              "status": "in-cupboard", "built_at": now, "verified_at": now} for d in range(1, n_discs + 1)]
    doc_id = 0
    for c in cases:
        for _ in range(per_case):
            doc_id += 1
            docs.append({"id": doc_id, "input_id": c["id"], "case_id": c["id"], "doc_class": "NOTE", "decision": "retain",
                         "reason": "bench", "source": "barcode", "pages": 1, "source_pages": "[]", "state": "filed",
                         "vault_item": f"{doc_id:032x}", "encrypted_to": "case", "created_at": now})
            last = c["last_activity"]
            leap_day = last.month == 2 and last.day == 29
            items.append({"disc_id": 1 + (doc_id - 1) // per_disc, "document_id": doc_id, "vault_item": f"{doc_id:032x}",
                          "case_ref": c["ref"],
                          "dispose_after": dt.date(last.year + 6, 2, 28) if leap_day else last.replace(year=last.year + 6)})
    holds = [{"case_id": c, "reason": "safeguarding", "note": "bench", "placed_on": start, "placed_by": "bench"}
             for c in range(1, n_cases + 1, 97)]
    with ws.transaction() as s:
        for model, rows in ((Case, cases), (Input, inputs), (Document, docs), (Disc, discs), (DiscItemRow, items), (Hold, holds)):
            for i in range(0, len(rows), 5000):
                s.execute(insert(model), rows[i:i + 5000])
        s.add_all([WrappedKey(purpose="case", case_ref=c["ref"], record=b"x", public="age1x", created_at="2020") for c in cases[:10]])
    sources = []
    fingerprint = keys.key_fingerprint(keys.public_key_of(signing))
    for d in discs:
        mine = [i for i in items if i["disc_id"] == d["id"]]
        content = layout.DiscContent(
            label=d["label"], archive_id=archive, service_name="Bench Service", audit_head="0" * 64,
            items=tuple(layout.DiscItem(i["vault_item"], Path("/nonexistent"), i["case_ref"], i["dispose_after"].isoformat(),
                                        "0" * 64) for i in mine),
        )
        index = layout.index_bytes(content, [1] * len(mine), fingerprint, "0" * 64)  # no README in this bench
        disc_dir = folder / "discs" / d["label"]
        disc_dir.mkdir(parents=True)
        (disc_dir / layout.INDEX).write_bytes(index)
        (disc_dir / layout.SIGNATURE).write_bytes(keys.sign(signing, index))
        (disc_dir / layout.PUBKEY).write_bytes(keys.public_key_pem(keys.public_key_of(signing)).encode())
        sources.append(disc_dir)
    return ws, sources


def run(n_cases: int, per_case: int, n_discs: int) -> float:
    from pipeline import disposal

    with tempfile.TemporaryDirectory(prefix="bench-disposal-") as tmp:
        t0 = time.perf_counter()
        ws, sources = build(Path(tmp), n_cases, per_case, n_discs)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        plan = disposal.dry_run(ws, sources, dt.date(2026, 6, 1))
        elapsed = time.perf_counter() - t0
        ws.close()
    print(f"{n_cases:>7} cases {n_cases * per_case:>8} documents {n_discs:>4} discs: plan {elapsed:6.2f} s "
          f"(set-up {setup:.0f} s; {len(plan['dispose'])} due, {len(plan['held'])} held, "
          f"{len(plan['discs_to_destroy'])} discs to destroy, {len(plan['discs_to_consolidate'])} to consolidate)")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--docs-per-case", type=int, default=10)
    ap.add_argument("--discs", type=int, default=150)
    a = ap.parse_args()
    half = run(a.cases // 2, a.docs_per_case, a.discs // 2)
    full = run(a.cases, a.docs_per_case, a.discs)
    print(f"full/half time ratio: {full / half:.2f} (2.0 = linear); target: full size under 30 s")


if __name__ == "__main__":
    main()
