"""BIP-39 phrases and seeds, BIP-32 derivation, secp256k1 keys → addresses.

Written with hashlib/hmac and coincurve so that unlocking a BYOK wallet does not import
eth-account (whose import chain, eth-keyfile → py_ecc's BLS code, costs ~0.3 s and raises the
recursion limit). The callers (``mm_agent.wallets.byok.mnemonic``) validate and normalise the
phrase first; nothing here puts a word of it or key material into an exception message.
tests/test_fast_crypto.py checks parity with eth-account's ``Mnemonic`` and ``key_from_seed``.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "SECP256K1_N",
    "address_of_key",
    "derive_path",
    "english_words",
    "mnemonic_checksum_ok",
    "seed_from_phrase",
]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HARDENED = 0x80000000
_WORD_INDEX: dict[str, int] | None = None


def english_words() -> dict[str, int]:
    """word → index in the BIP-39 English list."""
    global _WORD_INDEX
    if _WORD_INDEX is None:
        from .bip39_english import WORDS

        _WORD_INDEX = {w: i for i, w in enumerate(WORDS)}
    return _WORD_INDEX


def mnemonic_checksum_ok(words: list[str]) -> bool:
    """BIP-39 checksum of a phrase whose words are all in the English list."""
    if len(words) not in (12, 15, 18, 21, 24):
        return False
    index = english_words()
    bits = len(words) * 11
    value = 0
    for word in words:
        value = (value << 11) | index[word]
    cs_bits = bits // 33
    entropy = (value >> cs_bits).to_bytes((bits - cs_bits) // 8, "big")
    expected = hashlib.sha256(entropy).digest()[0] >> (8 - cs_bits)
    return (value & ((1 << cs_bits) - 1)) == expected


def seed_from_phrase(phrase: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP-39 seed of an NFKD-normalised phrase."""
    import unicodedata

    salt = "mnemonic" + unicodedata.normalize("NFKD", passphrase)
    return hashlib.pbkdf2_hmac("sha512", unicodedata.normalize("NFKD", phrase).encode(),
                               salt.encode(), 2048)


def _parse_path(path: str) -> list[int]:
    parts = path.split("/")
    if parts[0] != "m":
        raise ValueError("derivation path must start with m")
    out = []
    for part in parts[1:]:
        hardened = part.endswith("'")
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or int(digits) >= _HARDENED:
            raise ValueError("bad derivation path component")
        out.append(int(digits) + (_HARDENED if hardened else 0))
    return out


def derive_path(seed: bytes, path: str) -> bytes:
    """BIP-32: the private key at ``path`` (e.g. ``m/44'/60'/0'/0/0``) from a seed."""
    from coincurve import PublicKey

    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key, chain = int.from_bytes(digest[:32], "big"), digest[32:]
    if not 0 < key < SECP256K1_N:
        raise ValueError("invalid master key")
    for index in _parse_path(path):
        secret = key.to_bytes(32, "big")
        if index >= _HARDENED:
            data = b"\x00" + secret
        else:
            data = PublicKey.from_secret(secret).format(compressed=True)
        digest = hmac.new(chain, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
        tweak = int.from_bytes(digest[:32], "big")
        key = (tweak + key) % SECP256K1_N
        if tweak >= SECP256K1_N or key == 0:  # probability ~2^-127; BIP-32 says skip it
            raise ValueError("invalid child key")
        chain = digest[32:]
    return key.to_bytes(32, "big")


def address_of_key(private_key: bytes) -> str:
    """The EIP-55 address of a 32-byte secp256k1 private key."""
    from coincurve import PublicKey

    from .addresses import to_checksum_address
    from .keccak import keccak256

    public = PublicKey.from_secret(private_key).format(compressed=False)[1:]
    return to_checksum_address("0x" + keccak256(public)[-20:].hex())
