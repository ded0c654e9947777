"""The tool runner every agent surface shares (function calling, LangChain, MCP).

``ToolRunner`` holds the tool set of one wallet's mode, validates a call into a ``Call``
(``mm_agent.operations.agent_calls``), binds the wallet to it (account, idempotency key), keeps
the BYOK call log that makes retries with the same call id safe, and runs the handler with a
``Context`` whose console is silent: an agent surface never prompts or prints.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from mm_agent.errors import MMError
from mm_agent.local.call_log import CallLog
from mm_agent.operations.agent_calls import Call, ToolSet
from mm_agent.operations.context import Context

__all__ = ["ToolRunner"]


class ToolRunner:
    """What every agent surface shares: the tool set of the wallet's mode, binding the wallet
    to a call (account, idempotency key), the BYOK call log, and running one validated call.
    Subclasses adapt the context a call runs in (``_context``)."""

    def __init__(self, wallet: Any, prefix: str, include: Iterable[str] | None,
                 read_only: bool) -> None:
        self.wallet = getattr(wallet, "sync", wallet)  # an AsyncWallet's blocking twin
        self.tools = ToolSet(self.wallet.mode, prefix=prefix, include=include,
                             read_only=read_only)
        self.calls = CallLog(self.wallet.home) if self.wallet.mode == "byok" else None
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def names(self) -> list[str]:
        """The operation names of this tool set (for the schema exports)."""
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
                wallet = wallet.bound()  # a copy (its own ``requests``): nobody else sees it
            wallet.on_awaiting = None  # only logged; `next` tells the agent
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
