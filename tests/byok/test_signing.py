"""BYOK signing: personal_sign (EIP-191) and EIP-712 typed data, checked against eth-account and
the EIP's own published example."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import ACCOUNT0, TEST_MNEMONIC
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from helpers import run_mm

from mm_agent import MMError
from mm_agent.wallets.byok.keyring import typed_data_digest

# The example of EIP-712 itself (https://eips.ethereum.org/EIPS/eip-712, Example.js).
MAIL: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [
            {"name": "name", "type": "string"},
            {"name": "wallet", "type": "address"},
        ],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}
MAIL_DIGEST = "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
# The EIP's signature of MAIL by the key keccak256("cow").
COW = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
COW_SIG = ("0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
           "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c")


@pytest.fixture(scope="module")
def key0() -> bytes:
    """Key 0 of the test mnemonic, derived by eth-account itself (independent of our code)."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(TEST_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    assert acct.address == ACCOUNT0
    return bytes(acct.key)


def mail(chain_id: int = 1) -> dict[str, Any]:
    data = copy.deepcopy(MAIL)
    data["domain"]["chainId"] = chain_id
    return data


# --- personal_sign ---------------------------------------------------------------------------
def test_sign_message_cli_recovers_and_matches_eth_account(byok_home: Any, key0: bytes) -> None:
    message = "Sign in to example.org\nNonce: 42"
    rc, out, err = run_mm("wallet", "sign-message", "--message", message, "--chain-id",
                          "31337", "--json")
    assert rc == 0, (out, err)
    data = out["data"]
    assert data["kind"] == "message" and data["status"] == "COMPLETED"
    assert data["chainId"] == 31337
    signature = data["signature"]
    assert len(signature) == 132
    assert Account.recover_message(encode_defunct(text=message), signature=signature) == ACCOUNT0
    expected = Account.sign_message(encode_defunct(text=message), key0).signature
    assert signature == "0x" + bytes(expected).hex()
    assert data["result"]["signature"] == signature
    assert data["result"]["address"] == ACCOUNT0


@pytest.mark.parametrize("message", [
    "hello", "héllo wörld ✓ 🌍", "0xhello (not hex)", "0x123", "  spaces  ", "a" * 500,
])
def test_sign_text_messages(wallet: Any, key0: bytes, message: str) -> None:
    req = wallet.sign_message(message=message, chain_id=31337)
    assert req.status == "COMPLETED"
    signable = encode_defunct(text=message)
    assert Account.recover_message(signable, signature=req.signature) == ACCOUNT0
    assert req.signature == "0x" + bytes(Account.sign_message(signable, key0).signature).hex()
    assert wallet.requests.get(req.polling_id).signature == req.signature


def test_sign_hex_message_signs_the_bytes(wallet: Any, key0: bytes) -> None:
    req = wallet.sign_message(message="0xdeadbeef", chain_id=31337)
    as_bytes = encode_defunct(hexstr="0xdeadbeef")
    assert Account.recover_message(as_bytes, signature=req.signature) == ACCOUNT0
    assert req.signature == "0x" + bytes(Account.sign_message(as_bytes, key0).signature).hex()
    as_text = encode_defunct(text="0xdeadbeef")
    assert req.signature != "0x" + bytes(Account.sign_message(as_text, key0).signature).hex()


def test_sign_message_dry_run_signs_nothing(wallet: Any) -> None:
    preview = wallet.sign_message(message="hello", chain_id=31337, dry_run=True)
    assert isinstance(preview, dict)
    assert preview["intent"] == 'Sign message "hello"'
    assert preview["scan"]["resultType"] == "Benign"
    assert preview["requiresApproval"] is False
    assert "signature" not in json.dumps(preview)
    assert wallet.requests.list() == []


# --- EIP-712 -----------------------------------------------------------------------------------
def test_eip712_mail_digest_matches_the_eip() -> None:
    assert typed_data_digest(mail()) == MAIL_DIGEST
    # And the EIP's own signature recovers to Cow over our digest.
    assert Account._recover_hash(bytes.fromhex(MAIL_DIGEST[2:]), signature=COW_SIG) == COW
    # The domain is part of the digest.
    assert typed_data_digest(mail(31337)) != MAIL_DIGEST


def test_sign_typed_data_mail(wallet: Any, key0: bytes) -> None:
    req = wallet.sign_typed_data(chain_id=1, payload=mail())
    assert req.status == "COMPLETED", req.error
    assert req.kind == "typed-data"
    assert req.intent == "Sign Mail for Ether Mail"
    signable = encode_typed_data(full_message=mail())
    assert Account.recover_message(signable, signature=req.signature) == ACCOUNT0
    assert Account._recover_hash(bytes.fromhex(MAIL_DIGEST[2:]),
                                 signature=req.signature) == ACCOUNT0
    assert req.signature == "0x" + bytes(Account.sign_message(signable, key0).signature).hex()


def test_sign_typed_data_cli(byok_home: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from mm_agent.cli.app import run_argv  # in-process: no interpreter start-up per call

    def mm(*args: str) -> tuple[int, Any]:
        capsys.readouterr()
        rc = run_argv([*args, "--json"])
        return rc, json.loads(capsys.readouterr().out)

    rc, out = mm("wallet", "sign-typed-data", "--chain-id", "31337", "--payload",
                 json.dumps(mail(31337)))
    assert rc == 0, out
    data = out["data"]
    assert data["status"] == "COMPLETED" and data["kind"] == "typed-data"
    digest = bytes.fromhex(typed_data_digest(mail(31337))[2:])
    assert Account._recover_hash(digest, signature=data["signature"]) == ACCOUNT0

    # Errors: nothing signed, nothing recorded beyond the request above.
    rc, out = mm("wallet", "sign-typed-data", "--chain-id", "8453", "--payload",
                 json.dumps(mail(31337)))
    assert rc == 2
    assert out["error"]["code"] == "CHAIN_ID_MISMATCH"
    rc, out = mm("wallet", "sign-typed-data", "--chain-id", "1", "--payload",
                 json.dumps(_without("primaryType")))
    assert rc == 2
    assert out["error"]["code"] == "INVALID_TYPED_DATA"
    rc, out = mm("wallet", "sign-typed-data", "--chain-id", "1", "--payload", "{oops")
    assert rc == 2
    assert out["error"]["code"] == "INVALID_TYPED_DATA"
    rc, out = mm("wallet", "requests", "list", "--all")  # finished: history (issue 11)
    assert [r["pollingId"] for r in out["data"]["requests"]] == [data["pollingId"]]


@pytest.mark.parametrize(("chain_id", "domain_chain"), [(31337, 1), (1, 31337), (8453, "0x1")])
def test_chain_id_mismatch(wallet: Any, chain_id: int, domain_chain: Any) -> None:
    payload = mail()
    payload["domain"]["chainId"] = domain_chain
    with pytest.raises(MMError) as exc:
        wallet.sign_typed_data(chain_id=chain_id, payload=payload)
    assert exc.value.code == "CHAIN_ID_MISMATCH"
    assert wallet.requests.list() == []


def _without(key: str) -> dict[str, Any]:
    data = mail()
    del data[key]
    return data


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = mail()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("payload", [
    pytest.param(_without("primaryType"), id="no-primaryType"),
    pytest.param(_without("types"), id="no-types"),
    pytest.param(_without("domain"), id="no-domain"),
    pytest.param(_without("message"), id="no-message"),
    pytest.param(_with(("primaryType",), "Letter"), id="primaryType-not-in-types"),
    pytest.param(_with(("primaryType",), 7), id="primaryType-not-a-string"),
    pytest.param(_with(("types", "Mail"), "from Person"), id="type-not-a-list"),
    pytest.param(_with(("types", "Person"), [{"name": "name"}]), id="field-without-type"),
    pytest.param(_with(("types",), [["Mail"]]), id="types-not-an-object"),
    pytest.param(_with(("message",), "Hello"), id="message-not-an-object"),
    pytest.param(_with(("domain", "chainId"), "abc"), id="bad-domain-chainId"),
    pytest.param(_with(("message", "to", "wallet"), "0x1234"), id="bad-address-value"),
    pytest.param(_with(("types", "Person"), [{"name": "wallet", "type": "Wallet"}]),
                 id="undefined-type"),
    pytest.param(_with(("domain", "salt2"), "x"), id="domain-field-not-in-its-type"),
    pytest.param("{not json", id="not-json"),
    pytest.param([MAIL], id="a-list"),
])
def test_invalid_typed_data(wallet: Any, payload: Any) -> None:
    with pytest.raises(MMError) as exc:
        wallet.sign_typed_data(chain_id=1, payload=payload)
    assert exc.value.code == "INVALID_TYPED_DATA"
    assert wallet.requests.list() == []
