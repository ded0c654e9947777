"""`make demo`: the whole story on the embedded default, narrated step by step.

A local devnet (anvil + demo tokens) and a local wallet service (`mm server start --dev`:
SQLite, mail to a dev outbox) in a throw-away folder on free ports; a BYOK transfer; a server
wallet signed in and set to guard mode; a transfer inside the policy completes, one over the
limit waits for the human who approves it through the emailed link; a malicious approval is
bounced and never signed; a LangGraph agent pauses on 2FA and resumes; then everything stops
and the last step checks that nothing is left running and the temp folder is gone.

The LLM is a scripted chat model emitting real tool calls, or a real model when
``OPENAI_API_KEY`` is set and ``langchain-openai`` is installed. ``MM_DEMO_SUMMARY=<file>``
writes the outcomes as JSON (what ``tests/test_demo.py`` checks).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))

from _support import BOB, CAROL, CHAIN, Sandbox, chat_model, tool_call  # noqa: E402

STEP = 0
T0 = time.monotonic()


def step(title: str, why: str) -> None:
    global STEP
    STEP += 1
    print(f"\n[{STEP}] {title}  (+{time.monotonic() - T0:.1f}s)", flush=True)
    print(textwrap.fill(why, width=96, initial_indent="    ", subsequent_indent="    "),
          flush=True)


def out(text: str) -> None:
    print(f"    → {text}", flush=True)


def unlimited_approve(token: str, spender: str) -> str:
    return json.dumps({"to": token, "value": "0x0",
                       "data": "0x095ea7b3" + spender[2:].lower().rjust(64, "0") + "f" * 64})


def main() -> dict[str, Any]:
    outcomes: dict[str, Any] = {}
    tmp_before = set(os.listdir(tempfile.gettempdir()))
    sb = Sandbox(prefix="mm-demo-", echo=True)
    tempfile.tempdir = str(sb.root / "tmp")  # this process's temp files go there too
    print(f"mm-agent demo — everything lives in {sb.root} and is removed at the end.")
    try:
        _story(sb, outcomes)
    finally:
        step("Stop everything and check nothing is left behind",
             "The service gets Ctrl-C (SIGINT), `mm devnet stop` ends anvil, the temp folder "
             "(both MM_HOMEs, the service's database and outbox, TMPDIR of every child) is "
             "removed; then /proc is searched for any process still naming that folder.")
        report = sb.stop()
        tempfile.tempdir = None
        new_tmp = sorted(n for n in set(os.listdir(tempfile.gettempdir())) - tmp_before
                         if n.startswith("mm-demo-"))
        outcomes.update({"processesLeft": report["processesLeft"],
                         "pidsAlive": report["pidsAlive"],
                         "tempDirRemoved": report["tempDirRemoved"],
                         "tempDir": report["tempDir"], "tmpLeftovers": new_tmp})
        out(f"service and anvil running: {report['pidsAlive'] or 'none'}; stray processes: "
            f"{report['processesLeft'] or 'none'}")
        out(f"{report['tempDir']} removed: {report['tempDirRemoved']}; "
            f"demo leftovers in {tempfile.gettempdir()}: {new_tmp or 'none'}")
    clean = (not report["processesLeft"] and not report["pidsAlive"]
             and report["tempDirRemoved"] and not new_tmp)
    outcomes["clean"] = clean
    print(f"\nDone in {time.monotonic() - T0:.1f}s — "
          + ("nothing left running, nothing left in /tmp." if clean else "NOT CLEAN."))
    return outcomes


def _story(sb: Sandbox, outcomes: dict[str, Any]) -> None:
    # 1 ---------------------------------------------------------------------------------------
    step("Start the devnet",
         "A local anvil chain (id 31337) with demo tokens (mUSD, 6 decimals; mDAI, 18) in a "
         "throw-away MM_HOME on a free port, so nothing touches ~/.metamask.")
    devnet = sb.start_devnet()
    out(f"anvil pid {devnet['pid']} at {devnet['rpcUrl']}; tokens "
        + ", ".join(f"{t['symbol']} {t['address'][:10]}…" for t in devnet["tokens"][:2]))

    # 2 ---------------------------------------------------------------------------------------
    step("BYOK wallet: a transfer with an immediate result",
         "Bring-your-own-key: the test mnemonic goes into a local vault; `mm transfer` runs "
         "the whole security pipeline in-process (decode, fees, simulate, scan, sign, submit) "
         "and answers with the final state at once.")
    byok = sb.init_byok()
    sent = sb.mm("transfer", "--to", BOB, "--amount", "0.5", "--token", "ETH",
                 "--chain-id", str(CHAIN))
    outcomes["byokTransfer"] = sent["status"]
    out(f"{byok['address']}: {sent['status']} — {sent['intent']} (tx {sent['txHash'][:18]}…)")

    # 3 ---------------------------------------------------------------------------------------
    step("Start the wallet service",
         "`mm server start --dev` from the devnet's MM_HOME: it serves that devnet, keeps "
         "server-wallet keys encrypted in SQLite, and with --dev writes its mail (approval "
         "links) to <data-dir>/outbox/*.eml instead of sending it.")
    url = sb.start_service()
    out(f"service at {url} (pid {sb.pids['service']}), healthy")

    # 4 ---------------------------------------------------------------------------------------
    step("Server wallet: sign in, create it in guard mode, fund it",
         "The operator mints a login for me@example.com (headless sign-in; `mm login browser` "
         "does the same by magic link). The user's CLI token can submit and read, never "
         "approve. Guard mode: anything outside the policy goes to the human. The BYOK wallet "
         "funds it with 2 ETH.")
    login = sb.sign_in("me@example.com")
    address = sb.init_server_wallet("guard")
    sb.fund(address, eth="2", musd="")
    out(f"signed in as {login['email']} (approvals by {login['channel']}); server wallet "
        f"{address} in guard mode, funded with 2 ETH")

    # 5 ---------------------------------------------------------------------------------------
    step("Policy: trust Bob as a recipient (broadening → approval by the mailed link)",
         "A new wallet trusts nobody. Adding Bob to token_recipients.allowlist widens what the "
         "agent may do, so `mm wallet policy set` returns pending_approval and the service "
         "mails the human; the change applies only once approved on the page.")
    policy = sb.agent("wallet", "policy", "get")["policy"]
    wanted = policy.replace("  token_recipients:\n    allowlist: []",
                            f'  token_recipients:\n    allowlist: ["{BOB}"]')
    change = sb.agent("wallet", "policy", "set", "--policy", wanted)
    out(f"{change['status']}: {'; '.join(change.get('changes', []))}")
    mail = sb.approve_by_mail()
    out(f"mail: “{mail['subject'][:72]}…” → the human opened the link and pressed Approve")
    deadline = time.monotonic() + 20
    while BOB not in sb.agent("wallet", "policy", "get")["policy"]:
        if time.monotonic() > deadline:
            raise TimeoutError("the approved policy change did not apply")
        time.sleep(0.1)
    out("policy now allowlists Bob; limit rolling_24h: $1000")

    # 6 ---------------------------------------------------------------------------------------
    step("Guard-mode transfer inside the policy completes on its own",
         "0.1 ETH ($200 at the devnet's prices) to an allowlisted recipient, within the "
         "rolling 24 h USD limit: the job runs PENDING → SUBMITTED → COMPLETED, no human.")
    inside = sb.agent("transfer", "--to", BOB, "--amount", "0.1", "--token", "ETH",
                      "--chain-id", str(CHAIN), "--wait")
    outcomes["insidePolicy"] = inside["status"]
    out(f"{inside['status']} — {inside['intent']} (pollingId {inside['pollingId']})")

    # 7 ---------------------------------------------------------------------------------------
    step("Over the limit: it waits, the human approves through the emailed link",
         "1 ETH is $2000, over the $1000 window: the job stops at AWAITING_MFA and the "
         "service mails a single-use link to a page showing intent, balance changes, scan and "
         "the violated rule. The human approves there; the service re-simulates, then signs.")
    over = sb.agent("transfer", "--to", BOB, "--amount", "1", "--token", "ETH",
                    "--chain-id", str(CHAIN))
    mail = sb.next_approval_mail()
    held = sb.request(over["pollingId"])
    outcomes["overLimitHeld"] = held["status"]
    out(f"{held['status']}; violated: " + "; ".join(
        v["message"] for v in held["preview"]["policy"]["violations"])[:150])
    sb.decide(mail, "approve")
    out(f"mail: “{mail['subject'][:72]}…” → the human opened the link and pressed Approve")
    final = sb.agent("wallet", "requests", "watch", "--polling-id", over["pollingId"])
    outcomes["overLimit"] = final["status"]
    out(f"{final['status']} — {final['intent']} (tx {str(final.get('txHash'))[:18]}…)")

    # 8 ---------------------------------------------------------------------------------------
    step("A malicious approval is bounced, never signed",
         "An unlimited mUSD approve() to a plain account (EOA) is the approval-farming drain; "
         "the threat scan says Malicious. BYOK headless refuses with APPROVAL_REQUIRED. The "
         "server wallet holds it at AWAITING_MFA for the human, who rejects it on the page: "
         "DENIED, and the wallet's nonce never moved.")
    payload = unlimited_approve(sb.token("mUSD"), CAROL)
    refused = sb.mm("wallet", "send-transaction", "--chain-id", str(CHAIN), "--payload",
                    payload, check=False)
    outcomes["byokMalicious"] = (refused.get("error") or {}).get("code")
    out(f"BYOK: {outcomes['byokMalicious']} — "
        f"{(refused.get('error') or {}).get('message', '')[:90]}…")
    nonce_before = sb.nonce(address)
    bad = sb.agent("wallet", "send-transaction", "--chain-id", str(CHAIN), "--payload", payload)
    mail = sb.next_approval_mail()
    held = sb.request(bad["pollingId"])
    outcomes["serverMaliciousHeld"] = held["status"]
    scan = held["preview"]["scan"]
    out(f"server wallet: {held['status']} — scan {scan['resultType']} "
        f"({', '.join(f['featureId'] for f in scan.get('features', []))}); mail “"
        f"{mail['subject'][:50]}…”")
    sb.decide(mail, "reject")
    denied = sb.agent("wallet", "requests", "watch", "--polling-id", bad["pollingId"])
    outcomes["serverMalicious"] = denied["status"]
    outcomes["maliciousNeverSigned"] = sb.nonce(address) == nonce_before
    out(f"the human pressed Reject → {denied['status']} "
        f"({(denied.get('error') or {}).get('code')}); nonce unchanged, never signed: "
        f"{outcomes['maliciousNeverSigned']}")

    # 9 ---------------------------------------------------------------------------------------
    step("A LangGraph agent pauses on 2FA and resumes",
         "MetaMaskToolkit gives the agent the wallet's tools. The model asks to pay Carol "
         "(not allowlisted): the tool reaches AWAITING_MFA and calls interrupt(), so the graph "
         "pauses with a payload for the app (no link secret). The human approves by the "
         "mailed link; the app resumes the graph and the same job (same Idempotency-Key) "
         "finishes.")
    outcomes["agent"] = _agent_run(sb)

    outcomes["story"] = "complete"


def _agent_run(sb: Sandbox) -> dict[str, Any]:
    from langchain.agents import create_agent
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command
    from mm_agent.toolkits.langchain import MetaMaskToolkit, approve

    from mm_agent import Wallet

    sb.use(sb.agent_home)
    wallet = Wallet.from_env()
    try:
        tools = MetaMaskToolkit(wallet=wallet).get_tools()
        model = chat_model([
            tool_call("transfer", {"to": CAROL, "amount": "0.05", "token": "ETH",
                                   "chain_id": CHAIN, "wait": True}, "call_pay_carol"),
            "Sent 0.05 ETH to Carol; the transfer is complete.",
        ])
        agent = create_agent(model, tools, checkpointer=InMemorySaver(),
                             system_prompt="You operate a crypto wallet through tools.")
        config = {"configurable": {"thread_id": "demo-agent"}}
        task = f"Send 0.05 ETH to {CAROL} on chain {CHAIN} and wait until it is done."
        out(f"user: {task}  (model: {type(model).__name__})")
        state = agent.invoke({"messages": [("user", task)]}, config)
        paused = "__interrupt__" in state
        result: dict[str, Any] = {"paused": paused}
        if paused:
            payload = state["__interrupt__"][0].value
            out(f"graph paused (__interrupt__): {payload['intent']}; status AWAITING_MFA, "
                f"channel {payload['channel']}, pollingId {payload['pollingId']}")
            for reason in payload["reason"].split("; "):  # every rule the request broke
                out(f"why: {reason[:120]}")
            mail = sb.approve_by_mail()
            out(f"mail: “{mail['subject'][:72]}” → the human pressed Approve; app resumes")
            state = agent.invoke(Command(resume=approve(payload)), config)
            result["resumed"] = True
        tool_msgs = [m for m in state["messages"] if m.type == "tool"]
        data = (tool_msgs[-1].artifact or {}).get("data", {}) if tool_msgs else {}
        result["status"] = data.get("status")
        result["pollingId"] = data.get("pollingId")
        out(f"tool: {tool_msgs[-1].content[:100] if tool_msgs else '(no tool call)'}")
        out(f"agent: {state['messages'][-1].content}")
        return result
    finally:
        wallet.close()


if __name__ == "__main__":
    summary = main()
    if os.environ.get("MM_DEMO_SUMMARY"):
        Path(os.environ["MM_DEMO_SUMMARY"]).write_text(json.dumps(summary, indent=2))
    raise SystemExit(0 if summary.get("clean") and summary.get("story") == "complete" else 1)
