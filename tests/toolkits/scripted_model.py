"""A chat model that stands in for an LLM: it emits predetermined turns (tool calls or text).

No model API is reachable from the tests, so real LangGraph / ``create_agent`` graphs run with
this model. The turn it answers with is picked by how many AI turns the conversation already
has, not by a counter: LangGraph replays (resume, forks from an old checkpoint) then get the
same answer a real model would be asked for again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

Turn = AIMessage | str | Callable[[list[BaseMessage]], AIMessage]


def call(name: str, args: dict[str, Any], call_id: str) -> ToolCall:
    return ToolCall(name=name, args=args, id=call_id, type="tool_call")


class ScriptedChatModel(BaseChatModel):
    """``turns[i]`` answers the conversation holding ``i`` AI messages; past the end, "Done."."""

    turns: list[Any] = Field(default_factory=list)
    bound_tools: list[dict[str, Any]] = Field(default_factory=list)
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
                   *, tool_choice: str | None = None, **kwargs: Any
                   ) -> Runnable[LanguageModelInput, AIMessage]:
        # What a provider integration does: render every tool's schema (this fails if a
        # tool cannot be rendered), then answer as scripted.
        self.bound_tools[:] = [convert_to_openai_tool(t) for t in tools]
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        index = sum(isinstance(m, AIMessage) for m in messages)
        turn: Any = self.turns[index] if index < len(self.turns) else "Done."
        if callable(turn):
            turn = turn(messages)
        message = turn if isinstance(turn, AIMessage) else AIMessage(content=str(turn))
        return ChatResult(generations=[ChatGeneration(message=message)])


def tool_turn(*calls: ToolCall) -> AIMessage:
    return AIMessage(content="", tool_calls=list(calls))
