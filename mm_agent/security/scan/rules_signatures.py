"""Rule family 6: raw-hash ("blind") message signatures.

A message of exactly 32 bytes that do not read as text is almost always a hash: a transaction,
an order or a permit digest that the user cannot read. Signing it blind is what ``eth_sign``
phishing relies on, so it is treated as Malicious (``raw_signature_farming``). Readable text is
fine. Other binary payloads are reported as Info so a reviewer knows they cannot be read.
"""

from __future__ import annotations

import re

from ._base import Feature, ScanInput

__all__ = ["message_bytes", "rule_raw_signatures"]

_HEX = re.compile(r"^(0x)?([0-9a-fA-F]{2})*$")


def message_bytes(message: str | bytes) -> tuple[bytes, bool]:
    """(payload, was_hex): 0x-hex (or a bare 64-hex hash) is decoded, anything else is UTF-8."""
    if isinstance(message, (bytes, bytearray)):
        return bytes(message), True
    text = message.strip()
    if text.startswith(("0x", "0X")) and _HEX.match("0x" + text[2:]) and len(text) > 2:
        return bytes.fromhex(text[2:]), True
    if len(text) == 64 and _HEX.match(text):  # a bare hash reads no better than a 0x one
        return bytes.fromhex(text), True
    return message.encode("utf-8"), False


def _readable(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\n\r\t" for ch in text)


def rule_raw_signatures(inp: ScanInput) -> list[Feature]:
    if inp.kind != "message" or inp.message is None:
        return []
    raw, was_hex = message_bytes(inp.message)
    # 32 bytes that read as text (a hex-encoded 32-character phrase) are a message, not a hash:
    # a random digest is all-printable with negligible probability.
    if len(raw) == 32 and not _readable(raw):
        return [Feature(
            "Malicious", "RAW_HASH_SIGNATURE",
            "This asks you to sign a bare 32-byte hash. You cannot see what it stands for: it "
            "may be a transaction, a token permit or a marketplace order that hands over your "
            "assets. Refuse unless you computed the hash yourself.",
            None, "raw_signature_farming", "blind_hash_signing",
        )]
    if not was_hex or _readable(raw):
        return []
    if raw[:2] == b"\x19\x01" and len(raw) == 66:
        return [Feature("Info", "EIP712_PREIMAGE_AS_MESSAGE",
                        "The message is an EIP-712 pre-image (0x1901 ‖ domain ‖ struct hash) "
                        "sent as plain bytes; as a personal message it cannot be used on-chain, "
                        "but its content cannot be reviewed here.")]
    return [Feature("Info", "BINARY_MESSAGE",
                    f"The message is {len(raw)} bytes of binary data, not readable text.")]
