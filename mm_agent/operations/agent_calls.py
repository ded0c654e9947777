"""Tool calls from agents, before and after the handler runs (no I/O here).

Shared by the function-calling dispatcher, and meant for the LangChain toolkit and the MCP
server too: resolve a tool name, parse and validate its arguments into the operation's args
model, and turn a result or an error into the CLI's envelope, with a ``next`` step when a
request is still pending (the agent follows it with the watch tool instead of re-submitting).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mm_agent.errors import InvalidJson, MMError, UnknownTool, UnsupportedInMode, ValidationError

from .agent_schema import ACCOUNT, agent_ops, tool_name
from .registry import Operation

__all__ = ["Call", "ToolSet", "envelope_error", "envelope_ok"]

WATCH = "wallet_requests_watch"
_PENDING = frozenset({"PENDING", "AWAITING_MFA", "SUBMITTED"})
_MAX_ARGUMENTS = 256 * 1024  # a tool call is small; refuse megabytes of model output


@dataclass(frozen=True)
class Call:
    """One validated tool call, ready to run."""

    op: Operation
    args: Any  # the args model instance (None for operations without arguments)
    account: str | None
    call_id: str | None
    fingerprint: str  # what the call asks for: same id + other fingerprint → conflict


class ToolSet:
    """The tools one agent gets: agent-facing operations of one wallet mode, with a prefix."""

    def __init__(self, mode: str | None, *, prefix: str = "", read_only: bool = False,
                 include: Iterable[str] | None = None) -> None:
        self.mode = mode
        self.prefix = prefix
        self.ops = {tool_name(op, prefix): op
                    for op in agent_ops(mode, read_only=read_only, include=include)}
        self._all = {tool_name(op, prefix): op for op in agent_ops(None)}

    def resolve(self, name: str) -> Operation:
        op = self.ops.get(name)
        if op is not None:
            return op
        other = self._all.get(name)
        if other is not None and self.mode is not None and self.mode not in other.modes:
            raise UnsupportedInMode(f"`{name}` works only with a {' or '.join(other.modes)} "
                                    f"wallet; this one is {self.mode}.")
        raise UnknownTool(f"There is no tool named {name!r}.")

    def prepare(self, name: str, arguments: str | dict[str, Any] | None, *,
                call_id: str | None = None) -> Call:
        """Name + JSON arguments → a validated ``Call``; every failure is an ``MMError``."""
        op = self.resolve(name)
        raw = parse_arguments(arguments)
        account = raw.pop(ACCOUNT, None) if op.account else None
        if account is not None and not isinstance(account, str):
            raise ValidationError("account must be a 0x address string.")
        model = op.args_model()
        if model is not None:
            for field_name, field in model.model_fields.items():
                extra = field.json_schema_extra
                shape = extra.get("agent_shape") if isinstance(extra, dict) else None
                value = raw.get(field_name)
                if shape and isinstance(value, dict):
                    # Typed objects from agents become the JSON text the args model takes;
                    # null optional members mean "not given".
                    if shape == "transaction":
                        value = {k: v for k, v in value.items() if v is not None}
                    raw[field_name] = json.dumps(value, separators=(",", ":"))
        args = None
        if model is not None:
            from .validation import validate_args

            args = validate_args(model, raw, op.name, agent=True)
        elif raw:
            from mm_agent.errors import UnknownFlag

            raise UnknownFlag(f"`{name}` takes no arguments: {sorted(raw)}.")
        fingerprint = hashlib.sha256(json.dumps(
            [op.name, account, raw], sort_keys=True, default=str).encode()).hexdigest()
        return Call(op=op, args=args, account=account, call_id=call_id,
                    fingerprint=fingerprint)

    def watch_name(self) -> str | None:
        name = self.prefix + WATCH
        return name if name in self.ops else None

    def success(self, data: Any) -> dict[str, Any]:
        env: dict[str, Any] = {"ok": True, "data": data}
        step = self.next_step(data)
        if step:
            env["next"] = step
        return env

    def failure(self, err: MMError) -> dict[str, Any]:
        env = envelope_error(err)
        request = err.details.get("request") if isinstance(err.details, dict) else None
        step = self.next_step(request) if isinstance(request, dict) else None
        if step is None and err.code == "APPROVAL_REQUIRED":
            step = {"message": "Nothing was signed. The security checks flagged this request "
                               "(see error.details.preview); only a human can confirm it, on a "
                               "terminal with `mm`. Tell the user why, or change the request."}
        if step:
            env["next"] = step
        return env

    def next_step(self, data: Any) -> dict[str, Any] | None:
        """How to continue when ``data`` is a request that is not final yet."""
        if not isinstance(data, dict) or not data.get("pollingId"):
            return None
        status = data.get("status")
        if status not in _PENDING and status != "pending_approval":
            return None
        polling_id = data["pollingId"]
        if status in ("AWAITING_MFA", "pending_approval"):
            channel = (data.get("approval") or {}).get("channel")
            where = f" ({channel})" if channel else ""
            message = (f"A human must approve this request{where}; nothing more is needed "
                       "from you to submit it. Do not submit it again.")
        else:
            message = "The request is still running. Do not submit it again."
        step: dict[str, Any] = {"pollingId": polling_id, "message": message}
        watch = self.watch_name()
        if watch:
            step["tool"] = watch
            step["arguments"] = {"polling_id": polling_id}
            step["message"] += f" Call {watch} to get its final status."
        return step


def parse_arguments(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return dict(arguments)
    if not isinstance(arguments, str):
        raise InvalidJson("Tool arguments must be a JSON object.")
    if len(arguments) > _MAX_ARGUMENTS:
        raise InvalidJson("Tool arguments are too large.")
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"Tool arguments are not valid JSON: {exc.msg} at {exc.pos}.",
                          hint="Send the arguments as one JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidJson("Tool arguments must be a JSON object.")
    return value


def envelope_ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def envelope_error(err: MMError) -> dict[str, Any]:
    return {"ok": False, "error": err.to_payload()}
