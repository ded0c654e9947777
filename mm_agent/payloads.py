"""Parsing of transaction and typed-data payloads given as JSON (CLI, tools, HTTP)."""

from __future__ import annotations

import json
from typing import Any

from .addresses import validate_address
from .errors import InvalidTransactionPayload

__all__ = ["load_json_payload", "parse_transaction_payload"]


def parse_transaction_payload(payload: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise InvalidTransactionPayload(f"Payload is not JSON: {exc.msg}.") from exc
    if not isinstance(payload, dict):
        raise InvalidTransactionPayload("Payload must be a JSON object.")
    allowed = {"to", "value", "data", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas",
               "from", "chainId", "type"}
    unknown = set(payload) - allowed
    if unknown:
        raise InvalidTransactionPayload(f"Unknown payload fields: {sorted(unknown)}.")
    tx: dict[str, Any] = {}
    to = payload.get("to")
    if to is None:
        raise InvalidTransactionPayload("Payload needs `to` (contract creation is not supported).")
    from .errors import InvalidAddress

    try:
        tx["to"] = validate_address(to, field="payload.to")
    except InvalidAddress as exc:
        raise InvalidTransactionPayload(exc.message) from exc
    for key in ("value", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas"):
        raw = payload.get(key)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise InvalidTransactionPayload(f"`{key}` must be a hex string such as \"0x0\".")
        if isinstance(raw, str):
            if not raw.startswith("0x"):
                raise InvalidTransactionPayload(f"`{key}` must be hex (0x…), got {raw!r}.")
            try:
                raw = int(raw, 16)
            except ValueError:
                raise InvalidTransactionPayload(f"`{key}` is not valid hex: {raw!r}.") from None
        if raw < 0 or raw >= 2**256:
            raise InvalidTransactionPayload(f"`{key}` is out of range.")
        tx[key] = raw
    data = payload.get("data", "0x") or "0x"
    if not isinstance(data, str) or not data.startswith("0x") or len(data) % 2:
        raise InvalidTransactionPayload("`data` must be 0x-prefixed hex with an even length.")
    try:
        bytes.fromhex(data[2:])
    except ValueError:
        raise InvalidTransactionPayload("`data` is not valid hex.") from None
    tx["data"] = data
    tx.setdefault("value", 0)
    return tx


def load_json_payload(payload: Any) -> Any:
    if isinstance(payload, str):
        from .errors import InvalidTypedData

        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            raise InvalidTypedData(f"Payload is not JSON: {exc.msg}.") from exc
    return payload
