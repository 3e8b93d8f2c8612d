"""Archive media: plan discs, build and register images, verify them, restore from them.

Retained documents not yet on a disc are packed onto images no larger than the capacity, grouped
by the year their case is due for disposal so that a disc expires whole; a disc is burnt when it is
nearly full or when its oldest document has waited long enough (:mod:`pipeline.disc_planning`),
and the plan's size of each disc is the exact size of its image. A disc is ``built`` when
its image is written and read back; ``verified`` once ``media verify`` has read the image (or the
burnt disc) again and found every file intact; ``failed`` when a verification found it damaged or
forged. An item counts as archived (its paper may be shredded) only on a verified disc that was
read from the archive medium itself, and once a full verification decrypted and re-hashed it: see
:mod:`pipeline.shredding`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline import audit, authority, keystore
from pipeline import verify_marks as marks
from pipeline.cases import case_dates
from pipeline.config import Config
from pipeline.dates import utcnow
from pipeline.models import Case, Disc, DiscItemRow, Document
from pipeline.progress import ProgressCallback, report
from pipeline.workspace import Workspace
from pps_archive.errors import Conflict, DiscNotFound, DocumentNotFound, MediaError, NotArchived, NotFound

LIVE_DISC = ("built", "verified", "in-cupboard")


@dataclass(frozen=True)
class PlannedItem:
    document_id: int
    item_id: str
    case_ref: str
    dispose_after: dt.date
    size: int
    ciphertext_sha256: str
    original: tuple[str, int, str] | None = None  # a born-digital PDF's own bytes: (item id, size, sha256)
    filed_on: dt.date | None = None  # when the document was filed: its paper waits from then

    @property
    def sizes(self) -> list[int]:
        return [self.size] + ([self.original[1]] if self.original else [])

    @property
    def blobs(self) -> list[tuple[str, str]]:
        """(vault item, ciphertext SHA-256) of each file it puts on a disc, in disc order."""
        return [(self.item_id, self.ciphertext_sha256), *([(self.original[0], self.original[2])] if self.original else [])]


@dataclass(frozen=True)
class PlannedDisc:
    label: str
    dispose_year: int
    items: tuple[PlannedItem, ...]
    estimated_size: int  # the image's exact size in bytes, before error-correction data
    capacity: int = 0

    def as_dict(self) -> dict:
        return {"label": self.label, "dispose_year": self.dispose_year, "items": len(self.items),
                "cases": len({i.case_ref for i in self.items}), "bytes": self.estimated_size,
                "fill_percent": round(100 * self.estimated_size / self.capacity, 1) if self.capacity else None,
                "documents": [i.document_id for i in self.items]}


@dataclass(frozen=True)
class MediaPlan:
    """What a build on ``today`` burns, and what waits for a fuller disc (:mod:`pipeline.disc_planning`)."""

    discs: list[PlannedDisc]
    waiting: tuple[PlannedItem, ...] = ()
    waiting_bytes: int = 0
    due_on: dt.date | None = None  # the day the waiting items are built at the latest
    oldest_since: dt.date | None = None

    def summary(self) -> dict:
        return {"discs": len(self.discs), "waiting_documents": len(self.waiting), "waiting_bytes": self.waiting_bytes,
                "waiting_since": self.oldest_since.isoformat() if self.oldest_since else None,
                "build_due_on": self.due_on.isoformat() if self.due_on else None}


def _candidates(s: Session, cfg: Config, consolidate: tuple[str, ...] = ()) -> list[PlannedItem]:
    """Retained documents of live cases on no live disc — or only on discs being consolidated."""
    on_disc = select(DiscItemRow.document_id).join(Disc).where(Disc.status.in_(LIVE_DISC), Disc.label.not_in(consolidate))
    docs = s.scalars(
        select(Document)
        .join(Case)
        .where(Document.decision == "retain", Document.encrypted_to == "case", Document.vault_item.is_not(None),
               Case.disposed_on.is_(None), Document.id.not_in(on_disc))
        .options(selectinload(Document.case))
        .order_by(Document.id)
    )
    return [
        PlannedItem(d.id, d.vault_item, d.case.ref, case_dates(cfg, d.case.last_activity).dispose_after, d.size or 0,
                    d.ciphertext_sha256,
                    (d.original_item, d.original_size or 0, d.original_ciphertext_sha256) if d.original_item else None,
                    d.created_at.date() if d.created_at else None)
        for d in docs
    ]


def _next_labels(s: Session, year: int):  # noqa: ANN202 - a generator of labels
    used = set(s.scalars(select(Disc.label).where(Disc.dispose_year == year)))
    n = 1
    while True:
        label = f"PPS-{year}-{n:03d}"
        if label not in used:
            yield label
        n += 1


def default_capacity(cfg: Config) -> int:
    """The data per disc when a front-end gives none: ``media.capacity``, in bytes."""
    from pipeline.units import parse_size

    return parse_size(cfg.section("media")["capacity"])


def plan(s: Session, cfg: Config, capacity: int | None = None, consolidate: tuple[str, ...] = (), *,
         today: dt.date | None = None, now: bool = False, replacing: str | None = None) -> list[PlannedDisc]:
    """The discs a build on ``today`` makes: :func:`plan_report`'s ``discs``."""
    return plan_report(s, cfg, capacity, consolidate, today=today, now=now, replacing=replacing).discs


def plan_report(s: Session, cfg: Config, capacity: int | None = None, consolidate: tuple[str, ...] = (), *,
                today: dt.date | None = None, now: bool = False, replacing: str | None = None) -> MediaPlan:
    """Pack the candidates onto discs by the planning rule (:mod:`pipeline.disc_planning`,
    ``media.planning``), on ``today`` (default: today's date). ``capacity``: bytes per disc (default
    :func:`default_capacity`). ``consolidate``: labels of discs whose live items are to be re-burnt
    (so they can be destroyed): those, and everything pending with them, are packed onto as few
    discs as they need, at once. ``now``: build everything pending now, whatever the rule.

    Each disc's ``estimated_size`` is the exact size of the image the build writes (before any
    error-correction data): :func:`archive_media.iso.image_size`. Runs in the caller's session."""
    from archive_media.iso import estimate_totals

    from pipeline import disc_planning as dp

    capacity = default_capacity(cfg) if capacity is None else capacity
    today = today or utcnow().date()
    if replacing is not None:
        consolidate = (*consolidate, replacing)
    known = set(s.scalars(select(Disc.label).where(Disc.label.in_(consolidate))))
    if set(consolidate) - known:
        raise DiscNotFound(label=", ".join(sorted(set(consolidate) - known)))
    candidates = _candidates(s, cfg, consolidate)
    if replacing is not None:
        on_it = set(s.scalars(select(DiscItemRow.document_id).join(Disc).where(Disc.label == replacing)))
        candidates = [i for i in candidates if i.document_id in on_it]
    items = {i.document_id: i for i in candidates}
    pending = [dp.Pending(i.document_id, i.case_ref, i.dispose_after.year, tuple(i.sizes), i.filed_on or today)
               for i in items.values()]
    decision = dp.decide(pending, capacity, estimate_totals, dp.Rule.of(cfg.section("media")), today,
                         now=now or bool(consolidate))
    labels: dict[int, object] = {}
    discs = []
    for b in decision.build:
        label = next(labels.setdefault(b.year, _next_labels(s, b.year)))
        chosen = tuple(items[p.key] for p in b.items)
        discs.append(PlannedDisc(label, b.year, chosen, _image_size(s, cfg, label, chosen, today), capacity))
    waiting = tuple(items[p.key] for p in decision.waiting)
    return MediaPlan(discs, waiting, decision.waiting_bytes, decision.due_on,
                     min((p.since for p in decision.waiting), default=None))


def _image_size(s: Session, cfg: Config, label: str, items: tuple[PlannedItem, ...], today: dt.date) -> int:
    """The exact size of the image :func:`build` writes for these items (before ECC data)."""
    from archive_media.iso import DiscContent, DiscItem, image_size
    from archive_media.keys import public_key_from_pem

    content = DiscContent(
        label=label, archive_id=keystore.archive_id(s), service_name=cfg.section("service")["name"],
        audit_head=audit.head(s).head,
        items=tuple(DiscItem(item_id, Path(item_id), i.case_ref, i.dispose_after.isoformat(), sha)
                    for i in items for item_id, sha in i.blobs),
        created=today.isoformat())
    public = public_key_from_pem(keystore.signing_record(s).public)
    return image_size(content, [n for i in items for n in i.sizes], public)


def _signing_key(s: Session, master: bytes) -> bytes:
    from archive_media import keys

    return keys.unwrap_signing_key(master, keystore.archive_id(s), keystore.signing_record(s).record)


def public_key(s: Session, data_dir: Path) -> bytes:
    """The archive's signing key (public half) as pinned in the data dir and agreed by the database."""
    return keystore.trusted_signing_key(s, data_dir)


def build(ws: Workspace, out_dir: Path, capacity: int | None = None, *, auth: authority.Unlocked, today: dt.date,
          consolidate: tuple[str, ...] = (), progress: ProgressCallback | None = None, now: bool = False,
          replacing: str | None = None) -> list[dict]:
    """Build, read back and register an image for every disc :func:`plan` gives on ``today``, as
    ``auth.actor`` (any staff login; the keyring signs the disc index): ``capacity``,
    ``consolidate``, ``now``: see :func:`plan_report` (pending documents the rule holds back for a
    fuller disc are left for a later build); ``progress`` counts the discs registered (stage
    ``"build"``). ``replacing``: the label of a degraded disc whose live items, and only those, are
    built again from the vault onto new discs that record it (:func:`pipeline.burning.replace`
    checks it first). Each result's ``error_correction`` says whether dvdisaster data was added.

    Each image is written as ``.LABEL.iso.part`` and renamed to ``LABEL.iso`` only once it is in
    the register, so ``out_dir`` never shows an image the register does not know; what a killed
    build left there is cleared up at the start of the next one (:func:`_sweep_out_dir`)."""
    from archive_media.iso import DiscContent, DiscItem, build_image, verify_quick
    from archive_media.vault import Vault

    vault = Vault(ws.path("vault"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with _one_build_at_a_time(ws):
        _sweep_out_dir(ws, out_dir)
        actor = auth.actor
        with ws.transaction() as s:
            authority.require(s, auth, "building disc images")
            master = auth.master
            signing, archive = _signing_key(s, master), keystore.archive_id(s)
            if public_key_of(signing) != keystore.trusted_signing_key(s, ws.data_dir):
                from pps_archive.errors import SigningKeyUntrusted

                raise SigningKeyUntrusted(problem="the key pinned in the data directory is not the one the master key opens",
                                          todo="Setting the archive up again with the master passphrase re-pins the right key.",
                                          cli_hint="Run 'pps-archive init' with the master passphrase.")
            planned = plan(s, ws.config, capacity, consolidate, today=today, now=now, replacing=replacing)
        ecc = "auto" if ws.config.section("media")["error_correction"] else "no"
        report(progress, "build", 0, len(planned))
        for n, disc in enumerate(planned, 1):
            with ws.transaction() as s:
                head = audit.head(s).head
            content = DiscContent(
                label=disc.label, archive_id=archive, service_name=ws.config.section("service")["name"], audit_head=head,
                items=tuple(DiscItem(item_id, vault.path_of(item_id), i.case_ref, i.dispose_after.isoformat(), sha)
                            for i in disc.items for item_id, sha in i.blobs),
                created=today.isoformat(),
            )
            path, pending = out_dir / f"{disc.label}.iso", out_dir / f".{disc.label}{_PENDING}"
            built = build_image(content, pending, signing, ecc=ecc, mode=0o600)
            try:
                verify_quick(built.path, public_key=public_key_of(signing), archive_id=archive, image_sha256=built.sha256)
                with ws.transaction() as s:
                    how = authority.require(s, auth, f"registering disc {disc.label}")  # and seals its events
                    row = Disc(label=disc.label, iso_sha256=built.sha256, size=built.size, dispose_year=disc.dispose_year,
                               status="built", built_at=utcnow(), ecc=built.ecc, image_path=str(path.resolve()),
                               replaces=replacing)
                    s.add(row)
                    s.flush()
                    for i in disc.items:
                        s.add(DiscItemRow(disc_id=row.id, document_id=i.document_id, vault_item=i.item_id, case_ref=i.case_ref,
                                          dispose_after=i.dispose_after))
                    audit.record(s, actor, "media.built", subject=f"disc:{disc.label}", items=len(disc.items), sha256=built.sha256,
                                 ecc=built.ecc, **({"replaces": replacing} if replacing else {}), **how)
            except BaseException:
                pending.unlink(missing_ok=True)  # never leave an image that is not in the register
                raise
            _publish(pending, path)
            results.append({"label": disc.label, "path": str(path), "iso_sha256": built.sha256, "items": len(disc.items),
                            "bytes": built.size, "dispose_year": disc.dispose_year, "error_correction": bool(built.ecc),
                            "replaces": replacing})
            report(progress, "build", n, len(planned))
    return results


#: an image built but not yet (known to be) in the register: ``.LABEL.iso.part``
_PENDING = ".iso.part"


def _publish(pending: Path, path: Path) -> None:
    from pps_archive.atomic import fsync_dir

    pending.replace(path)
    fsync_dir(path.parent)


@contextlib.contextmanager
def _one_build_at_a_time(ws: Workspace) -> Iterator[None]:
    """One build of this archive at a time: two would put the same items on two discs, and the
    sweep must never take an image another build is writing."""
    import fcntl

    from pipeline.workspace import make_private_dir

    lock = make_private_dir(ws.path("media")) / ".build.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MediaError(media=str(lock), problem="another build of this archive is going on: wait for it to end") from None
        yield
    finally:
        os.close(fd)


def _sweep_out_dir(ws: Workspace, out_dir: Path) -> list[str]:
    """What a killed build left in ``out_dir``: half-written images go; a finished image is given
    its name if the register has it (killed between registering and renaming), else it goes."""
    import hashlib

    def sha256(path: Path) -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    swept = []
    for tmp in out_dir.glob(".tmp-*.iso.part"):  # killed while writing
        tmp.unlink(missing_ok=True)
        swept.append(tmp.name)
    for pending in out_dir.glob(f".*{_PENDING}"):
        if pending.name.startswith(".tmp-"):
            continue
        label = pending.name[1:-len(_PENDING)]
        with ws.transaction() as s:
            sha = s.scalars(select(Disc.iso_sha256).where(Disc.label == label, Disc.status != "destroyed")).first()
        final = out_dir / f"{label}.iso"
        if sha is not None and not final.exists() and sha256(pending) == sha:
            _publish(pending, final)
        else:
            pending.unlink(missing_ok=True)
        swept.append(pending.name)
    return swept


def public_key_of(signing: bytes) -> bytes:
    from archive_media.keys import public_key_of as pub

    return pub(signing)



#: the actor of a quick verification made without a login (it records no verification mark)
NO_LOGIN = "(no login)"


def _failed(ws: Workspace, source: Path, label: str, exc: Exception, *, level: str, actor: str) -> MediaError:
    """Revoke disc ``label`` after a failed verification: it no longer counts as archived, so the
    shred entries it was unlocking are blocked again. Returns the error to raise."""
    with ws.transaction() as s:
        disc = s.scalars(select(Disc).where(Disc.label == label).options(selectinload(Disc.items)).with_for_update()).one()
        if disc.status != "destroyed":
            disc.status = "failed"
        disc.medium_verified_at = disc.medium_mac = None  # a later good read must again come from the disc itself
        for item in disc.items:
            item.checked_at = item.checked_mac = None
        audit.record(s, actor, "media.verify_failed", subject=f"disc:{label}", level=level, problem=type(exc).__name__)
    return MediaError(media=str(source), problem=(
        f"disc {label} failed verification: {exc}. It is marked failed and its items no longer count as archived "
        f"(their paper may not be shredded). Build a new disc from the vault, verify it from the drive, then destroy "
        f"this one"), cli_hint=(f"To build its replacement from the vault: 'pps-archive media replace {label} --out DIR' "
                              f"(or 'pps-archive media build --consolidate {label}'), then 'pps-archive media burn' it."))


def _label_of_failed(s: Session, source: Path) -> str | None:
    """Which registered disc a source that failed to read claims to be (its unverified index, else
    the image's file name as 'media build' wrote it); another archive's disc is :class:`ForeignArchive`."""
    from archive_media.disc_reader import claimed_identity

    label, archive = claimed_identity(source)
    if archive is not None and archive != keystore.archive_id(s):
        from pps_archive.errors import ForeignArchive

        raise ForeignArchive(what=f"disc {label or source}", theirs=archive, ours=keystore.archive_id(s))
    for candidate in (label, Path(source).stem.upper()):
        if candidate and s.scalars(select(Disc.id).where(Disc.label == candidate)).first() is not None:
            return candidate
    return None


def verify(ws: Workspace, source: Path, *, full: bool, auth: authority.Unlocked | None, claimed_by: str | None = None,
           progress: ProgressCallback | None = None) -> dict:
    """Read an image, a mounted disc or the optical drive back and record the result in the register.
    With ``full``, ``progress`` counts the disc's items decrypted and re-hashed (stage ``"verify"``).

    A failure of any kind of check (signature, structure, hashes, decryption) marks the disc
    ``failed``. A pass records what it was read from (``verified_from``: ``drive``, ``disc``,
    ``image`` or ``folder``); only a read from the drive or a mounted disc counts for the shred
    interlock (unless ``media.archive_medium`` says otherwise), and only items a full verification
    has decrypted and re-hashed. ``counts`` in the result says whether this read counted.
    Those marks carry a MAC made with the master key (:mod:`pipeline.verify_marks`), so a read
    from the disc counts only with a login's keyring (``auth``; ``without_passphrase`` in the result
    says there was none); a full verification always needs it. The events record ``auth.actor``,
    or, for a quick read without a login, ``(no login)`` with the name given (``claimed_by``).
    """
    from archive_media.iso import read_disc, verify_full, verify_quick
    from archive_media.medium import read_from
    from pipeline.shredding import COUNTING_READS
    from pipeline.jobcontext import sweep_stale
    from pps_archive.errors import ForeignArchive, PPSArchiveError

    sweep_stale(ws)  # plaintext a killed command left (rule 2)
    level = "full" if full else "quick"
    actor = auth.actor if auth is not None else NO_LOGIN
    if full and auth is None:
        from pps_archive.errors import NotAuthorised

        raise NotAuthorised(what="a full verification", problem="it decrypts every item, so it needs a login")
    if not os.access(source, os.R_OK):
        raise MediaError(media=str(source), problem="it cannot be read (check its permissions); the register is unchanged")
    kind = read_from(Path(source))
    with ws.transaction() as s:
        pub, archive = public_key(s, ws.data_dir), keystore.archive_id(s)
    try:
        with read_disc(source, public_key=pub, archive_id=archive) as reader:
            label = reader.index.label
    except ForeignArchive:
        raise
    except PPSArchiveError as exc:
        with ws.transaction() as s:
            failed = _label_of_failed(s, Path(source))
        if failed is None:
            raise MediaError(media=str(source), problem=f"it failed verification and cannot be told apart from another disc: {exc}") from exc
        raise _failed(ws, Path(source), failed, exc, level=level, actor=actor) from exc
    with ws.transaction() as s:
        disc = s.scalars(select(Disc).where(Disc.label == label).options(selectinload(Disc.items))).one_or_none()
        if disc is None:
            raise MediaError(media=str(source), problem=f"disc {label} is not in this archive's register")
        expected = disc.iso_sha256 if kind == "image" else None
        identities: dict[str, str] = {}
        plaintext: dict[str, str] = {}
        how = authority.require(s, auth, f"verifying disc {label}") if auth is not None else (
            {"claimed_by": claimed_by} if claimed_by else {})
        master = auth.master if auth is not None else None
        if full:
            docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_([i.document_id for i in disc.items])))}
            for item in disc.items:
                if keystore.has_case_key(s, item.case_ref) and item.case_ref not in identities:
                    identities[item.case_ref] = keystore.case_identity(s, master, item.case_ref)
                doc = docs.get(item.document_id)
                if doc is not None and doc.plaintext_sha256:
                    plaintext[item.vault_item] = doc.plaintext_sha256
                if doc is not None and doc.original_item and doc.original_sha256:
                    plaintext[doc.original_item] = doc.original_sha256
    try:
        if full:
            full_report = verify_full(source, identities, plaintext, public_key=pub, archive_id=archive, image_sha256=expected,
                                      on_item=None if progress is None else lambda d, t: report(progress, "verify", d, t))
            quick, extra = full_report.quick, {"decrypted": full_report.decrypted, "checked": full_report.checked,
                                               "without_key": len(full_report.without_key)}
        else:
            quick, extra = verify_quick(source, public_key=pub, archive_id=archive, image_sha256=expected), {}
    except PPSArchiveError as exc:
        raise _failed(ws, Path(source), label, exc, level=level, actor=actor) from exc
    counts = kind in COUNTING_READS[ws.config.section("media")["archive_medium"]]
    unmarked = kind in ("drive", "disc") and master is None  # a read nobody holding the key vouches for
    key = marks.mark_key(master) if master is not None else None
    with ws.transaction() as s:
        disc = s.scalars(select(Disc).where(Disc.label == label).options(selectinload(Disc.items)).with_for_update()).one()
        if disc.status in ("built", "failed"):
            disc.status = "verified"
        now = utcnow()
        disc.verified_at, disc.verify_level, disc.verified_from = now, level, kind
        if kind in ("drive", "disc"):
            disc.medium_verified_at = now
            disc.medium_mac = marks.medium_mac(key, archive, label, disc.iso_sha256, now) if key else None
        checked = 0
        if full:  # verify_full decrypted every item of a case with a key and compared every recorded hash
            for item in disc.items:
                if item.case_ref in identities and item.vault_item in plaintext:
                    item.checked_at, checked = now, checked + 1
                    item.checked_mac = marks.item_mac(key, archive, label, disc.iso_sha256, item.document_id, item.vault_item, now)
        if unmarked:
            counts = False
        if auth is not None:
            how = authority.require(s, auth, f"verifying disc {label}")  # still logged in, and sealed on commit
        audit.record(s, actor, "media.verified", subject=f"disc:{label}", level=level, items=quick.items, read_from=kind,
                     counts=counts, items_rehashed=checked, **how)
        status = disc.status
    return {"media": str(source), "label": label, "ok": True, "level": level, "items": quick.items,
            "files": quick.files, "status": status, "verified_from": kind, "counts": counts, "readme_signed": quick.readme_signed,
            "without_passphrase": unmarked, **extra}


def register(s: Session) -> list[dict]:
    """The disc register. ``error_correction``: whether the image carries dvdisaster RS02 data
    (None for a disc built before that was recorded); ``burnt_at``: the last burn by
    :func:`pipeline.burning.burn`; ``replaces`` / ``replaced_by``: labels of a degraded disc and
    the disc built from the vault to replace it."""
    discs = list(s.scalars(select(Disc).options(selectinload(Disc.items)).order_by(Disc.label)))
    replaced_by = {d.replaces: d.label for d in discs if d.replaces and d.status != "destroyed"}
    return [
        {"label": d.label, "iso_sha256": d.iso_sha256, "items": len(d.items), "status": d.status, "location": d.location,
         "verified_at": d.verified_at.isoformat(timespec="seconds") if d.verified_at else None,
         "verified_from": d.verified_from,
         "read_from_disc_at": d.medium_verified_at.isoformat(timespec="seconds") if d.medium_verified_at else None,
         "items_rehashed": sum(1 for i in d.items if i.checked_at is not None),
         "dispose_year": d.dispose_year, "bytes": d.size,
         "error_correction": d.ecc,
         "burnt_at": d.burnt_at.isoformat(timespec="seconds") if d.burnt_at else None,
         "replaces": d.replaces, "replaced_by": replaced_by.get(d.label)}
        for d in discs
    ]


#: discs that should be in the cupboard and readable: re-read on schedule
_ON_SHELF = ("verified", "in-cupboard")


def discs_due_for_reread(s: Session, cfg: Config, today: dt.date) -> list[dict]:
    """Discs to read back from the drive (a full verification) by ``today``: those in the
    cupboard, or burnt, whose last read from the disc itself is ``media.reread_months`` old or
    more, or that were never read from it (due since they were built); and discs that failed a
    verification and have no replacement yet (``action`` ``"replace"``). Plain data, oldest first;
    runs in the caller's session and changes nothing."""
    from pipeline.dates import add_months

    months = cfg.section("media")["reread_months"]
    discs = list(s.scalars(select(Disc).where(Disc.status.in_((*_ON_SHELF, "failed")))))
    replacements = {r.replaces: r for r in s.scalars(select(Disc).where(Disc.replaces.is_not(None), Disc.status != "destroyed"))}
    out = []
    for d in discs:
        last = d.medium_verified_at
        if d.status == "failed":
            new = replacements.get(d.label)
            if new is not None and new.status in _ON_SHELF:
                continue  # replaced by a verified disc: what is left is to destroy it
            action, due_on = "replace", (d.verified_at or d.built_at).date()
            reason = ("failed its last verification: replace it from the vault (or repair it from its error-correction data)"
                      if new is None else f"failed its last verification; its replacement {new.label} is built: burn it")
        elif d.status == "in-cupboard" or d.burnt_at is not None or last is not None:
            action = "reread"
            # never read from the disc itself: due at once (a burn without its read-back proves nothing)
            due_on = add_months(last.date(), months) if last else (d.burnt_at or d.built_at).date()
            reason = (f"last read back from the drive on {last.date()}" if last else "never read back from the drive")
        else:
            continue  # built, not yet burnt: it waits to be burnt, not to be re-read
        if due_on <= today:
            out.append({"label": d.label, "status": d.status, "location": d.location, "action": action,
                        "due_on": due_on.isoformat(),
                        "last_read_from_disc": last.date().isoformat() if last else None,
                        "error_correction": d.ecc, "reason": reason})
    return sorted(out, key=lambda r: (r["due_on"], r["label"]))


def without_error_correction(s: Session) -> list[str]:
    """Labels of the discs not destroyed whose image carries no dvdisaster error-correction data
    (``ecc`` False): a damaged one cannot be repaired, only replaced from the vault."""
    return list(s.scalars(select(Disc.label).where(Disc.ecc.is_(False), Disc.status != "destroyed").order_by(Disc.label)))


def store(s: Session, label: str, location: str, *, auth: authority.Unlocked) -> Disc:
    """Record where a verified disc is kept (the locked cupboard), as ``auth.actor`` (any staff
    login). Runs in the caller's transaction."""
    how = authority.require(s, auth, f"recording where disc {label} is kept")
    disc = s.scalars(select(Disc).where(Disc.label == label).with_for_update()).one_or_none()
    if disc is None:
        raise DiscNotFound(label=label)
    if disc.status not in ("verified", "in-cupboard"):
        raise NotArchived(what=f"disc {label}", hint="verify it before it goes in the cupboard",
                          cli_hint="Verify it with 'pps-archive media verify'.")
    disc.status, disc.location = "in-cupboard", location
    audit.record(s, auth.actor, "media.stored", subject=f"disc:{label}", location=location, **how)
    return disc


def destroy(s: Session, cfg: Config, label: str, *, auth: authority.Unlocked, today: dt.date, consent: str) -> Disc:
    """Record a disc as physically destroyed, by ``auth.actor`` (the key store must be unlocked).
    Refused while it holds an item of a live case that is archived on no other disc (consolidate
    first: 'media build --consolidate LABEL'). Runs in the caller's transaction."""
    from pipeline.shredding import archived_document_ids

    authority.ensure_not_later(today, f"recording disc {label} destroyed")
    how = authority.require(s, auth, f"recording disc {label} destroyed", role=authority.MANAGER)
    disc = s.scalars(select(Disc).where(Disc.label == label).options(selectinload(Disc.items)).with_for_update()).one_or_none()
    if disc is None:
        raise DiscNotFound(label=label)
    if disc.status == "destroyed":
        raise Conflict(f"disc {label} was already recorded as destroyed on {disc.destroyed_on}")
    disposed = set(s.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))
    live = [i for i in disc.items if i.case_ref not in disposed]
    if live:
        elsewhere = archived_document_ids(s, cfg, [i.document_id for i in live], exclude_disc=disc.id,
                                          mark_key=marks.mark_key(auth.master))
        missing = [i for i in live if i.document_id not in elsewhere]
        if missing:
            raise NotArchived(what=f"{len(missing)} live item(s) of disc {label}",
                              hint="re-burn them first onto a new disc, verify the new disc, then destroy this one",
                              cli_hint=f"To re-burn them: 'pps-archive media build --consolidate {label}'.")
    disc.status, disc.destroyed_on = "destroyed", today
    audit.record(s, auth.actor, "media.destroyed", subject=f"disc:{label}", items=len(disc.items), consent=consent, **how)
    return disc


def restore(ws: Workspace, source: Path, document_id: int, out: Path, *, auth: authority.Unlocked,
            original: bool = False) -> dict:
    """Decrypt one document from a disc image or a mounted disc, checking its plaintext hash, as
    ``auth.actor`` (any staff login).
    ``original``: the input file's own bytes kept beside it (a born-digital or signed PDF)."""
    from archive_media.iso import read_disc
    from pipeline.jobcontext import sweep_stale

    sweep_stale(ws)  # plaintext a killed command left (rule 2)
    with ws.transaction() as s:
        doc = s.get(Document, document_id)
        if doc is None:
            raise DocumentNotFound(document=document_id)
        if doc.case is None or doc.vault_item is None or doc.decision != "retain":
            raise Conflict(f"document {document_id} has no retained scan to restore ({doc.decision}, {doc.state})")
        authority.require(s, auth, f"restoring document {document_id}")
        master = auth.master
        identity = keystore.case_identity(s, master, doc.case.ref)
        pub, archive = public_key(s, ws.data_dir), keystore.archive_id(s)
        item, expected, ref = doc.vault_item, doc.plaintext_sha256, doc.case.ref
        if original:
            if doc.original_item is None:
                raise NotFound(f"document {document_id} has no original file kept (only born-digital or signed PDFs have one)")
            item, expected = doc.original_item, doc.original_sha256
    with read_disc(source, public_key=pub, archive_id=archive) as reader:
        if item not in {e.item_id for e in reader.index.entries}:
            raise MediaError(media=str(source), problem=f"document {document_id} is not on disc {reader.index.label}")
        reader.decrypt_item(item, identity, out, expected)
        label = reader.index.label
    with ws.transaction() as s:
        how = authority.require(s, auth, f"restoring document {document_id}")  # still logged in; sealed on commit
        audit.record(s, auth.actor, "document.restored", case_ref=ref, subject=f"document:{document_id}", disc=label,
                     original=original, **how)
    return {"document": document_id, "case_ref": ref, "disc": label, "out": str(out), "original": original}


def images_dir(ws: Workspace) -> Path:
    """Where a front-end without a folder of its own (the web app) builds images: in the data dir
    (made private if missing)."""
    from pipeline.workspace import make_private_dir

    make_private_dir(ws.path("media"))
    return make_private_dir(ws.path("media") / "images")


def image_file(ws: Workspace, label: str) -> Path:
    """The built image of disc ``label`` in :func:`images_dir` (ciphertext only, signed): for a
    download to burn. :class:`DiscNotFound` if the register has no such disc, :class:`NotFound` if
    its image is not there (built into another folder, or cleared away)."""
    with ws.reader() as s:
        disc = s.scalars(select(Disc).where(Disc.label == label.strip().upper())).one_or_none()
        if disc is None:
            raise DiscNotFound(label=label)
        label = disc.label
    path = images_dir(ws) / f"{label}.iso"
    if not path.is_file():
        raise NotFound(f"the image of disc {label} is not in the data directory's image folder: it was built elsewhere, "
                       "or removed after burning (build a new disc from the vault if the CD is lost)")
    return path


def retirements(s: Session, as_of: dt.date) -> dict:
    """From the register alone: discs whose every item belongs to a disposed case (``destroy``:
    to be destroyed physically), and discs past their disposal year that still hold live cases'
    items beside disposed ones (``consolidate``: re-burn the live items, then destroy). What the
    disposal run lists, without reading the discs. Read-only; the caller's session."""
    from pipeline.disposal import DisposalPlan, _plan_discs

    p = DisposalPlan(as_of=as_of)
    _plan_discs(s, p, [], set())
    return {"destroy": p.discs_to_destroy, "consolidate": p.discs_to_consolidate}
