"""The LangChain tool of one wallet operation (``MetaMaskTool``), its pydantic args model and
the runner the tools of a toolkit share; ``mm_agent.toolkits.langchain`` assembles them.

A call validates its arguments, runs the operation through the function-calling runner and,
inside a graph, pauses for a human (``mm_agent.toolkits.langchain_hitl``). The content is what
the model reads; the artifact is the whole envelope.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import json
from collections.abc import Callable, Generator
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from mm_agent.toolkits.langchain_hitl import (
    _byok_payload,
    _decision,
    _interrupt,
    _progress,
    _resumable,
    _server_payload,
    _summary,
)
from mm_agent.toolkits.runner import ToolRunner
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model

from mm_agent.errors import MMError
from mm_agent.operations.agent_calls import Call
from mm_agent.operations.agent_schema import ACCOUNT, CLI_KEYS, input_schema, tool_name
from mm_agent.operations.context import Context
from mm_agent.operations.registry import Operation

__all__ = [
    "RESUME_WAIT_SECONDS",
    "MetaMaskTool",
    "TransactionInput",
    "args_model",
]

# Operations producing a signing request (contract §4) that a human may have to approve.
_REQUEST_OPS = frozenset({"transfer", "wallet_send_transaction", "wallet_sign_message",
                          "wallet_sign_typed_data"})
_FINAL = frozenset({"COMPLETED", "FAILED", "DENIED", "EXPIRED"})
# After a server-wallet resume, how long to wait for the human's decision before returning the
# still-pending request with the watch tool (``MetaMaskToolkit(resume_wait=…)``).
RESUME_WAIT_SECONDS = 5.0

# BaseTool.run knows the tool call id but passes it to ``_run`` only through an injected
# argument, which standard callers (langchain-tests, plain ``invoke``) cannot fill: carry it
# in a context variable instead (the run copies the context into ``_run``).
_TOOL_CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mm_tool_call_id", default=None)
_CONFIRM: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mm_confirm_digest", default=None)


# --- args models ------------------------------------------------------------------------------
class TransactionInput(BaseModel):
    """The typed transaction object of ``wallet_send_transaction`` (hex strings)."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(description="Recipient or contract address.")
    value: str = Field(description='Native value in wei as hex, e.g. "0x0".')
    data: str = Field(description='Calldata as 0x hex ("0x" for a plain payment).')
    gas: str | None = Field(None, description="Gas limit as hex.")
    maxFeePerGas: str | None = Field(None, description="Max fee per gas in wei as hex.")
    maxPriorityFeePerGas: str | None = Field(
        None, description="Priority fee per gas in wei as hex.")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def args_model(op: Operation, name: str | None = None) -> type[BaseModel]:
    """A pydantic model of the operation's agent arguments (``args_schema``): the registry's
    fields without CLI-only ones, typed payload objects, and ``account`` where it applies."""
    fields: dict[str, Any] = {}
    model = op.args_model()
    if model is not None:
        for field_name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("cli_hidden"):
                continue
            shape = extra.get("agent_shape")
            if shape == "transaction":
                fields[field_name] = (TransactionInput,
                                      Field(description="The transaction to send."))
            elif shape == "typed-data":
                fields[field_name] = (dict[str, Any] | str, Field(
                    description="EIP-712 typed data (v4) with types, primaryType, domain and "
                                "message."))
            else:
                clean = copy.copy(info)
                clean.json_schema_extra = {k: v for k, v in extra.items()
                                           if k not in CLI_KEYS} or None
                fields[field_name] = (info.annotation, clean)
    if op.account:
        fields[ACCOUNT] = (str | None, Field(
            None, description="Act for this account of the wallet (default: the active one)."))
    return create_model(  # type: ignore[no-any-return, call-overload]
        f"{_camel(name or op.name)}Input", __config__=ConfigDict(extra="forbid"),
        __doc__=op.summary, **fields)


# --- the shared runner ------------------------------------------------------------------------
class _Core(ToolRunner):
    """The function-calling runner plus what the tools add: a human's BYOK approval bound to a
    digest, and the server-wallet waits that stop at AWAITING_MFA."""

    resume_wait: float = RESUME_WAIT_SECONDS

    def run_confirmed(self, call: Call, digest: str) -> dict[str, Any]:
        token = _CONFIRM.set(digest)
        try:
            return self.run(call)
        finally:
            _CONFIRM.reset(token)

    def _context(self, call: Call) -> Context:
        ctx = super()._context(call)
        digest = _CONFIRM.get()
        if digest is None or self.wallet.mode != "byok":
            return ctx
        return Context(home=ctx.home, config=ctx.config, wallet=ctx.wallet.bound(confirm=digest))

    def until_paused(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Follow a server-wallet request until it is final or waits for a human."""
        if request.get("status") in _FINAL or request.get("status") == "AWAITING_MFA":
            return request

        class Paused(Exception):
            def __init__(self, req: Any) -> None:
                self.req = req

        def stop(req: Any) -> None:
            raise Paused(req)

        wallet = self.wallet
        try:
            return wallet.client.wait(  # type: ignore[no-any-return]
                request["pollingId"], wallet._wait_seconds(timeout), on_awaiting=stop,
                current=request).to_dict()
        except Paused as paused:
            return paused.req.to_dict()  # type: ignore[no-any-return]

    def until_decided(self, polling_id: str, grace: float, timeout: float | None
                      ) -> dict[str, Any]:
        """After a resume: follow the request for at most ``grace`` seconds while it still
        waits for the human; the still-pending request if they have not decided by then (the
        caller returns it with the watch tool), else wait for the final state as usual."""
        from mm_agent.errors import JobTimeout

        wallet = self.wallet
        limit = wallet._wait_seconds(timeout)
        try:
            return wallet.client.wait(  # type: ignore[no-any-return]
                polling_id, min(float(grace), float(limit))).to_dict()
        except JobTimeout as err:
            request = dict((err.details or {}).get("request") or {})
        if request.get("status") == "AWAITING_MFA" or grace >= limit:
            return request
        return self.until_final(polling_id, timeout)  # decided: signing or confirming

    def until_final(self, polling_id: str, timeout: float | None) -> dict[str, Any]:
        # The client directly: the wallet's own wait would print the AWAITING_MFA notice.
        wallet = self.wallet
        return wallet.client.wait(  # type: ignore[no-any-return]
            polling_id, wallet._wait_seconds(timeout)).to_dict()

    def cancel(self, polling_id: str) -> dict[str, Any]:
        return self.wallet.requests.cancel(polling_id).to_dict()  # type: ignore[no-any-return]


# A blocking step of a tool call: run inline (sync) or in a worker thread (async).
_Step = Callable[[], Any]


class MetaMaskTool(BaseTool):
    """One wallet operation as a LangChain tool (built by ``MetaMaskToolkit``)."""

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], str] | None = True
    _op: Operation = PrivateAttr()
    _core: _Core = PrivateAttr()
    _interrupts: bool = PrivateAttr(default=True)

    @classmethod
    def build(cls, op: Operation, core: _Core, *, prefix: str = "",
              interrupts: bool = True) -> MetaMaskTool:
        name = tool_name(op, prefix)
        description = op.description
        if op.name in _REQUEST_OPS:
            description += (" If a human must approve it, inside an agent graph the run pauses "
                            "for the human and then returns the final result; otherwise the "
                            "result says so. Never submit the same request twice.")
        tool = cls(name=name, description=description, args_schema=args_model(op, name),
                   metadata={"mm_operation": op.name, "writes": op.writes,
                             "destructive": op.destructive, "may_pause": bool(op.may_pause),
                             "modes": list(op.modes)})
        tool._op = op
        tool._core = core
        tool._interrupts = interrupts
        return tool

    @property
    def operation(self) -> Operation:
        return self._op

    @property
    def tool_call_schema(self) -> dict[str, Any]:  # type: ignore[override]
        """What the model sees: the registry's rendering (``agent_schema.input_schema``), the
        same as function calling and MCP, not pydantic's rendering of ``args_schema``."""
        return {**input_schema(self._op), "description": self.description}

    # The registry validates the arguments with the contract's error codes; pydantic's pass
    # over ``args_schema`` would pre-empt them with its own messages, so the raw arguments go
    # through unchanged.
    def _parse_input(self, tool_input: str | dict[str, Any],
                     tool_call_id: str | None) -> str | dict[str, Any]:
        if isinstance(tool_input, str):
            from mm_agent.operations.agent_calls import parse_arguments

            try:
                return parse_arguments(tool_input)
            except MMError as err:
                raise ToolException(_error_text(self._core.tools.failure(err))) from None
        return dict(tool_input)

    def run(self, tool_input: str | dict[str, Any], *args: Any,
            tool_call_id: str | None = None, **kwargs: Any) -> Any:
        token = _TOOL_CALL_ID.set(tool_call_id)
        try:
            return super().run(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _TOOL_CALL_ID.reset(token)

    async def arun(self, tool_input: str | dict[str, Any], *args: Any,
                   tool_call_id: str | None = None, **kwargs: Any) -> Any:
        token = _TOOL_CALL_ID.set(tool_call_id)
        try:
            return await super().arun(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _TOOL_CALL_ID.reset(token)

    def _run(self, config: RunnableConfig, **arguments: Any) -> tuple[str, Any]:
        flow = self._flow(arguments, config)
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = step()
            except MMError as exc:
                error = exc

    async def _arun(self, config: RunnableConfig, **arguments: Any) -> tuple[str, Any]:
        # Validation and interrupts run on the loop; the engine's blocking calls (RPC, the
        # service's long poll, signing) run in worker threads so the loop stays free.
        flow = self._flow(arguments, config)
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = await asyncio.to_thread(step)
            except MMError as exc:
                error = exc

    # --- one call ---------------------------------------------------------------------------
    def _flow(self, arguments: dict[str, Any], config: RunnableConfig
              ) -> Generator[_Step, Any, tuple[str, Any]]:
        core, op = self._core, self._op
        configurable = dict((config or {}).get("configurable") or {})
        call_id = _scoped_call_id(_TOOL_CALL_ID.get(), configurable)
        prepared = core.prepare(self.name, arguments, call_id)
        if isinstance(prepared, dict):
            raise ToolException(_error_text(prepared))
        call = prepared
        pausing = (self._interrupts and op.name in _REQUEST_OPS and _resumable(configurable)
                   and not getattr(call.args, "dry_run", False))
        server = core.wallet.mode == "server-wallet"
        timeout = getattr(call.args, "wallet_timeout", None)
        if pausing and server and getattr(call.args, "wait", False):
            # This tool does the waiting itself, stopping at AWAITING_MFA to interrupt.
            call = dataclasses.replace(call, args=call.args.model_copy(update={"wait": False}))
        envelope: dict[str, Any] = yield lambda: core.run(call)
        if pausing and not server:
            error = envelope.get("error") or {}
            details = error.get("details") or {}
            if error.get("code") == "APPROVAL_REQUIRED" and details.get("digest"):
                _progress(self.name, configurable, {"status": "APPROVAL_REQUIRED",
                                      "digest": details["digest"]})
                payload = _byok_payload(self.name, _TOOL_CALL_ID.get(), error)
                decision, digest = _decision(_interrupt(payload))
                if decision != "approve":
                    raise ToolException(
                        "[TX_DENIED] The human rejected this request; nothing was signed. — "
                        "Tell the user; do not submit it again unless they ask.")
                if not digest:
                    raise ToolException(
                        "[APPROVAL_REQUIRED] The approval did not name the digest of the "
                        "previewed request, so nothing was signed. — The application must "
                        "resume with approve(payload).")
                envelope = yield lambda: core.run_confirmed(call, digest)
        elif pausing and envelope.get("ok") and isinstance(envelope.get("data"), dict):
            request = envelope["data"]
            if request.get("pollingId") and request.get("status") not in _FINAL:
                _progress(self.name, configurable, {"status": request.get("status"),
                                      "pollingId": request["pollingId"]})
                envelope = yield from self._follow(call, request, timeout, configurable)
        if not envelope.get("ok"):
            raise ToolException(_error_text(envelope))
        data = envelope.get("data")
        if isinstance(data, dict) and data.get("pollingId"):
            _progress(self.name, configurable, {"status": data.get("status"),
                                                "pollingId": data["pollingId"]})
        return _content(envelope), envelope

    def _follow(self, call: Call, request: dict[str, Any], timeout: float | None,
                configurable: dict[str, Any]) -> Generator[_Step, Any, dict[str, Any]]:
        """Server wallet, in a graph: wait; at AWAITING_MFA interrupt; after the resume, wait
        for the final state (the human decides on the service's page, not here)."""
        core = self._core
        polling_id = str(request["pollingId"])
        try:
            request = yield lambda: core.until_paused(request, timeout)
            if request.get("status") == "AWAITING_MFA":
                _progress(self.name, configurable, {"status": "AWAITING_MFA",
                                                    "pollingId": polling_id})
                decision, _digest = _decision(_interrupt(
                    _server_payload(self.name, _TOOL_CALL_ID.get(), request)))
                if decision == "reject":
                    request = yield lambda: core.cancel(polling_id)
                else:
                    # Resumed before the human decided: a short bounded wait, then the
                    # still-pending request with the watch tool (never a silent block for
                    # the whole wallet timeout).
                    request = yield lambda: core.until_decided(polling_id, core.resume_wait,
                                                               timeout)
        except MMError as err:  # JOB_TIMEOUT (with the request and the watch tool), network
            return core.tools.failure(err)
        if request.get("status") in ("FAILED", "DENIED", "EXPIRED"):
            err = MMError.from_payload(request.get("error") or {
                "code": "TX_FAILED", "message": f"The request ended {request.get('status')}."})
            err.details = {"request": request}
            return core.tools.failure(err)
        return core.tools.success(request)


# --- helpers ----------------------------------------------------------------------------------
def _scoped_call_id(tool_call_id: str | None, configurable: dict[str, Any]) -> str | None:
    """The idempotency key of a call: the tool call id, within its graph thread (models reuse
    short ids such as ``call_0`` across conversations)."""
    if not tool_call_id:
        return None
    thread = configurable.get("thread_id")
    return f"lc:{thread}:{tool_call_id}" if thread else tool_call_id


def _error_text(envelope: dict[str, Any]) -> str:
    error = envelope.get("error") or {}
    text = f"[{error.get('code', 'INTERNAL_ERROR')}] {error.get('message', '')}".rstrip()
    if error.get("hint"):
        text += f" — {error['hint']}"
    step = envelope.get("next") or {}
    if step.get("message"):
        text += f" Next: {step['message']}"
    return text


def _content(envelope: dict[str, Any]) -> str:
    """The text the model reads; the artifact keeps everything."""
    data = envelope.get("data")
    step = envelope.get("next") or {}
    if isinstance(data, dict) and data.get("pollingId") and data.get("status"):
        parts = [f"{data['status']}: {data.get('intent') or data.get('kind') or 'request'}"]
        for key in ("txHash", "signature"):
            if data.get(key):
                parts.append(f"{key} {data[key]}")
        parts.append(f"pollingId {data['pollingId']}")
        text = "; ".join(parts) + "."
        return f"{text} {step['message']}" if step.get("message") else text
    if isinstance(data, dict) and "scan" in data and "requiresApproval" in data:
        summary = _summary(data)
        sim = data.get("simulation") or {}
        ok = "reverts" if sim and not sim.get("success", True) else "succeeds"
        return (f"Preview only, nothing signed: {summary['intent']}. Simulation {ok}; scan "
                f"{summary['scan']['resultType']}; policy {summary['policy']['decision']}"
                + ("; a human would have to approve it." if data.get("requiresApproval")
                   else "."))
    return json.dumps(data, separators=(",", ":"), default=str)
