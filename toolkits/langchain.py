"""LangChain tools and LangGraph human-in-the-loop for mm-agent wallets (``langgraph`` extra).

```python
from mm_agent import Wallet
from mm_agent.toolkits.langchain import MetaMaskToolkit, approve, interrupt_on, reject

tools = MetaMaskToolkit(wallet=Wallet.from_env()).get_tools()   # include=[…], read_only=True
agent = create_agent(model, tools, checkpointer=InMemorySaver())
```

One tool per agent-facing operation of the wallet's mode (never login, init, reset, password
or an approval), generated from the operation registry: the schema the model sees is
``mm_agent.operations.agent_schema.input_schema(op)`` (the same as function calling and MCP), the
``args_schema`` is a pydantic model of the same fields, and the arguments are validated by the
shared ``mm_agent.operations.agent_calls.ToolSet`` (the contract's error codes). Each call runs
through the function-calling runner (``mm_agent.toolkits.function_calling``), so call ids, BYOK call
records and server-wallet ``Idempotency-Key``s behave exactly as there.

Results (``response_format="content_and_artifact"``): the content is what the model reads (a
request's status line and next step, a preview's verdict, a read's JSON); the artifact is the
whole envelope (``{"ok", "data", "next"}``, previews included). Errors raise
``ToolException("[CODE] message — hint")``, shown to the model (``handle_tool_error``).

Human in the loop, inside a LangGraph graph with a checkpointer (transfer, send transaction,
sign message, sign typed data):

- server wallet: a request that reaches ``AWAITING_MFA`` calls ``interrupt()`` with an
  ``approval_required`` payload; the human decides on the service's page (mail link or
  authenticator); resuming (any value; ``reject()`` cancels the request) waits for the final
  state once the human has decided; resumed before that, the tool waits at most
  ``resume_wait`` seconds (5) and returns the still-pending request with the watch tool. A
  request whose approval expired is a ``[TX_EXPIRED]`` tool error. The submission carries
  ``Idempotency-Key`` = thread id + tool call id, so the node LangGraph re-runs on resume
  finds the same job instead of submitting again.
- BYOK: a Warning/Malicious verdict (``APPROVAL_REQUIRED``, nothing signed) calls
  ``interrupt()`` with the preview and the request's ``digest``. Resume with ``approve(payload)``
  (which names that digest) to sign exactly that request, or ``reject()``. The wallet
  re-previews and signs only if the digest matches (``Wallet.bound(confirm=…)``).

The resume value must come from the application's human-facing UI, never from the model.
Outside a graph (or without a checkpointer) nothing pauses: a server-wallet tool returns the
pending request and the watch tool to follow it; a flagged BYOK request is an
``APPROVAL_REQUIRED`` tool error. ``interrupt_on(tools)`` gives ``HumanInTheLoopMiddleware`` a
map that confirms every write before it runs.

Importing this module imports ``langchain_core`` and pydantic, never ``langgraph`` (1.4 s
here): that is imported only by a tool that has to interrupt, inside a graph that already
loaded it.

Layout: ``langchain_tools`` (``MetaMaskTool``, its args model, the shared runner),
``langchain_hitl`` (resume values, interrupt payloads, ``interrupt_on``) and this module (the
toolkit); import from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from mm_agent.toolkits.langchain_hitl import APPROVAL_REQUIRED, approve, interrupt_on, reject
from mm_agent.toolkits.langchain_tools import RESUME_WAIT_SECONDS, MetaMaskTool, _Core

# Helpers outside __all__, kept importable from this module.
from mm_agent.toolkits.langchain_tools import TransactionInput as TransactionInput
from mm_agent.toolkits.langchain_tools import args_model as args_model
from pydantic import ConfigDict, Field, PrivateAttr

from mm_agent.operations.agent_schema import agent_ops, tool_name

__all__ = [
    "APPROVAL_REQUIRED",
    "RESUME_WAIT_SECONDS",
    "MetaMaskTool",
    "MetaMaskToolkit",
    "approve",
    "interrupt_on",
    "reject",
]


class MetaMaskToolkit(BaseToolkit):
    """The wallet's operations as LangChain tools.

    ``MetaMaskToolkit(wallet=Wallet.from_env()).get_tools()``: one tool per agent-facing
    operation of the wallet's mode. ``include`` selects operations by name, ``read_only``
    keeps only tools that change nothing, ``prefix`` prefixes the tool names, and
    ``human_in_the_loop=False`` never calls ``interrupt()`` (pending requests are returned).
    ``resume_wait``: after a server-wallet resume, how long (seconds) to wait for the human's
    decision before returning the still-pending request with the watch tool.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    wallet: Any
    prefix: str = ""
    include: list[str] | None = None
    read_only: bool = False
    human_in_the_loop: bool = True
    resume_wait: float = Field(RESUME_WAIT_SECONDS, ge=0)
    _tools: list[BaseTool] | None = PrivateAttr(default=None)

    def get_tools(self) -> list[BaseTool]:
        if self._tools is None:
            core = _Core(self.wallet, self.prefix, self.include, self.read_only)
            core.resume_wait = float(self.resume_wait)
            self._tools = [MetaMaskTool.build(op, core, prefix=self.prefix,
                                              interrupts=self.human_in_the_loop)
                           for op in core.tools.ops.values()]
        return list(self._tools)


def tool_names(mode: str | None = None, *, prefix: str = "", read_only: bool = False,
               include: Iterable[str] | None = None) -> list[str]:
    """The names ``get_tools()`` gives for a wallet of ``mode``, without building tools."""
    return [tool_name(op, prefix) for op in agent_ops(mode, read_only=read_only,
                                                      include=include)]
