"""The FastAPI application factory and the `mm server start` runner.

``create_app`` builds the service's collaborators (``deps.Services``), mounts the routers,
maps every error to the JSON envelope (``http.py``; unknown routes and wrong methods too,
never HTML) and puts the front door (``middleware.py``) in front of it all.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mm_agent.errors import MMError

from .datadir import database_corrupt
from .deps import Services
from .http import envelope_error, http_error, validation_error
from .middleware import FrontDoor
from .openapi import install_openapi
from .routes import approvals, auth, cancel, chains, health, pages, wallets
from .settings import ServerSettings

__all__ = ["JsonLogFormatter", "create_app", "run"]

log = logging.getLogger("mm_agent.server")


def create_app(settings: ServerSettings, services: Services | None = None) -> FastAPI:
    """The app over ``services`` (built from ``settings`` when not given)."""
    services = services or Services.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        await services.jobs.start()
        try:
            yield
        finally:
            await services.jobs.stop()

    app = FastAPI(title="mm-agent wallet service", version="0.1.0", lifespan=lifespan)
    # Read back only by deps.get_services (routes) and handed to the front door directly.
    app.state.mm = services

    @app.exception_handler(MMError)
    async def _mm_error(_request: Request, exc: MMError) -> JSONResponse:
        return envelope_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return envelope_error(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown routes, wrong methods, malformed requests: the envelope too, never HTML.
        err, status = http_error(exc.status_code, exc.detail)
        return envelope_error(err, dict(exc.headers or {}), status=status)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        damaged = database_corrupt(exc)
        if damaged is not None:  # a stable code, not "Internal error"
            log.error("database damaged (%s)", type(exc).__name__)
            return envelope_error(damaged)
        # Log the class only: messages of library errors can carry URLs with credentials.
        log.exception("unhandled %s", type(exc).__name__)
        return JSONResponse({"ok": False, "error": {
            "code": "INTERNAL_ERROR", "message": f"Internal error ({type(exc).__name__})."}},
            status_code=500)

    for router in (health.router, auth.router, wallets.router, chains.router, cancel.router,
                   pages.router, approvals.router):
        app.include_router(router)
    # Bearer, rate limits, body size and JSON shape, all before any body is parsed.
    app.add_middleware(FrontDoor, services=services)
    install_openapi(app)
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
    services = Services.build(settings)
    app = create_app(settings, services)

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # uvicorn waits for open requests before the lifespan shutdown runs: end the long
            # polls now (SERVICE_STOPPING, retry hint), or Ctrl-C would wait up to 60 s.
            loop = services.jobs.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(services.jobs.closing)
            super().handle_exit(sig, frame)

    # No access log: it would record approval-link secrets (?t=).
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            access_log=False, log_config=None, timeout_graceful_shutdown=10)
    try:
        _Server(config).run()
    except KeyboardInterrupt:  # uvicorn re-raises the captured SIGINT after a clean shutdown
        pass
