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
from collections.abc import Iterable
from typing import Any, Literal

from mm_agent.operations.agent_schema import agent_ops, input_schema, tool_name
from mm_agent.operations.registry import Operation

from .runner import ToolRunner

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


class _Runner(ToolRunner):
    """The dispatchers' runner: the shared one, plus the schema exports of its tool set."""

    def openai_tools(self, api: Literal["chat", "responses"] = "chat",
                     strict: bool = True) -> list[dict[str, Any]]:
        return openai_tools(api, strict, prefix=self.tools.prefix, include=self.names(),
                            mode=self.wallet.mode)

    def anthropic_tools(self, strict: bool = False) -> list[dict[str, Any]]:
        return anthropic_tools(strict, prefix=self.tools.prefix, include=self.names(),
                               mode=self.wallet.mode)


class _DispatcherBase:
    """What both dispatchers share: the runner over the wallet and the schema exports."""

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


class Dispatcher(_DispatcherBase):
    """Runs tool calls against a wallet: ``dispatch(name, arguments_json, call_id=…) -> str``."""

    def dispatch(self, name: str, arguments_json: str | dict[str, Any] | None = None, *,
                 call_id: str | None = None) -> str:
        call = self._runner.prepare(name, arguments_json, call_id)
        envelope = call if isinstance(call, dict) else self._runner.run(call)
        return json.dumps(envelope, default=str)


class AsyncDispatcher(_DispatcherBase):
    """``await dispatch(...)``: validation happens on the event loop (no I/O); the operation
    handlers are blocking, so the call runs in a worker thread and the loop stays free."""

    async def dispatch(self, name: str, arguments_json: str | dict[str, Any] | None = None, *,
                       call_id: str | None = None) -> str:
        call = self._runner.prepare(name, arguments_json, call_id)
        if isinstance(call, dict):
            envelope = call
        else:
            envelope = await asyncio.to_thread(self._runner.run, call)
        return json.dumps(envelope, default=str)
