"""``GET /v1/chains``: the chains, RPC hosts and token symbols this service serves.

Read-only and the same for every account; agents use it to know what `mm wallet balance`
shows and which token symbols a transfer may name. Nothing here can change an RPC.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..services.auth import Principal, principal
from ..services.chains_served import served_chains

router = APIRouter()


@router.get("/v1/chains")
def list_chains(request: Request, _p: Principal = Depends(principal)) -> JSONResponse:
    return JSONResponse({"ok": True, "data": served_chains(request.app.state.mm.engine)})
