"""Function calling without a framework: tool schemas for OpenAI and Anthropic, and a dispatcher.

```python
from mm_agent import Wallet
from mm_agent.toolkits.function_calling import Dispatcher, anthropic_tools, openai_tools

wallet = Wallet.from_env()
tools = openai_tools(api="chat", mode=wallet.mode)      # or api="responses", anthropic_tools()
dispatcher = Dispatcher(wallet)
result_json = dispatcher.dispatch(call.name, call.arguments, call_id=call.id)
```

Every tool is an agent-facing operation of the registry (``mm_agent.operations.registry``) rendered
by
``mm_agent.operations.agent_schema``: names are the operation names (``^[a-zA-Z0-9_-]{1,64}$``,
optional
``prefix``), strict exports follow OpenAI's strict rules. ``dispatch`` never raises: it returns
the CLI's JSON envelope (``{"ok": true, "data": …}`` or ``{"ok": false, "error": {code, message,
hint}}``), plus ``next`` when a request still runs or waits for a human (its ``pollingId`` and
the watch tool to call). A ``call_id`` (the provider's tool-call id) makes retries safe: the
server wallet receives it as ``Idempotency-Key``; a BYOK wallet records it under MM_HOME.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from typing import Any, Literal

from mm_agent.errors import MMError
from mm_agent.local.call_log import CallLog
from mm_agent.operations.agent_calls import Call, ToolSet
from mm_agent.operations.agent_schema import agent_ops, input_schema, tool_name
from mm_agent.operations.context import Context
from mm_agent.operations.registry import Operation

__all__ = ["AsyncDispatcher", "Dispatcher", "anthropic_tools", "openai_tools"]


def _description(op: Operation) -> str:
    text = op.description
    if op.may_pause:
        text += (" If a human must approve, the result says so and carries a pollingId to "
                 "follow with wallet_requests_watch; never submit the same thing twice.")
    return text


def openai_tools(api: Literal["chat", "responses"] = "chat", strict: bool = True, *,
                 prefix: str = "", include: Iterable[str] | None = None,
                 read_only: bool = False, mode: str | None = None) -> list[dict[str, Any]]:
    """Tools for OpenAI Chat Completions (``api="chat"``) or the Responses API."""
    if api not in ("chat", "responses"):
        from mm_agent.errors import ValidationError

        raise ValidationError(f"api must be 'chat' or 'responses', not {api!r}.")
    out = []
    for op in agent_ops(mode, read_only=read_only, include=include):
        fn = {"name": tool_name(op, prefix), "description": _description(op),
              "parameters": input_schema(op, strict=strict), "strict": strict}
        out.append({"type": "function", "function": fn} if api == "chat"
                   else {"type": "function", **fn})
    return out


def anthropic_tools(strict: bool = False, *, prefix: str = "",
                    include: Iterable[str] | None = None, read_only: bool = False,
                    mode: str | None = None) -> list[dict[str, Any]]:
    """Tools for Anthropic's Messages API (``{name, description, input_schema}``). ``strict``
    renders the strict-mode schema (every property required, nullable optionals)."""
    return [{"name": tool_name(op, prefix), "description": _description(op),
             "input_schema": input_schema(op, strict=strict)}
            for op in agent_ops(mode, read_only=read_only, include=include)]


class _Runner:
    """What both dispatchers share: the tool set of the wallet's mode, binding the wallet to a
    call (account, idempotency key), the BYOK call log, and running one validated call."""

    def __init__(self, wallet: Any, prefix: str, include: Iterable[str] | None,
                 read_only: bool) -> None:
        self.wallet = getattr(wallet, "sync", wallet)  # an AsyncWallet's blocking twin
        self.tools = ToolSet(self.wallet.mode, prefix=prefix, include=include,
                             read_only=read_only)
        self.calls = CallLog(self.wallet.home) if self.wallet.mode == "byok" else None
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def openai_tools(self, api: Literal["chat", "responses"] = "chat",
                     strict: bool = True) -> list[dict[str, Any]]:
        return openai_tools(api, strict, prefix=self.tools.prefix, include=self._names(),
                            mode=self.wallet.mode)

    def anthropic_tools(self, strict: bool = False) -> list[dict[str, Any]]:
        return anthropic_tools(strict, prefix=self.tools.prefix, include=self._names(),
                               mode=self.wallet.mode)

    def _names(self) -> list[str]:
        return [op.name for op in self.tools.ops.values()]

    def prepare(self, name: str, arguments: str | dict[str, Any] | None,
                call_id: str | None) -> Call | dict[str, Any]:
        try:
            return self.tools.prepare(name, arguments, call_id=call_id)
        except MMError as err:
            return self.tools.failure(err)

    def run(self, call: Call) -> dict[str, Any]:
        if not (call.call_id and call.op.writes and self.calls is not None):
            return self._execute(call)
        with self._lock_for(call.call_id):
            try:
                recorded = self.calls.get(call.call_id, call.fingerprint)
            except MMError as err:
                return self.tools.failure(err)
            if recorded is not None:
                return self._refresh(recorded)
            envelope = self._execute(call)
            if envelope["ok"] or "request" in (envelope["error"].get("details") or {}):
                self.calls.put(call.call_id, call.fingerprint, envelope)
            return envelope

    def _execute(self, call: Call) -> dict[str, Any]:
        try:
            ctx = self._context(call)
            return self.tools.success(call.op.handler_fn()(ctx, call.args))
        except MMError as err:
            return self.tools.failure(err)
        except Exception as exc:  # a bug must not crash the agent's loop; say what it was
            return {"ok": False, "error": {
                "code": "INTERNAL_ERROR",
                "message": f"Unexpected {type(exc).__name__} while running {call.op.name}.",
                "hint": "Report this; the call may be retried with the same call id."}}

    def _context(self, call: Call) -> Context:
        wallet = self.wallet
        server = wallet.mode == "server-wallet"
        if call.account or (server and call.call_id):
            wallet = wallet.bound(account=call.account,
                                  idempotency_key=call.call_id if server else None)
        if server:
            if wallet is self.wallet:
                wallet = wallet.bound()
            from mm_agent.wallets.remote.wallet import RemoteRequestsAPI

            wallet.on_awaiting = None  # library code never prints; `next` tells the agent
            wallet.requests = RemoteRequestsAPI(wallet)  # waits with this copy's settings
        return Context(home=self.wallet.home, config=self.wallet.config, wallet=wallet)

    def _refresh(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """A replayed answer, with the request's current state from the local log."""
        data = envelope.get("data")
        if envelope.get("ok") and isinstance(data, dict) and data.get("pollingId"):
            try:
                return self.tools.success(self.wallet.requests.get(data["pollingId"]).to_dict())
            except MMError:
                pass
        return envelope

    def _lock_for(self, call_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(call_id, threading.Lock())


class Dispatcher:
    """Runs tool calls against a wallet: ``dispatch(name, arguments_json, call_id=…) -> str``."""

    def __init__(self, wallet: Any, *, prefix: str = "", include: Iterable[str] | None = None,
                 read_only: bool = False) -> None:
        self._runner = _Runner(wallet, prefix, include, read_only)

    @property
    def tool_names(self) -> list[str]:
        return list(self._runner.tools.ops)

    def openai_tools(self, api: Literal["chat", "responses"] = "chat",
                     strict: bool = True) -> list[dict[str, Any]]:
        """The tools this dispatcher accepts, for OpenAI."""
        return self._runner.openai_tools(api, strict)

    def anthropic_tools(self, strict: bool = False) -> list[dict[str, Any]]:
        """The tools this dispatcher accepts, for Anthropic."""
        return self._runner.anthropic_tools(strict)

    def dispatch(self, name: str, arguments_json: str | dict[str, Any] | None = None, *,
                 call_id: str | None = None) -> str:
        call = self._runner.prepare(name, arguments_json, call_id)
        envelope = call if isinstance(call, dict) else self._runner.run(call)
        return json.dumps(envelope, default=str)


class AsyncDispatcher:
    """``await dispatch(...)``: validation happens on the event loop (no I/O); the operation
    handlers are blocking, so the call runs in a worker thread and the loop stays free."""

    def __init__(self, wallet: Any, *, prefix: str = "", include: Iterable[str] | None = None,
                 read_only: bool = False) -> None:
        self._runner = _Runner(wallet, prefix, include, read_only)

    @property
    def tool_names(self) -> list[str]:
        return list(self._runner.tools.ops)

    def openai_tools(self, api: Literal["chat", "responses"] = "chat",
                     strict: bool = True) -> list[dict[str, Any]]:
        return self._runner.openai_tools(api, strict)

    def anthropic_tools(self, strict: bool = False) -> list[dict[str, Any]]:
        return self._runner.anthropic_tools(strict)

    async def dispatch(self, name: str, arguments_json: str | dict[str, Any] | None = None, *,
                       call_id: str | None = None) -> str:
        call = self._runner.prepare(name, arguments_json, call_id)
        if isinstance(call, dict):
            envelope = call
        else:
            envelope = await asyncio.to_thread(self._runner.run, call)
        return json.dumps(envelope, default=str)
