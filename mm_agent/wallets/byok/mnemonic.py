"""BIP-39 mnemonics: normalisation, validation and BIP-44 Ethereum key derivation.

Nothing here may put a word of the phrase into an exception message, a repr or a log: error
messages only ever name positions and counts. The word list, checksum, seed and BIP-32
derivation come from ``mm_agent.evm.hd`` (hashlib + coincurve): importing eth-account would
cost ~0.35 s per CLI command (tests/test_fast_crypto.py checks parity with it).
"""

from __future__ import annotations

import unicodedata

from mm_agent.errors import InvalidMnemonic, ValidationError

__all__ = [
    "DERIVATION_PATH_TEMPLATE",
    "VALID_WORD_COUNTS",
    "derive_address",
    "derive_private_key",
    "normalize_mnemonic",
    "validate_mnemonic",
]

VALID_WORD_COUNTS: frozenset[int] = frozenset({12, 15, 18, 21, 24})
# BIP-44 Ethereum path; only the last (non-hardened) index varies between wallet accounts.
DERIVATION_PATH_TEMPLATE = "m/44'/60'/0'/0/{index}"
_MAX_INDEX = 2**31 - 1  # above this the index would collide with the hardened range


def normalize_mnemonic(text: str) -> str:
    """NFKD, lower-case, collapse every run of whitespace to one space, strip."""
    # NFKD first: BIP-39 hashes the NFKD form, and it also folds full-width spaces/letters.
    decomposed = unicodedata.normalize("NFKD", text).lower()
    # str.split() with no argument splits on any Unicode whitespace run and drops the ends.
    return " ".join(decomposed.split())


def validate_mnemonic(text: str) -> str:
    """Return the normalised phrase if it is a valid English BIP-39 mnemonic.

    Raises ``InvalidMnemonic`` otherwise; the message never contains any of the words.
    """
    if not isinstance(text, str):
        raise InvalidMnemonic("The mnemonic must be text.")
    from mm_agent.evm.hd import english_words, mnemonic_checksum_ok

    phrase = normalize_mnemonic(text)
    words = phrase.split(" ") if phrase else []
    if len(words) not in VALID_WORD_COUNTS:
        raise InvalidMnemonic(
            f"The mnemonic has {len(words)} word(s); expected 12, 15, 18, 21 or 24."
        )
    known = english_words()
    bad_positions = [str(i) for i, word in enumerate(words, start=1) if word not in known]
    if bad_positions:
        # Positions only: echoing a word (even a mistyped one) would leak most of the secret.
        raise InvalidMnemonic(
            "The mnemonic has word(s) not in the English BIP-39 word list at position(s) "
            f"{', '.join(bad_positions)}."
        )
    if not mnemonic_checksum_ok(words):
        raise InvalidMnemonic("The mnemonic's checksum is invalid (a word may be wrong or moved).")
    return phrase


def _check_index(index: int) -> int:
    # bool is an int subclass; True as an account index is certainly a bug upstream.
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= _MAX_INDEX:
        raise ValidationError(f"Account index must be an integer from 0 to {_MAX_INDEX}.")
    return index


def derive_private_key(mnemonic: str, index: int) -> bytes:
    """The 32-byte secp256k1 private key at m/44'/60'/0'/0/{index} (empty BIP-39 passphrase)."""
    phrase = validate_mnemonic(mnemonic)
    _check_index(index)
    from mm_agent.evm.hd import derive_path, seed_from_phrase

    # The phrase is already validated above (English list, checksum); no language detection.
    seed = seed_from_phrase(phrase, "")
    try:
        return derive_path(seed, DERIVATION_PATH_TEMPLATE.format(index=index))
    except Exception:
        # Defensive: never let a third-party message (which might embed key material) escape.
        raise InvalidMnemonic("Key derivation from the mnemonic failed.") from None


def derive_address(mnemonic: str, index: int) -> str:
    """The EIP-55 checksummed address at m/44'/60'/0'/0/{index}."""
    from mm_agent.evm.hd import address_of_key

    return address_of_key(derive_private_key(mnemonic, index))
