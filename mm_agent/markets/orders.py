"""Polymarket CTF Exchange V2 orders and CLOB authentication, without a private key.

Everything here builds what a wallet signs; the signature itself comes from the wallet's
``sign_typed_data`` (BYOK or server), so every order runs the security pipeline. Hashes match
``py-clob-client-v2`` (tests/markets/test_orders_parity.py).

- Order (EIP-712, domain ``"Polymarket CTF Exchange"`` version ``"2"``, the exchange as
  verifying contract)::

    Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
          uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,
          bytes32 metadata,bytes32 builder)

  BUY: the maker gives ``makerAmount`` collateral for ``takerAmount`` outcome tokens; SELL the
  other way round. Collateral and outcome tokens both have 6 decimals. ``timestamp`` is in
  milliseconds (the client's default). Price = collateral / tokens.
- L1 auth: ``ClobAuth(address address,string timestamp,uint256 nonce,string message)`` in the
  domain ``"ClobAuthDomain"`` version ``"1"`` (no verifying contract); headers ``POLY_ADDRESS``,
  ``POLY_SIGNATURE``, ``POLY_TIMESTAMP``, ``POLY_NONCE``.
- L2 auth: ``POLY_SIGNATURE = urlsafe_b64(HMAC-SHA256(urlsafe_b64decode(secret),
  timestamp ‖ METHOD ‖ path ‖ body))`` with ``POLY_API_KEY``, ``POLY_PASSPHRASE``,
  ``POLY_ADDRESS``, ``POLY_TIMESTAMP``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

from mm_agent.errors import InvalidAmount, ValidationError
from mm_agent.evm.signatures import keccak256

__all__ = [
    "BUY",
    "CLOB_AUTH_MESSAGE",
    "COLLATERAL_DECIMALS",
    "EXCHANGE_DOMAIN_NAME",
    "EXCHANGE_DOMAIN_VERSION",
    "ORDER_ABI_TUPLE",
    "ORDER_TYPEHASH",
    "ORDER_TYPE_STRING",
    "SELL",
    "TICK_SIZES",
    "ZERO_BYTES32",
    "Order",
    "build_order",
    "clob_auth_typed_data",
    "hmac_signature",
    "l1_headers",
    "l2_headers",
    "order_amounts",
    "order_hash",
    "order_typed_data",
]

EXCHANGE_DOMAIN_NAME = "Polymarket CTF Exchange"
EXCHANGE_DOMAIN_VERSION = "2"
ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
ORDER_TYPEHASH = "0x" + keccak256(ORDER_TYPE_STRING.encode()).hex()
ZERO_BYTES32 = "0x" + "00" * 32
COLLATERAL_DECIMALS = 6
BUY, SELL = 0, 1
SIGNATURE_TYPE_EOA = 0

_ORDER_FIELDS = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

# Tick size → decimals of (price, size, amount): the CLOB's rounding rules.
TICK_SIZES: dict[str, tuple[int, int, int]] = {
    "0.1": (1, 2, 3),
    "0.01": (2, 2, 4),
    "0.005": (3, 2, 5),
    "0.0025": (4, 2, 6),
    "0.001": (3, 2, 5),
    "0.0001": (4, 2, 6),
}


@dataclass(frozen=True)
class Order:
    """An unsigned V2 order. Integers are base units; ``metadata``/``builder`` are 0x bytes32."""

    salt: int
    maker: str
    signer: str
    tokenId: int  # EIP-712 field names (camelCase)
    makerAmount: int
    takerAmount: int
    side: int
    signatureType: int = SIGNATURE_TYPE_EOA
    timestamp: int = 0
    metadata: str = ZERO_BYTES32
    builder: str = ZERO_BYTES32

    def message(self) -> dict[str, Any]:
        """The EIP-712 message, JSON-safe: uint256 as decimal strings, uint8 as numbers."""
        return {
            "salt": str(self.salt), "maker": self.maker, "signer": self.signer,
            "tokenId": str(self.tokenId), "makerAmount": str(self.makerAmount),
            "takerAmount": str(self.takerAmount), "side": self.side,
            "signatureType": self.signatureType, "timestamp": str(self.timestamp),
            "metadata": self.metadata, "builder": self.builder,
        }

    def as_tuple(self, signature: str | bytes = b"") -> tuple[Any, ...]:
        """The ABI tuple of the exchange's ``Order`` struct (signature last)."""
        sig = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) \
            else signature
        return (self.salt, self.maker, self.signer, self.tokenId, self.makerAmount,
                self.takerAmount, self.side, self.signatureType, self.timestamp,
                _bytes32(self.metadata), _bytes32(self.builder), sig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def price(self) -> Decimal:
        """Collateral per outcome token."""
        tokens = self.takerAmount if self.side == BUY else self.makerAmount
        collateral = self.makerAmount if self.side == BUY else self.takerAmount
        return Decimal(collateral) / Decimal(tokens) if tokens else Decimal(0)


ORDER_ABI_TUPLE = ("(uint256,address,address,uint256,uint256,uint256,uint8,uint8,uint256,"
                   "bytes32,bytes32,bytes)")


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) > 32:
        raise ValidationError("metadata/builder must be at most 32 bytes.")
    return raw.rjust(32, b"\x00")


def _decimal(value: str | int | Decimal, what: str) -> Decimal:
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        raise InvalidAmount(f"{what} {value!r} is not a number.") from None
    if not dec.is_finite():
        raise InvalidAmount(f"{what} {value!r} is not a number.")
    return dec


def order_amounts(side: Literal["BUY", "SELL"] | int, price: str | Decimal, size: str | Decimal,
                  tick_size: str = "0.01") -> tuple[int, int]:
    """(makerAmount, takerAmount) in 6-decimal base units for a limit order of ``size`` outcome
    tokens at ``price`` (0 < price ≤ 1; the CLOB accepts prices in [tick, 1 - tick]).

    Price is rounded to the tick's decimals (half-even, like Python's ``round``), size down to
    2 decimals, the collateral amount down to the tick's amount decimals.
    """
    side_n = _side(side)
    if tick_size not in TICK_SIZES:
        raise ValidationError(f"Unknown tick size {tick_size!r}.",
                              hint=f"One of {', '.join(TICK_SIZES)}.")
    price_dp, size_dp, amount_dp = TICK_SIZES[tick_size]
    p = _decimal(price, "price").quantize(Decimal(1).scaleb(-price_dp), ROUND_HALF_EVEN)
    if not Decimal(0) < p <= Decimal(1):
        raise InvalidAmount(f"Price {price} is outside (0, 1].", hint="e.g. --price 0.55")
    s = _decimal(size, "size").quantize(Decimal(1).scaleb(-size_dp), ROUND_DOWN)
    if s <= 0:
        raise InvalidAmount(f"Size {size} is not positive.", hint="e.g. --size 10")
    collateral = (s * p).quantize(Decimal(1).scaleb(-amount_dp), ROUND_DOWN)
    scale = Decimal(10) ** COLLATERAL_DECIMALS
    tokens_units, collateral_units = int(s * scale), int(collateral * scale)
    if side_n == BUY:
        return collateral_units, tokens_units
    return tokens_units, collateral_units


def _side(side: Literal["BUY", "SELL"] | int) -> int:
    if side in (BUY, "BUY", "buy"):
        return BUY
    if side in (SELL, "SELL", "sell"):
        return SELL
    raise ValidationError(f"Side {side!r} is neither BUY nor SELL.")


def build_order(*, maker: str, token_id: int | str, side: Literal["BUY", "SELL"] | int,
                price: str | Decimal | None = None, size: str | Decimal | None = None,
                maker_amount: int | None = None, taker_amount: int | None = None,
                tick_size: str = "0.01", salt: int | None = None, timestamp_ms: int | None = None,
                metadata: str = ZERO_BYTES32, builder: str = ZERO_BYTES32) -> Order:
    """An EOA order (signer = maker) from price/size or from explicit base-unit amounts."""
    from eth_utils import to_checksum_address

    side_n = _side(side)
    if maker_amount is None or taker_amount is None:
        if price is None or size is None:
            raise ValidationError("Give price and size, or makerAmount and takerAmount.")
        maker_amount, taker_amount = order_amounts(side_n, price, size, tick_size)
    if maker_amount <= 0 or taker_amount <= 0:
        raise InvalidAmount("Order amounts must be positive.")
    address = to_checksum_address(maker)
    _bytes32(metadata)
    _bytes32(builder)
    return Order(
        salt=salt if salt is not None else secrets.randbelow(2**53),
        maker=address, signer=address, tokenId=int(token_id), makerAmount=int(maker_amount),
        takerAmount=int(taker_amount), side=side_n, signatureType=SIGNATURE_TYPE_EOA,
        timestamp=timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000,
        metadata=metadata, builder=builder,
    )


def order_typed_data(order: Order, *, chain_id: int, exchange: str) -> dict[str, Any]:
    """EIP-712 typed data for ``wallet.sign_typed_data(chain_id=…, payload=…)``."""
    from eth_utils import to_checksum_address

    return {
        "types": {"EIP712Domain": list(_DOMAIN_FIELDS), "Order": list(_ORDER_FIELDS)},
        "primaryType": "Order",
        "domain": {"name": EXCHANGE_DOMAIN_NAME, "version": EXCHANGE_DOMAIN_VERSION,
                   "chainId": chain_id, "verifyingContract": to_checksum_address(exchange)},
        "message": order.message(),
    }


def _domain_separator(chain_id: int, exchange: str) -> bytes:
    from eth_abi import encode

    domain_type = keccak256(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    return keccak256(encode(
        ["bytes32", "bytes32", "bytes32", "uint256", "address"],
        [domain_type, keccak256(EXCHANGE_DOMAIN_NAME.encode()),
         keccak256(EXCHANGE_DOMAIN_VERSION.encode()), chain_id, exchange]))


def order_hash(order: Order, *, chain_id: int, exchange: str) -> str:
    """The EIP-712 digest the exchange's ``hashOrder`` returns (and the maker signs)."""
    from eth_abi import encode

    struct_hash = keccak256(encode(
        ["bytes32", "uint256", "address", "address", "uint256", "uint256", "uint256", "uint8",
         "uint8", "uint256", "bytes32", "bytes32"],
        [bytes.fromhex(ORDER_TYPEHASH[2:]), order.salt, order.maker, order.signer,
         order.tokenId, order.makerAmount, order.takerAmount, order.side, order.signatureType,
         order.timestamp, _bytes32(order.metadata), _bytes32(order.builder)]))
    return "0x" + keccak256(b"\x19\x01" + _domain_separator(chain_id, exchange)
                            + struct_hash).hex()


# --- CLOB authentication --------------------------------------------------------------------------
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"


def clob_auth_typed_data(address: str, *, chain_id: int, timestamp: int,
                         nonce: int = 0) -> dict[str, Any]:
    """The L1 ``ClobAuth`` typed data (sign it with the wallet; see :func:`l1_headers`)."""
    from eth_utils import to_checksum_address

    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}],
            "ClobAuth": [{"name": "address", "type": "address"},
                         {"name": "timestamp", "type": "string"},
                         {"name": "nonce", "type": "uint256"},
                         {"name": "message", "type": "string"}],
        },
        "primaryType": "ClobAuth",
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "message": {"address": to_checksum_address(address), "timestamp": str(timestamp),
                    "nonce": nonce, "message": CLOB_AUTH_MESSAGE},
    }


def l1_headers(address: str, signature: str, *, timestamp: int, nonce: int = 0) -> dict[str, str]:
    from eth_utils import to_checksum_address

    return {"POLY_ADDRESS": to_checksum_address(address), "POLY_SIGNATURE": signature,
            "POLY_TIMESTAMP": str(timestamp), "POLY_NONCE": str(nonce)}


def hmac_signature(secret: str, timestamp: int | str, method: str, request_path: str,
                   body: str | None = None) -> str:
    """URL-safe base64 HMAC-SHA256 of ``timestamp ‖ method ‖ path ‖ body`` keyed by the
    URL-safe base64-decoded API secret. ``body`` is the exact serialized JSON sent."""
    message = f"{timestamp}{method}{request_path}" + (body or "")
    digest = hmac.new(base64.urlsafe_b64decode(secret), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def l2_headers(address: str, *, api_key: str, secret: str, passphrase: str, timestamp: int,
               method: str, request_path: str, body: str | None = None) -> dict[str, str]:
    from eth_utils import to_checksum_address

    return {
        "POLY_ADDRESS": to_checksum_address(address),
        "POLY_SIGNATURE": hmac_signature(secret, timestamp, method, request_path, body),
        "POLY_TIMESTAMP": str(timestamp), "POLY_API_KEY": api_key,
        "POLY_PASSPHRASE": passphrase,
    }
