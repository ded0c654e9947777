"""Human in the loop for the LangChain tools (``mm_agent.toolkits.langchain``): the resume
values the application's human-facing UI gives back, the ``interrupt()`` payloads it shows,
the calls into LangGraph, and ``interrupt_on`` for ``HumanInTheLoopMiddleware``.

LangGraph is imported only inside ``_interrupt`` and ``_progress`` (1.4 s): by a tool that has
to pause or report, inside a graph that already loaded it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "APPROVAL_REQUIRED",
    "approve",
    "interrupt_on",
    "reject",
]

# ``type`` of the payload this toolkit gives ``interrupt()``.
APPROVAL_REQUIRED = "approval_required"
# LangGraph's config keys (``langgraph._internal._constants``), read without importing
# langgraph: present only while a node runs in a graph that can be resumed.
_SCRATCHPAD = "__pregel_scratchpad"
_CHECKPOINTER = "__pregel_checkpointer"


# --- resume values ----------------------------------------------------------------------------
def approve(payload: dict[str, Any]) -> dict[str, Any]:
    """The resume value approving the request of an ``approval_required`` interrupt payload
    (BYOK: bound to its digest). Build it in the human-facing UI, never from model output."""
    return {"decision": "approve", "digest": payload.get("digest")}


def reject(reason: str | None = None) -> dict[str, Any]:
    """The resume value refusing the request (server wallet: the request is cancelled)."""
    return {"decision": "reject", "reason": reason}


def _decision(value: Any) -> tuple[str, str | None]:
    """(``approve`` | ``reject`` | ``continue``, digest) from a resume value."""
    if value is False or (isinstance(value, str) and value.lower() in ("reject", "deny")):
        return "reject", None
    if isinstance(value, dict):
        kind = str(value.get("decision") or value.get("type") or "continue").lower()
        digest = value.get("digest")
        if kind in ("reject", "deny", "denied"):
            return "reject", None
        if kind in ("approve", "approved", "accept"):
            return "approve", digest if isinstance(digest, str) else None
        return "continue", None
    if value is True or (isinstance(value, str) and value.lower() in ("approve", "approved")):
        return "approve", None
    return "continue", None


def interrupt_on(tools: Iterable[BaseTool], *,
                 allowed_decisions: Sequence[str] = ("approve", "reject"),
                 ) -> dict[str, Any]:
    """``HumanInTheLoopMiddleware(interrupt_on=interrupt_on(tools))``: a human confirms every
    tool that writes (transfers, signatures, account and policy changes) before it runs;
    reads run freely."""
    out: dict[str, Any] = {}
    for tool in tools:
        meta = tool.metadata or {}
        if "mm_operation" not in meta:
            continue
        out[tool.name] = ({"allowed_decisions": list(allowed_decisions),
                           "description": f"Confirm {meta['mm_operation']}: {tool.description}"}
                          if meta.get("writes") else False)
    return out


# --- LangGraph --------------------------------------------------------------------------------
def _resumable(configurable: dict[str, Any]) -> bool:
    """Running as a node of a graph that can pause and resume (has a checkpointer)."""
    return _SCRATCHPAD in configurable and configurable.get(_CHECKPOINTER) is not None


def _interrupt(payload: dict[str, Any]) -> Any:
    from langgraph.types import interrupt

    return interrupt(payload)


def _progress(tool: str, configurable: dict[str, Any], event: dict[str, Any]) -> None:
    """A ``custom`` stream event (``stream_mode="custom"``) inside a graph; nothing outside
    (where importing langgraph would cost more than the call)."""
    if _SCRATCHPAD not in configurable:
        return
    try:
        from langgraph.config import get_stream_writer

        writer = get_stream_writer()
    except (ImportError, RuntimeError, KeyError):
        return
    writer({"mm": {"tool": tool, **event}})


# --- interrupt payloads -----------------------------------------------------------------------
def _summary(preview: dict[str, Any]) -> dict[str, Any]:
    """What the human needs to decide, from a section-5 preview (no calldata dump)."""
    scan = preview.get("scan") or {}
    policy = preview.get("policy") or {}
    decoded = preview.get("decoded") or {}
    simulation = preview.get("simulation") or {}
    return {
        "intent": preview.get("intent"),
        "function": decoded.get("functionName"),
        "effectiveRecipient": decoded.get("effectiveRecipient"),
        "scan": {"resultType": scan.get("resultType"),
                 "description": scan.get("description") or scan.get("reason")},
        "policy": {"decision": policy.get("decision"),
                   "violations": [v.get("message") for v in policy.get("violations") or []]},
        "balanceChanges": simulation.get("balanceChanges"),
        "exposures": simulation.get("exposures"),
        "fees": preview.get("fees"),
    }


def _byok_payload(tool: str, tool_call_id: str | None, error: dict[str, Any]
                  ) -> dict[str, Any]:
    details = error.get("details") or {}
    preview = details.get("preview") or {}
    summary = _summary(preview)
    reasons = [summary["scan"]["description"]] if summary["scan"]["description"] else []
    reasons += [m for m in summary["policy"]["violations"] if m]
    return {
        "type": APPROVAL_REQUIRED, "wallet": "byok", "tool": tool,
        "toolCallId": tool_call_id, "pollingId": None,
        "intent": preview.get("intent"),
        # The agent's own words, never the headline; shown labelled as the agent's.
        "agentNote": details.get("agentNote"), "agentNoteLabel": details.get("agentNoteLabel"),
        "reason": "; ".join(reasons) or error.get("message"),
        "channel": "application", "expiresAt": None,
        "digest": details["digest"], "preview": summary,
        "resume": {"approve": {"decision": "approve", "digest": details["digest"]},
                   "reject": {"decision": "reject"}},
        "message": "Nothing was signed. Show this to the user; resume with approve(payload) "
                   "to sign exactly this request, or reject().",
    }


def _server_payload(tool: str, tool_call_id: str | None, request: dict[str, Any]
                    ) -> dict[str, Any]:
    approval = request.get("approval") or {}
    shown = approval.get("shown") or {}
    channel = approval.get("channel")
    return {
        "type": APPROVAL_REQUIRED, "wallet": "server-wallet", "tool": tool,
        "toolCallId": tool_call_id, "pollingId": request.get("pollingId"),
        "intent": request.get("intent"), "reason": approval.get("reason"),
        "channel": channel, "expiresAt": approval.get("expiresAt"),
        "digest": shown.get("digest"), "preview": _summary(request.get("preview") or {}),
        "resume": {"continue": {"decision": "continue"}, "reject": {"decision": "reject"}},
        "message": f"The wallet service asked the human to approve this ({channel}). Resume "
                   "once they have decided (the decision is made there, not by the resume "
                   "value); reject() cancels the request.",
    }
