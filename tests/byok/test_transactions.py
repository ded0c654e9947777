"""BYOK transactions end to end against the session anvil (no mocks): exact balance deltas,
EIP-1559 submission, payload fields, validation codes, pre-broadcast refusals, reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1
from helpers import CliRunner, run_mm

from mm_agent import AsyncWallet, MMError
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.amounts import format_units

# Fresh recipients with no history on the devnet (balances start at 0).
BOB = "0x00000000000000000000000000000000000B0b01"
CAROL = to_checksum_address("0x00000000000000000000000000000000000ca401")
GWEI = 10**9





def _err(exc: pytest.ExceptionInfo[MMError]) -> str:
    return exc.value.code


def _nonce(chain: Any, address: str = ACCOUNT0) -> int:
    return int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)


def _receipt(chain: Any, tx_hash: str) -> dict[str, Any]:
    receipt = chain.rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None, "transaction was not mined"
    return receipt  # type: ignore[no-any-return]


def _gas_cost(receipt: dict[str, Any]) -> int:
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def _bad_checksum(address: str) -> str:
    """The address with the case of its first letter flipped (an invalid EIP-55 checksum)."""
    i = next(i for i, ch in enumerate(address) if i > 1 and ch.isalpha())
    return address[:i] + address[i].swapcase() + address[i + 1:]


def _code(fn: Any) -> str:
    """The error code of a write, whether it raised or returned a FAILED request."""
    try:
        req = fn()
    except MMError as exc:
        return exc.code
    assert req.status == "FAILED", req
    assert req.tx_hash is None
    return str(req.error["code"])


def _selector(signature: str) -> str:
    from Crypto.Hash import keccak

    return "0x" + keccak.new(digest_bits=256, data=signature.encode()).hexdigest()[:8]


# --- native ETH -----------------------------------------------------------------------------
def test_eth_transfer_exact_deltas_and_type2(wallet: Any, chain: Any) -> None:
    sender_before, bob_before = chain.balance(ACCOUNT0), chain.balance(BOB)
    nonce_before = _nonce(chain)

    req = wallet.transfer(to=BOB, amount="0.5", token="ETH", chain_id=31337, wait=True)

    assert req.status == "COMPLETED", req.error
    assert req.intent == f"Transfer 0.5 ETH to {BOB}"
    assert req.tx_hash and req.tx_hash.startswith("0x") and len(req.tx_hash) == 66
    receipt = _receipt(chain, req.tx_hash)
    assert int(receipt["status"], 16) == 1
    amount = 5 * 10**17
    assert chain.balance(BOB) - bob_before == amount
    assert sender_before - chain.balance(ACCOUNT0) == amount + _gas_cost(receipt)
    assert _nonce(chain) == nonce_before + 1

    tx = chain.rpc("eth_getTransactionByHash", [req.tx_hash])
    assert tx["type"] == "0x2"
    assert int(tx["chainId"], 16) == 31337
    assert tx["from"].lower() == ACCOUNT0.lower()
    assert tx["to"].lower() == BOB.lower()
    assert int(tx["value"], 16) == amount
    assert int(tx["nonce"], 16) == nonce_before
    assert "maxFeePerGas" in tx and "maxPriorityFeePerGas" in tx
    assert req.result["gasUsed"] == str(int(receipt["gasUsed"], 16))


def test_eth_transfer_smallest_unit_and_lowercase_recipient(wallet: Any, chain: Any) -> None:
    before = chain.balance(CAROL)
    req = wallet.transfer(to=CAROL.lower(), amount="0.000000000000000001", token="eth",
                          chain_id="31337")
    assert req.status == "COMPLETED", req.error
    assert chain.balance(CAROL) - before == 1
    # All-lowercase is accepted and shown checksummed.
    assert req.intent == f"Transfer 0.000000000000000001 ETH to {CAROL}"
    assert req.result["to"] == CAROL


# --- ERC-20 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("symbol", "amount", "units", "by_address"), [
    ("mUSD", "12.345678", 12_345_678, False),
    ("mUSD", "0.000001", 1, True),
    ("mDAI", "0.000000000000000001", 1, False),
    ("mDAI", "1234.5", 1_234_500_000_000_000_000_000, True),
])
def test_erc20_transfer_exact(wallet: Any, chain: Any, symbol: str, amount: str, units: int,
                              by_address: bool) -> None:
    token = chain.token(symbol)["address"]
    sender_before = chain.erc20_balance(token, ACCOUNT0)
    bob_before = chain.erc20_balance(token, BOB)
    eth_before = chain.balance(ACCOUNT0)

    req = wallet.transfer(to=BOB, amount=amount, chain_id=31337,
                          token=token if by_address else symbol)

    assert req.status == "COMPLETED", req.error
    assert req.intent == f"Transfer {amount} {symbol} to {BOB}"
    assert chain.erc20_balance(token, BOB) - bob_before == units
    assert sender_before - chain.erc20_balance(token, ACCOUNT0) == units
    receipt = _receipt(chain, req.tx_hash)
    # Only gas left in ETH; the token contract got the call with no value.
    assert eth_before - chain.balance(ACCOUNT0) == _gas_cost(receipt)
    tx = chain.rpc("eth_getTransactionByHash", [req.tx_hash])
    assert tx["to"].lower() == token.lower()
    assert int(tx["value"], 16) == 0
    assert tx["type"] == "0x2"
    assert req.result["effectiveRecipient"] == BOB


def test_token_address_lowercase_reads_decimals_on_chain(wallet: Any, chain: Any) -> None:
    token = chain.token("mUSD")["address"]
    before = chain.erc20_balance(token, BOB)
    req = wallet.transfer(to=BOB, amount="2.5", chain_id=31337, token=token.lower())
    assert req.status == "COMPLETED", req.error
    assert chain.erc20_balance(token, BOB) - before == 2_500_000
    # Seven decimals on a 6-decimals token found by address: refused before anything is signed.
    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount="0.0000001", chain_id=31337, token=token)
    assert _err(exc) == "INVALID_AMOUNT"


def test_transfer_via_cli_intent_and_exact_delta(wallet: Any, chain: Any) -> None:
    token = chain.token("mUSD")["address"]
    before = chain.erc20_balance(token, BOB)
    rc, out, err = run_mm("transfer", "--to", BOB, "--amount", "12.345678", "--chain-id",
                          "31337", "--token", "mUSD", "--json")
    assert rc == 0, (out, err)
    data = out["data"]
    assert data["status"] == "COMPLETED"
    assert data["intent"] == f"Transfer 12.345678 mUSD to {BOB}"
    assert data["chainId"] == 31337
    assert data["txHash"]
    assert chain.erc20_balance(token, BOB) - before == 12_345_678


# --- send-transaction ------------------------------------------------------------------------
def test_send_transaction_payload_fields_honoured(wallet: Any, chain: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # 7 gwei may exceed 2x the devnet's estimate (`fee_cap` → approval): widen the multiple.
    monkeypatch.setenv("MM_FEE_CAP_MULTIPLE", "100")
    nonce = _nonce(chain)
    bob_before = chain.balance(BOB)
    payload = {"to": BOB, "value": hex(123_456_789), "data": "0xc0ffee01",
               "gas": hex(60_000), "nonce": hex(nonce), "maxFeePerGas": hex(7 * GWEI),
               "maxPriorityFeePerGas": hex(2 * GWEI)}
    req = wallet.send_transaction(chain_id=31337, payload=json.dumps(payload),
                                  intent="Pay Bob with a note")
    assert req.status == "COMPLETED", req.error
    # The headline is the engine's decoding; the agent's words are the labelled agentNote.
    assert req.intent.startswith("Call unknown function 0xc0ffee01")
    assert req.agent_note == "Pay Bob with a note"
    assert wallet.requests.get(req.polling_id).to_dict()["agentNote"] == "Pay Bob with a note"
    tx = chain.rpc("eth_getTransactionByHash", [req.tx_hash])
    assert tx["type"] == "0x2"
    assert int(tx["gas"], 16) == 60_000
    assert int(tx["nonce"], 16) == nonce
    assert int(tx["maxFeePerGas"], 16) == 7 * GWEI
    assert int(tx["maxPriorityFeePerGas"], 16) == 2 * GWEI
    assert tx["input"] == "0xc0ffee01"
    assert int(tx["value"], 16) == 123_456_789
    assert chain.balance(BOB) - bob_before == 123_456_789
    assert _nonce(chain) == nonce + 1


def test_send_transaction_dict_payload_default_intent(wallet: Any, chain: Any) -> None:
    before = chain.balance(BOB)
    req = wallet.send_transaction(chain_id=31337,
                                  payload={"to": BOB, "value": "0x0de0b6b3a7640000"})
    assert req.status == "COMPLETED", req.error
    assert chain.balance(BOB) - before == 10**18
    assert req.intent == f"Send 1 ETH to {BOB}"


def test_send_transaction_cli(wallet: Any, chain: Any, mm_cli: CliRunner) -> None:
    before = chain.balance(BOB)
    payload = json.dumps({"to": BOB.lower(), "value": "0x2a", "data": "0x"})
    rc, out, err = mm_cli("wallet", "send-transaction", "--chain-id", "31337", "--payload",
                          payload, "--intent", "Tip Bob")
    assert rc == 0, (out, err)
    data = out["data"]
    assert data["status"] == "COMPLETED"
    assert data["intent"] == f"Send 0.000000000000000042 ETH to {BOB}"
    assert data["agentNote"] == "Tip Bob"
    assert chain.balance(BOB) - before == 42
    tx = chain.rpc("eth_getTransactionByHash", [data["txHash"]])
    assert tx["type"] == "0x2"
    assert int(_receipt(chain, data["txHash"])["status"], 16) == 1


def test_flagged_send_transaction_headless_needs_approval(wallet: Any, chain: Any,
                                                          mm_cli: CliRunner) -> None:
    """ETH into a contract with nothing coming back is flagged; headless BYOK refuses to sign."""
    sink = chain.contract("Reverter")
    nonce, before = _nonce(chain), chain.balance(sink)
    payload = json.dumps({"to": sink, "value": "0x2a", "data": _selector("sink()")})
    rc, out, _ = mm_cli("wallet", "send-transaction", "--chain-id", "31337", "--payload",
                        payload)
    assert rc == 1
    assert out["error"]["code"] == "APPROVAL_REQUIRED"
    assert _nonce(chain) == nonce
    assert chain.balance(sink) == before


def test_reverting_transaction_not_broadcast(wallet: Any, chain: Any) -> None:
    reverter = chain.contract("Reverter")
    nonce = _nonce(chain)
    block = chain.rpc("eth_blockNumber")
    req = wallet.send_transaction(chain_id=31337,
                                  payload={"to": reverter, "data": _selector("fail()")})
    assert req.status == "FAILED"
    assert req.error["code"] == "TX_REVERTED"
    assert "always fails" in req.error["message"]
    assert req.preview["simulation"]["success"] is False
    assert req.preview["simulation"]["revertReason"] == "always fails"
    assert req.tx_hash is None
    assert _nonce(chain) == nonce
    assert chain.rpc("eth_blockNumber") == block
    # Recorded as a failed request.
    assert wallet.requests.get(req.polling_id).status == "FAILED"


def test_reverting_transaction_cli(wallet: Any, chain: Any, mm_cli: CliRunner) -> None:
    reverter = chain.contract("Reverter")
    nonce = _nonce(chain)
    rc, out, _err_text = mm_cli(
        "wallet", "send-transaction", "--chain-id", "31337",
        "--payload", json.dumps({"to": reverter, "data": _selector("fail()")}))
    assert rc == 1
    assert out["ok"] is False
    assert out["error"]["code"] == "TX_REVERTED"
    assert "always fails" in out["error"]["message"]
    assert _nonce(chain) == nonce


# --- validation codes ------------------------------------------------------------------------
@pytest.mark.parametrize(("amount", "token"), [
    ("-1", "ETH"), ("1e5", "ETH"), (0.1, "ETH"), ("0.0000001", "mUSD"), ("0", "ETH"),
    ("", "ETH"), ("1,5", "ETH"), ("0x10", "ETH"), ("NaN", "ETH"), (True, "ETH"),
    ("0.0000000000000000001", "mDAI"),
])
def test_invalid_amount(wallet: Any, chain: Any, amount: Any, token: str) -> None:
    nonce = _nonce(chain)
    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount=amount, token=token, chain_id=31337)
    assert _err(exc) == "INVALID_AMOUNT"
    assert _nonce(chain) == nonce


def test_invalid_amount_cli(wallet: Any, chain: Any, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("transfer", "--token", "ETH",
                        "--to", BOB, "--amount", "1e5", "--chain-id", "31337")
    assert rc == 2
    assert out["error"]["code"] == "INVALID_AMOUNT"


def test_invalid_address(wallet: Any, chain: Any) -> None:
    bad = _bad_checksum(ACCOUNT1)
    assert bad.lower() == ACCOUNT1.lower() and bad != ACCOUNT1
    for to in (bad, "0x1234", "not-an-address", ACCOUNT1 + "00"):
        with pytest.raises(MMError) as exc:
            wallet.transfer(to=to, amount="0.1", chain_id=31337)
        assert _err(exc) == "INVALID_EVM_ADDRESS", to
    # All-lowercase and all-uppercase bodies are accepted and checksummed.
    before = chain.balance(ACCOUNT1)
    req = wallet.transfer(to="0x" + ACCOUNT1[2:].upper(), amount="0.1", chain_id=31337)
    assert req.status == "COMPLETED", req.error
    assert req.intent == f"Transfer 0.1 ETH to {ACCOUNT1}"
    assert chain.balance(ACCOUNT1) - before == 10**17


def test_unknown_token_and_token_without_address(wallet: Any, chain: Any) -> None:
    from mm_agent.errors import TokenNoAddress
    from mm_agent.evm.chains import resolve_token

    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount="1", chain_id=31337, token="NOPE")
    assert _err(exc) == "UNKNOWN_TOKEN"
    # USDT exists on mainnet in the registry but has no contract on the devnet.
    with pytest.raises(TokenNoAddress):
        resolve_token(31337, "USDT")
    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount="1", chain_id=31337, token="USDT")
    assert _err(exc) == "TOKEN_NO_ADDRESS"
    # A 0x "token" that is not a contract: not guessed as 18 decimals.
    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount="1", chain_id=31337, token=CAROL)
    assert _err(exc) == "UNKNOWN_TOKEN"
    assert chain.erc20_balance(chain.token("mUSD")["address"], BOB) == 0


@pytest.mark.parametrize(("chain_id", "code"), [
    (0, "INVALID_CHAIN_ID"), ("abc", "INVALID_CHAIN_ID"), (-1, "INVALID_CHAIN_ID"),
    (999999, "UNSUPPORTED_CHAIN"),
])
def test_bad_chain_id(wallet: Any, chain: Any, chain_id: Any, code: str) -> None:
    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount="0.1", chain_id=chain_id)
    assert _err(exc) == code
    with pytest.raises(MMError) as exc:
        wallet.send_transaction(chain_id=chain_id, payload={"to": BOB, "value": "0x1"})
    assert _err(exc) == code


def test_bad_chain_id_cli(wallet: Any, chain: Any, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("transfer", "--token", "ETH",
                        "--to", BOB, "--amount", "1", "--chain-id", "abc")
    assert rc == 2
    assert out["error"]["code"] == "INVALID_CHAIN_ID"


@pytest.mark.parametrize("payload", [
    "not json",
    "[1, 2]",
    json.dumps({"to": BOB, "value": "12"}),
    json.dumps({"to": BOB, "value": "0xZZ"}),
    json.dumps({"to": BOB, "value": 1.5}),
    json.dumps({"to": BOB, "value": "0x1", "colour": "blue"}),
    json.dumps({"to": "0x1234", "value": "0x1"}),
    json.dumps({"to": _bad_checksum(ACCOUNT1), "value": "0x1"}),
    json.dumps({"value": "0x1"}),
    json.dumps({"to": BOB, "data": "0x123"}),
    json.dumps({"to": BOB, "data": "0xzz"}),
])
def test_invalid_transaction_payload(wallet: Any, chain: Any, payload: str) -> None:
    nonce = _nonce(chain)
    with pytest.raises(MMError) as exc:
        wallet.send_transaction(chain_id=31337, payload=payload)
    assert _err(exc) == "INVALID_TRANSACTION_PAYLOAD"
    assert _nonce(chain) == nonce


def test_invalid_transaction_payload_cli(wallet: Any, chain: Any, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("wallet", "send-transaction", "--chain-id", "31337", "--payload",
                        '{"to": "' + BOB + '", "value": "10"}')
    assert rc == 2
    assert out["error"]["code"] == "INVALID_TRANSACTION_PAYLOAD"


# --- insufficient funds: detected before broadcasting -------------------------------------------
def test_insufficient_native_funds(wallet: Any, chain: Any) -> None:
    nonce = _nonce(chain)
    balance = chain.balance(ACCOUNT0)
    too_much = format_units(balance + 1, 18)
    assert _code(lambda: wallet.transfer(to=BOB, amount=too_much, chain_id=31337)) \
        == "INSUFFICIENT_FUNDS"
    assert _nonce(chain) == nonce
    assert chain.balance(BOB) == 0
    # Exactly the whole balance also fails: nothing is left for gas.
    whole = format_units(balance, 18)
    assert _code(lambda: wallet.transfer(to=BOB, amount=whole, chain_id=31337)) \
        == "INSUFFICIENT_FUNDS"
    # The same through a raw payload.
    payload = {"to": BOB, "value": hex(balance)}
    assert _code(lambda: wallet.send_transaction(chain_id=31337, payload=payload)) \
        == "INSUFFICIENT_FUNDS"
    assert _nonce(chain) == nonce
    assert chain.balance(BOB) == 0
    assert chain.balance(ACCOUNT0) == balance


def test_insufficient_erc20_funds(wallet: Any, chain: Any) -> None:
    token = chain.token("mUSD")["address"]
    have = chain.erc20_balance(token, ACCOUNT0)
    nonce = _nonce(chain)
    with pytest.raises(MMError) as exc:
        wallet.transfer(to=BOB, amount=format_units(have + 1, 6), chain_id=31337, token="mUSD")
    assert _err(exc) == "INSUFFICIENT_FUNDS"
    assert _nonce(chain) == nonce
    assert chain.erc20_balance(token, ACCOUNT0) == have


def test_insufficient_funds_cli(wallet: Any, chain: Any, mm_cli: CliRunner) -> None:
    nonce = _nonce(chain)
    rc, out, _ = mm_cli("transfer", "--token", "ETH",
                        "--to", BOB, "--amount", "1000000000", "--chain-id",
                        "31337")
    assert rc == 1
    assert out["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert _nonce(chain) == nonce


# --- reads -----------------------------------------------------------------------------------
def test_balance_exact(wallet: Any, chain: Any) -> None:
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    wallet.transfer(to=BOB, amount="12.345678", chain_id=31337, token="mUSD")
    wallet.transfer(to=BOB, amount="0.000000000000000001", chain_id=31337, token="mDAI")
    wallet.transfer(to=BOB, amount="0.25", chain_id=31337)

    rc, out, err = run_mm("wallet", "balance", "--chain-ids", "31337", "--json")
    assert rc == 0, (out, err)
    data = out["data"]
    assert data["address"] == ACCOUNT0
    [chain_out] = data["chains"]
    assert chain_out["chainId"] == 31337
    tokens = {t["symbol"]: t for t in chain_out["tokens"]}
    assert tokens["ETH"]["amount"] == format_units(chain.balance(ACCOUNT0), 18)
    assert tokens["ETH"]["decimals"] == 18
    assert tokens["mUSD"]["amount"] == format_units(chain.erc20_balance(musd, ACCOUNT0), 6)
    assert tokens["mUSD"]["decimals"] == 6
    assert tokens["mDAI"]["amount"] == format_units(chain.erc20_balance(mdai, ACCOUNT0), 18)
    assert tokens["mDAI"]["amount"].endswith("999999999999999999")  # 1 wei gone, exactly
    assert tokens["mUSD"]["address"].lower() == musd.lower()

    # Python API, other owner and a single token by symbol.
    bob = wallet.balance(chain_ids=[31337], address=BOB)
    got = {t["symbol"]: t["amount"] for t in bob["chains"][0]["tokens"]}
    assert got["ETH"] == "0.25"
    assert got["mUSD"] == "12.345678"
    assert got["mDAI"] == "0.000000000000000001"
    only = wallet.balance(chain_ids=[31337], token="mUSD", address=BOB)
    assert [(t["symbol"], t["amount"]) for t in only["chains"][0]["tokens"]] == [
        ("mUSD", "12.345678")]


def test_tx_history_and_requests_after_transfers(wallet: Any, chain: Any,
                                                 mm_cli: CliRunner) -> None:
    first = wallet.transfer(to=BOB, amount="0.5", chain_id=31337)
    second = wallet.transfer(to=BOB, amount="3", chain_id=31337, token="mUSD")
    signed = wallet.sign_message(message="hello", chain_id=31337)
    assert first.status == second.status == signed.status == "COMPLETED"

    rc, out, err = run_mm("tx", "--hash", first.tx_hash, "--json")
    assert rc == 0, (out, err)
    tx = out["data"]
    assert tx["txHash"] == first.tx_hash
    assert tx["status"] == "success"
    assert tx["chainId"] == 31337
    assert tx["from"] == ACCOUNT0 and tx["to"] == BOB
    assert tx["value"] == str(5 * 10**17)
    assert tx["gasUsed"] == "21000"

    rc, out, err = mm_cli("tx", "history")
    assert rc == 0, (out, err)
    hashes = [t["txHash"] for t in out["data"]["transactions"]]
    assert hashes == [second.tx_hash, first.tx_hash]  # newest first, messages excluded
    assert out["data"]["transactions"][1]["intent"] == f"Transfer 0.5 ETH to {BOB}"

    rc, out, err = mm_cli("wallet", "requests", "list", "--all")  # finished: history (issue 11)
    assert rc == 0, (out, err)
    reqs = out["data"]["requests"]
    assert [r["pollingId"] for r in reqs] == [signed.polling_id, second.polling_id,
                                             first.polling_id]
    assert [r["kind"] for r in reqs] == ["message", "transaction", "transaction"]
    assert all(r["status"] == "COMPLETED" for r in reqs)
    assert reqs[1]["txHash"] == second.tx_hash

    rc, out, _ = mm_cli("wallet", "requests", "watch", first.polling_id)
    assert rc == 0
    assert out["data"]["txHash"] == first.tx_hash

    with pytest.raises(MMError) as exc:
        wallet.tx("0x" + "00" * 32)
    assert _err(exc) == "TX_NOT_FOUND"
    with pytest.raises(MMError) as exc:
        wallet.tx("0x1234")
    assert _err(exc) == "INVALID_HASH"


async def test_async_wallet_transfer(byok_home: Any, chain: Any) -> None:
    before = chain.balance(BOB)
    async with AsyncWallet.from_env() as aw:
        assert aw.address == ACCOUNT0
        req = await aw.transfer(to=BOB, amount="0.75", chain_id=31337, token="ETH", wait=True)
        assert req.status == "COMPLETED", req.error
        assert req.intent == f"Transfer 0.75 ETH to {BOB}"
        assert [r.polling_id for r in aw.sync.requests.list()] == [req.polling_id]
        bob = await aw.balance(chain_ids=[31337], address=BOB, token="ETH")
        assert bob["chains"][0]["tokens"][0]["amount"] == format_units(before + 75 * 10**16, 18)
    assert chain.balance(BOB) - before == 75 * 10**16
    assert _receipt(chain, req.tx_hash)["status"] == "0x1"
