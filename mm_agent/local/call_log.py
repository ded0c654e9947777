"""Tool-call ids already answered, so a retried call never signs twice (BYOK).

A server wallet gets the call id as its ``Idempotency-Key`` and the service deduplicates. A BYOK
wallet signs locally, so the dispatcher records here, under MM_HOME (``calls.sqlite``, one row
per call id, like the request log: ``logdb``), which request each call id produced; a retry
with the same id returns that request instead of running the operation again. A ``calls.json``
of an older version is imported once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mm_agent.errors import IdempotencyConflict, StateCorrupt

from .logdb import LogDB
from .state import Home

__all__ = ["CallLog"]

_MAX = 500  # records kept (oldest dropped)

_SCHEMA = """
CREATE TABLE calls (
    seq INTEGER PRIMARY KEY,            -- order of recording: newest last
    call_id TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    envelope TEXT NOT NULL,             -- the answer, JSON
    at INTEGER NOT NULL                 -- unix time
);
"""
_UPSERT = ("INSERT OR REPLACE INTO calls (call_id, fingerprint, envelope, at) "
           "VALUES (?, ?, ?, ?)")
_PRUNE = "DELETE FROM calls WHERE seq <= (SELECT seq FROM calls ORDER BY seq DESC LIMIT 1 OFFSET ?)"


class CallLog:
    NAME = "calls.sqlite"
    LEGACY = "calls.json"

    def __init__(self, home: Home) -> None:
        self.home = home
        self._db = LogDB(home, self.NAME, _SCHEMA, self.LEGACY, _load_legacy)

    def get(self, call_id: str, fingerprint: str) -> dict[str, Any] | None:
        """The recorded envelope of ``call_id``; ``IDEMPOTENCY_CONFLICT`` if it asked for
        something else."""
        row = self._db.read(lambda c: c.execute(
            "SELECT fingerprint, envelope FROM calls WHERE call_id = ?", (call_id,)).fetchone(),
            None)
        if row is None:
            return None
        if row[0] != fingerprint:
            raise IdempotencyConflict(f"Call id {call_id!r} was already used for another call.",
                                      hint="Use a new id for a new call.")
        try:
            envelope = json.loads(row[1])
        except (TypeError, ValueError) as exc:
            raise StateCorrupt("A record of calls.sqlite is not valid JSON.") from exc
        return envelope if isinstance(envelope, dict) else None

    def put(self, call_id: str, fingerprint: str, envelope: dict[str, Any]) -> None:
        row = (call_id, fingerprint, json.dumps(envelope, sort_keys=True), int(time.time()))
        self._db.put(_UPSERT, row, _PRUNE, _MAX)


def _load_legacy(conn: Any, data: Any) -> None:
    """Import ``calls.json`` (call id → record, oldest first) into a new calls.sqlite."""
    if data is None:
        return
    if not isinstance(data, dict):
        raise StateCorrupt("calls.json is not an object of call records.")
    for call_id, record in data.items():
        if isinstance(record, dict) and isinstance(record.get("fingerprint"), str):
            conn.execute(_UPSERT, (str(call_id), record["fingerprint"],
                                   json.dumps(record.get("envelope"), sort_keys=True),
                                   int(record.get("at") or 0)))
    conn.execute(_PRUNE, (_MAX,))
