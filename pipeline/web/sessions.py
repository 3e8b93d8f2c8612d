"""Server-side login sessions: the unlocked keyring lives here, in memory, and nowhere else.

A session id is 32 random bytes (URL-safe) in an HttpOnly, SameSite=Strict cookie; the keyring,
the account's name and role and the session's CSRF token stay in this process. A session ends at
logout, after ``idle`` without a request, or ``absolute`` after login, whichever comes first; an
ended session's keyring reference is dropped at once (Python cannot promise to wipe the bytes, but
nothing else holds them). Restarting the server ends every session.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
from dataclasses import dataclass, field

from pipeline.authority import Unlocked


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class WebSession:
    """One logged-in person: their keyring (``auth``), when they logged in and were last seen."""

    id: str
    auth: Unlocked
    created: dt.datetime
    last_seen: dt.datetime
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def account(self) -> str:
        return self.auth.actor

    @property
    def role(self) -> str:
        return self.auth.role

    @property
    def is_manager(self) -> bool:
        return self.auth.is_manager

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionStore:
    """The live sessions of one server process (thread-safe)."""

    def __init__(self, *, idle: dt.timedelta, absolute: dt.timedelta) -> None:
        self.idle, self.absolute = idle, absolute
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def open(self, auth: Unlocked, *, now: dt.datetime | None = None) -> WebSession:
        now = now or _now()
        ws = WebSession(id=secrets.token_urlsafe(32), auth=auth, created=now, last_seen=now)
        with self._lock:
            self._sessions[ws.id] = ws
        return ws

    def get(self, sid: str | None, *, now: dt.datetime | None = None, touch: bool = True) -> WebSession | None:
        """The live session of this id, or None (unknown, logged out, idle too long, or too old)."""
        if not sid:
            return None
        now = now or _now()
        self.sweep(now=now)  # every ended session's keyring goes, not only this one's
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if touch:
                session.last_seen = now
            return session

    def close(self, sid: str | None) -> WebSession | None:
        with self._lock:
            return self._sessions.pop(sid, None) if sid else None

    def close_account(self, account: str) -> int:
        """End every session of an account (when it is disabled or its password reset)."""
        with self._lock:
            ids = [k for k, v in self._sessions.items() if v.account == account]
            for k in ids:
                del self._sessions[k]
            return len(ids)

    def sweep(self, *, now: dt.datetime | None = None) -> int:
        now = now or _now()
        with self._lock:
            dead = [k for k, v in self._sessions.items() if now - v.last_seen > self.idle or now - v.created > self.absolute]
            for k in dead:
                del self._sessions[k]
            return len(dead)

    def __len__(self) -> int:
        return len(self._sessions)
