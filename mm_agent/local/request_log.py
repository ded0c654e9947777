"""The request (job) object of contract §4, and the BYOK request log.

Every signing or transaction operation produces a ``WalletRequest``. In BYOK the log lives in
``MM_HOME/requests.sqlite`` (for `mm wallet requests list` and `mm tx history`; ``logdb``);
the wallet service keeps its own in its database.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from mm_agent.errors import MMError, RequestNotFound, StateCorrupt

from .logdb import LogDB
from .state import Home

__all__ = [
    "TERMINAL_STATUSES",
    "RequestKind",
    "RequestLog",
    "RequestStatus",
    "WalletRequest",
    "history_rows",
    "new_polling_id",
]

RequestKind = Literal["transaction", "message", "typed-data", "policy", "trading-mode"]
RequestStatus = Literal[
    "PENDING", "AWAITING_MFA", "SUBMITTED", "COMPLETED", "FAILED", "DENIED", "EXPIRED"
]
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "DENIED", "EXPIRED"})
_MAX_LOG = 500  # BYOK log entries kept locally


def new_polling_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_CAMEL = {
    "polling_id": "pollingId",
    "chain_id": "chainId",
    "tx_hash": "txHash",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "agent_note": "agentNote",
}


@dataclass
class WalletRequest:
    polling_id: str
    kind: RequestKind
    status: RequestStatus
    intent: str
    chain_id: int | None = None
    address: str | None = None
    tx_hash: str | None = None
    signature: str | None = None
    nonce: int | None = None
    error: dict[str, Any] | None = None
    preview: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    # The agent's own words about the request (``--intent``), sanitised: never the headline
    # (``intent`` is the engine's decoding), always shown labelled as the agent's.
    agent_note: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

    def fail(self, status: RequestStatus, err: MMError) -> None:
        self.status = status
        self.error = {"code": err.code, "message": err.message}
        self.updated_at = _now()

    def set_status(self, status: RequestStatus) -> None:
        self.status = status
        self.updated_at = _now()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("tx_hash", "signature", "error", "preview",
                                             "approval", "result", "nonce", "agent_note"):
                continue
            out[_CAMEL.get(f.name, f.name)] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WalletRequest:
        rev = {v: k for k, v in _CAMEL.items()}
        names = {f.name for f in fields(cls)}
        kwargs = {rev.get(k, k): v for k, v in data.items() if rev.get(k, k) in names}
        return cls(**kwargs)

    def __repr__(self) -> str:
        return (f"WalletRequest(polling_id={self.polling_id!r}, kind={self.kind!r}, "
                f"status={self.status!r}, intent={self.intent!r}, tx_hash={self.tx_hash!r})")


class RequestLog:
    """BYOK request records in ``requests.sqlite`` (``logdb``): one row per request, ordered by
    its last save (newest last), the newest ``_MAX_LOG`` kept. A save costs the same whatever
    the history; a ``requests.json`` of an older version is imported once."""

    NAME = "requests.sqlite"
    LEGACY = "requests.json"

    def __init__(self, home: Home) -> None:
        self.home = home
        self._db = LogDB(home, self.NAME, _SCHEMA, self.LEGACY, _load_legacy)

    def save(self, req: WalletRequest) -> None:
        self._db.put(_UPSERT, _row(req.to_dict()), _PRUNE, _MAX_LOG)

    def all(self) -> list[WalletRequest]:
        """Every record, oldest first."""
        return self._db.read(lambda c: _requests(c.execute(
            "SELECT data FROM requests ORDER BY seq")), [])

    def recent(self, limit: int) -> list[WalletRequest]:
        """The ``limit`` newest records, newest first."""
        return self._db.read(lambda c: _requests(c.execute(
            "SELECT data FROM requests ORDER BY seq DESC LIMIT ?", (max(0, int(limit)),))), [])

    def get(self, polling_id: str) -> WalletRequest:
        found = self._db.read(lambda c: _requests(c.execute(
            "SELECT data FROM requests WHERE polling_id = ?", (str(polling_id),))), [])
        if not found:
            raise RequestNotFound(f"No request with pollingId {polling_id}.")
        return found[0]

    def counterparties(self, address: str) -> frozenset[str]:
        """Recipients (``result.to``, ``result.effectiveRecipient``) of ``address``'s
        COMPLETED requests, lowercased: the threat scan's "used before"."""
        return frozenset(self._db.read(lambda c: _recipients(c, address.lower()), []))


_SCHEMA = """
CREATE TABLE requests (
    seq INTEGER PRIMARY KEY,            -- order of the last save: newest last
    polling_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    chain_id INTEGER,
    address TEXT,
    tx_hash TEXT,
    data TEXT NOT NULL                  -- WalletRequest.to_dict(), JSON
);
CREATE INDEX requests_created_at ON requests (created_at);
"""
_UPSERT = ("INSERT OR REPLACE INTO requests (polling_id, created_at, kind, status, chain_id, "
           "address, tx_hash, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
# Keep the newest _MAX_LOG rows (a walk of at most that many index entries).
_PRUNE = ("DELETE FROM requests WHERE seq <= "
          "(SELECT seq FROM requests ORDER BY seq DESC LIMIT 1 OFFSET ?)")


def _row(data: dict[str, Any]) -> tuple[Any, ...]:
    # sort_keys: the JSON that requests.json gave back (nested keys sorted) stays the same.
    return (str(data["pollingId"]), str(data.get("createdAt") or ""), str(data.get("kind") or ""),
            str(data.get("status") or ""), data.get("chainId"), data.get("address"),
            data.get("txHash"), json.dumps(data, sort_keys=True, separators=(",", ":")))


def _recipients(conn: Any, address: str) -> list[str]:
    import sqlite3

    where = "FROM requests WHERE status = 'COMPLETED' AND lower(address) = ?"
    try:
        rows = conn.execute("SELECT json_extract(data, '$.result.to'), json_extract(data, "
                            f"'$.result.effectiveRecipient') {where}", (address,)).fetchall()
    except sqlite3.OperationalError:  # an SQLite built without JSON functions
        reqs = _requests(conn.execute(f"SELECT data {where}", (address,)))
        rows = [(r.result.get("to"), r.result.get("effectiveRecipient")) for r in reqs
                if isinstance(r.result, dict)]
    return [str(v).lower() for row in rows for v in row if v]


def _requests(cursor: Any) -> list[WalletRequest]:
    out = []
    for (raw,) in cursor:
        try:
            data = json.loads(raw)
        except (TypeError, ValueError) as exc:
            raise StateCorrupt("A record of requests.sqlite is not valid JSON.") from exc
        if isinstance(data, dict):
            out.append(WalletRequest.from_dict(data))
    return out


def _load_legacy(conn: Any, data: Any) -> None:
    """Import ``requests.json`` (a list, newest last) into a new requests.sqlite."""
    if data is None:
        return
    if not isinstance(data, list):
        raise StateCorrupt("requests.json is not a list of requests.")
    for item in data:  # a later entry of a pollingId replaces an earlier one
        if isinstance(item, dict) and isinstance(item.get("pollingId"), str):
            conn.execute(_UPSERT, _row(item))
    conn.execute(_PRUNE, (_MAX_LOG,))


def history_rows(requests: list[WalletRequest], chain_ids: list[int] | None,
                 limit: int) -> list[dict[str, Any]]:
    """`mm tx history` rows: sent transactions, newest first as given, filtered by chain."""
    chains = set(chain_ids or [])
    out = []
    for req in requests:
        if req.kind != "transaction" or not req.tx_hash:
            continue
        if chains and req.chain_id not in chains:
            continue
        out.append({"txHash": req.tx_hash, "chainId": req.chain_id, "status": req.status,
                    "intent": req.intent, "pollingId": req.polling_id,
                    "createdAt": req.created_at})
        if len(out) >= limit:
            break
    return out
