"""Service settings: where data lives, how to mail, how long approvals stay open."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerSettings", "SmtpSettings"]


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
        host = os.environ.get("MM_SMTP_HOST")
        if not host:
            return None
        return cls(
            host=host,
            port=int(os.environ.get("MM_SMTP_PORT", "587")),
            username=os.environ.get("MM_SMTP_USERNAME") or None,
            password=os.environ.get("MM_SMTP_PASSWORD") or None,
            starttls=os.environ.get("MM_SMTP_STARTTLS", "true").lower() != "false",
            sender=os.environ.get("MM_SMTP_FROM", "mm-agent <no-reply@localhost>"),
        )


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
    workers: int = 8  # concurrent jobs

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def use_outbox(self) -> bool:
        return self.dev or self.smtp is None
