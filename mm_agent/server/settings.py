"""Service settings: where data lives, how to mail, how long approvals stay open."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mm_agent.errors import InvalidConfigValue
from mm_agent.local import env as env_vars

__all__ = ["Limit", "RateLimits", "ServerSettings", "SmtpSettings"]

# Request bodies: JSON API bodies and the pages' small forms (bytes), and JSON nesting depth.
MAX_BODY_BYTES = 256 * 1024
MAX_FORM_BYTES = 16 * 1024
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    sender: str = "mm-agent <no-reply@localhost>"

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        host = env_vars.get(env_vars.SMTP_HOST)
        if not host:
            return None
        return cls(
            host=host,
            port=int(env_vars.raw(env_vars.SMTP_PORT) or "587"),
            username=env_vars.get(env_vars.SMTP_USERNAME),
            password=env_vars.get(env_vars.SMTP_PASSWORD),
            starttls=(env_vars.raw(env_vars.SMTP_STARTTLS) or "true").lower() != "false",
            sender=env_vars.raw(env_vars.SMTP_FROM) or "mm-agent <no-reply@localhost>",
        )


_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400,
          "day": 86400}
_LIMIT_RE = re.compile(r"^\s*(\d{1,9})\s*/\s*(\d{0,6})\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Limit:
    count: int  # allowed per window; 0 = unlimited
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        value = text.strip().lower()
        if value in ("off", "none", "0"):
            return cls(0, 60)
        m = _LIMIT_RE.match(value)
        if not m or m.group(3) not in _UNITS:
            raise InvalidConfigValue(
                f"Not a rate limit: {text[:40]!r}.",
                hint="Use <count>/<window>, e.g. 10/h, 6000/min, 5/15min or off.")
        seconds = int(m.group(2) or 1) * _UNITS[m.group(3)]
        if seconds <= 0:
            raise InvalidConfigValue(f"Not a rate limit window: {text[:40]!r}.")
        return cls(int(m.group(1)), seconds)

    @property
    def enabled(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class RateLimits:
    wallet_create: Limit = field(default_factory=lambda: Limit(10, 3600))
    approval_mail: Limit = field(default_factory=lambda: Limit(20, 3600))
    submit: Limit = field(default_factory=lambda: Limit(6000, 60))
    signin_ip: Limit = field(default_factory=lambda: Limit(60, 900))
    pair_code: Limit = field(default_factory=lambda: Limit(5, 300))
    totp_signin: Limit = field(default_factory=lambda: Limit(10, 3600))
    approval_otp: Limit = field(default_factory=lambda: Limit(5, 300))
    approval_otp_account: Limit = field(default_factory=lambda: Limit(20, 3600))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RateLimits:
        given = env_vars.prefixed(env_vars.RATE_LIMIT_PREFIX, env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = given.get(f.name.upper())
            if raw:
                values[f.name] = Limit.parse(raw)
        return cls(**values)

    def get(self, scope: str) -> Limit:
        limit = getattr(self, scope, None)
        if not isinstance(limit, Limit):
            raise KeyError(scope)
        return limit


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765
    dev: bool = False
    # Where people reach the pages (links in mails, QR codes); default http://host:port.
    public_url: str | None = None
    smtp: SmtpSettings | None = None
    approval_window_seconds: int = 600
    device_login_seconds: int = 600
    access_token_seconds: int = 900
    refresh_token_seconds: int = 30 * 24 * 3600
    idempotency_seconds: int = 24 * 3600
    database_url: str | None = None  # default: SQLite in data_dir
    # Operator-chosen RPC per chain (`--rpc ID=URL`, MM_SERVER_RPC_<id>); never from agents.
    rpc: dict[int, str] = field(default_factory=dict, repr=False)
    # The devnet record the service follows (MM_HOME/devnet.json of whoever ran
    # `mm server start`), re-read on every use: a restarted devnet needs no service restart.
    devnet_file: Path | None = None
    workers: int = 8  # concurrent jobs
    # Most transactions of one wallet run as one batch (jobs/lanes.py; 1: one at a time).
    job_batch_size: int = 32
    # Replicas (jobs/queue.py): this process's name on the jobs it claims, and how long a
    # claim holds without renewal; a dead replica's jobs are taken over after it
    # (MM_JOB_LEASE_SECONDS, default 30; renewed every third of it).
    replica_id: str = field(default_factory=lambda: _replica_id())
    job_lease_seconds: float = field(
        default_factory=lambda: _env_seconds(env_vars.JOB_LEASE_SECONDS, 30.0))
    # Per-account / per-source limits (MM_RATE_LIMIT_<SCOPE>), see ratelimit.py.
    rate_limits: RateLimits = field(default_factory=lambda: RateLimits.from_env())
    max_body_bytes: int = field(
        default_factory=lambda: _env_int(env_vars.MAX_BODY_BYTES, MAX_BODY_BYTES))
    max_form_bytes: int = MAX_FORM_BYTES
    max_json_depth: int = MAX_JSON_DEPTH

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def use_outbox(self) -> bool:
        return self.dev or self.smtp is None


def _replica_id() -> str:
    """host:pid:random, unique per process (claims fence on it, so two processes must never
    share one): a restarted replica takes its old jobs over like any other's, once their
    lease lapses."""
    import socket
    import uuid

    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _env_seconds(name: str, default: float) -> float:
    raw = (env_vars.raw(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 86400:
        raise InvalidConfigValue(f"{name} must be a number of seconds (0.5 to 86400).")
    return value


def _env_int(name: str, default: int) -> int:
    raw = env_vars.get(name)
    if not raw:
        return default
    if not raw.strip().isdigit() or len(raw.strip()) > 12:
        raise InvalidConfigValue(f"{name} must be a whole number of bytes.")
    return int(raw)
