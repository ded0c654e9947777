"""The LangChain toolkit and LangGraph human in the loop, end to end.

Real graphs (``create_agent`` with an ``InMemorySaver``, and a ``StateGraph`` with a
``ToolNode``) driven by a scripted chat model that emits real tool calls; a real anvil; a real
wallet service (uvicorn) whose approvals are given through the link of the mail it sends.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ACCOUNT1, Anvil
from helpers import wait_until
from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command
from mm_agent.toolkits.langchain import (
    APPROVAL_REQUIRED,
    MetaMaskToolkit,
    approve,
    interrupt_on,
    reject,
)
from server.test_approvals import LINK_RE
from server.test_client import denylist, server_wallet, signed_in  # noqa: F401  (fixtures)

from mm_agent import AsyncWallet, Wallet
from mm_agent.operations.agent_schema import agent_ops, input_schema

from .scripted_model import ScriptedChatModel, call, tool_turn

ACCOUNT2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
HUMAN_ONLY = {"login", "init", "reset", "password", "logout", "config"}


# --- helpers ----------------------------------------------------------------------------------
def tools_of(wallet: Any, **kw: Any) -> dict[str, BaseTool]:
    return {t.name: t for t in MetaMaskToolkit(wallet=wallet, **kw).get_tools()}


def agent(wallet: Any, *turns: Any, checkpointer: Any = None, **kw: Any) -> Any:
    model = ScriptedChatModel(turns=list(turns))
    graph = create_agent(model, list(tools_of(wallet).values()),
                         checkpointer=checkpointer, **kw)
    graph.model = model  # for assertions on what the model saw
    return graph


def thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


def nonce(chain: Anvil, address: str) -> int:
    return int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)


def unlimited_approve(chain: Anvil, spender: str) -> dict[str, Any]:
    """An unlimited mUSD approval to an EOA: scanned Malicious, a human must look."""
    return {"to": chain.token("mUSD")["address"], "value": "0x0",
            "data": "0x095ea7b3" + spender[2:].lower().rjust(64, "0") + "f" * 64}


def interrupted_checkpoint(graph: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The config of the checkpoint where the tools node was interrupted."""
    for snap in graph.get_state_history(config):
        if snap.interrupts and snap.next == ("tools",):
            return dict(snap.config)
    raise AssertionError("no interrupted checkpoint")


def approval_links(svc: Any) -> dict[str, tuple[str, str]]:
    """approval id → (link, secret) of every approval mail so far."""
    out = {}
    for msg in svc.outbox_messages():
        if str(msg["Subject"]).startswith("Approval needed"):
            match = LINK_RE.search(msg.get_body(preferencelist=("plain",)).get_content())
            assert match, msg
            link, approval_id, secret = match.groups()
            out[approval_id] = (link, secret)
    return out


def new_link(svc: Any, before: dict[str, Any], timeout: float = 15) -> tuple[str, str, str]:
    fresh = wait_until(lambda: {k: v for k, v in approval_links(svc).items() if k not in before},
                       timeout=timeout, what="a new approval mail")
    ((approval_id, (link, secret)),) = fresh.items()
    return link, approval_id, secret


# --- the toolkit ------------------------------------------------------------------------------
def test_tools_per_mode_and_selection(wallet: Wallet) -> None:
    tools = tools_of(wallet)
    assert set(tools) == {op.name for op in agent_ops("byok")}
    assert not set(tools) & HUMAN_ONLY and not any("approv" in n for n in tools)
    assert "wallet_policy_get" not in tools  # server-wallet only
    reads = tools_of(wallet, read_only=True)
    assert "transfer" not in reads and "wallet_balance" in reads
    assert all(not t.metadata["writes"] for t in reads.values())
    picked = tools_of(wallet, include=["transfer", "wallet_balance"], prefix="mm_")
    assert set(picked) == {"mm_transfer", "mm_wallet_balance"}
    hitl = interrupt_on(tools.values())
    assert hitl["transfer"]["allowed_decisions"] == ["approve", "reject"]
    assert hitl["wallet_balance"] is False
    assert {n for n, v in hitl.items() if v} == {n for n, t in tools.items()
                                                 if t.metadata["writes"]}


def test_schemas_are_the_registry_rendering(wallet: Wallet) -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    for name, tool in tools_of(wallet).items():
        op = tool.operation  # type: ignore[attr-defined]
        assert tool.tool_call_schema == {**input_schema(op), "description": tool.description}
        fn = convert_to_openai_tool(tool)["function"]
        assert fn["name"] == name and fn["parameters"]["properties"] == \
            input_schema(op)["properties"]
        assert tool.response_format == "content_and_artifact" and tool.handle_tool_error
        tool.get_input_schema().model_json_schema()  # the pydantic args model renders
    send = tools_of(wallet)["wallet_send_transaction"]
    send.args_schema(chain_id=1, payload={"to": ACCOUNT1, "value": "0x0", "data": "0x"})  # type: ignore[misc, operator]


def test_import_is_light() -> None:
    """Importing the toolkit and getting tools never imports langgraph, and `import mm_agent`
    never imports langchain."""
    code = ("import sys, mm_agent; assert not any(m.startswith('langchain') for m in "
            "sys.modules); from mm_agent.toolkits.langchain import MetaMaskToolkit; "
            "assert not any(m.startswith('langgraph') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- BYOK ---------------------------------------------------------------------------------
def test_byok_agent_transfer_completes_in_one_pass(wallet: Wallet, chain: Anvil) -> None:
    before = chain.balance(ACCOUNT2)
    graph = agent(wallet, tool_turn(call("transfer", {"to": ACCOUNT2, "amount": "0.25",
                                                      "chain_id": 31337, "token": "ETH"},
                                         "call_t1")), "Sent.",
                  checkpointer=InMemorySaver())
    state = graph.invoke({"messages": [HumanMessage("send 0.25 ETH")]}, thread("b1"))
    assert "__interrupt__" not in state
    (msg,) = tool_messages(state)
    assert msg.status == "success" and msg.content.startswith("COMPLETED: Transfer 0.25 ETH")
    assert msg.artifact["ok"] and msg.artifact["data"]["txHash"] in msg.content
    assert chain.balance(ACCOUNT2) - before == 25 * 10**16
    assert {t["function"]["name"] for t in graph.model.bound_tools} >= {"transfer"}


def test_errors_reach_the_model_with_codes(wallet: Wallet) -> None:
    graph = agent(wallet, tool_turn(
        call("transfer", {"to": "0x123", "amount": "1", "chain_id": 31337, "token": "ETH"}, "e1"),
        call("transfer", {"amount": "1", "chain_id": 31337, "token": "ETH"}, "e2"),
        call("wallet_balance", {"bogus": 1}, "e3")))
    state = graph.invoke({"messages": [HumanMessage("go")]})
    texts = {m.tool_call_id: m for m in tool_messages(state)}
    assert texts["e1"].status == "error" and texts["e1"].content.startswith(
        "[INVALID_EVM_ADDRESS]")
    assert texts["e2"].content.startswith("[MISSING_FLAG]") and "to" in texts["e2"].content
    assert texts["e3"].content.startswith("[UNKNOWN_FLAG]")
    # The last model turn saw all three errors as tool results.
    assert len(tool_messages({"messages": graph.model.seen[-1]})) == 3


def test_byok_risk_outside_a_graph_is_a_tool_error(wallet: Wallet, chain: Anvil) -> None:
    tool = tools_of(wallet)["wallet_send_transaction"]
    n0 = nonce(chain, wallet.address)
    out = tool.invoke(call("wallet_send_transaction",
                           {"chain_id": 31337, "payload": unlimited_approve(chain, ACCOUNT1)},
                           "x1"))
    assert out.status == "error" and out.content.startswith("[APPROVAL_REQUIRED]")
    assert "Nothing was signed" in out.content and nonce(chain, wallet.address) == n0


def test_byok_risk_interrupts_and_only_the_previewed_digest_signs(wallet: Wallet,
                                                                  chain: Anvil) -> None:
    me = wallet.address
    n0 = nonce(chain, me)
    turn = tool_turn(call("wallet_send_transaction",
                          {"chain_id": 31337, "payload": unlimited_approve(chain, ACCOUNT1),
                           "intent": "let 0x7099 spend mUSD"}, "call_risky"))
    saver = InMemorySaver()

    def start(name: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        graph = agent(wallet, turn, "ok", checkpointer=saver)
        config = thread(name)
        state = graph.invoke({"messages": [HumanMessage("approve spending")]}, config)
        (intr,) = state["__interrupt__"]
        return graph, config, intr.value

    # 1. Interrupted: the payload says what and why; nothing signed.
    graph, config, payload = start("risk-reject")
    assert payload["type"] == APPROVAL_REQUIRED and payload["wallet"] == "byok"
    # The headline is the engine's decoding; the agent's words come labelled as its note.
    assert payload["intent"].startswith(f"Approve {ACCOUNT1} to spend unlimited")
    assert payload["agentNote"] == "let 0x7099 spend mUSD" and payload["agentNoteLabel"]
    assert payload["reason"]
    assert payload["preview"]["scan"]["resultType"] in ("Warning", "Malicious")
    assert len(payload["digest"]) == 64 and payload["tool"] == "wallet_send_transaction"
    json.dumps(payload)  # JSON, as checkpointers and UIs need
    assert nonce(chain, me) == n0

    # 2. Rejected: a tool error for the model, nothing signed.
    state = graph.invoke(Command(resume=reject("no")), config)
    (msg,) = tool_messages(state)
    assert msg.status == "error" and msg.content.startswith("[TX_DENIED]")
    assert nonce(chain, me) == n0

    # 3. An approval for another digest is refused.
    graph, config, payload = start("risk-mismatch")
    state = graph.invoke(Command(resume={"decision": "approve", "digest": "ab" * 32}), config)
    (msg,) = tool_messages(state)
    assert msg.status == "error" and msg.content.startswith("[APPROVAL_REQUIRED]")
    assert "another request" in msg.content and nonce(chain, me) == n0
    # ...and so is an approval naming no digest.
    graph, config, payload = start("risk-nodigest")
    (msg,) = tool_messages(graph.invoke(Command(resume="approve"), config))
    assert msg.content.startswith("[APPROVAL_REQUIRED]") and nonce(chain, me) == n0

    # 4. Approved for exactly that digest: signed and sent once, even when the interrupted
    # node is resumed again from its checkpoint (the call id is recorded).
    graph, config, payload = start("risk-approve")
    fork = interrupted_checkpoint(graph, config)
    state = graph.invoke(Command(resume=approve(payload)), config)
    (msg,) = tool_messages(state)
    assert msg.status == "success" and msg.content.startswith("COMPLETED"), msg.content
    assert nonce(chain, me) == n0 + 1
    again = graph.invoke(Command(resume=approve(payload)), fork)
    (msg2,) = tool_messages(again)
    assert msg2.artifact["data"]["txHash"] == msg.artifact["data"]["txHash"]
    assert nonce(chain, me) == n0 + 1


async def test_async_agent_and_tool_node_graph(wallet: Wallet, chain: Anvil) -> None:
    """A hand-built StateGraph with a ToolNode, run with ``ainvoke`` on an AsyncWallet."""
    tools = list(tools_of(AsyncWallet.of(wallet)).values())
    model = ScriptedChatModel(turns=[tool_turn(
        call("wallet_balance", {"chain_ids": [31337]}, "a1"),
        call("transfer", {"to": ACCOUNT2, "amount": "0.01", "chain_id": 31337,
                          "token": "ETH"}, "a2")), "done"])
    bound = model.bind_tools(tools)

    def llm(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("llm", llm)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "llm")
    builder.add_conditional_edges("llm", tools_condition)
    builder.add_edge("tools", "llm")
    graph = builder.compile(checkpointer=InMemorySaver())
    before = chain.balance(ACCOUNT2)
    state = await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread("async"))
    msgs = {m.tool_call_id: m for m in tool_messages(state)}
    assert json.loads(msgs["a1"].content)["chains"][0]["chainId"] == 31337
    assert msgs["a2"].content.startswith("COMPLETED")
    assert chain.balance(ACCOUNT2) - before == 10**16


def test_hitl_middleware_confirms_writes(wallet: Wallet, chain: Anvil) -> None:
    tools = list(tools_of(wallet).values())
    model = ScriptedChatModel(turns=[tool_turn(
        call("wallet_balance", {"chain_ids": [31337]}, "m1"),
        call("transfer", {"to": ACCOUNT2, "amount": "0.02", "chain_id": 31337,
                          "token": "ETH"}, "m2")), "done"])
    graph = create_agent(model, tools, checkpointer=InMemorySaver(),
                         middleware=[HumanInTheLoopMiddleware(interrupt_on=interrupt_on(tools))])
    config = thread("mw")
    state = graph.invoke({"messages": [HumanMessage("pay")]}, config)
    (intr,) = state["__interrupt__"]
    assert [r["name"] for r in intr.value["action_requests"]] == ["transfer"]  # not the read
    before = chain.balance(ACCOUNT2)
    state = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert {m.tool_call_id: m.status for m in tool_messages(state)} == {"m1": "success",
                                                                         "m2": "success"}
    assert chain.balance(ACCOUNT2) - before == 2 * 10**16


# --- server wallet ------------------------------------------------------------------------------
def test_server_wallet_in_policy_completes_in_one_pass(server_wallet: Wallet,  # noqa: F811
                                                       chain: Anvil) -> None:
    before = chain.balance(ACCOUNT2)
    graph = agent(server_wallet, tool_turn(call("transfer", {
        "to": ACCOUNT2, "amount": "0.3", "chain_id": 31337, "token": "ETH"}, "s1")), "ok",
        checkpointer=InMemorySaver())
    state = graph.invoke({"messages": [HumanMessage("pay")]}, thread("srv-pass"))
    assert "__interrupt__" not in state
    (msg,) = tool_messages(state)
    assert msg.content.startswith("COMPLETED") and msg.artifact["data"]["txHash"]
    assert chain.balance(ACCOUNT2) - before == 3 * 10**17


def test_server_wallet_approval_interrupts_and_resumes_once(
        server_wallet: Wallet, chain: Anvil, service: Any,  # noqa: F811
        tmp_path: Path) -> None:
    denylist(service, tmp_path, ACCOUNT1)  # a denylisted recipient needs a human in any mode
    me = server_wallet.address
    n0 = nonce(chain, me)
    mails = approval_links(service)
    graph = agent(server_wallet, tool_turn(call("transfer", {
        "to": ACCOUNT1, "amount": "0.5", "chain_id": 31337, "token": "ETH", "wait": True},
        "call_srv")), "paid", checkpointer=InMemorySaver())
    config = thread("srv-approval")
    state = graph.invoke({"messages": [HumanMessage("pay the flagged one")]}, config)
    (intr,) = state["__interrupt__"]
    payload = intr.value
    assert payload["type"] == APPROVAL_REQUIRED and payload["wallet"] == "server-wallet"
    assert payload["pollingId"] and payload["channel"] == "email" and payload["expiresAt"]
    assert "Transfer 0.5 ETH" in payload["intent"] and payload["reason"]
    assert nonce(chain, me) == n0

    # The human approves through the mailed link; the payload never carried its secret.
    _link, approval_id, secret = new_link(service, mails)
    assert secret not in json.dumps(payload) and approval_id not in json.dumps(payload)
    resp = httpx.post(f"{service.base_url}/approvals/{approval_id}",
                      data={"t": secret, "decision": "approve"}, timeout=30)
    assert resp.status_code == 200, resp.text

    fork = interrupted_checkpoint(graph, config)
    state = graph.invoke(Command(resume={"decision": "continue"}), config)
    (msg,) = tool_messages(state)
    assert msg.status == "success" and msg.content.startswith("COMPLETED"), msg.content
    assert msg.artifact["data"]["pollingId"] == payload["pollingId"]
    assert nonce(chain, me) == n0 + 1
    # Resumed again from the interrupted checkpoint: the same job (Idempotency-Key), no
    # second transaction.
    again = graph.invoke(Command(resume={"decision": "continue"}), fork)
    (msg2,) = tool_messages(again)
    assert msg2.artifact["data"]["pollingId"] == payload["pollingId"]
    assert nonce(chain, me) == n0 + 1


def test_server_wallet_reject_on_resume_cancels(server_wallet: Wallet, chain: Anvil,  # noqa: F811
                                                service: Any, tmp_path: Path) -> None:
    denylist(service, tmp_path, ACCOUNT1)
    n0 = nonce(chain, server_wallet.address)
    graph = agent(server_wallet, tool_turn(call("transfer", {
        "to": ACCOUNT1, "amount": "0.5", "chain_id": 31337, "token": "ETH"}, "c1")),
        checkpointer=InMemorySaver())
    config = thread("srv-reject")
    state = graph.invoke({"messages": [HumanMessage("pay")]}, config)
    assert state["__interrupt__"]
    (msg,) = tool_messages(graph.invoke(Command(resume=reject()), config))
    assert msg.status == "error" and msg.content.startswith("[TX_CANCELLED]"), msg.content
    assert nonce(chain, server_wallet.address) == n0


def _short_approvals(service: Any, monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """The service's approval lifetime, shortened for this test (the opener reads it)."""
    opener = service.state.jobs.pipeline.opener
    monkeypatch.setattr(opener, "settings", dataclasses.replace(
        opener.settings, approval_window_seconds=seconds))


def test_server_wallet_expired_approval_is_a_tool_error_after_resume(
        server_wallet: Wallet, chain: Anvil, service: Any,  # noqa: F811
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    denylist(service, tmp_path, ACCOUNT1)
    _short_approvals(service, monkeypatch, 1)
    n0 = nonce(chain, server_wallet.address)
    graph = agent(server_wallet, tool_turn(call("transfer", {
        "to": ACCOUNT1, "amount": "0.5", "chain_id": 31337, "token": "ETH"}, "exp1")), "ok",
        checkpointer=InMemorySaver())
    config = thread("srv-expired")
    state = graph.invoke({"messages": [HumanMessage("pay")]}, config)
    (intr,) = state["__interrupt__"]
    pid = intr.value["pollingId"]
    # Nobody approves: the service's sweeper expires the request.
    wait_until(lambda: server_wallet.requests.get(pid).status == "EXPIRED", timeout=20,
               what="the approval to expire")
    (msg,) = tool_messages(graph.invoke(Command(resume={"decision": "continue"}), config))
    assert msg.status == "error" and msg.content.startswith("[TX_EXPIRED]"), msg.content
    assert nonce(chain, server_wallet.address) == n0


def test_server_wallet_resume_before_the_decision_returns_the_pending_request(
        server_wallet: Wallet, chain: Anvil, service: Any,  # noqa: F811
        tmp_path: Path) -> None:
    """Resumed before the human decided: a short bounded wait (``resume_wait``), then the
    still-pending request and the watch tool, not a silent block for the wallet timeout."""
    denylist(service, tmp_path, ACCOUNT1)
    n0 = nonce(chain, server_wallet.address)
    mails = approval_links(service)
    tools = list(tools_of(server_wallet, resume_wait=1).values())
    model = ScriptedChatModel(turns=[tool_turn(call("transfer", {
        "to": ACCOUNT1, "amount": "0.5", "chain_id": 31337, "token": "ETH", "wait": True},
        "early1")), "waiting"])
    graph = create_agent(model, tools, checkpointer=InMemorySaver())
    config = thread("srv-early")
    state = graph.invoke({"messages": [HumanMessage("pay")]}, config)
    (intr,) = state["__interrupt__"]
    pid = intr.value["pollingId"]
    started = time.monotonic()
    state = graph.invoke(Command(resume={"decision": "continue"}), config)
    assert time.monotonic() - started < 15  # the wallet timeout is far longer
    assert "__interrupt__" not in state
    (msg,) = tool_messages(state)
    assert msg.status == "success", msg.content
    assert msg.content.startswith("AWAITING_MFA") and "wallet_requests_watch" in msg.content
    assert msg.artifact["data"]["pollingId"] == pid
    assert msg.artifact["next"]["tool"] == "wallet_requests_watch"
    assert nonce(chain, server_wallet.address) == n0
    # The human approves later; the watch tool the model was pointed to gets the outcome.
    _link, approval_id, secret = new_link(service, mails)
    resp = httpx.post(f"{service.base_url}/approvals/{approval_id}",
                      data={"t": secret, "decision": "approve"}, timeout=30)
    assert resp.status_code == 200, resp.text
    watch = {t.name: t for t in tools}["wallet_requests_watch"]
    out = watch.invoke(call("wallet_requests_watch", {"polling_id": pid}, "early2"))
    assert out.status == "success" and out.content.startswith("COMPLETED"), out.content
    assert nonce(chain, server_wallet.address) == n0 + 1


def test_server_wallet_outside_a_graph_returns_the_pending_request(
        server_wallet: Wallet, chain: Anvil, service: Any,  # noqa: F811
        tmp_path: Path) -> None:
    denylist(service, tmp_path, ACCOUNT1)
    tool = tools_of(server_wallet)["transfer"]
    out = tool.invoke(call("transfer", {"to": ACCOUNT1, "amount": "0.5", "chain_id": 31337,
                                        "token": "ETH"}, "o1"))
    assert out.status == "success"
    pid = out.artifact["data"]["pollingId"]
    assert out.artifact["next"]["tool"] == "wallet_requests_watch"
    assert pid in out.content and "wallet_requests_watch" in out.content


def test_wallet_confirm_signs_only_the_approved_digest(wallet: Wallet) -> None:
    """The engine path under the BYOK resume: ``Wallet.bound(confirm=digest)``."""
    from mm_agent.errors import ApprovalRequired

    blind = "0x" + "ab" * 32  # a bare 32-byte hash: a blind signature, flagged
    with pytest.raises(ApprovalRequired) as first:
        wallet.sign_message(message=blind, chain_id=31337)
    digest = first.value.details["digest"]
    with pytest.raises(ApprovalRequired) as other:  # another message, same approval
        wallet.bound(confirm=digest).sign_message(message="0x" + "cd" * 32, chain_id=31337)
    assert "another request" in other.value.message
    assert other.value.details["digest"] != digest
    signed = wallet.bound(confirm=digest).sign_message(message=blind, chain_id=31337)
    assert signed.status == "COMPLETED" and signed.signature  # type: ignore[union-attr]
    with pytest.raises(ApprovalRequired):  # the shared wallet itself is not confirmed
        wallet.sign_message(message=blind, chain_id=31337)


def test_progress_streams_as_custom_events(wallet: Wallet) -> None:
    graph = agent(wallet, tool_turn(call("transfer", {"to": ACCOUNT2, "amount": "0.01",
                                                      "chain_id": 31337, "token": "ETH"},
                                         "p1")), "ok", checkpointer=InMemorySaver())
    events = [chunk for chunk in graph.stream({"messages": [HumanMessage("pay")]},
                                              thread("progress"), stream_mode="custom")]
    assert events and events[-1]["mm"]["tool"] == "transfer"
    assert events[-1]["mm"]["status"] == "COMPLETED" and events[-1]["mm"]["pollingId"]
