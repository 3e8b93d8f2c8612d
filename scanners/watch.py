"""Watching drop folders: report each file (or batch of single-page files) once it is complete.

Office scanners "scan to folder". :class:`DropFolderWatcher` watches one folder per
:class:`ScannerProfile` with watchdog (inotify; or polling, for network shares), lists every
folder when it starts, and lists them again every ``rescan_seconds`` because events get lost.
Events only nudge the loop; one loop, in one background thread, lists the folders, keeps a table
of candidates and decides readiness. A file is ready when its size and mtime have not changed
for ``stable_seconds``, it is still a regular file inside the folder, it opens and reads, and (on
Linux, where the kernel can tell) no process holds it open for writing.

``on_ready`` gets a :class:`ReadyInput`: one file, or all pages of one batch in page order. The
watcher never moves or deletes anything: the caller takes the files into its spool. If
``on_ready`` raises, the unit is offered again on a later pass (backing off up to the rescan
interval); a unit still in the folder ``rescan_seconds`` after it was handed over is offered
again, so the caller's intake must be idempotent by content hash. Symbolic links, FIFOs,
sockets, devices and anything resolving outside the folder are refused through ``on_refused``
(once per path until it changes) and always logged. Logs name profiles and counts; paths,
relative to the drop folder, appear only at DEBUG, and file contents never.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pps_archive.errors import ConfigInvalid
from scanners._candidates import CandidateTable, Unit
from scanners._dropscan import Refusal, glob_regex, list_folder
from scanners._observers import EventSource
from scanners._stability import FileFingerprint, Verdict, final_check

__all__ = [
    "DEFAULT_IGNORE_PATTERNS",
    "DropFolderWatcher",
    "FileFingerprint",
    "ReadyInput",
    "ScannerProfile",
    "WatchSettings",
    "settings_from_config",
]

log = logging.getLogger(__name__)

#: The defaults of ``intake.ignore_patterns`` in config/default.toml. ``.*`` also covers the
#: temp names of :func:`pps_archive.atomic.atomic_writer` (``.tmp-*.part``).
DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = (
    "~$*", ".~*", ".DS_Store", "Thumbs.db", "desktop.ini", "*.part", "*.tmp", "*.crdownload", ".*",
)


def _bad(key: str, problem: str) -> ConfigInvalid:
    return ConfigInvalid(file="configuration", key=key, problem=problem)


@dataclass(frozen=True)
class ScannerProfile:
    """One scanner's drop folder and how its files are named.

    Same fields as ``pipeline.config.ScannerProfileConfig`` (an empty ``group_pattern`` means
    none), so ``ScannerProfile(**dataclasses.asdict(cfg))`` converts one.

    ``pattern`` is a glob on the file name and ``group_pattern`` a regular expression matched
    against the whole file name, both case-insensitive. ``group_pattern`` must have the named
    groups ``batch`` and ``page`` (digits): matching files of one batch in one folder form one
    unit, in page order, ready once no page has appeared or changed for ``group_wait_seconds``
    (and never sooner than ``stable_seconds``). A page arriving after its batch was handed over
    starts a new unit, so ``group_wait_seconds`` must cover the scanner's longest pause.
    """

    name: str
    folder: Path
    pattern: str = "*"
    recursive: bool = False
    group_pattern: str | None = None
    group_wait_seconds: float = 30.0
    _name_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _group_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = f"scanners.{self.name}"
        if not self.name or not isinstance(self.name, str):
            raise _bad("scanners", "a scanner profile needs a name")
        object.__setattr__(self, "folder", Path(self.folder))
        if not self.pattern:
            raise _bad(f"{key}.pattern", "must not be empty (use \"*\" for every file)")
        if not self.group_wait_seconds >= 0:
            raise _bad(f"{key}.group_wait_seconds", "must be zero or more")
        object.__setattr__(self, "_name_re", glob_regex([self.pattern]))
        group_re = None
        if self.group_pattern:
            try:
                group_re = re.compile(self.group_pattern, re.IGNORECASE)
            except re.error as exc:
                raise _bad(f"{key}.group_pattern", f"not a regular expression ({exc})") from exc
            if not {"batch", "page"} <= set(group_re.groupindex):
                raise _bad(f"{key}.group_pattern", "needs the named groups (?P<batch>...) and (?P<page>...)")
        object.__setattr__(self, "_group_re", group_re)

    def matches(self, name: str) -> bool:
        return self._name_re.fullmatch(name) is not None

    def group_of(self, name: str) -> tuple[str, int] | None:
        """``(batch, page)`` if ``name`` is a page of a batch, else None."""
        if self._group_re is None:
            return None
        m = self._group_re.fullmatch(name)
        if m is None or not m.group("batch") or not (m.group("page") or "").isdigit():
            return None
        return m.group("batch"), int(m.group("page"))


@dataclass(frozen=True)
class WatchSettings:
    """``intake.*`` settings. ``poll_interval_seconds`` is how often the polling observer looks."""

    stable_seconds: float = 5.0
    rescan_seconds: float = 60.0
    polling: bool = False
    ignore_patterns: tuple[str, ...] = DEFAULT_IGNORE_PATTERNS
    poll_interval_seconds: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore_patterns", tuple(self.ignore_patterns))
        if not self.stable_seconds >= 0:
            raise _bad("intake.stable_seconds", "must be zero or more")
        if not (self.rescan_seconds > 0 and math.isfinite(self.rescan_seconds)):
            raise _bad("intake.rescan_seconds", "must be a number of seconds above zero")
        if not self.poll_interval_seconds > 0:
            raise _bad("intake.poll_interval_seconds", "must be above zero")


@dataclass(frozen=True)
class ReadyInput:
    """One unit to take in: a file, or the pages of one batch in page order.

    ``names`` are relative to the profile's folder ("/"-separated); ``paths`` lie under the
    folder's resolved path; ``fingerprints[i]`` is what ``paths[i]`` was when found stable.
    """

    profile: str
    paths: tuple[Path, ...]
    names: tuple[str, ...]
    fingerprints: tuple[FileFingerprint, ...]

    @property
    def is_group(self) -> bool:
        return len(self.paths) > 1


class DropFolderWatcher:
    """Watch the profiles' folders and call ``on_ready`` once per complete unit.

    Use :meth:`start`/:meth:`stop` (or ``with``) for the daemon, or call :meth:`poll_once`
    repeatedly to drive it without threads (with an injected ``clock`` in tests; with
    ``stable_seconds=0`` a single pass reports everything that is there, as ``ingest`` wants).
    ``on_ready`` and ``on_refused`` run in the loop thread; :meth:`stop` waits for a call in
    progress. The injected clock is used for every decision; the threaded loop also sleeps by it,
    so give the threaded loop a real monotonic clock.
    """

    def __init__(
        self,
        profiles: Iterable[ScannerProfile],
        settings: WatchSettings,
        on_ready: Callable[[ReadyInput], None],
        *,
        on_refused: Callable[[Path, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._profiles: tuple[ScannerProfile, ...] = tuple(profiles)
        names = [p.name for p in self._profiles]
        if len(set(names)) != len(names):
            raise _bad("scanners", "two scanner profiles have the same name")
        self._settings = settings
        self._on_ready, self._on_refused, self._clock = on_ready, on_refused, clock
        self._ignore = glob_regex(settings.ignore_patterns)
        self._roots = {p.name: Path(os.path.realpath(p.folder)) for p in self._profiles}
        self._table = CandidateTable(settings.stable_seconds, settings.rescan_seconds)
        self._unlistable: set[str] = set()
        self._pass_lock = threading.Lock()
        self._life_lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._events: EventSource | None = None
        # a burst of events (a file written in small chunks) settles into one pass
        self._gap = min(max(settings.stable_seconds / 5, 0.02), 0.5)

    # -- public ------------------------------------------------------------------------------
    def poll_once(self) -> list[ReadyInput]:
        """List every folder now, hand over every unit that is ready; return those handed over."""
        with self._pass_lock:
            return self._pass(interruptible=False)

    def start(self) -> None:
        """Start the observers and the loop (which lists every folder at once)."""
        with self._life_lock:
            if self._thread is not None:
                raise RuntimeError("the drop-folder watcher is already running")
            for p in self._profiles:
                self._roots[p.name] = Path(os.path.realpath(p.folder))
                if not self._roots[p.name].is_dir():
                    raise _bad(f"scanners.{p.name}.folder", f"{p.folder} is not an existing folder: create it or fix the path")
            self._stop.clear()
            folders = {p.name: (self._roots[p.name], p.recursive) for p in self._profiles}
            self._events = EventSource(folders, self._wake.set, self._ignore, polling=self._settings.polling,
                                       poll_interval=self._settings.poll_interval_seconds)
            self._events.start()
            self._thread = threading.Thread(target=self._run, name="pps-drop-watcher", daemon=True)
            self._thread.start()
            log.info("watching %d drop folder(s)%s", len(self._profiles), " by polling" if self._settings.polling else "")

    def stop(self) -> None:
        """Stop observers and loop and wait for them. Safe to call twice, or from ``on_ready``."""
        with self._life_lock:
            self._stop.set()
            self._wake.set()
            thread, events = self._thread, self._events
            self._thread, self._events = None, None
            if events is not None:
                events.stop()
            if thread is not None and thread is not threading.current_thread():
                thread.join()

    def __enter__(self) -> DropFolderWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._pass_lock:
                try:
                    self._pass(interruptible=True)
                except Exception as exc:  # never let one bad pass end the daemon
                    log.error("drop-folder pass failed (%s); trying again", type(exc).__name__)
                now = self._clock()
                due = self._table.next_deadline()
                deadline = now + self._settings.rescan_seconds
                if due is not None:
                    deadline = min(deadline, due)
            if self._wake.wait(max(deadline - now, 0.0) + 0.01) and not self._stop.is_set():
                self._stop.wait(self._gap)

    def _pass(self, *, interruptible: bool) -> list[ReadyInput]:
        now = self._clock()
        for profile in self._profiles:
            self._list(profile, now)
        handed: list[ReadyInput] = []
        for unit in self._table.due(now):
            if interruptible and self._stop.is_set():
                break
            ready = self._final_check(unit, now)
            if ready is not None and self._deliver(unit, ready):
                handed.append(ready)
        return handed

    def _list(self, profile: ScannerProfile, now: float) -> None:
        root = self._roots[profile.name] = Path(os.path.realpath(profile.folder))
        try:
            listing = list_folder(profile, root, self._ignore)
        except OSError as exc:
            if profile.name not in self._unlistable:
                self._unlistable.add(profile.name)
                log.warning("drop folder of profile %s cannot be listed (%s); retrying", profile.name, type(exc).__name__)
            self._table.update(profile.name, [], now, profile.group_wait_seconds)
            self._table.new_refusals(profile.name, [])
            return
        if profile.name in self._unlistable:
            self._unlistable.discard(profile.name)
            log.info("drop folder of profile %s can be listed again", profile.name)
        events = self._events
        if events is not None:
            events.rearm(profile.name)
        self._table.update(profile.name, listing.files, now, profile.group_wait_seconds)
        for refusal in self._table.new_refusals(profile.name, listing.refused):
            self._refuse(profile, refusal)

    def _final_check(self, unit: Unit, now: float) -> ReadyInput | None:
        root = self._roots[unit.profile]
        for entry in unit.members:
            verdict, why = final_check(entry.seen.path, entry.seen.fp, root)
            if verdict is Verdict.READY:
                continue
            log.debug("profile %s: a file is not ready: %s", unit.profile, why)
            if verdict is Verdict.BUSY:
                if self._table.mark_busy(unit, now):
                    log.warning("profile %s: a file has been %s for over %g s; it is taken once that ends",
                                unit.profile, why, self._settings.rescan_seconds)
            else:
                self._table.mark_changed(unit, now)
            return None
        return ReadyInput(
            profile=unit.profile,
            paths=tuple(e.seen.path for e in unit.members),
            names=tuple(e.seen.rel for e in unit.members),
            fingerprints=tuple(e.seen.fp for e in unit.members),
        )

    def _deliver(self, unit: Unit, ready: ReadyInput) -> bool:
        again = unit.reported is not None and unit.reported == unit.identity
        kind = f"batch of {len(ready.paths)} pages" if unit.is_group else "file"
        log.info("profile %s: %s ready%s", unit.profile, kind, " (offered again: still in the folder)" if again else "")
        try:
            self._on_ready(ready)
        except Exception as exc:
            self._table.mark_failed(unit, self._clock())
            log.warning("profile %s: taking a %s failed (%s); it stays in the drop folder and is offered again",
                        unit.profile, kind, type(exc).__name__)
            return False
        self._table.mark_reported(unit, self._clock())
        return True

    def _refuse(self, profile: ScannerProfile, refusal: Refusal) -> None:
        log.warning("profile %s: refused an entry in the drop folder: it %s", profile.name, refusal.reason)
        if self._on_refused is None:
            return
        try:
            self._on_refused(refusal.path, refusal.reason)
        except Exception as exc:
            log.warning("profile %s: on_refused failed (%s)", profile.name, type(exc).__name__)


def settings_from_config(intake: dict) -> WatchSettings:
    """Build settings from the ``[intake]`` table (keys not about watching are ignored)."""
    return WatchSettings(
        stable_seconds=float(intake.get("stable_seconds", 5.0)),
        rescan_seconds=float(intake.get("rescan_seconds", 60.0)),
        polling=bool(intake.get("polling", False)),
        ignore_patterns=tuple(intake.get("ignore_patterns", DEFAULT_IGNORE_PATTERNS)),
        poll_interval_seconds=float(intake.get("poll_interval_seconds", 2.0)),
    )
