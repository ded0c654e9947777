"""`mm server start` and `mm server admin create-login` (operator commands, never agent tools)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..context import Context

_STRICT = ConfigDict(extra="forbid")


class ServerStartArgs(BaseModel):
    model_config = _STRICT
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8765, ge=1, le=65535, description="TCP port to listen on.")
    data_dir: str | None = Field(
        None, description="Service data directory (database, master key, outbox); "
                          "default MM_HOME/server.")
    dev: bool = Field(False, description="Development mode: mail goes to <data-dir>/outbox.")


class CreateLoginArgs(BaseModel):
    model_config = _STRICT
    email: str = Field(description="Email address of the account.")
    channel: Literal["email", "authenticator"] = Field(
        "email", description="Approval channel: email links or authenticator codes.")
    data_dir: str | None = Field(
        None, description="The service's data directory; default MM_HOME/server.")
    webhook: str | None = Field(
        None, description="URL that receives a JSON notice for every approval request.")


def _data_dir(ctx: Context, given: str | None) -> Path:
    return Path(given).expanduser() if given else ctx.home.root / "server"


def server_start(ctx: Context, args: ServerStartArgs) -> dict[str, Any]:
    from ..server.app import run
    from ..server.settings import ServerSettings, SmtpSettings

    settings = ServerSettings(
        data_dir=_data_dir(ctx, args.data_dir), host=args.host, port=args.port, dev=args.dev,
        smtp=SmtpSettings.from_env(),
        # Where people reach the pages when it is not host:port (a proxy, a public name).
        public_url=os.environ.get("MM_SERVER_PUBLIC_URL") or None,
    )
    if ctx.text_mode:
        mail = "outbox" if settings.use_outbox else "SMTP"
        print(f"mm-agent wallet service on {settings.base_url} (data: {settings.data_dir}, "
              f"mail: {mail}); Ctrl-C stops it.", file=sys.stderr, flush=True)
    run(settings)  # blocks until interrupted
    return {"stopped": True, "url": settings.base_url}


def create_login(ctx: Context, args: CreateLoginArgs) -> dict[str, Any]:
    from ..server.admin import create_login as create

    data_dir = _data_dir(ctx, args.data_dir)
    out = create(data_dir, args.email, args.channel)
    if args.webhook:
        from ..server.approvals import set_webhook
        from ..server.store import Store

        store = Store.for_data_dir(data_dir)
        try:
            set_webhook(store, args.email, args.webhook)
        finally:
            store.dispose()
        out["webhook"] = args.webhook
    return out
