"""``GET /healthz``: liveness and the database schema version (no sign-in)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import StoreDep
from ..http import ok
from .models import Envelope, Health

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz", response_model=Envelope[Health])
def healthz(store: StoreDep) -> JSONResponse:
    return ok({"status": "ok", "schemaVersion": store.schema_version()})
