"""``POST /v1/requests/{pollingId}/cancel``: the submitter withdraws a request (cancel.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import JobsDep, PrincipalDep
from ..http import ok
from ..services.cancel import cancel_job
from .models import Envelope, ServiceRequest

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/requests/{polling_id}/cancel", response_model=Envelope[ServiceRequest])
def cancel_request(polling_id: str, p: PrincipalDep, jobs: JobsDep) -> JSONResponse:
    """Agent tokens may cancel: withdrawing a request only ever narrows what happens."""
    return ok(cancel_job(jobs, p.account_id, polling_id))
