"""`mm devnet start|stop|status`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent import devnet
from mm_agent.errors import DevnetError

from ..context import Context


class DevnetStartArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(8545, ge=1, le=65535, description="TCP port for anvil on 127.0.0.1.")
    detach: bool = Field(False, description="Leave anvil running in the background.")


def devnet_start(ctx: Context, args: DevnetStartArgs) -> dict[str, Any]:
    """Detached: start and return the status. Foreground: show the status at once (the edge
    prints it in its format and then nothing more), wait until Ctrl-C, return the stop."""
    if args.detach:
        return devnet.start(args.port, detach=True, home=ctx.home)

    def ready(status: dict[str, Any]) -> None:
        ctx.show(status)
        ctx.notice("Devnet running; press Ctrl-C to stop.")

    code = devnet.run_foreground(args.port, home=ctx.home, on_ready=ready)
    if code and code > 0:
        raise DevnetError(f"anvil exited with code {code}.",
                          hint=f"See {ctx.home.path(devnet.LOG_FILE)}.",
                          details={"exitCode": code})
    return {"stopped": True, "port": args.port}


def devnet_stop(ctx: Context, _args: None) -> dict[str, Any]:
    return devnet.stop(ctx.home)


def devnet_status(ctx: Context, _args: None) -> dict[str, Any]:
    return devnet.status(ctx.home)
