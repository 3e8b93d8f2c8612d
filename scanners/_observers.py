"""File-system events for the drop-folder watcher: watchdog observers that only nudge the loop.

inotify by default; watchdog's PollingObserver when asked (SMB/NFS shares deliver no inotify
events) or when inotify cannot be had (the watch limit). Events are never trusted for content:
each one only wakes the loop, which lists the folders itself. watchdog is imported lazily.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("scanners.watch")


class _Nudge:
    """A watchdog event handler that only wakes the loop (duck-typed: watchdog calls dispatch)."""

    def __init__(self, nudge: Callable[[], None], ignore: re.Pattern[str] | None) -> None:
        self._nudge, self._ignore = nudge, ignore

    def dispatch(self, event: object) -> None:
        paths = (getattr(event, "src_path", ""), getattr(event, "dest_path", ""))
        names = [os.path.basename(os.fsdecode(p)) for p in paths if p]
        if self._ignore is not None and names and all(self._ignore.fullmatch(n) for n in names):
            return  # a temp file being written: its rename to the final name nudges
        self._nudge()


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class EventSource:
    """One watchdog observer for all folders; ``folders`` maps profile name to (path, recursive)."""

    def __init__(self, folders: dict[str, tuple[Path, bool]], nudge: Callable[[], None],
                 ignore: re.Pattern[str] | None, *, polling: bool, poll_interval: float) -> None:
        self._folders, self._nudge, self._ignore = folders, nudge, ignore
        self._polling, self._poll_interval = polling, poll_interval
        self._observer = None
        self._watches: dict[str, tuple[object, tuple[int, int] | None]] = {}

    def start(self) -> None:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if not self._polling:
            observer = Observer()
            try:
                self._schedule_all(observer)
                observer.start()
                self._observer = observer
                return
            except OSError as exc:  # e.g. the inotify watch limit: polling still works
                log.warning("file-system events unavailable (%s); falling back to polling", type(exc).__name__)
                self._watches.clear()
                observer.unschedule_all()
        observer = PollingObserver(timeout=self._poll_interval)
        self._schedule_all(observer)
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        self._watches.clear()
        if observer is not None:
            observer.stop()
            observer.join()

    def rearm(self, name: str) -> None:
        """A folder replaced under the same path (a share remounted) gets no events: watch it again."""
        observer, known = self._observer, self._watches.get(name)
        if observer is None or known is None or known[1] == _identity(self._folders[name][0]):
            return
        watch = known[0]
        if watch is not None:
            log.info("drop folder of profile %s was replaced; watching it again", name)
            try:
                observer.unschedule(watch)
            except (KeyError, OSError):
                pass
        try:
            self._schedule(observer, name)
        except OSError as exc:
            self._watches[name] = (None, None)  # try again on the next pass
            if watch is not None:
                log.warning("cannot watch profile %s again (%s); rescans still find its files", name, type(exc).__name__)

    def _schedule_all(self, observer) -> None:  # noqa: ANN001 - a watchdog observer, imported lazily
        for name in self._folders:
            self._schedule(observer, name)

    def _schedule(self, observer, name: str) -> None:  # noqa: ANN001 - a watchdog observer, imported lazily
        from watchdog.events import (
            DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
            FileDeletedEvent, FileModifiedEvent, FileMovedEvent,
        )

        # not opened/closed-without-write: our own final check opens files
        kinds = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
                 DirCreatedEvent, DirMovedEvent, DirDeletedEvent]
        folder, recursive = self._folders[name]
        watch = observer.schedule(_Nudge(self._nudge, self._ignore), str(folder),
                                  recursive=recursive, event_filter=kinds)
        self._watches[name] = (watch, _identity(folder))
