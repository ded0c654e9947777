"""``/v1/auth/*``: device sign-in for the CLI, token refresh, logout and status."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..db.store import tokens
from ..services import auth, signin
from ..services.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth")

# Token responses must never sit in a cache.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"ok": True, "data": data}, headers=_NO_STORE)


class DeviceStart(BaseModel):
    method: Literal["browser", "qr"] = Field(description="How the person signs in.")


class DeviceToken(BaseModel):
    deviceCode: str = Field(min_length=1, max_length=200)  # wire name


class RefreshBody(BaseModel):
    refreshToken: str = Field(min_length=1, max_length=200)  # wire name


@router.post("/device")
def device_start(request: Request, body: DeviceStart) -> JSONResponse:
    st = request.app.state.mm
    return _ok(signin.start_device_login(st.store, st.settings, body.method))


@router.post("/device/token")
def device_token(request: Request, body: DeviceToken) -> JSONResponse:
    st = request.app.state.mm
    return _ok(signin.exchange_device_code(st.store, st.settings, body.deviceCode))


@router.post("/refresh")
def refresh(request: Request, body: RefreshBody) -> JSONResponse:
    st = request.app.state.mm
    return _ok(auth.refresh(st.store, st.settings, body.refreshToken))


@router.post("/logout")
def logout(request: Request, p: Principal = Depends(auth.principal)) -> JSONResponse:
    auth.revoke_family(request.app.state.mm.store, p.family)
    return _ok({"loggedOut": True})


@router.get("/status")
def status(request: Request, p: Principal = Depends(auth.principal)) -> JSONResponse:
    with request.app.state.mm.store.read() as conn:
        expires_at = conn.execute(select(tokens.c.expires_at)
                                  .where(tokens.c.id == p.token_id)).scalar()
    return _ok({"email": p.email, "channel": p.channel, "scope": p.scope,
                "expiresAt": auth.iso_time(float(expires_at or 0))})
