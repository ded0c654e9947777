"""Outgoing mail: SMTP in production, ``<data-dir>/outbox/*.eml`` in development.

Bodies carry link secrets (magic links, approval links), so only subjects are ever logged and
error messages name the failure class, never the message.
"""

from __future__ import annotations

import email.policy
import logging
import os
import smtplib
import ssl
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from mm_agent.errors import ServiceError
from mm_agent.local.state import atomic_write_bytes

from ..settings import ServerSettings

__all__ = ["DEV_SENDER", "Mailer"]

log = logging.getLogger("mm_agent.server.services.mailer")

DEV_SENDER = "mm-agent <no-reply@localhost>"
ATTEMPTS = 3
_BACKOFF = (0.5, 1.5)  # seconds before the 2nd and 3rd attempt


def _transient(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500  # 4xx: "try again later"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | TimeoutError)


class Mailer:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings

    @property
    def sender(self) -> str:
        return self.settings.smtp.sender if self.settings.smtp else DEV_SENDER

    def build(self, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
        # Subjects carry long addresses: folding them at 78 columns left a leading space in
        # the Subject readers see. RFC 5322 allows 998; bodies are still encoded as needed.
        msg = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain="mm-agent.local")
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
        return msg

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> Path | None:
        """Deliver one message; returns the .eml path in outbox mode."""
        msg = self.build(to, subject, text, html)
        if self.settings.use_outbox:
            return self._to_outbox(msg, subject)
        self._smtp(msg, subject)
        return None

    def _to_outbox(self, msg: EmailMessage, subject: str) -> Path:
        outbox = self.settings.outbox
        outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(outbox, 0o700)  # mkdir's mode is masked by the umask
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = outbox / f"{stamp}-{uuid.uuid4().hex}.eml"
        # Temp file + rename: a reader globbing *.eml never sees half a message.
        atomic_write_bytes(path, msg.as_bytes(), mode=0o600)
        log.info("mail written to outbox: %s", subject)
        return path

    def _smtp(self, msg: EmailMessage, subject: str) -> None:
        smtp = self.settings.smtp
        assert smtp is not None
        last: Exception | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(_BACKOFF[min(attempt - 1, len(_BACKOFF) - 1)])
            try:
                with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
                    client.ehlo()
                    if smtp.starttls:
                        client.starttls(context=ssl.create_default_context())
                        client.ehlo()
                    if smtp.username:
                        client.login(smtp.username, smtp.password or "")
                    client.send_message(msg)
                log.info("mail sent: %s", subject)
                return
            except (smtplib.SMTPException, OSError) as exc:
                last = exc
                if not _transient(exc):
                    break
                log.warning("mail delivery attempt %d failed (%s); retrying",
                            attempt + 1, type(exc).__name__)
        name = type(last).__name__ if last else "unknown"
        log.error("mail not delivered: %s (%s)", subject, name)
        raise ServiceError(f"The mail could not be delivered ({name}).",
                           hint="Check the service's SMTP settings (MM_SMTP_*).")
