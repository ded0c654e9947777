"""Every agent-facing operation is on every surface under its one name, no human/operator
operation is on any agent surface, and docs/parity.md is the table the registry generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mm_agent.operations.agent_schema import agent_ops
from mm_agent.operations.registry import OPERATIONS

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_parity", ROOT / "scripts" /
                                                  "gen_parity.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AGENT = {op.name for op in OPERATIONS if op.agent_facing}
HUMAN = {op.name for op in OPERATIONS if not op.agent_facing}


def _function_names(**kwargs: Any) -> set[str]:
    from mm_agent.toolkits.function_calling import anthropic_tools, openai_tools

    chat = {t["function"]["name"] for t in openai_tools(api="chat", **kwargs)}
    responses = {t["name"] for t in openai_tools(api="responses", **kwargs)}
    anthropic = {t["name"] for t in anthropic_tools(**kwargs)}
    assert chat == responses == anthropic
    return chat


def _mcp_names(**kwargs: Any) -> set[str]:
    from mm_agent.toolkits.mcp_server import mcp_tools

    return {t.name for t in mcp_tools(**kwargs)}


def _langchain_names(**kwargs: Any) -> set[str] | None:
    """The LangChain toolkit's names, once the toolkit exists and its extra is installed."""
    try:
        from mm_agent.toolkits import langchain
    except ImportError:
        return None
    return set(langchain.tool_names(**kwargs))


def test_parity_table_is_up_to_date() -> None:
    text = (ROOT / "docs" / "parity.md").read_text()
    assert text == _generator().render(), "docs/parity.md is stale: run scripts/gen_parity.py"


def test_every_operation_has_a_cli_command() -> None:
    import click
    from mm_agent.cli.app import build_root

    root = build_root()
    for op in OPERATIONS:
        ctx = click.Context(root)
        cmd: Any = root
        for word in op.path:
            assert isinstance(cmd, click.Group), (op.name, word)
            cmd = cmd.get_command(ctx, word)
            assert cmd is not None, f"`mm {op.cli_name}` is not a command"
        assert getattr(cmd, "op", None) is op or getattr(cmd, "callback", None), op.name


@pytest.mark.parametrize("mode", [None, "byok", "server-wallet"])
def test_agent_surfaces_serve_exactly_the_agent_operations(mode: str | None) -> None:
    expected = {op.name for op in agent_ops(mode)}
    surfaces = {"function calling": _function_names(mode=mode),
                "MCP": _mcp_names(mode=mode)}
    lc = _langchain_names(mode=mode)
    if lc is not None:
        surfaces["LangChain"] = lc
    for surface, names in surfaces.items():
        assert not names & HUMAN, f"human/operator operations on {surface}: {names & HUMAN}"
        assert names == expected, (surface, expected ^ names)
    if mode is None:
        assert expected == AGENT


def test_surfaces_agree_on_prefix_and_read_only() -> None:
    prefixed = {f"mm_{n}" for n in AGENT}
    assert _function_names(prefix="mm_") == prefixed == _mcp_names(prefix="mm_")
    reads = {op.name for op in OPERATIONS if op.agent_facing and not op.writes}
    assert _function_names(read_only=True) == reads == _mcp_names(read_only=True)


def test_langchain_toolkit_tools_match(wallet: Any) -> None:
    try:
        from mm_agent.toolkits.langchain import MetaMaskToolkit
    except ImportError:
        pytest.skip("the LangChain toolkit (langgraph extra) is not importable here")
    names = {t.name for t in MetaMaskToolkit(wallet=wallet).get_tools()}
    assert names == {op.name for op in agent_ops("byok")}


def test_mcp_server_tools_match(wallet: Any) -> None:
    from mm_agent.toolkits.mcp_server import WalletTools

    tools = WalletTools(wallet)
    assert set(tools.names) == {t.name for t in tools.tools()} == \
        {op.name for op in agent_ops("byok")}


def test_every_agent_operation_declares_a_result() -> None:
    # MCP needs an outputSchema for structured content; function calling documents it.
    assert [op.name for op in OPERATIONS if op.agent_facing and op.result is None] == []
