"""Archive media: plan discs, build and register images, verify them, restore from them.

Retained documents not yet on a disc are packed onto images no larger than the capacity, grouped
by the year their case is due for disposal so that a disc expires whole. A disc is ``built`` when
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
from pps_archive.errors import Conflict, DiscNotFound, DocumentNotFound, InvalidValue, MediaError, NotArchived, NotFound

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

    @property
    def sizes(self) -> list[int]:
        return [self.size] + ([self.original[1]] if self.original else [])


@dataclass(frozen=True)
class PlannedDisc:
    label: str
    dispose_year: int
    items: tuple[PlannedItem, ...]
    estimated_size: int

    def as_dict(self) -> dict:
        return {"label": self.label, "dispose_year": self.dispose_year, "items": len(self.items),
                "cases": len({i.case_ref for i in self.items}), "bytes": self.estimated_size,
                "documents": [i.document_id for i in self.items]}


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
                    (d.original_item, d.original_size or 0, d.original_ciphertext_sha256) if d.original_item else None)
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


def plan(s: Session, cfg: Config, capacity: int | None = None, consolidate: tuple[str, ...] = ()) -> list[PlannedDisc]:
    """Pack the candidates into discs by disposal year, keeping a case's items together.
    ``capacity``: bytes per disc (default :func:`default_capacity`). ``consolidate``: labels of
    discs whose live items are to be re-burnt (so they can be destroyed)."""
    capacity = default_capacity(cfg) if capacity is None else capacity
    from archive_media.iso import estimate_size

    known = set(s.scalars(select(Disc.label).where(Disc.label.in_(consolidate))))
    if set(consolidate) - known:
        raise DiscNotFound(label=", ".join(sorted(set(consolidate) - known)))
    by_year: dict[int, list[PlannedItem]] = {}
    for item in _candidates(s, cfg, consolidate):
        by_year.setdefault(item.dispose_after.year, []).append(item)
    discs = []
    for year in sorted(by_year):
        items = sorted(by_year[year], key=lambda i: (i.case_ref, i.document_id))
        labels = _next_labels(s, year)
        current: list[PlannedItem] = []
        for item in items:
            if estimate_size(item.sizes) > capacity:
                raise InvalidValue(f"document {item.document_id} ({sum(item.sizes)} bytes) is larger than a disc's capacity of {capacity} bytes")
            if current and estimate_size([n for i in current for n in i.sizes] + item.sizes) > capacity:
                discs.append(PlannedDisc(next(labels), year, tuple(current), estimate_size([n for i in current for n in i.sizes])))
                current = []
            current.append(item)
        if current:
            discs.append(PlannedDisc(next(labels), year, tuple(current), estimate_size([n for i in current for n in i.sizes])))
    return discs


def _signing_key(s: Session, master: bytes) -> bytes:
    from archive_media import keys

    return keys.unwrap_signing_key(master, keystore.archive_id(s), keystore.signing_record(s).record)


def public_key(s: Session, data_dir: Path) -> bytes:
    """The archive's signing key (public half) as pinned in the data dir and agreed by the database."""
    return keystore.trusted_signing_key(s, data_dir)


def build(ws: Workspace, out_dir: Path, capacity: int | None = None, *, auth: authority.Unlocked, today: dt.date,
          consolidate: tuple[str, ...] = (), progress: ProgressCallback | None = None) -> list[dict]:
    """Build, read back and register an image for every planned disc (``capacity``: see
    :func:`plan`), as ``auth.actor`` (any staff login; the keyring signs the disc index);
    ``progress`` counts the discs registered (stage ``"build"``).

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
            planned = plan(s, ws.config, capacity, consolidate)
        ecc = "auto" if ws.config.section("media")["error_correction"] else "no"
        report(progress, "build", 0, len(planned))
        for n, disc in enumerate(planned, 1):
            with ws.transaction() as s:
                head = audit.head(s).head
            content = DiscContent(
                label=disc.label, archive_id=archive, service_name=ws.config.section("service")["name"], audit_head=head,
                items=tuple(DiscItem(item_id, vault.path_of(item_id), i.case_ref, i.dispose_after.isoformat(), sha)
                            for i in disc.items
                            for item_id, sha in [(i.item_id, i.ciphertext_sha256), *([(i.original[0], i.original[2])] if i.original else [])]),
                created=today.isoformat(),
            )
            path, pending = out_dir / f"{disc.label}.iso", out_dir / f".{disc.label}{_PENDING}"
            built = build_image(content, pending, signing, ecc=ecc, mode=0o600)
            try:
                verify_quick(built.path, public_key=public_key_of(signing), archive_id=archive, image_sha256=built.sha256)
                with ws.transaction() as s:
                    how = authority.require(s, auth, f"registering disc {disc.label}")  # and seals its events
                    row = Disc(label=disc.label, iso_sha256=built.sha256, size=built.size, dispose_year=disc.dispose_year,
                               status="built", built_at=utcnow())
                    s.add(row)
                    s.flush()
                    for i in disc.items:
                        s.add(DiscItemRow(disc_id=row.id, document_id=i.document_id, vault_item=i.item_id, case_ref=i.case_ref,
                                          dispose_after=i.dispose_after))
                    audit.record(s, actor, "media.built", subject=f"disc:{disc.label}", items=len(disc.items), sha256=built.sha256,
                                 ecc=built.ecc, **how)
            except BaseException:
                pending.unlink(missing_ok=True)  # never leave an image that is not in the register
                raise
            _publish(pending, path)
            results.append({"label": disc.label, "path": str(path), "iso_sha256": built.sha256, "items": len(disc.items),
                            "bytes": built.size, "dispose_year": disc.dispose_year, "error_correction": bool(built.ecc)})
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
        f"this one"), cli_hint=f"To build it: 'pps-archive media build' (or 'pps-archive media build --consolidate {label}').")


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
    discs = s.scalars(select(Disc).options(selectinload(Disc.items)).order_by(Disc.label))
    return [
        {"label": d.label, "iso_sha256": d.iso_sha256, "items": len(d.items), "status": d.status, "location": d.location,
         "verified_at": d.verified_at.isoformat(timespec="seconds") if d.verified_at else None,
         "verified_from": d.verified_from,
         "read_from_disc_at": d.medium_verified_at.isoformat(timespec="seconds") if d.medium_verified_at else None,
         "items_rehashed": sum(1 for i in d.items if i.checked_at is not None),
         "dispose_year": d.dispose_year, "bytes": d.size}
        for d in discs
    ]


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
