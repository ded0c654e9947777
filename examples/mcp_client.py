"""An MCP client session with `mm mcp` (the official SDK's stdio client).

    MM_HOME=… python examples/mcp_client.py [recipient]

Spawns `mm mcp` for the wallet of MM_HOME (BYOK: MM_PASSWORD unlocks the vault; server wallet:
the signed-in session), lists the tools with their annotations, reads the devnet balance, and
sends 0.01 ETH. A server wallet in guard mode answers with the pending request (AWAITING_MFA,
its approval channel, and `next`); this client also supports elicitation, so the server asks it
to have the human approve and waits: here the "user" declines, and the pending request is
printed. Prints one JSON object per step.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

DEVNET = 31337


def _mm() -> str:
    here = Path(sys.executable).with_name("mm")  # the `mm` of this virtualenv
    return str(here) if here.exists() else (shutil.which("mm") or "mm")


async def _decline(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    print(json.dumps({"step": "elicitation", "message": params.message}))
    return types.ElicitResult(action="decline")


def _show(step: str, result: types.CallToolResult) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    print(json.dumps({"step": step, "isError": result.is_error, "envelope": envelope}))
    return envelope


async def session(recipient: str) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("MM_")}  # MM_HOME, MM_PASSWORD…
    params = StdioServerParameters(command=_mm(), args=["mcp"], env=env)
    async with stdio_client(params) as (read, write), \
            ClientSession(read, write, elicitation_callback=_decline) as client:
        info = await client.initialize()
        tools = (await client.list_tools()).tools
        print(json.dumps({"step": "tools", "server": info.server_info.name, "tools": [
            {"name": t.name, "readOnly": t.annotations.read_only_hint if t.annotations else None,
             "destructive": t.annotations.destructive_hint if t.annotations else None}
            for t in tools]}))
        _show("balance", await client.call_tool("wallet_balance", {"chain_ids": [DEVNET]}))

        async def progress(value: float, total: float | None, message: str | None) -> None:
            print(json.dumps({"step": "progress", "seconds": value, "message": message}))

        _show("transfer", await client.call_tool(
            "transfer", {"to": recipient, "amount": "0.01", "token": "ETH", "chain_id": DEVNET},
            progress_callback=progress))


def main(argv: list[str]) -> int:
    anyio.run(session, argv[0] if argv else "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
