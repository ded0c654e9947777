"""`mm server start` and `mm server admin …` (operator commands, never agent tools)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.local import env as env_vars

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
    rpc: list[str] | None = Field(
        None, description="Operator RPC, CHAIN_ID=URL; repeat the flag for more chains, or "
                          "give CHAIN_ID=URL[,CHAIN_ID=URL…] (also MM_SERVER_RPC_<chainId>); the "
                          "devnet of this MM_HOME is served automatically.",
        json_schema_extra={"cli_metavar": "ID=URL"})
    database_url: str | None = Field(
        None, description="Database URL, e.g. postgresql+psycopg://user:pass@host/db (also "
                          "MM_DATABASE_URL); default SQLite in the data dir.",
        json_schema_extra={"cli_metavar": "URL"})


class CreateLoginArgs(BaseModel):
    model_config = _STRICT
    email: str = Field(description="Email address of the account.")
    channel: Literal["email", "authenticator"] = Field(
        "email", description="Approval channel: email links or authenticator codes.")
    data_dir: str | None = Field(
        None, description="The service's data directory; default MM_HOME/server.")
    webhook: str | None = Field(
        None, description="URL that receives a JSON notice for every approval request.")
    create: bool = Field(
        False, description="Create --data-dir if it is not yet a service data dir.")
    database_url: str | None = Field(
        None, description="Database URL, e.g. postgresql+psycopg://user:pass@host/db (also "
                          "MM_DATABASE_URL); default SQLite in the data dir.",
        json_schema_extra={"cli_metavar": "URL"})


class MigrateArgs(BaseModel):
    model_config = _STRICT
    data_dir: str | None = Field(
        None, description="The service's data directory (its SQLite database); default "
                          "MM_HOME/server.")
    database_url: str | None = Field(
        None, description="Database URL, e.g. postgresql+psycopg://user:pass@host/db (also "
                          "MM_DATABASE_URL); default SQLite in the data dir.",
        json_schema_extra={"cli_metavar": "URL"})


def _data_dir(ctx: Context, given: str | None) -> Path:
    return Path(given).expanduser() if given else ctx.home.root / "server"


def _database_url(given: str | None) -> str | None:
    """--database-url, else MM_DATABASE_URL, else None (SQLite in the data dir)."""
    from mm_agent.server.db.urls import normalize_url

    url = given or env_vars.get(env_vars.DATABASE_URL)
    return normalize_url(url) if url else None


def rpc_items_of(given: list[str] | None) -> list[str]:
    """``--rpc 8453=… --rpc 10=…`` and ``--rpc 8453=…,10=…`` alike → ``["8453=…", "10=…"]``
    (a comma inside a URL stays: only ``,<digits>=`` starts the next item)."""
    import re

    return [i.strip() for value in given or () for i in re.split(r",(?=\s*\d+\s*=)", value)
            if i.strip()]


def server_start(ctx: Context, args: ServerStartArgs) -> dict[str, Any]:
    from mm_agent.server.app import run
    from mm_agent.server.datadir import check_port, lock_data_dir
    from mm_agent.server.services.chains_served import parse_rpc_flags
    from mm_agent.server.settings import ServerSettings, SmtpSettings

    rpc_items = rpc_items_of(args.rpc)
    settings = ServerSettings(
        data_dir=_data_dir(ctx, args.data_dir), host=args.host, port=args.port, dev=args.dev,
        smtp=SmtpSettings.from_env(),
        # Where people reach the pages when it is not host:port (a proxy, a public name).
        public_url=env_vars.get(env_vars.SERVER_PUBLIC_URL),
        rpc=parse_rpc_flags(rpc_items),
        # Serve the devnet `mm devnet start` runs under this MM_HOME (re-read on every use).
        devnet_file=ctx.home.path("devnet.json"),
        database_url=_database_url(args.database_url),
    )
    # Refuse clearly, before uvicorn: a second service on one SQLite data dir, a busy port.
    lock_fd = None if settings.database_url else lock_data_dir(settings.data_dir)
    try:
        check_port(settings.host, settings.port)
        mail = "outbox" if settings.use_outbox else "SMTP"
        ctx.notice(f"mm-agent wallet service on {settings.base_url} (data: "
                   f"{settings.data_dir}, mail: {mail}); Ctrl-C stops it.")
        run(settings)  # blocks until interrupted
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    return {"stopped": True, "url": settings.base_url}


def create_login(ctx: Context, args: CreateLoginArgs) -> dict[str, Any]:
    from mm_agent.server.admin import create_login as create
    from mm_agent.server.datadir import is_initialised
    from mm_agent.server.services.signin import normalize_email

    data_dir = _data_dir(ctx, args.data_dir)
    normalize_email(args.email)  # INVALID_EMAIL first: it is the likelier mistake
    database_url = _database_url(args.database_url)
    if args.data_dir and not args.create and not is_initialised(data_dir, database_url):
        # A typo here would create a second master key and a login no service knows.
        from mm_agent.errors import NotInitialized

        raise NotInitialized(
            f"{data_dir} is not a wallet-service data dir (no mm.sqlite).",
            hint="Give the --data-dir of `mm server start`, or add --create to set up a new "
                 "one there.")
    from mm_agent.server.settings import ServerSettings

    settings = ServerSettings(data_dir=data_dir, database_url=database_url)
    out = create(data_dir, args.email, args.channel, settings=settings)
    if args.webhook:
        from mm_agent.server.db.store import Store
        from mm_agent.server.services.approvals import set_webhook

        store = Store.open(data_dir, database_url)
        try:
            set_webhook(store, args.email, args.webhook)
        finally:
            store.dispose()
        out["webhook"] = args.webhook
    return out


def migrate(ctx: Context, args: MigrateArgs) -> dict[str, Any]:
    """Apply pending schema migrations (what `mm server start` does first), e.g. once before
    rolling out replicas. Adopts a database made before Alembic."""
    from mm_agent.server.datadir import is_initialised
    from mm_agent.server.db.migrate import upgrade
    from mm_agent.server.db.store import Store
    from mm_agent.server.db.urls import redact_url

    data_dir = _data_dir(ctx, args.data_dir)
    database_url = _database_url(args.database_url)
    if database_url is None and not is_initialised(data_dir):
        from mm_agent.errors import NotInitialized

        raise NotInitialized(f"{data_dir} is not a wallet-service data dir (no mm.sqlite).",
                             hint="Give the --data-dir of `mm server start`, or "
                                  "--database-url.")
    store = Store.open(data_dir, database_url)
    try:
        report = upgrade(store)
    finally:
        store.dispose()
    where = redact_url(store.url) if database_url else str(data_dir / "mm.sqlite")
    return {"database": where, **report.to_dict()}


# --- operator tools: revoke, freeze, rotate, backup, restore (never agent tools) ---------------
_DATA_DIR_FIELD = Field(None, description="The service's data directory; default "
                                          "MM_HOME/server.")
_DATABASE_URL_FIELD = Field(
    None, description="Database URL, e.g. postgresql+psycopg://user:pass@host/db (also "
                      "MM_DATABASE_URL); default SQLite in the data dir.",
    json_schema_extra={"cli_metavar": "URL"})


class RevokeTokensArgs(BaseModel):
    model_config = _STRICT
    email: str = Field(description="Email address of the account.")
    data_dir: str | None = _DATA_DIR_FIELD
    database_url: str | None = _DATABASE_URL_FIELD


class FreezeArgs(BaseModel):
    model_config = _STRICT
    address: str = Field(description="Address of the server wallet.",
                         json_schema_extra={"cli_metavar": "0x…"})
    reason: str | None = Field(None, description="Why (shown to the owner; 500 characters).")
    data_dir: str | None = _DATA_DIR_FIELD
    database_url: str | None = _DATABASE_URL_FIELD


class UnfreezeArgs(BaseModel):
    model_config = _STRICT
    address: str = Field(description="Address of the server wallet.",
                         json_schema_extra={"cli_metavar": "0x…"})
    data_dir: str | None = _DATA_DIR_FIELD
    database_url: str | None = _DATABASE_URL_FIELD


class RotateMasterKeyArgs(BaseModel):
    model_config = _STRICT
    new_key_file: str | None = Field(
        None, description="File holding the new 32-byte key (hex or base64, mode 0600); else "
                          "MM_SERVER_NEW_MASTER_KEY; else one is generated (key-file form "
                          "only).", json_schema_extra={"cli_metavar": "FILE"})
    data_dir: str | None = _DATA_DIR_FIELD
    database_url: str | None = _DATABASE_URL_FIELD


class BackupArgs(BaseModel):
    model_config = _STRICT
    out: str = Field(description="The backup file to create (never overwritten; mode 0600).",
                     json_schema_extra={"cli_metavar": "FILE"})
    data_dir: str | None = _DATA_DIR_FIELD
    database_url: str | None = _DATABASE_URL_FIELD


class RestoreArgs(BaseModel):
    model_config = _STRICT
    source: str = Field(description="The backup file to restore.",
                        json_schema_extra={"cli_flags": ["--from"], "cli_metavar": "FILE"})
    force: bool = Field(False, description="Restore over a database that holds data (it is "
                                           "moved aside, never deleted).")
    data_dir: str | None = _DATA_DIR_FIELD
    database_url: str | None = _DATABASE_URL_FIELD


def _initialised_dir(ctx: Context, data_dir: str | None, database_url: str | None) -> Path:
    from mm_agent.server.datadir import is_initialised

    path = _data_dir(ctx, data_dir)
    if database_url is None and not is_initialised(path):
        from mm_agent.errors import NotInitialized

        raise NotInitialized(f"{path} is not a wallet-service data dir (no mm.sqlite).",
                             hint="Give the --data-dir of `mm server start`, or "
                                  "--database-url.")
    return path


def _with_store(ctx: Context, data_dir: str | None, database_url: str | None,
                fn: Any) -> dict[str, Any]:
    from mm_agent.server.db.store import Store

    url = _database_url(database_url)
    store = Store.open(_initialised_dir(ctx, data_dir, url), url)
    try:
        store.migrate()  # the freeze columns, on a database a newer service has not opened yet
        return fn(store)  # type: ignore[no-any-return]
    finally:
        store.dispose()


def revoke_tokens(ctx: Context, args: RevokeTokensArgs) -> dict[str, Any]:
    from mm_agent.server.admin import revoke_tokens as revoke

    return _with_store(ctx, args.data_dir, args.database_url,
                       lambda store: revoke(store, args.email))


def freeze(ctx: Context, args: FreezeArgs) -> dict[str, Any]:
    from mm_agent.server.admin import set_frozen

    return _with_store(ctx, args.data_dir, args.database_url,
                       lambda store: set_frozen(store, args.address, True, args.reason))


def unfreeze(ctx: Context, args: UnfreezeArgs) -> dict[str, Any]:
    from mm_agent.server.admin import set_frozen

    return _with_store(ctx, args.data_dir, args.database_url,
                       lambda store: set_frozen(store, args.address, False))


def rotate_master_key(ctx: Context, args: RotateMasterKeyArgs) -> dict[str, Any]:
    from mm_agent.server.admin import rotate_master_key as rotate

    url = _database_url(args.database_url)
    data_dir = _initialised_dir(ctx, args.data_dir, url)
    new_key_file = Path(args.new_key_file).expanduser() if args.new_key_file else None
    return rotate(data_dir, url, new_key_file)


def backup(ctx: Context, args: BackupArgs) -> dict[str, Any]:
    from mm_agent.server.admin import backup as run_backup

    url = _database_url(args.database_url)
    return run_backup(_data_dir(ctx, args.data_dir), Path(args.out), url)


def restore(ctx: Context, args: RestoreArgs) -> dict[str, Any]:
    from mm_agent.server.admin import restore as run_restore

    url = _database_url(args.database_url)
    return run_restore(_data_dir(ctx, args.data_dir), Path(args.source), force=args.force,
                       database_url=url)
