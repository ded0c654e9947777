"""``/v1/auth/*``: device sign-in for the CLI, token refresh, logout and status."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..db.store import tokens
from ..deps import PrincipalDep, SettingsDep, StoreDep
from ..http import ok
from ..services import auth, signin
from .models import AuthStatus, DeviceStarted, Envelope, LoggedOut, TokenPair

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth")

# Token responses must never sit in a cache.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class DeviceStart(BaseModel):
    method: Literal["browser", "qr"] = Field(description="How the person signs in.")


class DeviceToken(BaseModel):
    deviceCode: str = Field(min_length=1, max_length=200)  # wire name


class RefreshBody(BaseModel):
    refreshToken: str = Field(min_length=1, max_length=200)  # wire name


@router.post("/device", response_model=Envelope[DeviceStarted])
def device_start(body: DeviceStart, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    return ok(signin.start_device_login(store, settings, body.method), headers=_NO_STORE)


@router.post("/device/token", response_model=Envelope[TokenPair])
def device_token(body: DeviceToken, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    return ok(signin.exchange_device_code(store, settings, body.deviceCode), headers=_NO_STORE)


@router.post("/refresh", response_model=Envelope[TokenPair])
def refresh(body: RefreshBody, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    return ok(auth.refresh(store, settings, body.refreshToken), headers=_NO_STORE)


@router.post("/logout", response_model=Envelope[LoggedOut])
def logout(p: PrincipalDep, store: StoreDep) -> JSONResponse:
    auth.revoke_family(store, p.family)
    return ok({"loggedOut": True}, headers=_NO_STORE)


@router.get("/status", response_model=Envelope[AuthStatus])
def status(p: PrincipalDep, store: StoreDep) -> JSONResponse:
    with store.read() as conn:
        expires_at = conn.execute(select(tokens.c.expires_at)
                                  .where(tokens.c.id == p.token_id)).scalar()
    return ok({"email": p.email, "channel": p.channel, "scope": p.scope,
               "expiresAt": auth.iso_time(float(expires_at or 0))}, headers=_NO_STORE)
