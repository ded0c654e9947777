"""The root of the error tree: ``MMError`` (code, message, hint, details), the code → class
table ``from_payload`` reads, and ``ServiceError``, its fallback for a code this client does
not know.

Every subclass registers its ``code`` when it is defined (``__init_subclass__``); the first
class to claim a code is the canonical one, so a family's base stays ahead of its members
(``TransactionError`` before ``TxFailed``, both ``TX_FAILED``)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = [
    "MMError",
    "ServiceError",
]


_BY_CODE: dict[str, type[MMError]] = {}


_DOUBLED_END = re.compile(r"(?<![.])([.!?:;,])\s*\.$")
_DOUBLED_INSIDE = re.compile(r"(?<![.])([.!?])\.(?=\s)")


def _tidy(text: str) -> str:
    """One closing mark: ``"… {reason}."`` where ``reason`` already ended in "." (an
    exception's text, a pydantic message) must not read "…." — at the end or before the next
    sentence. An ellipsis ("...") is left alone."""
    text = _DOUBLED_INSIDE.sub(r"\1", text.strip())
    return _DOUBLED_END.sub(r"\1", text) if text.endswith(".") else text


class MMError(Exception):
    """Base of every mm-agent error. ``code`` is stable; ``message`` is for people."""

    code: ClassVar[str] = "MM_ERROR"
    exit_code: ClassVar[int] = 1
    # HTTP status the wallet service answers with; inherited down the tree, so a new class
    # gets its family's status (never derived from the code's spelling).
    http_status: ClassVar[int] = 500
    default_hint: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        message = _tidy(message)
        super().__init__(message)
        self.message = message
        hint = hint if hint is not None else self.default_hint
        self.hint = _tidy(hint) if hint else hint
        # Extra machine-readable context (e.g. the preview for APPROVAL_REQUIRED). Must never
        # hold a secret: it is printed in envelopes.
        self.details = details or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # First class to claim a code is the canonical one for from_payload.
        _BY_CODE.setdefault(cls.code, cls)

    def to_payload(self) -> dict[str, Any]:
        """The ``error`` object of the JSON envelope."""
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            payload["hint"] = self.hint
        if self.details:
            payload["details"] = self.details
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MMError:
        """Rebuild an error of the right class from an envelope's ``error`` object."""
        code = str(payload.get("code") or "MM_ERROR")
        klass = _BY_CODE.get(code, ServiceError)
        err = klass(
            str(payload.get("message") or code),
            hint=payload.get("hint"),
            details=payload.get("details") or None,
        )
        if klass is ServiceError:
            err.remote_code = code  # type: ignore[attr-defined]
        return err

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


_BY_CODE[MMError.code] = MMError


# from_payload's fallback, so it lives beside MMError (base imports none of its subclasses).
class ServiceError(MMError):
    """An error from the wallet service whose code this client does not know."""

    code = "SERVICE_ERROR"
