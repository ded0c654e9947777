"""The fast signing/encoding paths give the same bytes as eth-account / eth-abi / pycryptodome.

mm_agent.evm.{keccak,abi,hd,eip712,signing} sign and encode without importing eth-account or
eth-abi (issue 14 item 4: a CLI write as fast as a read). Every function is compared here with
the library it replaces, on fixed cases and on random ones.
"""

from __future__ import annotations

import copy
import hashlib
import os
import random
import subprocess
import sys
from typing import Any

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.hdaccount import key_from_seed
from eth_account.hdaccount.mnemonic import Mnemonic
from eth_account.messages import _hash_eip191_message, encode_defunct, encode_typed_data

from mm_agent.errors import InvalidTypedData
from mm_agent.evm import abi, eip712, hd, signing
from mm_agent.evm.keccak import keccak256

TEST_MNEMONIC = "test test test test test test test test test test test junk"
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
RNG = random.Random(14)


# --- keccak ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 135, 136, 137, 272, 1000, 65536])
def test_keccak_matches_pycryptodome(n: int) -> None:
    data = bytes(RNG.getrandbits(8) for _ in range(n))
    assert keccak256(data) == pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def test_keccak_accepts_bytearray_and_memoryview() -> None:
    assert keccak256(bytearray(b"abc")) == keccak256(memoryview(b"abc")) == keccak256(b"abc")


def test_keccak_pycryptodome_fallback_agrees() -> None:
    from mm_agent.evm import keccak as mod

    slow = mod._pycryptodome_impl()
    for n in (0, 5, 200):
        assert slow(b"x" * n) == keccak256(b"x" * n)


# --- ABI ------------------------------------------------------------------------------------------
ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

ABI_CASES: list[tuple[list[str], list[Any]]] = [
    (["address", "uint256"], [ADDR, 12_500_000]),
    (["address", "uint256"], [ADDR.lower(), 2**256 - 1]),
    (["address"], ["0x" + "0" * 40]),
    (["address"], ["0x70997970c51812dc3A010C7d01b50e0d17dc79C8"]),  # eth-abi: no checksum check
    (["bool", "int8", "int256", "uint8"], [True, -128, -(2**255), 255]),
    (["bytes4", "bytes32", "bytes1"], [b"\x12\x34\x56\x78", b"\x01", b""]),
    (["string", "uint256", "bytes"], ["hello ☃", 7, b"\x00" * 33]),
    (["string", "string"], ["", "x" * 64]),
    (["uint", "int"], [5, -5]),
]


@pytest.mark.parametrize(("types", "values"), ABI_CASES)
def test_abi_encode_matches_eth_abi(types: list[str], values: list[Any]) -> None:
    assert abi.encode(types, values) == abi_encode(types, values)


@pytest.mark.parametrize(("typ", "value"), [
    ("uint8", 256), ("uint256", -1), ("int8", 128), ("int8", -129), ("bool", 1),
    ("uint256", True), ("address", "0x1234"), ("address", 5), ("bytes2", b"abc"),
    ("uint7", 1), ("bytes33", b""), ("string", b"x"), ("bytes", "0x12"),
])
def test_abi_encode_refuses_what_eth_abi_refuses(typ: str, value: Any) -> None:
    with pytest.raises(ValueError):
        abi.encode([typ], [value])
    with pytest.raises(Exception):  # noqa: B017 - eth-abi's own error classes
        abi_encode([typ], [value])


@pytest.mark.parametrize("text", ["USDC", "", "Ünïcödé ☃", "x" * 100])
def test_decode_string_matches_eth_abi(text: str) -> None:
    data = abi_encode(["string"], [text])
    assert abi.decode_string(data) == abi_decode(["string"], data)[0] == text


@pytest.mark.parametrize("data", [
    b"MKR".ljust(32, b"\0"),  # bytes32 symbols (MKR, SAI) are not ABI strings
    abi_encode(["string"], ["ok"])[:-1],
    (32).to_bytes(32, "big") + (3).to_bytes(32, "big") + b"abc".ljust(32, b"\1"),
    (32).to_bytes(32, "big") + (2).to_bytes(32, "big") + b"\xff\xfe".ljust(32, b"\0"),
])
def test_decode_string_refuses_what_eth_abi_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        abi.decode_string(data)
    with pytest.raises(Exception):  # noqa: B017
        abi_decode(["string"], data)


def test_token_calldata_unchanged() -> None:
    from mm_agent.evm.tokens import SEL_BALANCE_OF, encode_call, erc20_transfer_data

    assert erc20_transfer_data(ADDR, 10**6) == "0xa9059cbb" + abi_encode(
        ["address", "uint256"], [ADDR, 10**6]).hex()
    assert encode_call(SEL_BALANCE_OF, ["address"], [ADDR]) == "0x70a08231" + abi_encode(
        ["address"], [ADDR]).hex()


# --- BIP-39 / BIP-32 ------------------------------------------------------------------------------
def test_wordlist_is_bip39_english() -> None:
    from mm_agent.evm.bip39_english import WORDS

    text = "\n".join(WORDS) + "\n"
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
    assert list(WORDS) == Mnemonic().wordlist


def _random_phrases() -> list[str]:
    """Deterministic (pytest-xdist collects the same parameters in every worker)."""
    english, rng = Mnemonic(), random.Random(39)
    return [english.to_mnemonic(rng.randbytes(n * 4 // 3)) for n in (12, 15, 18, 21, 24)
            for _ in range(3)]


@pytest.mark.parametrize("phrase", [TEST_MNEMONIC, *_random_phrases()])
def test_seed_and_keys_match_eth_account(phrase: str) -> None:
    seed = hd.seed_from_phrase(phrase)
    assert seed == Mnemonic.to_seed(phrase, "")
    assert hd.seed_from_phrase(phrase, "pässword") == Mnemonic.to_seed(phrase, "pässword")
    for path in ("m/44'/60'/0'/0/0", "m/44'/60'/0'/0/7", "m/44'/60'/0'/0/2147483647",
                 "m/44'/60'/1'/0/3", "m/0", "m"):
        key = hd.derive_path(seed, path)
        assert key == key_from_seed(seed, path)
        assert hd.address_of_key(key) == Account.from_key(key).address


def test_checksum_matches_eth_account() -> None:
    english = Mnemonic()
    words = english.wordlist
    phrases = [*_random_phrases(), TEST_MNEMONIC]
    # flip the last word: mostly invalid checksums, some valid by chance
    phrases += [" ".join([*p.split()[:-1], words[RNG.randrange(2048)]]) for p in phrases * 4]
    phrases += [" ".join(RNG.choice(words) for _ in range(12)) for _ in range(50)]
    seen = set()
    for phrase in phrases:
        ours = hd.mnemonic_checksum_ok(phrase.split())
        assert ours == english.is_mnemonic_valid(phrase), phrase
        seen.add(ours)
    assert seen == {True, False}
    assert not hd.mnemonic_checksum_ok(TEST_MNEMONIC.split()[:11])


def test_known_test_mnemonic_addresses() -> None:
    seed = hd.seed_from_phrase(TEST_MNEMONIC)
    assert hd.derive_path(seed, "m/44'/60'/0'/0/0") == KEY
    assert hd.address_of_key(KEY) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert hd.address_of_key(hd.derive_path(seed, "m/44'/60'/0'/0/1")) == ADDR


def test_mnemonic_module_matches_eth_account() -> None:
    from mm_agent.wallets.byok.mnemonic import derive_address, derive_private_key

    Account.enable_unaudited_hdwallet_features()
    for index in (0, 1, 5):
        expected = Account.from_mnemonic(TEST_MNEMONIC,
                                         account_path=f"m/44'/60'/0'/0/{index}")
        assert derive_private_key(TEST_MNEMONIC, index) == expected.key
        assert derive_address(TEST_MNEMONIC, index) == expected.address


# --- messages -------------------------------------------------------------------------------------
@pytest.mark.parametrize("message", [
    "hello", "", "Ünïcödé ☃ 🦊", "0x", "0xdeadbeef", "0x" + "ab" * 32, "0xabc", "0xzz",
    "x" * 10_000, "line\nbreak",
])
def test_sign_message_matches_eth_account(message: str) -> None:
    hexed = message.startswith("0x") and len(message) % 2 == 0 and all(
        c in "0123456789abcdefABCDEF" for c in message[2:])
    signable = encode_defunct(hexstr=message) if hexed else encode_defunct(text=message)
    expected = "0x" + Account.sign_message(signable, KEY).signature.hex()
    assert signing.sign_message(KEY, message) == expected


# --- typed data -----------------------------------------------------------------------------------
MAIL: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
                 {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
               "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"},
}

KITCHEN_SINK: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"},
            {"name": "salt", "type": "bytes32"},
        ],
        "Leaf": [{"name": "tag", "type": "bytes4"}, {"name": "blob", "type": "bytes"},
                 {"name": "flags", "type": "bool[]"}],
        "Node": [{"name": "leaves", "type": "Leaf[]"}, {"name": "grid", "type": "int16[2][]"},
                 {"name": "label", "type": "string"}],
        "Root": [
            {"name": "nodes", "type": "Node[]"}, {"name": "owner", "type": "address"},
            {"name": "owners", "type": "address[3]"}, {"name": "delta", "type": "int256"},
            {"name": "small", "type": "int8"}, {"name": "amount", "type": "uint256"},
            {"name": "hexAmount", "type": "uint128"}, {"name": "words", "type": "string[]"},
            {"name": "empty", "type": "uint256[]"}, {"name": "nothing", "type": "Node[]"},
            {"name": "hashes", "type": "bytes32[]"}, {"name": "raw", "type": "bytes"},
            {"name": "ok", "type": "bool"}, {"name": "plain", "type": "uint"},
        ],
    },
    "primaryType": "Root",
    "domain": {"name": "Sink", "chainId": "0x89",
               "salt": "0x" + "5a" * 32},
    "message": {
        "nodes": [
            {"leaves": [{"tag": "0x12345678", "blob": "0x", "flags": [True, False]},
                        {"tag": "0x01", "blob": "0x" + "ff" * 70, "flags": []}],
             "grid": [[-1, 2], [32767, -32768]], "label": "ünïcode ☃"},
            {"leaves": [], "grid": [], "label": ""},
        ],
        "owner": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        "owners": ["0x" + "00" * 20, ADDR, "0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266"],
        "delta": -(2**255), "small": -128, "amount": str(2**256 - 1),
        "hexAmount": "0xff", "words": ["a", "", "longer " * 20], "empty": [],
        "nothing": [], "hashes": ["0x" + "11" * 32, "0x" + "22" * 32], "raw": "0xdeadbeef",
        "ok": False, "plain": 3,
    },
}

PERMIT2: dict[str, Any] = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"},
                         {"name": "chainId", "type": "uint256"},
                         {"name": "verifyingContract", "type": "address"}],
        "PermitDetails": [{"name": "token", "type": "address"},
                          {"name": "amount", "type": "uint160"},
                          {"name": "expiration", "type": "uint48"},
                          {"name": "nonce", "type": "uint48"}],
        "PermitSingle": [{"name": "details", "type": "PermitDetails"},
                         {"name": "spender", "type": "address"},
                         {"name": "sigDeadline", "type": "uint256"}],
    },
    "primaryType": "PermitSingle",
    "domain": {"name": "Permit2", "chainId": 1,
               "verifyingContract": "0x000000000022D473030F116dDEE9F6B43aC78BA3"},
    "message": {"details": {"token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                            "amount": "1461501637330902918203684832716283019655932542975",
                            "expiration": 1735689600, "nonce": 0},
                "spender": "0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD",
                "sigDeadline": "1735689600"},
}


def _without_domain_type(payload: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    del out["types"]["EIP712Domain"]
    return out


def _reordered_domain(payload: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    out["types"]["EIP712Domain"] = list(reversed(out["types"]["EIP712Domain"]))
    return out


TYPED = {
    "mail": MAIL, "kitchen-sink": KITCHEN_SINK, "permit2": PERMIT2,
    "no-domain-type": _without_domain_type(MAIL),
    "domain-type-reordered": _reordered_domain(KITCHEN_SINK),
    "empty-domain": {**_without_domain_type(PERMIT2), "domain": {}},
    "no-primary-type": {k: v for k, v in MAIL.items() if k != "primaryType"},
}


def _eth_account_digest(payload: dict[str, Any]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=payload)))


@pytest.mark.parametrize("name", list(TYPED))
def test_typed_data_digest_matches_eth_account(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = copy.deepcopy(TYPED[name])

    def no_fallback(*_a: Any, **_k: Any) -> None:
        raise AssertionError("took eth-account's path")

    monkeypatch.setattr("eth_account.messages.encode_typed_data", no_fallback)
    ours = eip712.digest(payload)
    monkeypatch.undo()
    assert ours == _eth_account_digest(TYPED[name])
    assert payload == TYPED[name]  # not mutated
    expected = "0x" + Account.sign_message(encode_typed_data(full_message=TYPED[name]),
                                           KEY).signature.hex()
    assert signing.sign_typed_data(KEY, payload) == expected
    assert signing.typed_data_digest(payload) == "0x" + ours.hex()


def _random_value(typ: str, types: dict[str, Any], depth: int) -> Any:
    if typ.endswith("]"):
        base, _, size = typ[:-1].rpartition("[")
        n = int(size) if size else RNG.randrange(0, 3)
        return [_random_value(base, types, depth + 1) for _ in range(n)]
    if typ in types:
        return {f["name"]: _random_value(f["type"], types, depth + 1) for f in types[typ]}
    if typ == "address":
        raw = "0x" + os.urandom(20).hex()
        return RNG.choice([raw, raw.upper().replace("0X", "0x"),
                           signing_checksum(raw)])
    if typ == "bool":
        return RNG.random() < 0.5
    if typ == "string":
        return RNG.choice(["", "a", "☃ snow", "z" * 40])
    if typ == "bytes":
        return "0x" + os.urandom(RNG.randrange(0, 70)).hex()
    if typ.startswith("bytes"):
        return "0x" + os.urandom(RNG.randrange(0, int(typ[5:]) + 1)).hex()
    signed = typ.startswith("int")
    bits = int(typ.lstrip("uint") or 256)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    value = RNG.choice([lo, hi, 0, RNG.randint(lo, hi)])
    return RNG.choice([value, str(value), hex(value) if value >= 0 else value])


def signing_checksum(raw: str) -> str:
    from mm_agent.evm.addresses import to_checksum_address

    return to_checksum_address(raw)


ELEMENTARY = ["address", "bool", "string", "bytes", "bytes1", "bytes20", "bytes32", "uint8",
              "uint48", "uint256", "int8", "int64", "int256", "uint", "int"]


def _random_typed() -> dict[str, Any]:
    names = ["Alpha", "Beta", "Gamma", "Delta"]
    types: dict[str, Any] = {}
    for i, name in enumerate(names):
        fields = []
        for j in range(RNG.randrange(1, 5)):
            typ = RNG.choice(ELEMENTARY + names[i + 1:] if i + 1 < len(names) else ELEMENTARY)
            typ += RNG.choice(["", "", "[]", "[2]", "[][1]"])
            fields.append({"name": f"f{j}", "type": typ})
        types[name] = fields
    # make sure Alpha reaches everything (single primary type)
    for name in names[1:]:
        types["Alpha"].append({"name": f"ref{name}", "type": name})
    types["EIP712Domain"] = [{"name": "name", "type": "string"},
                             {"name": "chainId", "type": "uint256"}]
    return {"types": types, "primaryType": "Alpha", "domain": {"name": "R", "chainId": 1},
            "message": _random_value("Alpha", types, 0)}


@pytest.mark.parametrize("seed", range(40))
def test_random_typed_data_matches_eth_account(seed: int) -> None:
    RNG.seed(seed)
    payload = _random_typed()
    assert eip712.digest(payload) == _eth_account_digest(payload)


@pytest.mark.parametrize(("where", "value"), [
    (("message", "to", "wallet"), "0x1234"),
    (("message", "to", "name"), None),
    (("message", "contents"), 5),
    (("domain", "chainId"), "0o17"),
    (("domain", "chainId"), True),
    (("domain", "chainId"), " 0X1 "),
])
def test_unusual_typed_data_behaves_as_eth_account(where: tuple[str, ...], value: Any) -> None:
    """Off the fast path eth-account decides: same digest, or the same error."""
    payload = copy.deepcopy(MAIL)
    target = payload
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    try:
        expected = _eth_account_digest(payload)
    except Exception as exc:
        with pytest.raises(type(exc)):
            eip712.digest(payload)
    else:
        assert eip712.digest(payload) == expected


def test_typed_data_fallback_values_match() -> None:
    """Inputs off the fast path (bytes objects, domain field order, lenient bools) still match."""
    payload = copy.deepcopy(KITCHEN_SINK)
    payload["domain"]["salt"] = b"\x01" * 32
    payload["message"]["ok"] = "false"
    assert eip712.digest(payload) == _eth_account_digest(payload)


def test_validate_typed_data_still_reports_encoding_errors() -> None:
    payload = copy.deepcopy(PERMIT2)
    payload["message"]["details"]["nonce"] = "0o17"  # int(…, 0) reads it; eth-account does not
    with pytest.raises(InvalidTypedData, match="does not encode"):
        signing.validate_typed_data(payload, 1)
    assert signing.validate_typed_data(copy.deepcopy(MAIL), 1) == MAIL


# --- transactions ---------------------------------------------------------------------------------
def _tx(**over: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {"type": 2, "chainId": 31337, "nonce": 0, "to": ADDR,
                          "value": 10**15, "data": "0x", "gas": 21_000,
                          "maxFeePerGas": 2_000_000_000, "maxPriorityFeePerGas": 1_000_000_000}
    tx.update(over)
    return {k: v for k, v in tx.items() if v is not ...}


TXS = {
    "transfer": _tx(),
    "zeroes": _tx(nonce=0, value=0, maxPriorityFeePerGas=0, chainId=1),
    "erc20": _tx(to="0x5FbDB2315678afecb367f032d93F642f64180aa3", value=0,
                 data="0xa9059cbb" + abi_encode(["address", "uint256"], [ADDR, 5]).hex()),
    "big-data": _tx(data="0x" + "ab" * 3000, gas=3_000_000, nonce=127),
    "nonce-128": _tx(nonce=128, value=2**256 - 1),
    "big-chain-id": _tx(chainId=2**64 - 1, nonce=2**40),
    "create": _tx(to=..., data="0x6080604052", value=0),
    "bytes-data": _tx(data=b"\x01\x02"),
    "no-type": _tx(type=..., accessList=[]),
    "hex-type": _tx(type="0x2"),
    "no-data-no-value": _tx(data=..., value=...),
}


@pytest.mark.parametrize("name", list(TXS))
def test_sign_transaction_matches_eth_account(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tx = TXS[name]
    signed = Account.sign_transaction(dict(tx), KEY)
    expected = ("0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex())
    monkeypatch.setattr(Account, "sign_transaction",
                        lambda *a, **k: pytest.fail("took eth-account's path"))
    assert signing.sign_transaction(KEY, dict(tx)) == expected


@pytest.mark.parametrize("over", [
    {"value": "0x10"},  # hex-string ints
    {"accessList": [{"address": ADDR, "storageKeys": ["0x" + "00" * 32]}]},
    {"to": "0x70997970C51812dc3A010C7d01b50e0d17dc79c8"},  # bad checksum: eth-account refuses
    {"to": ADDR.lower()},  # eth-account wants the checksummed form
    {"to": ADDR.upper().replace("0X", "0x")},
    {"nonce": -1},
])
def test_sign_transaction_falls_back_to_eth_account(over: dict[str, Any]) -> None:
    tx = _tx(**over)
    try:
        signed = Account.sign_transaction(dict(tx), KEY)
    except Exception as exc:
        with pytest.raises(type(exc)):
            signing.sign_transaction(KEY, dict(tx))
        return
    assert signing.sign_transaction(KEY, dict(tx)) == (
        "0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex())


def test_random_transactions_match_eth_account() -> None:
    for _ in range(40):
        key = os.urandom(32)
        tx = _tx(nonce=RNG.randrange(2**64), value=RNG.randrange(2**256),
                 gas=RNG.randrange(21_000, 30_000_000), chainId=RNG.randrange(1, 2**32),
                 maxFeePerGas=RNG.randrange(2**128), maxPriorityFeePerGas=RNG.randrange(2**64),
                 data="0x" + os.urandom(RNG.randrange(0, 100)).hex(),
                 to=signing_checksum("0x" + os.urandom(20).hex()))
        signed = Account.sign_transaction(dict(tx), key)
        assert signing.sign_transaction(key, tx) == (
            "0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex())


def test_signatures_recover_to_the_signer() -> None:
    from eth_account.messages import encode_defunct as defunct

    sig = signing.sign_message(KEY, "recover me")
    assert Account.recover_message(defunct(text="recover me"), signature=sig) == \
        hd.address_of_key(KEY)
    raw, _ = signing.sign_transaction(KEY, _tx())
    assert Account.recover_transaction(raw) == hd.address_of_key(KEY)


# --- imports --------------------------------------------------------------------------------------
def test_signing_paths_do_not_import_eth_account() -> None:
    code = f"""
import sys, json
from mm_agent.evm import signing, hd
from mm_agent.evm.tokens import erc20_transfer_data
from mm_agent.wallets.byok.mnemonic import derive_private_key, derive_address, validate_mnemonic
key = derive_private_key({TEST_MNEMONIC!r}, 0)
derive_address({TEST_MNEMONIC!r}, 1)
signing.sign_message(key, "hi")
signing.sign_typed_data(key, json.loads({__import__("json").dumps(MAIL)!r}))
signing.sign_transaction(key, {{"type": 2, "chainId": 1, "nonce": 0, "to": None, "value": 0,
    "data": erc20_transfer_data({ADDR!r}, 1), "gas": 1, "maxFeePerGas": 1,
    "maxPriorityFeePerGas": 1}})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               ("eth_account", "eth_abi", "eth_utils", "eth_keys", "eth_keyfile", "py_ecc",
                "cffi", "pycparser"))
print(json.dumps(heavy), sys.getrecursionlimit())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "[]", out
    assert int(out[1]) <= 1000
