"""The request object (contract §4) of a job row, and the digest that ties an
Idempotency-Key to one request body."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

__all__ = ["body_hash", "iso", "job_to_request"]


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def job_to_request(row: Any, address: str | None = None) -> dict[str, Any]:
    """The contract §4 request object (plus ``version``) of a job row."""
    out: dict[str, Any] = {
        "pollingId": row.polling_id, "kind": row.kind, "status": row.status,
        "intent": row.intent, "chainId": row.chain_id, "version": row.version,
        "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at),
    }
    if address:
        out["address"] = address
    note = (row.body or {}).get("agentNote") if isinstance(row.body, dict) else None
    if note:
        out["agentNote"] = note
    for key, col in (("txHash", "tx_hash"), ("signature", "signature"), ("error", "error"),
                     ("preview", "preview"), ("approval", "approval"), ("result", "result"),
                     ("nonce", "nonce")):
        value = getattr(row, col)
        if value is not None:
            out[key] = value
    return out
