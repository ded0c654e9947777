"""Tool-call ids already answered, so a retried call never signs twice (BYOK).

A server wallet gets the call id as its ``Idempotency-Key`` and the service deduplicates. A BYOK
wallet signs locally, so the dispatcher records here, under MM_HOME (``calls.json``, written
atomically under the state lock like the request log), which request each call id produced; a
retry with the same id returns that request instead of running the operation again.
"""

from __future__ import annotations

import time
from typing import Any

from mm_agent.errors import IdempotencyConflict

from .state import Home

__all__ = ["CallLog"]

_MAX = 500  # records kept (oldest dropped)


class CallLog:
    NAME = "calls.json"

    def __init__(self, home: Home) -> None:
        self.home = home

    def get(self, call_id: str, fingerprint: str) -> dict[str, Any] | None:
        """The recorded envelope of ``call_id``; ``IDEMPOTENCY_CONFLICT`` if it asked for
        something else."""
        data = self.home.read_json(self.NAME, {})
        record = data.get(call_id) if isinstance(data, dict) else None
        if not isinstance(record, dict):
            return None
        if record.get("fingerprint") != fingerprint:
            raise IdempotencyConflict(f"Call id {call_id!r} was already used for another call.",
                                      hint="Use a new id for a new call.")
        envelope = record.get("envelope")
        return envelope if isinstance(envelope, dict) else None

    def put(self, call_id: str, fingerprint: str, envelope: dict[str, Any]) -> None:
        def apply(data: Any) -> dict[str, Any]:
            data = dict(data) if isinstance(data, dict) else {}
            data.pop(call_id, None)
            data[call_id] = {"fingerprint": fingerprint, "envelope": envelope,
                             "at": int(time.time())}
            return dict(list(data.items())[-_MAX:])

        self.home.update_json(self.NAME, {}, apply)
