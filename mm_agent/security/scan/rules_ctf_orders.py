"""Rule family: prediction-market (Polymarket CTF Exchange) orders in typed data.

A CTF order is signed once and filled later by the exchange's operator against anyone's order:
whatever terms it carries, the exchange will execute them with the maker's funds (collateral for
a BUY, outcome tokens for a SELL). Recognised by the EIP-712 struct (the ``Order`` type's field
list, or the message's keys when ``types`` is missing) of either version:

- V1 (CTF Exchange, Neg Risk CTF Exchange; domain version ``"1"``)::

    Order(uint256 salt,address maker,address signer,address taker,uint256 tokenId,
          uint256 makerAmount,uint256 takerAmount,uint256 expiration,uint256 nonce,
          uint256 feeRateBps,uint8 side,uint8 signatureType)

- V2 (CTF Exchange V2, Neg Risk CTF Exchange V2, Exchange V3 with domain version ``"3"``, the
  devnet's DevnetCtfExchange)::

    Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
          uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,
          bytes32 metadata,bytes32 builder)

BUY (side 0): ``makerAmount`` collateral for at least ``takerAmount`` outcome tokens; SELL
(side 1): ``makerAmount`` outcome tokens for at least ``takerAmount`` collateral. Price =
collateral / tokens. V1's ``feeRateBps`` is charged on proceeds:
``feeRateBps/10000 × min(p, 1−p) × tokens`` (in outcome tokens for a BUY, in collateral for a
SELL, Polymarket's CalculatorHelper), at most ``feeRateBps/10000 × makerAmount`` in collateral
value for a BUY — the bound the policy counts.

Features (the exchange table: ``known_protocols.CTF_EXCHANGES`` ∪ ``ScanInput.ctf_exchanges``):

- ``CTF_ORDER`` · Info — side, price, size, outcome token id, the most it can cost.
- ``CTF_ORDER_UNKNOWN_EXCHANGE`` · Malicious — ``verifyingContract`` is not a CTF exchange
  known on this chain: a lookalike "exchange" that the wallet approved would execute it on its
  own terms, and nothing else can.
- ``CTF_ORDER_FOREIGN_MAKER`` · Malicious — ``maker`` or ``signer`` is not this wallet: an order
  over someone else's funds (useless to sign unless it is a lure, e.g. for a smart account or
  proxy this key controls). Polymarket proxy/Safe accounts (``signatureType`` 1/2, maker = the
  proxy) get it too: a human approves those.
- ``CTF_ORDER_PRICE_OFF_BOOK`` · Warning — the caller supplied a reference price
  (``ScanInput.reference_prices``) and the order is worse than it by more than
  ``OFF_BOOK_ABSOLUTE`` (0.10 per token) or by half (a BUY above 1.5× the ask, a SELL below half
  the bid) with at least ``OFF_BOOK_MIN`` (0.01): an agent told to buy at 0.50 that signs 0.95
  gives the difference away to whoever fills it. Resting orders on the good side (a BUY below
  the book) are not flagged. No reference: no check.
- ``CTF_ORDER_FEE_OUT_OF_RANGE`` · Warning — a V1 ``feeRateBps`` above ``FEE_CAP_BPS`` (1000 bps,
  the V1 exchange's own ``MAX_FEE_RATE_BIPS``). V2/V3 orders carry no fee terms.
- ``CTF_ORDER_PRIVATE_TAKER`` · Warning — a V1 ``taker`` other than the zero address (public)
  and not one of the exchange's known operators: only that account can fill the order.

The scan object's ``orders`` list (beyond the contract's keys, like ``grants``) carries one entry
per recognised order for the policy (see :func:`order_entry`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ._base import ZERO, Feature, ScanInput, as_int, is_addr, low, short

__all__ = [
    "FEE_CAP_BPS",
    "OFF_BOOK_ABSOLUTE",
    "OFF_BOOK_MIN",
    "V1_FIELDS",
    "V2_FIELDS",
    "ctf_order",
    "current_reference_prices",
    "order_entry",
    "reference_prices",
    "rule_ctf_orders",
    "scan_orders",
]

V1_FIELDS = (
    ("salt", "uint256"), ("maker", "address"), ("signer", "address"), ("taker", "address"),
    ("tokenId", "uint256"), ("makerAmount", "uint256"), ("takerAmount", "uint256"),
    ("expiration", "uint256"), ("nonce", "uint256"), ("feeRateBps", "uint256"),
    ("side", "uint8"), ("signatureType", "uint8"),
)
V2_FIELDS = (
    ("salt", "uint256"), ("maker", "address"), ("signer", "address"), ("tokenId", "uint256"),
    ("makerAmount", "uint256"), ("takerAmount", "uint256"), ("side", "uint8"),
    ("signatureType", "uint8"), ("timestamp", "uint256"), ("metadata", "bytes32"),
    ("builder", "bytes32"),
)
EXCHANGE_DOMAIN_NAME = "Polymarket CTF Exchange"
# The V1 exchange refuses fee rates above this (Fees.sol MAX_FEE_RATE_BIPS = 1000, 10 %).
FEE_CAP_BPS = 1000
BPS = 10_000
# A price worse than the reference by more than this (collateral per token, prices are in
# (0, 1]) is off the book; so is one worse by half (×1.5 for a BUY, ×0.5 for a SELL) when the
# difference is at least OFF_BOOK_MIN (cheap outcome tokens).
OFF_BOOK_ABSOLUTE = Decimal("0.10")
OFF_BOOK_MIN = Decimal("0.01")
_SIDES = {0: "BUY", 1: "SELL"}
_SIGNATURE_TYPES = {0: "EOA", 1: "POLY_PROXY", 2: "POLY_GNOSIS_SAFE", 3: "POLY_1271"}

_REFERENCE: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "mm_agent_ctf_reference_prices", default=None)


@contextlib.contextmanager
def reference_prices(prices: Mapping[str, Any]) -> Iterator[None]:
    """Within this block, orders previewed in this thread/task are checked against ``prices``
    (``{tokenId: price | {"bid", "ask", "mid", "source"}}``) — for callers that sign through a
    wallet whose API takes no reference prices (the predict commands around
    ``wallet.sign_typed_data``). ``Engine.preview_typed_data(reference_prices=…)`` wins."""
    token = _REFERENCE.set({str(k): v for k, v in prices.items()})
    try:
        yield
    finally:
        _REFERENCE.reset(token)


def current_reference_prices() -> Mapping[str, Any]:
    return _REFERENCE.get() or {}


# --- recognising an order ---------------------------------------------------------------------
def _struct(td: Mapping[str, Any]) -> tuple[tuple[str, str], ...] | None:
    types = td.get("types")
    fields = types.get("Order") if isinstance(types, Mapping) else None
    if not isinstance(fields, list):
        return None
    try:
        return tuple((str(f["name"]), str(f["type"])) for f in fields)
    except (KeyError, TypeError):
        return None


def ctf_order(td: object) -> tuple[str, Mapping[str, Any], Mapping[str, Any]] | None:
    """``(struct version "1" | "2", domain, message)`` when ``td`` is a CTF Exchange order."""
    if not isinstance(td, Mapping) or td.get("primaryType") != "Order":
        return None
    msg, domain = td.get("message"), td.get("domain")
    if not isinstance(msg, Mapping):
        return None
    domain = domain if isinstance(domain, Mapping) else {}
    struct = _struct(td)
    for version, fields in (("1", V1_FIELDS), ("2", V2_FIELDS)):
        if struct == fields or (struct is None and set(msg) == {n for n, _ in fields}):
            return version, domain, msg
    return None


# --- reading it -------------------------------------------------------------------------------
def _dec(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() and out >= 0 else None


def _reference(inp: ScanInput, token_id: int, side: str) -> tuple[Decimal, str] | None:
    """(reference price, what it is) for ``token_id`` on the side that matters for ``side``."""
    prices = inp.reference_prices or {}
    raw = prices.get(str(token_id))
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        source = f" ({raw['source']})" if raw.get("source") else ""
        key = "ask" if side == "BUY" else "bid"
        for name in (key, "mid", "price"):
            price = _dec(raw.get(name))
            if price is not None and price > 0:
                return price, f"{'best ' + name if name in ('ask', 'bid') else name}{source}"
        return None
    price = _dec(raw)
    return (price, "reference") if price is not None and price > 0 else None


def _units(amount: int, decimals: object) -> str:
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        return f"{amount} base units"
    return format(Decimal(amount).scaleb(-decimals).normalize(), "f")


def order_entry(inp: ScanInput, version: str, domain: Mapping[str, Any],
                msg: Mapping[str, Any]) -> dict[str, Any] | None:
    """The scan's ``orders`` entry of one CTF order, for the policy::

        {kind: "ctf-order", version, exchange, exchangeName, exchangeKnown, side: BUY|SELL,
         tokenId, maker, signer, taker, makerAmount, takerAmount, feeRateBps, price, size,
         collateral: asset dict | None, maxCost, referencePrice, referenceSource}

    Amounts are decimal strings of base units; ``price`` is collateral per outcome token (a
    decimal string); ``size`` is the outcome tokens; ``maxCost`` the most collateral a BUY can
    take (``makerAmount`` plus the V1 fee bound), None for a SELL. None when the order's side or
    amounts cannot be read."""
    side_n = as_int(msg.get("side"))
    side = _SIDES.get(side_n) if side_n is not None else None
    maker_amount, taker_amount = as_int(msg.get("makerAmount")), as_int(msg.get("takerAmount"))
    token_id = as_int(msg.get("tokenId"))
    if side is None or maker_amount is None or taker_amount is None or token_id is None:
        return None
    exchange = domain.get("verifyingContract")
    exchange = str(exchange) if is_addr(exchange) else None
    table = _exchanges(inp)
    known = table.get(low(exchange)) if exchange else None
    fee_bps = as_int(msg.get("feeRateBps")) if version == "1" else None
    collateral_units, tokens = ((maker_amount, taker_amount) if side == "BUY"
                                else (taker_amount, maker_amount))
    price = (Decimal(collateral_units) / Decimal(tokens)) if tokens else None
    max_cost = None
    if side == "BUY":
        fee = -(-maker_amount * max(fee_bps or 0, 0) // BPS)  # ceiling: the bound, not less
        max_cost = maker_amount + fee
    ref = _reference(inp, token_id, side)
    return {
        "kind": "ctf-order", "version": str(domain.get("version") or version),
        "exchange": exchange, "exchangeName": (known or {}).get("name"),
        "exchangeKnown": known is not None, "side": side, "tokenId": str(token_id),
        "maker": msg.get("maker"), "signer": msg.get("signer"),
        "taker": msg.get("taker") if version == "1" else None,
        "makerAmount": str(maker_amount), "takerAmount": str(taker_amount),
        "feeRateBps": fee_bps, "price": None if price is None else format(price, "f"),
        "size": str(tokens),
        "collateral": dict(known["collateral"]) if known and known.get("collateral") else None,
        "maxCost": None if max_cost is None else str(max_cost),
        "referencePrice": None if ref is None else format(ref[0], "f"),
        "referenceSource": None if ref is None else ref[1],
    }


def _exchanges(inp: ScanInput) -> dict[str, Mapping[str, Any]]:
    from .known_protocols import ctf_exchanges_for

    return ctf_exchanges_for(inp.chain_id, extra=inp.ctf_exchanges)  # type: ignore[arg-type]


def scan_orders(inp: ScanInput) -> list[dict[str, Any]]:
    """``scan.orders``: the entries of the CTF orders in the typed data (zero or one)."""
    if inp.kind != "typed-data":
        return []
    found = ctf_order(inp.typed_data)
    if found is None:
        return []
    entry = order_entry(inp, *found)
    return [entry] if entry is not None else []


# --- the rule ---------------------------------------------------------------------------------
def _off_book(side: str, price: Decimal, ref: Decimal) -> bool:
    worse = price - ref if side == "BUY" else ref - price
    if worse <= 0:
        return False
    if worse > OFF_BOOK_ABSOLUTE:
        return True
    relative = price > ref * Decimal("1.5") if side == "BUY" else price < ref / 2
    return relative and worse >= OFF_BOOK_MIN


def _describe(entry: Mapping[str, Any]) -> str:
    collateral = entry.get("collateral") or {}
    decimals = collateral.get("decimals")
    symbol = collateral.get("symbol") or "collateral"
    size = _units(int(entry["size"]), decimals)
    where = entry.get("exchangeName") or short(entry.get("exchange"))
    price = Decimal(entry["price"]) if entry.get("price") else None
    shown_price = "?" if price is None else format(price.quantize(Decimal("0.0001")).normalize(),
                                                  "f")
    text = (f"{entry['side']} {size} of outcome token {entry['tokenId']} at {shown_price} "
            f"{symbol} each on {where} (V{entry['version']} order: "
            f"makerAmount={entry['makerAmount']}, takerAmount={entry['takerAmount']}")
    if entry.get("feeRateBps") is not None:
        text += f", feeRateBps={entry['feeRateBps']}"
    text += ")"
    if entry.get("maxCost") is not None:
        text += f"; costs at most {_units(int(entry['maxCost']), decimals)} {symbol}"
    else:
        text += (f"; gives up to {size} outcome tokens for at least "
                 f"{_units(int(entry['takerAmount']), decimals)} {symbol}")
    return text


def rule_ctf_orders(inp: ScanInput) -> list[Feature]:
    if inp.kind != "typed-data":
        return []
    found = ctf_order(inp.typed_data)
    if found is None:
        return []
    version, domain, msg = found
    entry = order_entry(inp, version, domain, msg)
    exchange = domain.get("verifyingContract") if is_addr(domain.get("verifyingContract")) \
        else None
    if entry is None:
        return [Feature(
            "Warning", "CTF_ORDER_UNREADABLE",
            "A CTF Exchange order whose side or amounts cannot be read; it cannot be shown "
            "what it trades.", exchange, "transfer_farming", "ctf_order_unreadable")]
    what = _describe(entry)
    features = [Feature("Info", "CTF_ORDER", f"Prediction-market order: {what}.", exchange)]
    if not entry["exchangeKnown"]:
        name = domain.get("name")
        features.append(Feature(
            "Malicious", "CTF_ORDER_UNKNOWN_EXCHANGE",
            f"The order is for {exchange or 'no verifying contract'} (domain {name!r}), which is "
            f"not a known CTF exchange on chain {inp.chain_id}: a lookalike exchange the wallet "
            f"has approved can execute it on its own terms. Order: {what}.",
            exchange, "transfer_farming", "ctf_order_unknown_exchange"))
    wallet = low(inp.wallet)
    for role in ("maker", "signer"):
        who = msg.get(role)
        if low(who if isinstance(who, str) else None) != wallet:
            sig_type = _SIGNATURE_TYPES.get(as_int(msg.get("signatureType")) or 0, "unknown")
            features.append(Feature(
                "Malicious", "CTF_ORDER_FOREIGN_MAKER",
                f"The order's {role} is {who}, not this wallet ({inp.wallet}); signature type "
                f"{sig_type}. Signing an order over another account's funds is a lure unless "
                "that account is your own proxy or smart account.",
                who if is_addr(who) else None, "transfer_farming", "ctf_order_foreign_maker"))
            break
    features += _terms(inp, entry, exchange)
    return features


def _terms(inp: ScanInput, entry: Mapping[str, Any], exchange: str | None) -> list[Feature]:
    out: list[Feature] = []
    ref = _dec(entry.get("referencePrice"))
    price = _dec(entry.get("price"))
    if ref is not None and price is not None and _off_book(entry["side"], price, ref):
        worse = "above" if entry["side"] == "BUY" else "below"
        out.append(Feature(
            "Warning", "CTF_ORDER_PRICE_OFF_BOOK",
            f"The order {entry['side'].lower()}s at {format(price.normalize(), 'f')}, far "
            f"{worse} the {entry.get('referenceSource') or 'reference'} price "
            f"{format(ref.normalize(), 'f')} of token {entry['tokenId']}: whoever fills it keeps "
            "the difference.", exchange, "other", "ctf_order_price_off_book"))
    fee = entry.get("feeRateBps")
    if isinstance(fee, int) and fee > FEE_CAP_BPS:
        out.append(Feature(
            "Warning", "CTF_ORDER_FEE_OUT_OF_RANGE",
            f"The order's feeRateBps is {fee} ({fee / 100:g} %), above the {FEE_CAP_BPS} bps "
            "an exchange charges at most.", exchange, "other", "ctf_order_fee_out_of_range"))
    taker = entry.get("taker")  # V1 only
    if taker is not None:
        known = _exchanges(inp).get(low(exchange)) or {}
        operators = {low(a) for a in known.get("operators") or ()}
        if is_addr(taker) and low(taker) not in (ZERO, *operators):
            out.append(Feature(
                "Warning", "CTF_ORDER_PRIVATE_TAKER",
                f"The order can only be filled by {taker}, which is not a known operator of the "
                "exchange: a private order to a counterparty the wallet cannot vet.",
                taker, "other", "ctf_order_private_taker"))
    return out
