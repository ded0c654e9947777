"""``POST /v1/requests/{pollingId}/cancel``: the submitter withdraws a request (cancel.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..services.auth import Principal, principal
from ..services.cancel import cancel_job

router = APIRouter()


@router.post("/v1/requests/{polling_id}/cancel")
def cancel_request(request: Request, polling_id: str,
                   p: Principal = Depends(principal)) -> JSONResponse:
    """Agent tokens may cancel: withdrawing a request only ever narrows what happens."""
    req = cancel_job(request.app.state.mm.jobs, p.account_id, polling_id)
    return JSONResponse({"ok": True, "data": req})
