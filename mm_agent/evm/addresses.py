"""EVM address validation and EIP-55 checksumming.

Uses ``mm_agent.evm.keccak`` (cheap to import) rather than eth_utils so the CLI stays fast.
Addresses are validated and checksummed, never guessed: an all-lower or all-upper address is
accepted and checksummed; a mixed-case one must carry a correct checksum.
"""

from __future__ import annotations

import functools
import re

from mm_agent.errors import InvalidAddress

__all__ = ["ZERO_ADDRESS", "is_address", "to_checksum_address", "validate_address"]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _keccak_hex(data: bytes) -> str:
    from .keccak import keccak256

    return keccak256(data).hex()


def to_checksum_address(address: str) -> str:
    """EIP-55 form of a syntactically valid address (no checksum check of the input)."""
    if not isinstance(address, str) or not _HEX40.match(address):
        raise InvalidAddress(f"Not an EVM address: {address!r}.")
    return _checksum(address[2:].lower())


@functools.lru_cache(maxsize=4096)
def _checksum(lower: str) -> str:
    # Cached: a service checksums the same few addresses (its wallets, their counterparties)
    # many times per request.
    digest = _keccak_hex(lower.encode())
    return "0x" + "".join(
        ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch for i, ch in enumerate(lower)
    )


def validate_address(address: str, *, field: str = "address") -> str:
    """Return the checksummed address, or raise ``InvalidAddress`` with the field named."""
    if not isinstance(address, str):
        raise InvalidAddress(f"{field}: expected a 0x address string.")
    address = address.strip()
    if not _HEX40.match(address):
        raise InvalidAddress(f"{field}: {address!r} is not an EVM address (0x + 40 hex).")
    checksummed = to_checksum_address(address)
    body = address[2:]
    if body != body.lower() and body != body.upper() and address != checksummed:
        raise InvalidAddress(
            f"{field}: {address} has an invalid EIP-55 checksum.",
            hint="Copy the address again from its source; a wrong checksum usually means a typo.",
        )
    return checksummed


def is_address(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX40.match(value))
