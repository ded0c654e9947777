"""The request (job) object of contract §4, and the BYOK request log.

Every signing or transaction operation produces a ``WalletRequest``. In BYOK the log lives in
``MM_HOME/requests.json`` (for `mm wallet requests list` and `mm tx history`); the wallet
service keeps its own in its database.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from mm_agent.errors import MMError, RequestNotFound

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
    """BYOK request records in ``requests.json`` (newest last), written under the state lock."""

    NAME = "requests.json"

    def __init__(self, home: Home) -> None:
        self.home = home

    def save(self, req: WalletRequest) -> None:
        def apply(data: Any) -> list[dict[str, Any]]:
            items = [r for r in (data or []) if r.get("pollingId") != req.polling_id]
            items.append(req.to_dict())
            return items[-_MAX_LOG:]

        self.home.update_json(self.NAME, [], apply)

    def all(self) -> list[WalletRequest]:
        data = self.home.read_json(self.NAME, [])
        return [WalletRequest.from_dict(r) for r in data if isinstance(r, dict)]

    def get(self, polling_id: str) -> WalletRequest:
        for req in self.all():
            if req.polling_id == polling_id:
                return req
        raise RequestNotFound(f"No request with pollingId {polling_id}.")


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
