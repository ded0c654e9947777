"""`mm wallet allowances list|revoke`: the ERC-20 approvals this wallet has granted.

Candidates (token, spender) come from the chain itself — the ``Approval(owner, spender, value)``
events whose owner is this account (the whole devnet; the last :data:`LOG_WINDOW` blocks
elsewhere, as public nodes cap log ranges) — and from this MM_HOME's swap quotes (the routers
approved for swaps). Each candidate's **current** allowance is then read with
``allowance(owner, spender)``: what is listed is the chain's state, not a log replay.

A revoke is ``approve(spender, 0)`` sent with ``wallet.send_transaction``: the §5 pipeline runs
on it like on every other transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_agent.errors import MMError
from mm_agent.evm.addresses import to_checksum_address, validate_address
from mm_agent.evm.amounts import format_units
from mm_agent.evm.chains import DEVNET_CHAIN_ID, get_chain

if TYPE_CHECKING:
    from mm_agent.wallets.base import WalletBase

__all__ = ["APPROVAL_TOPIC", "LOG_WINDOW", "list_allowances", "revoke_allowance"]

APPROVAL_TOPIC = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
LOG_WINDOW = 10_000
MAX_UINT = 2**256 - 1
UNLIMITED_FLOOR = 2**255  # "infinite" approvals are 2^256-1 or close to it


def _topic(address: str) -> str:
    return "0x" + address.lower()[2:].rjust(64, "0")


def _allowance_call(token: str, owner: str, spender: str) -> tuple[str, list[Any]]:
    data = ("0xdd62ed3e" + owner.lower()[2:].rjust(64, "0") + spender.lower()[2:].rjust(64, "0"))
    return "eth_call", [{"to": token, "data": data}, "latest"]


def _candidates(wallet: WalletBase, chain_id: int, owner: str,
                warnings: list[str]) -> set[tuple[str, str]]:
    engine = wallet.engine  # type: ignore[attr-defined]
    rpc = engine.rpc(chain_id)
    pairs: set[tuple[str, str]] = set()
    try:
        if chain_id == DEVNET_CHAIN_ID:
            start = 0
        else:
            start = max(0, int(str(rpc.call("eth_blockNumber")), 16) - LOG_WINDOW)
        logs = rpc.call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": "latest",
                                         "topics": [APPROVAL_TOPIC, _topic(owner)]}])
        for lg in logs or []:
            topics = lg.get("topics") or []
            if len(topics) == 3:  # ERC-20 (ERC-721 indexes the token id: four topics)
                pairs.add((to_checksum_address(lg["address"]),
                           to_checksum_address("0x" + str(topics[2])[-40:])))
        if start:
            warnings.append(f"Chain {chain_id}: approvals from the last {LOG_WINDOW} blocks "
                            "and this wallet's swaps only.")
    except MMError as exc:
        warnings.append(f"Chain {chain_id}: approval events unreadable ({exc.code}).")
    swaps = engine.home.read_json("swaps.json", {}) or {}
    for q in (swaps.get("quotes") or {}).values() if isinstance(swaps, dict) else []:
        src = (q.get("srcAsset") or {}).get("address")
        if (int(q.get("chainId", 0)) == chain_id and src and q.get("router")
                and str(q.get("account", "")).lower() == owner.lower()):
            pairs.add((to_checksum_address(src), to_checksum_address(q["router"])))
    return pairs


def list_allowances(wallet: WalletBase, chain_ids: list[int], *, token: str | None = None,
                    spender: str | None = None, include_zero: bool = False) -> dict[str, Any]:
    """``{owner, allowances: [{chainId, token, symbol, decimals, spender, spenderName,
    allowance, amount, unlimited}], warnings}`` — current allowances, non-zero unless
    ``include_zero``."""
    engine = wallet.engine  # type: ignore[attr-defined]
    owner = wallet.address
    warnings: list[str] = []
    rows: list[dict[str, Any]] = []
    for chain_id in chain_ids:
        get_chain(chain_id)
        pairs = _candidates(wallet, chain_id, owner, warnings)
        if token is not None:
            want = engine.asset(chain_id, token).address or ""
            pairs = {p for p in pairs if p[0].lower() == want.lower()}
        if spender is not None:
            pairs = {p for p in pairs if p[1].lower() == validate_address(spender).lower()}
        ordered = sorted(pairs)
        if not ordered:
            continue
        try:
            values = engine.rpc(chain_id).batch(
                [_allowance_call(t, owner, s) for t, s in ordered])
        except MMError as exc:
            warnings.append(f"Chain {chain_id}: allowances unreadable ({exc.code}).")
            continue
        names = {k.lower(): v for k, v in engine.known_protocols(chain_id).items()}
        for (tok, spn), raw in zip(ordered, values, strict=True):
            value = int(str(raw), 16) if raw and raw != "0x" else 0
            if value == 0 and not include_zero:
                continue
            try:
                info = engine.asset(chain_id, tok)
                symbol, decimals = info.symbol, info.decimals
            except MMError:
                symbol, decimals = None, None
            rows.append({
                "chainId": chain_id, "token": tok, "symbol": symbol, "decimals": decimals,
                "spender": spn, "spenderName": names.get(spn.lower()),
                "allowance": str(value),
                "amount": format_units(value, decimals) if decimals is not None else None,
                "unlimited": value >= UNLIMITED_FLOOR,
            })
    return {"owner": owner, "allowances": rows, "warnings": warnings}


def revoke_allowance(wallet: WalletBase, *, chain_id: int, token: str, spender: str,
                     wait: bool = True, dry_run: bool = False,
                     wallet_timeout: int | None = None) -> Any:
    """``approve(spender, 0)`` through the wallet's pipeline. Returns the request (or the
    preview with ``dry_run``); ``{"revoked": False, …}`` without signing when the allowance is
    already zero."""
    engine = wallet.engine  # type: ignore[attr-defined]
    owner = wallet.address
    spender = validate_address(spender, field="spender")
    info = engine.asset(chain_id, token)
    if info.address is None:
        from mm_agent.errors import ValidationError

        raise ValidationError(f"{info.symbol} is the native coin: it has no allowances.")
    raw = engine.rpc(chain_id).call(*_allowance_call(info.address, owner, spender))
    current = int(str(raw), 16) if raw and raw != "0x" else 0
    if current == 0 and not dry_run:
        return {"revoked": False, "chainId": chain_id, "token": info.address,
                "symbol": info.symbol, "spender": spender, "allowance": "0",
                "message": "Nothing to revoke: the allowance is already zero."}
    data = "0x095ea7b3" + spender.lower()[2:].rjust(64, "0") + "0" * 64
    return wallet.send_transaction(
        chain_id=chain_id, payload={"to": info.address, "value": "0x0", "data": data},
        intent=f"Revoke {spender}'s allowance on {info.symbol}", wait=wait, dry_run=dry_run,
        wallet_timeout=wallet_timeout)
