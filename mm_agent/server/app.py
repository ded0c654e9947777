"""The FastAPI application factory and the `mm server start` runner."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mm_agent.errors import (
    AuthError,
    Forbidden,
    IdempotencyConflict,
    MethodNotAllowed,
    MMError,
    NotAuthenticated,
    RateLimited,
    RouteNotFound,
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


class EnvelopeResponse(JSONResponse):
    """JSON with non-ASCII escaped: a message that quotes hostile input (a lone surrogate)
    still renders, instead of failing to encode and turning a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        import json

        return json.dumps(content, ensure_ascii=True, separators=(",", ":"),
                          default=str).encode("ascii")


def envelope_error(err: MMError, headers: dict[str, str] | None = None) -> JSONResponse:
    payload = err.to_payload()
    payload.pop("details", None) if err.code == "INTERNAL_ERROR" else None
    extra = dict(headers or {})
    retry = err.details.get("retryAfterSeconds") if isinstance(err, RateLimited) else None
    if retry is not None:
        extra["Retry-After"] = str(int(retry))
    return EnvelopeResponse({"ok": False, "error": payload}, status_code=status_for(err),
                            headers=extra or None)


class ServiceState:
    """Everything the routes share; built once per app."""

    def __init__(self, settings: ServerSettings) -> None:
        from mm_agent.local.state import Home
        from mm_agent.security.pipeline import Engine

        from .db.store import Store
        from .services.keys import MasterKey
        from .services.mailer import Mailer

        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = (Store(settings.database_url) if settings.database_url
                      else Store.for_data_dir(settings.data_dir))
        self.store.migrate()
        self.keys = MasterKey.load(settings.data_dir)
        self.mailer = Mailer(settings)
        # The engine reads chain settings (rpc.<id>, devnet.json, denylist) from the data dir.
        self.home = Home(settings.data_dir)
        from .services.chains_served import LiveConfig, ServiceEngine

        # Operator RPCs and the followed devnet record (chains_served.py); config.json is
        # re-read when it changes.
        self.config = LiveConfig(self.home)
        self.engine: Engine = ServiceEngine(self.home, self.config, rpc=settings.rpc,
                                            devnet_file=settings.devnet_file)
        from .services.jobs import JobRunner
        from .services.policy import PolicyService

        self.jobs = JobRunner(self)
        self.policies = PolicyService(self)
        # Outflow window hooks the job runner calls when a job ends.
        self.release_outflow = self.policies.release
        self.commit_outflow = self.policies.commit


def create_app(settings: ServerSettings) -> FastAPI:
    state = ServiceState(settings)
    from .services import approvals as _approvals

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
        return envelope_error(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown routes, wrong methods, malformed requests: the envelope too, never HTML.
        return envelope_error(http_error(exc.status_code, exc.detail),
                              dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        from .datadir import database_corrupt

        damaged = database_corrupt(exc)
        if damaged is not None:  # a stable code, not "Internal error"
            log.error("database damaged (%s)", type(exc).__name__)
            return envelope_error(damaged)
        # Log the class only: messages of library errors can carry URLs with credentials.
        log.exception("unhandled %s", type(exc).__name__)
        return JSONResponse({"ok": False, "error": {
            "code": "INTERNAL_ERROR", "message": f"Internal error ({type(exc).__name__})."}},
            status_code=500)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "data": {"status": "ok",
                                     "schemaVersion": state.store.schema_version()}}

    from .routes import auth as routes_auth
    from .routes import cancel as routes_cancel
    from .routes import chains as routes_chains
    from .routes import pages
    from .routes import wallets as routes_wallets
    from .services import approvals

    app.include_router(routes_auth.router)
    app.include_router(routes_wallets.router)
    app.include_router(routes_chains.router)
    app.include_router(routes_cancel.router)
    app.include_router(pages.router)
    app.include_router(approvals.router)
    from .middleware import FrontDoor
    from .openapi import install_openapi

    # Bearer, rate limits, body size and JSON shape, all before any body is parsed.
    app.add_middleware(FrontDoor, state=state)
    install_openapi(app)
    return app


def http_error(status: int, detail: object) -> MMError:
    """The envelope error for a plain HTTP error raised by the framework."""
    if status == 404:
        return RouteNotFound("No such route.")
    if status == 405:
        return MethodNotAllowed("This route does not take that HTTP method.")
    from mm_agent.errors import ValidationError

    err = ValidationError(str(detail)[:200] if detail else "Bad request.")
    err.http_status = status  # type: ignore[misc]  # keep the framework's status
    return err


def validation_error(exc: RequestValidationError) -> MMError:
    """The envelope error for a request FastAPI could not parse or validate."""
    from mm_agent.errors import InvalidJson, MissingFlag, ValidationError

    errors = exc.errors()
    first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")[:200]
    kind = first.get("type")
    if kind == "json_invalid":
        return InvalidJson("The request body is not valid JSON.")
    if kind == "missing":
        return MissingFlag(f"Missing field `{where}`.")
    return ValidationError(f"{where}: {first.get('msg')}."[:500])


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
    state: ServiceState = app.state.mm

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # uvicorn waits for open requests before the lifespan shutdown runs: end the long
            # polls now (SERVICE_STOPPING, retry hint), or Ctrl-C would wait up to 60 s.
            loop = state.jobs._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(state.jobs.closing)
            super().handle_exit(sig, frame)

    # No access log: it would record approval-link secrets (?t=).
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            access_log=False, log_config=None, timeout_graceful_shutdown=10)
    try:
        _Server(config).run()
    except KeyboardInterrupt:  # uvicorn re-raises the captured SIGINT after a clean shutdown
        pass
