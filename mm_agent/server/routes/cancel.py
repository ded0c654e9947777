"""``POST /v1/requests/{pollingId}/cancel``: the submitter withdraws a request (cancel.py);
``POST /v1/requests/{pollingId}/release``: a signed order cancelled on chain gives back its
unfilled share of the outflow window (order_release.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..deps import JobsDep, PrincipalDep
from ..http import ok
from ..services.cancel import cancel_job
from ..services.order_release import release_order
from .models import Envelope, OrderRelease, ServiceRequest

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/requests/{polling_id}/cancel", response_model=Envelope[ServiceRequest])
def cancel_request(polling_id: str, p: PrincipalDep, jobs: JobsDep) -> JSONResponse:
    """Agent tokens may cancel: withdrawing a request only ever narrows what happens."""
    return ok(cancel_job(jobs, p.account_id, polling_id))


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cancelTxHash: str = Field(min_length=66, max_length=66, pattern=r"^0x[0-9a-fA-F]{64}$",
                              description="The mined transaction that cancelled the order "
                                          "(the maker's cancelOrder on the exchange).")


@router.post("/v1/requests/{polling_id}/release", response_model=Envelope[OrderRelease])
def release_request(polling_id: str, body: ReleaseBody, p: PrincipalDep,
                    jobs: JobsDep) -> JSONResponse:
    """Agent tokens may release: the service verifies the cancel on chain itself and only ever
    lowers a reservation to what the order really filled (``ORDER_NOT_CANCELLED`` else)."""
    return ok(release_order(jobs, p.account_id, polling_id, body.cancelTxHash))
