"""The sign-in session with the wallet service: ``MM_HOME/session.json`` (contract §1).

It holds the service URL the tokens belong to, the access/refresh token pair, when the access
token expires, how the user signed in (``browser`` | ``qr`` | ``token``), the account's email and
approval channel, and the active wallet. Tokens are secrets: ``repr()`` never shows them and
nothing here logs them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mm_agent.errors import NotAuthenticated

from .state import Home

__all__ = ["SESSION_FILE", "Session", "SessionStore", "iso_in", "parse_time"]

SESSION_FILE = "session.json"
_LOCK = ".session.lock"  # serialises token refreshes across processes (rotation is one-shot)

_KEYS = {
    "service_url": "serviceUrl",
    "access_token": "accessToken",
    "refresh_token": "refreshToken",
    "expires_at": "expiresAt",
    "method": "method",
    "email": "email",
    "channel": "channel",
    "active_wallet": "activeWallet",
    "pending_device": "pendingDevice",
}


def iso_in(seconds: float) -> str:
    """An ISO-8601 UTC time ``seconds`` from now."""
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> float | None:
    """Epoch seconds from an ISO-8601 string or a number; ``None`` when unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        text = str(value).replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True)
class Session:
    service_url: str
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: str | None = None
    method: str | None = None  # browser | qr | token
    email: str | None = None
    channel: str | None = None  # email | authenticator
    active_wallet: str | None = None
    # A device login started with `mm login --no-wait`; `deviceCode` inside is the polling
    # secret, so the whole dict stays out of repr.
    pending_device: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def authenticated(self) -> bool:
        return bool(self.access_token or self.refresh_token)

    def access_expired(self, skew: float = 30.0) -> bool:
        """True when the access token is known to expire within ``skew`` seconds."""
        at = parse_time(self.expires_at)
        return at is not None and at - skew <= time.time()

    def with_tokens(self, data: dict[str, Any]) -> Session:
        """This session with the pair from a refresh / device-token / login answer."""
        expires_in = data.get("expiresIn")
        return replace(
            self,
            access_token=str(data["accessToken"]),
            refresh_token=str(data.get("refreshToken") or self.refresh_token or "") or None,
            expires_at=iso_in(float(expires_in)) if expires_in is not None else self.expires_at,
            email=data.get("email") or self.email,
            channel=data.get("channel") or self.channel,
        )

    def public(self) -> dict[str, Any]:
        """What may be shown: everything but the secrets."""
        return {
            "serviceUrl": self.service_url,
            "method": self.method,
            "email": self.email,
            "channel": self.channel,
            "expiresAt": self.expires_at,
            "activeWallet": self.active_wallet,
        }

    def to_json(self) -> dict[str, Any]:
        return {_KEYS[k]: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        rev = {v: k for k, v in _KEYS.items()}
        kwargs = {rev[k]: v for k, v in data.items() if k in rev}
        kwargs.setdefault("service_url", "")
        return cls(**kwargs)


class SessionStore:
    """Reads and writes ``session.json`` under one MM_HOME."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def __repr__(self) -> str:
        return f"SessionStore({self.home!r})"

    def load(self) -> Session | None:
        data = self.home.read_json(SESSION_FILE)
        if not isinstance(data, dict):
            return None
        return Session.from_json(data)

    def require(self) -> Session:
        session = self.load()
        if session is None or not session.authenticated:
            raise NotAuthenticated("Not signed in to the wallet service.")
        return session

    def save(self, session: Session) -> None:
        self.home.write_json(SESSION_FILE, session.to_json())

    def update(self, **changes: Any) -> Session | None:
        """Change fields of the stored session (no-op without one)."""
        with self.lock():
            session = self.load()
            if session is None:
                return None
            session = replace(session, **changes)
            self.save(session)
            return session

    def delete(self) -> bool:
        path = self.home.path(SESSION_FILE)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Inter-process lock around read-refresh-write of the token pair."""
        with self.home.locked(_LOCK):
            yield
