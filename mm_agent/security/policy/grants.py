"""What a request lets someone else take later: grants (allowances, permits, operators) and
the parties that receive the wallet's assets, for the guard-mode policy (contract §6).

Grants are exposures, not outflows: nothing leaves the wallet when they are signed. Guard mode
still cares about them, because a grant is an outflow the spender can trigger at any time:

- ``grants_of`` lists every grant a preview carries, from every source we have and unioned
  (an attacker picks whichever source we forgot): the simulation's ``exposures``, the decoded
  calldata (inner multicall/Safe/Universal Router calls included: ERC-20 ``approve`` /
  ``increaseAllowance``, Permit2 ``approve``/``permit``, ``setApprovalForAll``, ERC-777
  ``authorizeOperator``, ``PERMIT2_PERMIT``), typed-data permits (EIP-2612, DAI, Permit2
  single/batch/transfer/witness, and any struct with a spender/operator-like field), and the
  scan's ``grants`` list when the scanner provides one.
- ``price_grants`` values each grant in USD (None = cannot be valued: unlimited, operator over a
  whole collection, unknown token or amount), which guard compares with what is left of the
  rolling window.
- ``typed_data_addresses`` lists every address in a typed-data message with its field path:
  in guard mode each of them must be trusted, because any of them may receive or control assets
  (a ``taker``, ``receiver`` or ``recipient`` is as dangerous as a ``spender``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..decode_types import DecodedCall
    from ..pipeline import Preview
    from .prices import PriceSource

__all__ = [
    "PolicyGrant",
    "decoded_tree",
    "grants_of",
    "price_grants",
    "typed_data_addresses",
]

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
ZERO = "0x" + "0" * 40
UNLIMITED_256 = 2**255
UNLIMITED_160 = 2**160 - 1
# ERC-777 authorizeOperator(address): not in the decoder's table, recognised by selector.
SEL_AUTHORIZE_OPERATOR = "0x959b8c3f"
# Keys of a typed-data struct naming who may take the signer's assets.
GRANTEE_KEYS = ("spender", "operator", "delegate", "allowedSpender")
_AMOUNT_KEYS = ("amount", "value", "allowance", "maxAmount")
_ITEMS_KEYS = ("details", "permitted", "tokenPermissions", "permissions")

AssetLookup = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class PolicyGrant:
    spender: str
    token: str | None
    kind: str = "erc20"  # erc20 | erc721 | erc1155 | operator | unknown
    amount: int | None = None  # base units (erc20), token id (erc721); None: all or unknown
    unlimited: bool = False
    source: str = "calldata"  # simulation | calldata | typed-data | scan
    asset: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def revoke(self) -> bool:
        """Sets an allowance to zero / removes an operator: takes nothing away from anyone."""
        if self.spender.lower() == ZERO and self.kind in ("erc721",):
            return True
        return not self.unlimited and self.amount == 0 and self.kind in ("erc20", "operator")

    def describe(self) -> str:
        token = (self.asset.get("symbol") or self.token or "an unknown token")
        if self.kind == "operator":
            return f"operator rights over every {token} token"
        if self.kind == "erc721":
            return f"{token} #{self.amount}"
        if self.unlimited:
            return f"an unlimited amount of {token}"
        if self.amount is None:
            return f"an unknown amount of {token}"
        return f"{self.amount} base units of {token}"


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            return None
    return None


def _addr(value: object) -> str | None:
    return value if isinstance(value, str) and _HEX40.match(value) else None


# --- decoded calldata -------------------------------------------------------------------------
def decoded_tree(tx: dict[str, Any] | None) -> DecodedCall | None:
    """The full decoded call tree of ``tx`` (the preview keeps only the top call)."""
    if not tx:
        return None
    from ..decode import decode_calldata

    data = tx.get("data") or "0x"
    try:
        return decode_calldata(data if len(data) >= 10 else "0x", to=tx.get("to"),
                               value=int(tx.get("value") or 0))
    except Exception:  # an undecodable payload simply has no decoded grants
        return None


def _from_decoded(tree: DecodedCall | None) -> Iterator[PolicyGrant]:
    if tree is None:
        return
    for call in tree.walk():
        if not call.spender:
            continue
        sig = call.signature or ""
        if sig.startswith("setApprovalForAll"):
            approved = call.arg("approved")
            yield PolicyGrant(call.spender, call.to, "operator", None if approved else 0,
                              bool(approved), "calldata")
        elif sig.startswith("authorizeOperator"):  # ERC-777: every token of the contract
            yield PolicyGrant(call.spender, call.to, "operator", None, True, "calldata")
        elif call.category == "erc721":
            yield PolicyGrant(call.spender, call.to, "erc721", call.amount, False, "calldata")
        else:
            limit = UNLIMITED_160 if call.category == "permit2" else UNLIMITED_256
            unlimited = call.unlimited or (call.amount is not None and call.amount >= limit)
            yield PolicyGrant(call.spender, call.token or call.to, "erc20", call.amount,
                              unlimited, "calldata")


def _erc777(tx: dict[str, Any] | None, tree: DecodedCall | None) -> Iterator[PolicyGrant]:
    """``authorizeOperator(address)`` lets the operator move every token of that contract."""
    calls: list[tuple[str | None, str]] = []
    if tx and str(tx.get("data") or "").lower().startswith(SEL_AUTHORIZE_OPERATOR):
        calls.append((tx.get("to"), str(tx["data"])))
    if tree is not None:
        for call in tree.walk():
            for p in call.params:
                value = p.value
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, dict):
                        target = item.get("target") or item.get("to")
                        data = item.get("callData") or item.get("data")
                        if isinstance(data, str) and data.lower().startswith(
                                SEL_AUTHORIZE_OPERATOR):
                            calls.append((target, data))
    for target, data in calls:
        body = data[10:]
        if len(body) >= 64:
            operator = "0x" + body[24:64]
            yield PolicyGrant(operator, target, "operator", None, True, "calldata")


# --- simulation -------------------------------------------------------------------------------
def _from_exposures(preview: Preview) -> Iterator[PolicyGrant]:
    for exp in (preview.simulation or {}).get("exposures") or []:
        spender = _addr(exp.get("spender"))
        if spender is None:
            continue
        asset = dict(exp.get("asset") or {})
        atype = str(asset.get("type") or "erc20").lower()
        amount = _int(exp.get("amount"))
        unlimited = bool(exp.get("unlimited"))
        if atype in ("erc721", "erc1155") and asset.get("tokenId") is None:
            kind = "operator"
            amount = None if unlimited else 0
        elif atype == "erc721":
            kind, amount = "erc721", _int(asset.get("tokenId"))
        else:
            kind = "erc20"
        yield PolicyGrant(spender, asset.get("address"), kind, amount, unlimited, "simulation",
                          asset)


def _from_scan(preview: Preview) -> Iterator[PolicyGrant]:
    """The scanner's own per-grant list, when it has one (same keys as exposures)."""
    for g in (preview.scan or {}).get("grants") or []:
        if not isinstance(g, dict) or _addr(g.get("spender")) is None:
            continue
        asset = dict(g.get("asset") or {})
        atype = str(asset.get("type") or "erc20").lower()
        amount = _int(g.get("amount"))
        unlimited = bool(g.get("unlimited"))
        kind = ("operator" if atype in ("erc721", "erc1155") and asset.get("tokenId") is None
                else "erc721" if atype == "erc721" else "erc20")
        yield PolicyGrant(str(g["spender"]), asset.get("address"), kind, amount, unlimited,
                          "scan", asset)


# --- typed data -------------------------------------------------------------------------------
def typed_data_addresses(typed: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(field path, address)]`` of every address in the message (any depth, any type)."""
    out: list[tuple[str, str]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            if _HEX40.match(value.strip()):
                out.append((path, value.strip()))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk(typed.get("message") or {}, "")
    return out


def _typed_items(struct: dict[str, Any], default_token: str | None
                 ) -> Iterator[tuple[str | None, int | None, bool]]:
    """(token, amount, unlimited) of what a grant struct covers."""
    for key in _ITEMS_KEYS:
        items = struct.get(key)
        if isinstance(items, dict):
            items = [items]
        if isinstance(items, list) and items:
            for item in items:
                if isinstance(item, dict):
                    yield from _typed_items(item, default_token)
            return
    token = _addr(struct.get("token")) or default_token
    if "allowed" in struct and isinstance(struct.get("allowed"), bool):  # DAI permit
        yield token, (None if struct["allowed"] else 0), bool(struct["allowed"])
        return
    amount = next((_int(struct[k]) for k in _AMOUNT_KEYS if k in struct), None)
    limit = UNLIMITED_160 if struct.get("expiration") is not None else UNLIMITED_256
    yield token, amount, amount is not None and amount >= min(limit, UNLIMITED_256)


def _from_typed(typed: dict[str, Any] | None, wallet: str) -> Iterator[PolicyGrant]:
    if not isinstance(typed, dict):
        return
    domain_contract = _addr((typed.get("domain") or {}).get("verifyingContract"))

    def walk(value: Any) -> Iterator[PolicyGrant]:
        if isinstance(value, list):
            for item in value:
                yield from walk(item)
            return
        if not isinstance(value, dict):
            return
        grantees = [a for k in GRANTEE_KEYS if (a := _addr(value.get(k)))]
        if grantees:
            # Permit2 puts the token/amount in `details`/`permitted` next to the spender; an
            # unknown struct without a readable amount is a grant of an unknown amount.
            items = list(_typed_items(value, domain_contract))
            for spender in grantees:
                if spender.lower() == wallet.lower():
                    continue
                for token, amount, unlimited in items:
                    yield PolicyGrant(spender, token, "erc20", amount, unlimited, "typed-data")
        for key, item in value.items():
            if key not in _ITEMS_KEYS:
                yield from walk(item)

    yield from walk(typed.get("message") or {})


def grants_of(preview: Preview, *, tx: dict[str, Any] | None = None,
              typed_data: dict[str, Any] | None = None,
              tree: DecodedCall | None = None) -> list[PolicyGrant]:
    """Every grant of the preview, from every source, deduplicated."""
    found: list[PolicyGrant] = list(_from_exposures(preview)) + list(_from_scan(preview))
    if preview.kind == "transaction":
        tree = tree if tree is not None else decoded_tree(tx)
        found += list(_from_decoded(tree)) + list(_erc777(tx, tree))
    elif preview.kind == "typed-data":
        found += list(_from_typed(typed_data, preview.sender))
    out: list[PolicyGrant] = []
    seen: set[tuple[str, str, str, int | None, bool]] = set()
    for g in found:
        key = (g.spender.lower(), str(g.token or "").lower(), g.kind, g.amount, g.unlimited)
        if key not in seen:
            seen.add(key)
            out.append(g)
    return out


# --- valuation --------------------------------------------------------------------------------
def price_grants(source: PriceSource, preview: Preview, grants: list[PolicyGrant], *,
                 lookup: AssetLookup | None = None
                 ) -> list[tuple[PolicyGrant, Decimal | None]]:
    """USD value of each grant; None where it cannot be valued (unlimited, a whole collection,
    an unknown token or amount). ``lookup`` fills in token metadata (symbol, decimals)."""
    from .prices import usd_value

    out: list[tuple[PolicyGrant, Decimal | None]] = []
    for g in grants:
        value: Decimal | None = None
        if g.revoke:
            value = Decimal(0)
        elif g.kind == "erc20" and not g.unlimited and g.amount is not None and g.token:
            asset = dict(g.asset)
            if not asset.get("decimals") and asset.get("decimals") != 0 and lookup is not None:
                try:
                    asset = {**lookup(g.token), **{k: v for k, v in asset.items() if v}}
                except Exception:  # metadata unreadable: the grant stays unpriced
                    asset = {}
            if asset:
                asset.setdefault("type", "erc20")
                asset.setdefault("address", g.token)
                value = usd_value(source, preview.chain_id, asset, g.amount)
        elif g.kind == "erc721" and g.token:
            asset = {"type": "erc721", "address": g.token, "decimals": 0,
                     "symbol": g.asset.get("symbol"), "tokenId": str(g.amount)}
            value = usd_value(source, preview.chain_id, asset, 1)
        out.append((g, value))
    return out
