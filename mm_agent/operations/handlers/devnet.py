"""`mm devnet start|stop|status`."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent import devnet

from ..context import Context


class DevnetStartArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(8545, ge=1, le=65535, description="TCP port for anvil on 127.0.0.1.")
    detach: bool = Field(False, description="Leave anvil running in the background.")


def devnet_start(ctx: Context, args: DevnetStartArgs) -> dict[str, Any]:
    if args.detach:
        return devnet.start(args.port, detach=True, home=ctx.home)

    def ready(status: dict[str, Any]) -> None:
        # Foreground: show the status now, then block until Ctrl-C.
        if ctx.text_mode:
            from mm_agent.cli.output import render_text

            print(render_text(status), flush=True)
            print("Devnet running; press Ctrl-C to stop.", file=sys.stderr, flush=True)
        else:
            print(json.dumps({"ok": True, "data": status}), flush=True)

    code = devnet.run_foreground(args.port, home=ctx.home, on_ready=ready)
    raise SystemExit(code if code and code > 0 else 0)


def devnet_stop(ctx: Context, _args: None) -> dict[str, Any]:
    return devnet.stop(ctx.home)


def devnet_status(ctx: Context, _args: None) -> dict[str, Any]:
    return devnet.status(ctx.home)
