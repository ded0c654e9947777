"""ERC-20 reads and calldata: metadata, balances, transfer encoding.

Decimals are read on chain for tokens given by address (never guessed); registry tokens use
their known decimals. Metadata is cached per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mm_agent.errors import RpcError, UnknownToken

from .addresses import to_checksum_address
from .chains import Token, resolve_token
from .rpc import RpcClient

__all__ = [
    "TokenInfo",
    "encode_call",
    "erc20_transfer_data",
    "read_token",
    "resolve_asset",
]

SEL_BALANCE_OF = "0x70a08231"
SEL_DECIMALS = "0x313ce567"
SEL_SYMBOL = "0x95d89b41"
SEL_TRANSFER = "0xa9059cbb"


@dataclass(frozen=True)
class TokenInfo:
    address: str | None  # None for the native asset
    symbol: str
    decimals: int

    def asset(self) -> dict[str, Any]:
        return {
            "type": "native" if self.address is None else "erc20",
            "address": self.address,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "tokenId": None,
        }


_CACHE: dict[tuple[int, str], TokenInfo] = {}


def encode_call(selector: str, types: list[str], values: list[Any]) -> str:
    """Calldata for elementary argument types (``mm_agent.evm.abi``: no eth-abi import)."""
    from .abi import encode

    return selector + encode(types, values).hex()


def erc20_transfer_data(to: str, amount: int) -> str:
    return encode_call(SEL_TRANSFER, ["address", "uint256"], [to, amount])


def _decode_symbol(raw: str) -> str:
    from .abi import decode_string

    data = bytes.fromhex(raw[2:])
    try:
        return decode_string(data)
    except Exception:
        return data[:32].rstrip(b"\0").decode("utf-8", "replace")


def read_token(rpc: RpcClient, chain_id: int, address: str,
               known: Token | None = None) -> TokenInfo:
    """Symbol and decimals of an ERC-20, from the registry or read on chain."""
    address = to_checksum_address(address)
    key = (chain_id, address.lower())
    if key in _CACHE:
        return _CACHE[key]
    if known is not None:
        info = TokenInfo(address, known.symbol, known.decimals)
    else:
        try:
            dec_raw, sym_raw = rpc.batch([
                ("eth_call", [{"to": address, "data": SEL_DECIMALS}, "latest"]),
                ("eth_call", [{"to": address, "data": SEL_SYMBOL}, "latest"]),
            ])
        except RpcError as exc:
            raise UnknownToken(f"{address} does not answer decimals()/symbol(): not an ERC-20 "
                               f"on chain {chain_id}.") from exc
        if not dec_raw or dec_raw == "0x":
            raise UnknownToken(f"{address} has no ERC-20 contract on chain {chain_id}.")
        info = TokenInfo(address, _decode_symbol(sym_raw) if sym_raw not in (None, "0x")
                         else "?", int(dec_raw, 16))
    _CACHE[key] = info
    return info


def resolve_asset(rpc: RpcClient, chain_id: int, token: str,
                  devnet: dict[str, Any] | None) -> TokenInfo:
    """`ETH`, a symbol, or a 0x address → ``TokenInfo`` (decimals read on chain for addresses)."""
    from .addresses import validate_address

    found = resolve_token(chain_id, token, devnet)
    if isinstance(found, str):
        return read_token(rpc, chain_id, validate_address(found, field="token"))
    if found.is_native:
        return TokenInfo(None, found.symbol, found.decimals)
    assert found.address is not None
    return read_token(rpc, chain_id, found.address, known=found)
