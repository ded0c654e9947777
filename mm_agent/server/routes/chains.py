"""``GET /v1/chains``: the chains, RPC hosts and token symbols this service serves.

Read-only and the same for every account; agents use it to know what `mm wallet balance`
shows and which token symbols a transfer may name. Nothing here can change an RPC.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import EngineDep, PrincipalDep
from ..http import ok
from ..services.chains_served import served_chains
from .models import ChainsServed, Envelope

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/chains", response_model=Envelope[ChainsServed])
def list_chains(_p: PrincipalDep, engine: EngineDep) -> JSONResponse:
    return ok(served_chains(engine))
