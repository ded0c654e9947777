"""BIP-39 validation and BIP-44 derivation (mm_agent.wallets.byok.mnemonic)."""

from __future__ import annotations

import re

import pytest

from mm_agent.errors import InvalidMnemonic, ValidationError
from mm_agent.wallets.byok.mnemonic import (
    derive_address,
    derive_private_key,
    normalize_mnemonic,
    validate_mnemonic,
)

HARDHAT = "test test test test test test test test test test test junk"
# BIP-39 test vector (entropy 0x7f * 16). Its words appear nowhere in our error texts, so the
# leak checks below cannot pass or fail by coincidence.
VECTOR = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def _assert_no_words_leaked(exc: InvalidMnemonic, phrase: str) -> None:
    texts = [str(exc), repr(exc), exc.hint or "", str(exc.to_payload())]
    for word in set(phrase.lower().split()):
        for text in texts:
            assert not re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE), word


def test_known_addresses() -> None:
    assert derive_address(HARDHAT, 0) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert derive_address(HARDHAT, 1) == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_known_private_key() -> None:
    key = derive_private_key(HARDHAT, 0)
    assert isinstance(key, bytes) and len(key) == 32
    assert key.hex() == "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_normalisation() -> None:
    messy = "  TEST test\t\ttest  test\ntest test test test test test test JUNK  "
    assert normalize_mnemonic(messy) == HARDHAT
    # Ideographic (full-width) space is whitespace too; NFKD folds full-width letters.
    assert normalize_mnemonic("ｔｅｓｔ\u3000junk") == "test junk"
    assert validate_mnemonic(messy) == HARDHAT
    assert derive_address(messy, 0) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_valid_vector_round_trips() -> None:
    assert validate_mnemonic(VECTOR.upper()) == VECTOR


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param(VECTOR.replace("sausage", "sausagge"), id="unknown-word"),
        pytest.param(VECTOR.replace("yellow", "year"), id="bad-checksum"),
        pytest.param(VECTOR.rsplit(" ", 1)[0], id="eleven-words"),
        pytest.param(VECTOR + " legal", id="thirteen-words"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_mnemonic(phrase: str) -> None:
    with pytest.raises(InvalidMnemonic) as info:
        validate_mnemonic(phrase)
    assert info.value.code == "INVALID_MNEMONIC"
    _assert_no_words_leaked(info.value, phrase)


def test_derive_rejects_invalid_mnemonic_without_leaking() -> None:
    phrase = VECTOR.replace("yellow", "year")
    with pytest.raises(InvalidMnemonic) as info:
        derive_address(phrase, 0)
    _assert_no_words_leaked(info.value, phrase)


@pytest.mark.parametrize("index", [-1, 2**31, True, "0"])
def test_bad_index(index: object) -> None:
    with pytest.raises(ValidationError):
        derive_private_key(HARDHAT, index)  # type: ignore[arg-type]
