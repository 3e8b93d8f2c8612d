"""The staff web app at the scale of a busy service's whole history.

    .venv/bin/python bench/web.py [--cases 10000] [--docs-per-case 10] [--events 100000] [--repeat 20]

Builds a register of N cases with 10 documents each (bench/disposal.py's generator: all retained,
on verified discs), adds review items and shred entries, a staff account, an audit log of years of
use (``--events``, sealed every 20), and serves the app with
uvicorn on 127.0.0.1 in this process. Then times, over real HTTP from a client in the same process,
the pages an adviser opens most (dashboard, review queue, shred list), median of ``--repeat`` loads
after one warm-up, side by side with the library call each page wraps (the same data, no HTTP, no
HTML; the dashboard's library call reuses a recent audit check as the page does): the ratio is
what the web layer costs. Then the keyed audit check itself, and the page preview: one real scanned page,
encrypted in the vault, decrypted and rendered to PNG per request, against the bare decrypt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSPHRASE = b"bench passphrase for a throw-away archive"
PASSWORD = "bench adviser kettle 93 lantern"


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_audit_events(ws: object, n_events: int, seal_every: int = 20) -> None:
    """``n_events`` more events on the audit log, as years of use leave it: chained, a seal after
    every ``seal_every`` (as each keyed command seals what it recorded)."""
    from sqlalchemy import insert

    from pipeline import audit, keystore
    from pipeline.models import AuditEvent, AuditHead, AuditSeal

    with ws.transaction() as s:
        master = keystore.unlock(s, PASSPHRASE)
        key, archive = audit.seal_key(master), keystore.archive_id(s)
        head = s.get(AuditHead, 1)
        seq, prev, mac = head.seq, head.hash, head.sealed_mac or audit.GENESIS
        events, seals = [], []
        for k in range(n_events):
            seq += 1
            at = (dt.datetime(2020, 1, 1) + dt.timedelta(minutes=k)).isoformat(timespec="microseconds")
            details = audit._canonical({"document": k, "unlocked_with": "staff-password"}).decode()  # noqa: SLF001 - as record() writes it
            digest = audit.event_hash(seq, at, "bench", "review.file", f"PPS-2020-{k % 10000:04d}", f"document:{k}", details, prev)
            events.append({"seq": seq, "at": at, "actor": "bench", "action": "review.file", "case_ref": f"PPS-2020-{k % 10000:04d}",
                           "subject": f"document:{k}", "details": details, "prev_hash": prev, "hash": digest})
            prev = digest
            if seq % seal_every == 0 or k == n_events - 1:
                mac = audit.seal_mac(key, archive, seq, digest, mac)
                seals.append({"seq": seq, "hash": digest, "mac": mac, "at": at})
        for rows, model in ((events, AuditEvent), (seals, AuditSeal)):
            for i in range(0, len(rows), 5000):
                s.execute(insert(model), rows[i:i + 5000])
        if events:
            head.seq, head.hash, head.sealed_seq, head.sealed_mac = seq, prev, seals[-1]["seq"], seals[-1]["mac"]


def build(folder: Path, n_cases: int, per_case: int, n_events: int = 100_000) -> object:
    from sqlalchemy import insert, select, update

    from bench.disposal import build as build_register
    from pipeline import authority, staff
    from pipeline.models import Document, ShredEntry

    ws, _ = build_register(folder, n_cases, per_case, max(1, n_cases // 70))
    with ws.transaction() as s:
        ids = list(s.scalars(select(Document.id).order_by(Document.id)))
        # one document in 500 waits in review; one in 5 has paper on the shred list
        s.execute(update(Document).where(Document.id.in_(ids[::500])).values(state="review", case_id=None,
                                                                            encrypted_to="archive"))
        rows = [{"document_id": i} for i in ids[1::5]]
        for k in range(0, len(rows), 5000):
            s.execute(insert(ShredEntry), rows[k:k + 5000])
    recovery = authority.recover(ws, PASSPHRASE)
    staff.add(ws, recovery, "bench", "manager", PASSWORD.encode())
    add_audit_events(ws, n_events)
    return ws


def serve(ws: object) -> tuple[str, object]:
    import uvicorn

    from pipeline.web.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def preview(folder: Path, repeat: int, previews: object) -> None:
    """One 300 dpi scanned page (the factory's), drawn at thumbnail and preview size by PDFium in
    memory against pdftoppm through pipes (the fallback, and the obvious alternative)."""
    from tests.factory import Doc, ScanFactory

    ScanFactory(seed=5).batch(folder, "page.pdf", [Doc("school-letter", "PPS-2024-0001")], container="pdf", dpi=300)
    pdf = (folder / "page.pdf").read_bytes()
    print(f"\n{'preview':<14} {'pdfium ms':>9} {'pdftoppm ms':>11} {'ratio':>6}")
    for name, width in (("thumbnail", previews.SIZES["thumb"]), ("large", previews.SIZES["large"])):
        ours = _median_ms(lambda w=width: previews.render_page(pdf, 0, w), repeat)
        alt = _median_ms(lambda w=width: previews._render_pdftoppm(pdf, 0, w), repeat)  # noqa: SLF001 - the fallback, timed
        print(f"{name + f' {width}px':<14} {ours:>9.1f} {alt:>11.1f} {alt / ours:>6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--docs-per-case", type=int, default=10)
    ap.add_argument("--events", type=int, default=100_000, help="audit events to add")
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    os.environ["PPS_ARCHIVE__CRYPTO__KDF_LOG2_N"] = "10"
    os.environ["PPS_ARCHIVE_INSECURE_TEST_KDF"] = "1"
    import re

    import httpx

    from pipeline import authority, dashboard, previews, review, shredding, staff
    from pipeline.web.views.dashboard import AUDIT_CHECK_MAX_AGE

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        t0 = time.perf_counter()
        ws = build(Path(tmp), a.cases, a.docs_per_case, a.events)
        print(f"{a.cases} cases, {a.cases * a.docs_per_case} documents, {a.events} more audit events: "
              f"set-up {time.perf_counter() - t0:.0f} s")
        url, server = serve(ws)
        with httpx.Client(base_url=url, timeout=600) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            r = client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf": token}, follow_redirects=True)
            assert r.status_code == 200, r.text[:500]
            today = dt.date.today()

            def library(fn: Callable[..., object], *args: object, **kw: object) -> Callable[[], object]:
                def call() -> object:
                    with ws.reader() as s:
                        return fn(s, *args, **kw)
                return call

            auth = staff.login(ws, "bench", PASSWORD.encode())
            rows = [
                ("dashboard", "/", lambda: dashboard.summary(ws, today, auth=auth, audit_max_age=AUDIT_CHECK_MAX_AGE)),
                ("review queue", "/review", library(review.queue)),
                ("shred list", "/shred", library(shredding.shred_list, ws.config, today=today)),
                ("intake", "/intake", lambda: dashboard.list_inputs(ws)),
            ]
            print(f"{'page':<14} {'page ms':>9} {'library ms':>11} {'ratio':>6}")
            for name, path, lib in rows:
                page_ms = _median_ms(lambda p=path: client.get(p).raise_for_status(), a.repeat)
                lib_ms = _median_ms(lib, a.repeat)
                print(f"{name:<14} {page_ms:>9.1f} {lib_ms:>11.1f} {page_ms / lib_ms:>6.2f}")
            fresh = _median_ms(lambda: dashboard.summary(ws, today, auth=auth), a.repeat)
            check = _median_ms(lambda: authority.audit_chain_report(ws, auth), a.repeat)
            print(f"\ndashboard with a fresh audit check every time: {fresh:.1f} ms; the keyed audit check alone "
                  f"(POST /audit/verify's call): {check:.1f} ms")
        preview(Path(tmp), a.repeat, previews)
        server.should_exit = True
        ws.close()


if __name__ == "__main__":
    main()
