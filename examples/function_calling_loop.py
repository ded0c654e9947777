"""An OpenAI-style tool-calling loop over the wallet's tools (Chat Completions format).

    MM_HOME=… python examples/function_calling_loop.py [recipient]

With ``OPENAI_API_KEY`` set, a real model (``OPENAI_MODEL``, default gpt-4o-mini) picks the
tools; without it a scripted model plays the same conversation offline (what the tests run):
check the balance, send 0.01 ETH on the devnet, report. Every tool call goes through
``Dispatcher.dispatch``, which returns the CLI's JSON envelope; a request that waits for a human
carries ``next`` (its pollingId and the watch tool), which the model is told to follow.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from mm_agent.toolkits.function_calling import Dispatcher

from mm_agent import Wallet

Model = Callable[[list[dict[str, Any]], list[dict[str, Any]]], dict[str, Any]]
SYSTEM = ("You operate a crypto wallet through tools. Check balances before paying. If a "
          "result has `next`, follow it; never submit the same request twice.")
DEVNET = 31337


class ScriptedModel:
    """Plays the assistant's turns from a script, in the Chat Completions message format."""

    def __init__(self, recipient: str) -> None:
        self.turns = [
            [("wallet_balance", {"chain_ids": [DEVNET], "account": None})],
            [("transfer", {"to": recipient, "amount": "0.01", "token": "ETH",
                           "chain_id": DEVNET, "wait": None, "dry_run": None,
                           "wallet_timeout": None, "account": None})],
        ]
        self.step = 0

    def __call__(self, messages: list[dict[str, Any]],
                 tools: list[dict[str, Any]]) -> dict[str, Any]:
        if self.step < len(self.turns):
            calls = [{"id": f"call_{self.step}_{i}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps(args)}}
                     for i, (name, args) in enumerate(self.turns[self.step])]
            self.step += 1
            return {"role": "assistant", "content": None, "tool_calls": calls}
        last = json.loads(messages[-1]["content"])
        status = (last.get("data") or {}).get("status") or last.get("error", {}).get("code")
        return {"role": "assistant", "content": f"Sent 0.01 ETH: {status}."}


class OpenAIModel:
    """Chat Completions over plain HTTP (no SDK needed)."""

    def __init__(self, api_key: str, model: str) -> None:
        self.api_key = api_key
        self.model = model

    def __call__(self, messages: list[dict[str, Any]],
                 tools: list[dict[str, Any]]) -> dict[str, Any]:
        import httpx

        resp = httpx.post("https://api.openai.com/v1/chat/completions", timeout=120,
                          headers={"Authorization": f"Bearer {self.api_key}"},
                          json={"model": self.model, "messages": messages, "tools": tools})
        resp.raise_for_status()
        message: dict[str, Any] = resp.json()["choices"][0]["message"]
        return message


def run(wallet: Wallet, model: Model, task: str, max_turns: int = 8) -> list[dict[str, Any]]:
    """The loop: the model asks for tools, the dispatcher answers, until it speaks."""
    dispatcher = Dispatcher(wallet)
    tools = dispatcher.openai_tools(api="chat")  # strict schemas of this wallet's mode
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM},
                                      {"role": "user", "content": task}]
    for _ in range(max_turns):
        reply = model(messages, tools)
        messages.append(reply)
        if not reply.get("tool_calls"):
            break
        for call in reply["tool_calls"]:
            fn = call["function"]
            # The tool-call id doubles as the idempotency key: a retried call never pays twice.
            result = dispatcher.dispatch(fn["name"], fn["arguments"], call_id=call["id"])
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    return messages


def main(argv: list[str]) -> int:
    recipient = argv[0] if argv else "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    key = os.environ.get("OPENAI_API_KEY")
    model: Model = (OpenAIModel(key, os.environ.get("OPENAI_MODEL", "gpt-4o-mini")) if key
                    else ScriptedModel(recipient))
    task = f"Check my devnet balance, then send 0.01 ETH to {recipient} on chain {DEVNET}."
    for message in run(Wallet.from_env(), model, task):
        print(json.dumps(message))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
