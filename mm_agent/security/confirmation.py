"""What a human's approval of a flagged BYOK request is bound to: a digest of the request.

A BYOK wallet without a terminal stops a Warning/Malicious request with ``APPROVAL_REQUIRED``
(nothing signed); its details carry ``digest``. An application that shows the preview to a
human and gets a yes signs it with ``wallet.bound(confirm=digest)``: the wallet previews again
and signs only when the fresh preview has the same digest, so a yes can never be spent on
another transaction (LangGraph re-runs a tool after ``interrupt()``, and a model could change
its arguments in between).

The digest covers what the request does and the verdict the human saw: for a transaction the
chain, sender, recipient, value and calldata; for typed data the whole payload; for a message
its text; plus the scan's result type and the names of the policy violations. Gas and fees are
not in it: they are estimated again when signing (within the fee cap, whose breach is itself a
violation), so an approval survives a few blocks of fee drift.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Preview

__all__ = ["preview_digest"]


def preview_digest(preview: Preview) -> str:
    """Hex SHA-256 of the request's content and verdict (see the module docstring)."""
    body: dict[str, Any] = {"kind": preview.kind, "chainId": int(preview.chain_id),
                            "from": str(preview.sender).lower()}
    if preview.kind == "transaction":
        tx = preview.tx or {}
        body.update(to=str(tx.get("to") or "").lower() or None,
                    value=str(int(tx.get("value") or 0)),
                    data=str(tx.get("data") or "0x").lower())
    elif preview.kind == "typed-data":
        body["typedData"] = preview.typed_data
    else:
        body["message"] = getattr(preview, "message", None)
    body["verdict"] = {
        "scan": preview.scan.get("resultType"),
        "rules": sorted(str(v.get("rule")) for v in preview.policy.violations),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()
