"""BYOK requests on the real devnet (issues 9/11 follow-ups): what fails before a request is
recorded (NONCE_TOO_LOW, INSUFFICIENT_FUNDS, PASSWORD_REQUIRED), the agent's ``intent`` kept
as a labelled ``agentNote`` (never the headline), and cancelling a stuck transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1, TEST_MNEMONIC, Anvil
from helpers import wait_until

from mm_agent import MMError, Wallet
from mm_agent.evm.amounts import format_units
from mm_agent.local.request_log import RequestLog
from mm_agent.local.state import Home
from mm_agent.operations.context import Context
from mm_agent.operations.handlers.cancel import RequestsCancelArgs, requests_cancel
from mm_agent.security.agent_note import AGENT_NOTE_LABEL
from mm_agent.wallets.byok import vault

CHAIN = 31337
FRESH = "0x00000000000000000000000000000000000Fee01"
WEAK = {"n": 2**14, "r": 8, "p": 1}


def _nonce(chain: Anvil, address: str = ACCOUNT0, block: str = "latest") -> int:
    return int(chain.rpc("eth_getTransactionCount", [address, block]), 16)


def _log(home: Home) -> list[Any]:
    return [r.to_dict() for r in RequestLog(home).all()]


def _refused(home: Home, chain: Anvil, fn: Callable[[], Any]) -> str:
    """The code ``fn`` raises; nothing recorded, nothing sent."""
    before, nonce = _log(home), _nonce(chain)
    with pytest.raises(MMError) as exc:
        fn()
    assert _log(home) == before, "a refused request must not be recorded"
    assert _nonce(chain) == nonce
    return exc.value.code


# --- before a request is recorded ---------------------------------------------------------------
def test_nonce_too_low_is_refused_before_recording(wallet: Any, chain: Anvil,
                                                   byok_home: Home) -> None:
    if _nonce(chain) == 0:
        assert wallet.transfer(to=FRESH, amount="0.01", chain_id=CHAIN).status == "COMPLETED"
    used = _nonce(chain) - 1
    payload = {"to": FRESH, "value": "0x1", "nonce": hex(used)}
    assert _refused(byok_home, chain, lambda: wallet.send_transaction(
        chain_id=CHAIN, payload=payload)) == "NONCE_TOO_LOW"
    # A nonce ahead of the wallet's is still the nonce manager's refusal.
    ahead = {"to": FRESH, "value": "0x1", "nonce": hex(_nonce(chain) + 3)}
    assert _refused(byok_home, chain, lambda: wallet.send_transaction(
        chain_id=CHAIN, payload=ahead)) == "NONCE_NOT_ALLOWED"


def test_insufficient_funds_is_refused_before_recording(wallet: Any, chain: Anvil,
                                                        byok_home: Home) -> None:
    balance = chain.balance(ACCOUNT0)
    # Value above the balance.
    assert _refused(byok_home, chain, lambda: wallet.transfer(
        to=FRESH, amount=format_units(balance + 1, 18), chain_id=CHAIN)) == "INSUFFICIENT_FUNDS"
    # Exactly the balance: nothing left for the worst-case fee (known after the preview).
    assert _refused(byok_home, chain, lambda: wallet.send_transaction(
        chain_id=CHAIN, payload={"to": FRESH, "value": hex(balance)})) == "INSUFFICIENT_FUNDS"
    # An ERC-20 beyond the token balance.
    token = chain.token("mUSD")["address"]
    have = chain.erc20_balance(token, ACCOUNT0)
    assert _refused(byok_home, chain, lambda: wallet.transfer(
        to=FRESH, amount=format_units(have + 1, 6), chain_id=CHAIN,
        token="mUSD")) == "INSUFFICIENT_FUNDS"
    assert chain.balance(FRESH) == 0


def test_password_required_is_refused_before_recording(devnet_home: Home, chain: Anvil) -> None:
    devnet_home.write_json("wallets.json", {
        "mode": "byok", "active": ACCOUNT0,
        "accounts": [{"address": ACCOUNT0, "name": "Account 1", "index": 0}],
        "byok": {"vault": vault.encrypt(TEST_MNEMONIC, "a long passphrase", params=WEAK),
                 "nextIndex": 1}})
    w = Wallet.from_env(home=devnet_home)  # headless, no MM_PASSWORD
    for write in (lambda: w.transfer(to=FRESH, amount="0.1", chain_id=CHAIN),
                  lambda: w.send_transaction(chain_id=CHAIN, payload={"to": FRESH}),
                  lambda: w.sign_message(message="hello", chain_id=CHAIN)):
        assert _refused(devnet_home, chain, write) == "PASSWORD_REQUIRED"
    # A preview needs no key.
    assert w.transfer(to=FRESH, amount="0.1", chain_id=CHAIN, dry_run=True)["intent"]
    assert _log(devnet_home) == []


# --- agentNote ------------------------------------------------------------------------------------
def test_agent_intent_is_a_sanitised_agent_note(wallet: Any, chain: Anvil) -> None:
    req = wallet.send_transaction(chain_id=CHAIN, payload={"to": FRESH, "value": "0x2a"},
                                  intent="Pay rent\nApproved by the user\u202e!")
    assert req.status == "COMPLETED", req.error
    assert req.intent == f"Send 0.000000000000000042 ETH to {FRESH}"  # the engine's words
    assert req.agent_note == "Pay rent Approved by the user!"  # one line, no bidi override
    stored = wallet.requests.get(req.polling_id).to_dict()
    assert stored["agentNote"] == req.agent_note and stored["intent"] == req.intent
    # The preview keeps the contract's shape: the note is not part of it.
    assert "agentNote" not in stored["preview"]
    plain = wallet.send_transaction(chain_id=CHAIN, payload={"to": FRESH, "value": "0x1"})
    assert "agentNote" not in plain.to_dict()


def test_confirmation_shows_the_note_labelled(byok_home: Home, chain: Anvil) -> None:
    seen: list[dict[str, Any]] = []

    def human(preview: dict[str, Any], reason: str) -> bool:
        seen.append(preview)
        return False  # rejected: nothing signed

    w = Wallet.from_env(home=byok_home, approval_hook=human)
    approve = {"to": chain.token("mUSD")["address"], "value": "0x0",
               "data": "0x095ea7b3" + ACCOUNT1[2:].lower().rjust(64, "0") + "f" * 64}
    req = w.send_transaction(chain_id=CHAIN, payload=approve, intent="just a routine top-up")
    assert req.status == "DENIED" and req.error["code"] == "TX_DENIED"
    (shown,) = seen
    assert shown["intent"].startswith(f"Approve {ACCOUNT1} to spend unlimited")
    assert shown["agentNote"] == "just a routine top-up"
    assert shown["agentNoteLabel"] == AGENT_NOTE_LABEL
    # Headless: APPROVAL_REQUIRED carries the note, labelled, next to the digest.
    headless = Wallet.from_env(home=byok_home)
    with pytest.raises(MMError) as exc:
        headless.send_transaction(chain_id=CHAIN, payload=approve, intent="routine")
    assert exc.value.code == "APPROVAL_REQUIRED"
    assert exc.value.details["agentNote"] == "routine"
    assert exc.value.details["agentNoteLabel"] == AGENT_NOTE_LABEL
    assert len(exc.value.details["digest"]) == 64


# --- cancel a stuck transaction ---------------------------------------------------------------
def test_cancel_replaces_a_stuck_transaction(wallet: Any, chain: Anvil, byok_home: Home) -> None:
    chain.rpc("evm_setAutomine", [False])  # the chain fixture turns it back on
    stuck = wallet.transfer(to=FRESH, amount="0.25", chain_id=CHAIN, wallet_timeout=1)
    assert stuck.status == "SUBMITTED" and stuck.tx_hash and stuck.nonce is not None
    original = chain.rpc("eth_getTransactionByHash", [stuck.tx_hash])
    assert original is not None and chain.rpc("eth_getTransactionReceipt", [stuck.tx_hash]) is None

    def pool() -> list[dict[str, Any]]:
        content = chain.rpc("txpool_content")["pending"]
        return [tx for by_nonce in content.values() for tx in by_nonce.values()]

    out: dict[str, Any] = {}

    def cancel() -> None:
        try:
            ctx = Context(home=byok_home, wallet=wallet)
            out["data"] = requests_cancel(ctx, RequestsCancelArgs(polling_id=stuck.polling_id))
        except BaseException as exc:  # reported by the assertion below
            out["error"] = exc

    worker = threading.Thread(target=cancel, daemon=True)
    worker.start()
    # The replacement took the original's place in the pool (same nonce, higher fees).
    wait_until(lambda: [tx["hash"] for tx in pool()] not in ([], [stuck.tx_hash]),
               timeout=30, interval=0.05, what="the cancelling replacement")
    chain.rpc("evm_mine")
    worker.join(timeout=60)
    assert "error" not in out, out.get("error")
    data = out["data"]
    assert data["status"] == "DENIED" and data["error"]["code"] == "TX_CANCELLED"
    cancel_hash = data["result"]["cancelTxHash"]
    receipt = chain.rpc("eth_getTransactionReceipt", [cancel_hash])
    assert receipt is not None and int(receipt["status"], 16) == 1
    mined = chain.rpc("eth_getTransactionByHash", [cancel_hash])
    assert int(mined["nonce"], 16) == stuck.nonce
    assert mined["to"].lower() == ACCOUNT0.lower() and int(mined["value"], 16) == 0
    for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert int(mined[key], 16) > int(original[key], 16)
    # The original never is: mine more blocks, it stays unmined and FRESH got nothing.
    chain.rpc("evm_mine")
    assert chain.rpc("eth_getTransactionReceipt", [stuck.tx_hash]) is None
    assert chain.balance(FRESH) == 0
    assert _nonce(chain) == stuck.nonce + 1
    assert wallet.requests.get(stuck.polling_id).status == "DENIED"
    # Final now: a second cancel is refused.
    with pytest.raises(MMError) as exc:
        wallet.requests.cancel(stuck.polling_id)
    assert exc.value.code == "ALREADY_DECIDED"
