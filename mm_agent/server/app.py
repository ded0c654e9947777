"""The FastAPI application factory and the `mm server start` runner."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import (
    AuthError,
    Forbidden,
    IdempotencyConflict,
    MMError,
    NotAuthenticated,
    StateError,
    UsageError,
)
from .settings import ServerSettings

__all__ = ["ServiceState", "create_app", "run"]

log = logging.getLogger("mm_agent.server")


def status_for(err: MMError) -> int:
    if err.http_status is not None:
        return err.http_status
    code = err.code
    if isinstance(err, NotAuthenticated):
        return 401
    if isinstance(err, Forbidden):
        return 403
    if isinstance(err, AuthError):
        return 401
    if code.endswith("_NOT_FOUND"):
        return 404
    if isinstance(err, IdempotencyConflict) or code.startswith("ALREADY_"):
        return 409
    if code == "AUTHORIZATION_PENDING":
        return 428
    if code in ("EXPIRED", "TX_EXPIRED", "LINK_EXPIRED"):
        return 410
    if isinstance(err, UsageError):
        return 400
    if isinstance(err, StateError):
        return 409
    return 500 if code in ("MM_ERROR", "SERVICE_ERROR") else 422


def envelope_error(err: MMError) -> JSONResponse:
    payload = err.to_payload()
    payload.pop("details", None) if err.code == "INTERNAL_ERROR" else None
    return JSONResponse({"ok": False, "error": payload}, status_code=status_for(err))


class ServiceState:
    """Everything the routes share; built once per app."""

    def __init__(self, settings: ServerSettings) -> None:
        from ..config import Config
        from ..pipeline import Engine
        from ..state import Home
        from .keys import MasterKey
        from .mailer import Mailer
        from .store import Store

        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = (Store(settings.database_url) if settings.database_url
                      else Store.for_data_dir(settings.data_dir))
        self.store.migrate()
        self.keys = MasterKey.load(settings.data_dir)
        self.mailer = Mailer(settings)
        # The engine reads chain settings (rpc.<id>, devnet.json, denylist) from the data dir.
        self.home = Home(settings.data_dir)
        self.config = Config(self.home)
        self.engine = Engine(self.home, self.config)
        from .jobs import JobRunner
        from .policy_service import PolicyService

        self.jobs = JobRunner(self)
        self.policies = PolicyService(self)
        # Outflow window hooks the job runner calls when a job ends.
        self.release_outflow = self.policies.release
        self.commit_outflow = self.policies.commit


def create_app(settings: ServerSettings) -> FastAPI:
    state = ServiceState(settings)
    from . import approvals as _approvals

    # Mails (and pushes) the approval link whenever a job opens an approval.
    state.notify_approval = _approvals.notify_approval(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        await state.jobs.start()
        try:
            yield
        finally:
            await state.jobs.stop()

    app = FastAPI(title="mm-agent wallet service", version="0.1.0", lifespan=lifespan)
    app.state.mm = state

    @app.exception_handler(MMError)
    async def _mm_error(_request: Request, exc: MMError) -> JSONResponse:
        return envelope_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        from ..errors import MissingFlag, ValidationError

        err: MMError
        if first.get("type") == "missing":
            err = MissingFlag(f"Missing field `{where}`.")
        else:
            err = ValidationError(f"{where}: {first.get('msg')}.")
        return envelope_error(err)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Log the class only: messages of library errors can carry URLs with credentials.
        log.exception("unhandled %s", type(exc).__name__)
        return JSONResponse({"ok": False, "error": {
            "code": "INTERNAL_ERROR", "message": f"Internal error ({type(exc).__name__})."}},
            status_code=500)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "data": {"status": "ok",
                                     "schemaVersion": state.store.schema_version()}}

    from . import approvals, pages, routes_auth, routes_wallets

    app.include_router(routes_auth.router)
    app.include_router(routes_wallets.router)
    app.include_router(pages.router)
    app.include_router(approvals.router)
    return app


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line (structured logs). Messages are written by our code, which
    logs ids and status codes only, never tokens, links or keys."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry)


def run(settings: ServerSettings) -> None:
    import uvicorn

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    app = create_app(settings)
    # No access log: it would record approval-link secrets (?t=).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                access_log=False, log_config=None)
