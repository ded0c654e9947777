"""Parsing of transaction and typed-data payloads given as JSON (CLI, tools, HTTP)."""

from __future__ import annotations

import json
from typing import Any

from mm_agent.errors import InvalidTransactionPayload

from .addresses import validate_address

__all__ = ["load_json_payload", "parse_transaction_payload"]


def parse_transaction_payload(payload: dict[str, Any] | str, *, chain_id: int | None = None,
                              sender: str | None = None) -> dict[str, Any]:
    """The transaction a JSON payload describes: ``to``, ``value``, ``data`` and, when given,
    ``gas``, ``nonce``, ``maxFeePerGas``, ``maxPriorityFeePerGas`` (ints).

    A payload ``chainId`` other than ``chain_id`` is refused (``CHAIN_ID_MISMATCH``) and a
    ``from`` other than ``sender`` (``PAYLOAD_FROM_MISMATCH``): never ignored. A legacy
    ``gasPrice`` becomes ``maxFeePerGas = maxPriorityFeePerGas = gasPrice`` (what a type-0
    transaction would pay at most; the wallet signs type 2). ``nonce`` is checked against the
    nonce manager by the engine (``NONCE_NOT_ALLOWED``).
    """
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise InvalidTransactionPayload(f"Payload is not JSON: {exc.msg}.") from exc
    if not isinstance(payload, dict):
        raise InvalidTransactionPayload("Payload must be a JSON object.")
    allowed = {"to", "value", "data", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas",
               "from", "chainId", "type", "gasPrice"}
    unknown = set(payload) - allowed
    if unknown:
        raise InvalidTransactionPayload(f"Unknown payload fields: {sorted(unknown)}.")
    tx: dict[str, Any] = {}
    to = payload.get("to")
    if to is None:
        raise InvalidTransactionPayload("Payload needs `to` (contract creation is not supported).")
    from mm_agent.errors import InvalidAddress

    try:
        tx["to"] = validate_address(to, field="payload.to")
    except InvalidAddress as exc:
        raise InvalidTransactionPayload(exc.message) from exc
    for key in ("value", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice",
                "chainId"):
        raw = payload.get(key)
        if raw is None:
            continue
        tx[key] = _quantity(key, raw)
    _check_fees(tx)
    _check_identity(payload, tx, chain_id, sender)
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


def _quantity(key: str, raw: Any) -> int:
    if key == "chainId" and isinstance(raw, str) and raw.isdigit():
        return int(raw)  # wallets commonly send chainId in decimal
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
    return int(raw)


def _check_fees(tx: dict[str, Any]) -> None:
    price = tx.pop("gasPrice", None)
    if price is not None:
        if "maxFeePerGas" in tx or "maxPriorityFeePerGas" in tx:
            raise InvalidTransactionPayload(
                "Give either `gasPrice` or `maxFeePerGas`/`maxPriorityFeePerGas`, not both.")
        tx["maxFeePerGas"] = tx["maxPriorityFeePerGas"] = price
    if tx.get("maxFeePerGas") is not None and tx.get("maxPriorityFeePerGas") is not None \
            and tx["maxPriorityFeePerGas"] > tx["maxFeePerGas"]:
        raise InvalidTransactionPayload("`maxPriorityFeePerGas` is above `maxFeePerGas`.")


def _check_identity(payload: dict[str, Any], tx: dict[str, Any], chain_id: int | None,
                    sender: str | None) -> None:
    """A payload that names another chain or another sender is refused, never ignored."""
    from mm_agent.errors import ChainIdMismatch, PayloadFromMismatch

    payload_chain = tx.pop("chainId", None)
    if payload_chain is not None and chain_id is not None and payload_chain != int(chain_id):
        raise ChainIdMismatch(
            f"The payload's chainId {payload_chain} is not the request's chain {chain_id}.")
    raw_from = payload.get("from")
    if raw_from is None:
        return
    from mm_agent.errors import InvalidAddress

    try:
        payload_from = validate_address(raw_from, field="payload.from")
    except InvalidAddress as exc:
        raise InvalidTransactionPayload(exc.message) from exc
    if sender is not None and payload_from.lower() != sender.lower():
        raise PayloadFromMismatch(
            f"The payload's from {payload_from} is not this wallet ({sender}).")


def load_json_payload(payload: Any) -> Any:
    if isinstance(payload, str):
        from mm_agent.errors import InvalidTypedData

        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            raise InvalidTypedData(f"Payload is not JSON: {exc.msg}.") from exc
    return payload
