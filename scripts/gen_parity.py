"""Generate docs/parity.md: every operation of the registry and its name on each surface.

    .venv/bin/python scripts/gen_parity.py          # rewrite docs/parity.md
    .venv/bin/python scripts/gen_parity.py --check  # exit 1 if the committed table is stale

Names come from the surfaces themselves, not from a copy of the naming rule: the function
name from ``openai_tools``, the MCP tool from ``mcp_tools``, the LangChain tool from the
toolkit's ``tool_names`` (tests/test_parity.py checks them against the live tools too).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "parity.md"

HEADER = """# Surface parity

Generated from the operation registry (`mm_agent/operations/registry.py`) by
`scripts/gen_parity.py`; `tests/test_parity.py` fails when this file is stale, when an agent-facing
operation is missing from a surface, or when a human/operator operation shows up on one. Do not edit
by hand.

Agent tools take an optional prefix (`prefix="mm_"`, `mm mcp --prefix mm_`); names below are
unprefixed. Modes: which wallet modes serve the tool. MCP hints: **r**eadOnly,
**d**estructive, **i**dempotent, **o**penWorld (set from the registry).

""" + ("| Operation | Audience | Modes | `mm` command | Function name | LangChain tool | "
       "MCP tool | MCP hints |\n|---|---|---|---|---|---|---|---|\n")


def surfaces() -> dict[str, dict[str, str]]:
    """Per surface, operation name → tool name (only what the surface really exposes)."""
    from mm_agent.toolkits.function_calling import openai_tools
    from mm_agent.toolkits.mcp_server import mcp_tools

    functions = [t["function"]["name"] for t in openai_tools(api="chat")]
    mcp = [t.name for t in mcp_tools()]
    try:
        from mm_agent.toolkits.langchain import tool_names
        langchain = list(tool_names())
    except ImportError:  # the langgraph extra is missing: the table cannot name its tools
        langchain = []
    # Unprefixed, a tool is named after its operation: a name on a surface that is no
    # operation's shows up in no row, and the parity test reports it.
    return {"function": {n: n for n in functions}, "mcp": {n: n for n in mcp},
            "langchain": {n: n for n in langchain}}


def render() -> str:
    from mm_agent.operations.agent_schema import annotations
    from mm_agent.operations.registry import OPERATIONS

    names = surfaces()
    rows = []
    for op in OPERATIONS:
        def cell(surface: str, name: str = op.name) -> str:
            value = names[surface].get(name)
            return f"`{value}`" if value else "—"

        if op.agent_facing:
            hints = annotations(op)
            flags = "".join(letter if hints[key] else "·" for letter, key in (
                ("r", "readOnlyHint"), ("d", "destructiveHint"), ("i", "idempotentHint"),
                ("o", "openWorldHint")))
            modes = ", ".join(op.modes)
        else:
            flags, modes = "—", "—"
        rows.append(f"| `{op.name}` | {op.audience} | {modes} | `mm {op.cli_name}` | "
                    f"{cell('function')} | {cell('langchain')} | {cell('mcp')} | {flags} |")
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            sys.stderr.write(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen_parity.py\n")
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    sys.stderr.write(f"wrote {OUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
