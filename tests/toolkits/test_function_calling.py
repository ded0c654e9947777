"""Function calling end to end: the OpenAI/Anthropic exports obey the strict rules, and every
agent tool round-trips through the dispatcher on the devnet (real anvil), with a BYOK wallet
and with a server wallet (real uvicorn service)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ACCOUNT1, Anvil
from mm_agent.toolkits.function_calling import (
    AsyncDispatcher,
    Dispatcher,
    anthropic_tools,
    openai_tools,
)
from server.test_client import attach_chain, fund, init_server_wallet, mail_typed_data, sign_in
from server.test_jobs import approve_mode_changes
from test_agent_schema import NAME, cli_keys, strict_violations

from mm_agent import Wallet
from mm_agent.local.state import Home
from mm_agent.operations.agent_schema import agent_ops
from mm_agent.operations.registry import get

TRANSFER_SELECTOR = "0xa9059cbb"


def call(d: Dispatcher, name: str, args: dict[str, Any] | str | None = None,
         call_id: str | None = None) -> dict[str, Any]:
    text = d.dispatch(name, args if isinstance(args, str) else json.dumps(args or {}),
                      call_id=call_id)
    assert isinstance(text, str)
    return dict(json.loads(text))


def ok(d: Dispatcher, name: str, args: dict[str, Any] | None = None,
       call_id: str | None = None) -> Any:
    env = call(d, name, args, call_id)
    assert env["ok"] is True, (name, env)
    op = get(name.removeprefix("mm_"))
    model = op.result_model()
    assert model is not None
    model.model_validate(env["data"])  # real results match the declared result model
    return env["data"]


def err(d: Dispatcher, name: str, args: dict[str, Any] | str | None = None) -> dict[str, Any]:
    env = call(d, name, args)
    assert env["ok"] is False, (name, env)
    assert set(env["error"]) >= {"code", "message"}
    return env


def calldata_transfer(to: str, amount: int) -> str:
    return TRANSFER_SELECTOR + to[2:].lower().rjust(64, "0") + hex(amount)[2:].rjust(64, "0")


# --- exports ------------------------------------------------------------------------------------
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_openai_exports_are_strict_valid(api: str) -> None:
    tools = openai_tools(api=api, prefix="mm_")  # type: ignore[arg-type]
    assert len(tools) == len(agent_ops())
    for tool in tools:
        fn = tool["function"] if api == "chat" else tool
        assert tool["type"] == "function"
        assert fn["strict"] is True and NAME.match(fn["name"]) and fn["name"].startswith("mm_")
        assert fn["description"]
        assert strict_violations(fn["parameters"]) == [], fn["name"]
        assert not cli_keys(fn)
    if api == "chat":
        assert set(tools[0]) == {"type", "function"}
        assert set(tools[0]["function"]) == {"name", "description", "parameters", "strict"}
    else:
        assert set(tools[0]) == {"type", "name", "description", "parameters", "strict"}


def test_anthropic_exports() -> None:
    for strict in (False, True):
        tools = anthropic_tools(strict=strict)
        for tool in tools:
            assert set(tool) == {"name", "description", "input_schema"}
            assert NAME.match(tool["name"]) and not cli_keys(tool)
            if strict:
                assert strict_violations(tool["input_schema"]) == [], tool["name"]
    byok = {t["name"] for t in anthropic_tools(mode="byok")}
    assert "wallet_policy_get" not in byok and "transfer" in byok
    reads = {t["name"] for t in anthropic_tools(read_only=True)}
    assert "transfer" not in reads and "wallet_balance" in reads


# --- BYOK round trip ------------------------------------------------------------------------
def test_byok_round_trip_every_tool(wallet: Wallet, chain: Anvil) -> None:
    d = Dispatcher(wallet)
    assert "wallet_policy_get" not in d.tool_names and "init" not in d.tool_names
    me = wallet.address
    musd = chain.token("mUSD")

    assert ok(d, "chains_list")["chains"]
    assert ok(d, "wallet_address")["address"] == me
    assert ok(d, "wallet_add_fund")["address"] == me
    assert ok(d, "wallet_list")["accounts"][0]["address"] == me
    assert ok(d, "wallet_show", {"address": None, "name": None})["address"] == me
    bal = ok(d, "wallet_balance", {"chain_ids": [31337]})
    assert bal["chains"][0]["chainId"] == 31337
    assert ok(d, "wallet_policy_template")["policy"]
    decoded = ok(d, "decode", {"payload": calldata_transfer(ACCOUNT1, 5)})
    assert decoded["functionName"] == "transfer"

    # Writes: transfer, send_transaction (typed object payload), sign_message, sign_typed_data.
    sent = ok(d, "transfer", {"to": ACCOUNT1, "amount": "0.25", "chain_id": 31337,
                              "token": "ETH", "wait": None, "dry_run": None,
                              "wallet_timeout": None, "account": None})
    assert sent["status"] == "COMPLETED" and sent["txHash"]
    tx = ok(d, "wallet_send_transaction", {
        "chain_id": 31337, "intent": "pay 5 mUSD",
        "payload": {"to": musd["address"], "value": "0x0",
                    "data": calldata_transfer(ACCOUNT1, 5 * 10 ** musd["decimals"]),
                    "gas": None, "maxFeePerGas": None, "maxPriorityFeePerGas": None}})
    assert tx["status"] == "COMPLETED"
    msg = ok(d, "wallet_sign_message", {"message": "hello agent", "chain_id": 31337})
    assert msg["signature"].startswith("0x")
    typed = ok(d, "wallet_sign_typed_data",
               {"chain_id": 31337, "payload": json.dumps(mail_typed_data(31337))})
    assert typed["kind"] == "typed-data" and typed["signature"]
    typed_obj = ok(d, "wallet_sign_typed_data",  # the non-strict rendering: an object
                   {"chain_id": 31337, "payload": mail_typed_data(31337)})
    assert typed_obj["signature"] == typed["signature"]
    dry = ok(d, "transfer", {"to": ACCOUNT1, "amount": "1", "chain_id": 31337, "token": "ETH",
                             "dry_run": True})
    assert "scan" in dry and "pollingId" not in dry

    assert ok(d, "tx", {"hash": sent["txHash"], "chain_id": None})["status"] == "success"
    history = ok(d, "tx_history", {"chain_ids": None, "limit": 10})["transactions"]
    assert {h["txHash"] for h in history} >= {sent["txHash"], tx["txHash"]}
    ok(d, "wallet_requests_list", {"no_sync": None})
    watched = ok(d, "wallet_requests_watch", {"polling_id": sent["pollingId"]})
    assert watched["pollingId"] == sent["pollingId"]
    for name, args in (("token_list", {}), ("token_list_search", {"query": "mUSD"})):
        if name in d.tool_names:
            ok(d, name, args)

    # Accounts: create, act for it without switching, select.
    second = ok(d, "wallet_create", {"name": "agent-2", "trading_mode": None})["address"]
    chain.rpc("anvil_setBalance", [second, hex(10**18)])
    paid = ok(d, "transfer", {"to": ACCOUNT1, "amount": "0.1", "chain_id": 31337,
                              "token": "ETH", "account": second})
    assert chain.rpc("eth_getTransactionByHash", [paid["txHash"]])["from"].lower() == \
        second.lower()
    assert ok(d, "wallet_address")["address"] == me  # the active account did not change
    assert ok(d, "wallet_select", {"address": second})["address"] == second


def test_byok_retried_call_id_sends_once(wallet: Wallet, chain: Anvil) -> None:
    d = Dispatcher(wallet)
    args = {"to": ACCOUNT1, "amount": "0.5", "chain_id": 31337, "token": "ETH"}
    nonce0 = int(chain.rpc("eth_getTransactionCount", [wallet.address, "latest"]), 16)
    first = ok(d, "transfer", args, call_id="call_abc")
    again = ok(Dispatcher(Wallet.from_env(home=wallet.home)), "transfer", args,
               call_id="call_abc")
    assert again["pollingId"] == first["pollingId"] and again["txHash"] == first["txHash"]
    assert int(chain.rpc("eth_getTransactionCount", [wallet.address, "latest"]), 16) == \
        nonce0 + 1
    conflict = call(d, "transfer", {**args, "amount": "0.6"}, call_id="call_abc")
    assert conflict["error"]["code"] == "IDEMPOTENCY_CONFLICT"


def test_errors_are_envelopes_with_codes(wallet: Wallet) -> None:
    d = Dispatcher(wallet, prefix="mm_")
    assert err(d, "mm_transfer", "{not json")["error"]["code"] == "INVALID_JSON"
    assert err(d, "mm_transfer", "[1, 2]")["error"]["code"] == "INVALID_JSON"
    assert err(d, "transfer", {})["error"]["code"] == "UNKNOWN_TOOL"  # prefix required
    assert err(d, "mm_init", {})["error"]["code"] == "UNKNOWN_TOOL"  # human-only
    assert err(d, "mm_nope", {})["error"]["code"] == "UNKNOWN_TOOL"
    assert err(d, "mm_wallet_policy_get", {})["error"]["code"] == "UNSUPPORTED_IN_MODE"
    bad = err(d, "mm_transfer", {"to": "0x123", "amount": "1", "chain_id": 31337,
                                 "token": "ETH"})
    assert bad["error"]["code"] == "INVALID_EVM_ADDRESS"
    missing = err(d, "mm_transfer", {"to": ACCOUNT1, "amount": "1", "token": "ETH"})
    assert missing["error"]["code"] == "MISSING_FLAG" and "chain_id" in \
        missing["error"]["message"]
    extra = err(d, "mm_chains_list", {"x": 1})
    assert extra["error"]["code"] == "UNKNOWN_FLAG"
    stranger = err(d, "mm_transfer", {"to": ACCOUNT1, "amount": "1", "chain_id": 31337,
                                      "token": "ETH", "account": ACCOUNT1})
    assert stranger["error"]["code"] == "WALLET_NOT_FOUND"


def test_byok_approval_required_says_how_to_continue(wallet: Wallet) -> None:
    d = Dispatcher(wallet)
    env = err(d, "wallet_sign_message", {"message": "0x" + "ab" * 32, "chain_id": 31337})
    assert env["error"]["code"] == "APPROVAL_REQUIRED"
    assert "human" in env["next"]["message"]


async def test_async_dispatcher(wallet: Wallet, chain: Anvil) -> None:
    d = AsyncDispatcher(wallet)
    env = json.loads(await d.dispatch("transfer", json.dumps(
        {"to": ACCOUNT1, "amount": "0.01", "chain_id": 31337, "token": "ETH"}), call_id="a1"))
    assert env["ok"] and env["data"]["status"] == "COMPLETED"
    assert json.loads(await d.dispatch("nope", "{}"))["error"]["code"] == "UNKNOWN_TOOL"


# --- server wallet round trip --------------------------------------------------------------
@pytest.fixture
def remote(service: Any, chain: Anvil, devnet_home: Home,
           monkeypatch: pytest.MonkeyPatch) -> Wallet:
    """A server wallet asked for in beast mode (guard until the human approves); the local
    devnet record lets `tx` read the chain."""
    sign_in(service, devnet_home, monkeypatch)
    attach_chain(service, chain)
    init_server_wallet(devnet_home, "beast")
    w = Wallet.from_env(home=devnet_home)
    fund(chain, w.address, musd=100)
    return w


def test_server_wallet_round_trip(remote: Wallet, chain: Anvil, service: Any
                                  ) -> None:
    d = Dispatcher(remote)
    assert "wallet_policy_get" in d.tool_names
    me = remote.address
    musd = chain.token("mUSD")
    assert ok(d, "wallet_address")["address"] == me
    assert ok(d, "wallet_list")["accounts"]
    assert ok(d, "wallet_show")["address"] == me
    assert ok(d, "wallet_balance", {"chain_ids": [31337]})["address"] == me
    assert "policy" in ok(d, "wallet_policy_get")
    ok(d, "chains_list")

    # Guard mode with empty allowlists (the human has not approved beast yet): a transfer
    # pauses for the human; the agent gets the pollingId and the watch tool, never a hang.
    assert ok(d, "wallet_trading_mode_get")["tradingMode"] == "guard"
    held = call(d, "transfer", {"to": ACCOUNT1, "amount": "0.1", "chain_id": 31337,
                                "token": "ETH"})
    assert held["ok"] and held["next"]["tool"] == "wallet_requests_watch"
    pid = held["data"]["pollingId"]
    assert held["next"]["arguments"] == {"polling_id": pid}
    timeout = call(d, "wallet_requests_watch", {"polling_id": pid, "wallet_timeout": 1})
    assert timeout["error"]["code"] == "JOB_TIMEOUT" and timeout["next"]["pollingId"] == pid
    service.state.jobs.approve(pid)  # the human approves on the approval page
    assert ok(d, "wallet_requests_watch", {"polling_id": pid,
                                           "wallet_timeout": 30})["status"] == "COMPLETED"
    approve_mode_changes(service)
    assert ok(d, "wallet_trading_mode_get")["tradingMode"] == "beast"

    # Without wait: the request comes back at once with how to follow it.
    env = call(d, "transfer", {"to": ACCOUNT1, "amount": "0.2", "chain_id": 31337,
                               "token": "ETH"}, call_id="srv-1")
    assert env["ok"] and env["data"]["pollingId"]
    if env["data"]["status"] != "COMPLETED":
        assert env["next"]["tool"] == "wallet_requests_watch"
    done = ok(d, "wallet_requests_watch", {"polling_id": env["data"]["pollingId"],
                                           "wallet_timeout": 30})
    assert done["status"] == "COMPLETED"
    # A retry with the same call id is the same job: one transaction.
    nonce = int(chain.rpc("eth_getTransactionCount", [me, "latest"]), 16)
    again = ok(d, "transfer", {"to": ACCOUNT1, "amount": "0.2", "chain_id": 31337,
                               "token": "ETH"}, call_id="srv-1")
    assert again["pollingId"] == env["data"]["pollingId"]
    assert int(chain.rpc("eth_getTransactionCount", [me, "latest"]), 16) == nonce

    tx = ok(d, "wallet_send_transaction", {
        "chain_id": 31337, "wait": True,
        "payload": {"to": musd["address"], "value": "0x0",
                    "data": calldata_transfer(ACCOUNT1, 10 ** musd["decimals"])}})
    assert tx["status"] == "COMPLETED"
    assert ok(d, "wallet_sign_message", {"message": "hi", "chain_id": 31337,
                                         "wait": True})["signature"]
    assert ok(d, "wallet_sign_typed_data", {"chain_id": 31337, "wait": True,
                                            "payload": mail_typed_data(31337)})["signature"]
    assert ok(d, "tx", {"hash": tx["txHash"]})["status"] == "success"
    assert ok(d, "tx_history", {"limit": 5})["transactions"]
    ok(d, "wallet_requests_list", {"all": True} if "all" in (
        get("wallet_requests_list").args_model().model_fields) else {})  # type: ignore[union-attr]
    changed = ok(d, "wallet_trading_mode_set", {"mode": "guard"})
    assert changed["status"] == "confirmed" and changed["tradingMode"] == "guard"
