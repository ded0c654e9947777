"""Wallet and request routes: accounts' wallets, balances, job submission, reads, long poll."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, insert, select

from mm_agent.errors import MMError, ValidationError, WalletNotFound
from mm_agent.operations.fields import Address, Amount, ChainId

from ..db.store import now, wallets
from ..services.auth import Principal, principal
from ..services.jobs import job_to_request

router = APIRouter()


class CreateWalletBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=100, description="Label of the wallet.")
    tradingMode: Literal["guard", "beast"] = Field("guard", description="Trading mode.")


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["transfer", "transaction", "message", "typed-data"]
    chainId: ChainId
    dryRun: bool = False
    # The agent's words about the request (``--intent``): kept as ``agentNote`` (one line,
    # sanitised, capped), never the headline, which the service derives itself.
    intent: str | None = Field(None, max_length=4000)
    agentNote: str | None = Field(None, max_length=4000)
    to: Address | None = None
    amount: Amount | None = None
    token: str | None = None
    payload: dict[str, Any] | str | None = None
    message: str | None = None

    def checked(self, sender: str | None = None) -> dict[str, Any]:
        """Kind-specific checks that need no chain access, so bad input fails at submit
        (``sender``: the wallet, against which a payload ``from`` is checked)."""
        from mm_agent.evm.payloads import load_json_payload, parse_transaction_payload
        from mm_agent.evm.signing import validate_typed_data

        body: dict[str, Any] = {"kind": self.kind, "chainId": self.chainId}
        from mm_agent.security.agent_note import sanitize_agent_note

        note = sanitize_agent_note(self.agentNote if self.agentNote is not None else self.intent)
        if note:
            body["agentNote"] = note
        if self.kind == "transfer":
            if not self.to or not self.amount:
                raise ValidationError("A transfer needs `to` and `amount`.")
            body.update(to=self.to, amount=self.amount, token=self.token or "ETH")
        elif self.kind == "transaction":
            if self.payload is None:
                raise ValidationError("A transaction needs `payload`.")
            parse_transaction_payload(self.payload, chain_id=self.chainId, sender=sender)
            body["payload"] = (load_json_payload(self.payload) if isinstance(self.payload, str)
                               else self.payload)
        elif self.kind == "message":
            if self.message is None:
                raise ValidationError("A message request needs `message`.")
            body["message"] = self.message
        else:
            typed = load_json_payload(self.payload)
            body["payload"] = validate_typed_data(typed, self.chainId)
        return body


def _state(request: Request) -> Any:
    return request.app.state.mm


def _wallet_json(row: Any) -> dict[str, Any]:
    import time

    return {"address": row.address, "name": row.name, "tradingMode": row.trading_mode,
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.created_at))}


def _wallet_row(state: Any, p: Principal, address: str) -> Any:
    with state.store.read() as conn:
        row = conn.execute(select(wallets).where(and_(
            wallets.c.account_id == p.account_id, wallets.c.address == address))).first()
    if row is None:
        raise WalletNotFound(f"No wallet {address} on this account.")
    return row


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"ok": True, "data": data}, status_code=status)


@router.get("/v1/wallets")
def list_wallets(request: Request, p: Principal = Depends(principal)) -> JSONResponse:
    state = _state(request)
    with state.store.read() as conn:
        rows = conn.execute(select(wallets).where(wallets.c.account_id == p.account_id)
                            .order_by(wallets.c.created_at)).all()
    return ok({"wallets": [_wallet_json(r) for r in rows]})


@router.post("/v1/wallets")
def create_wallet(request: Request, body: CreateWalletBody,
                  p: Principal = Depends(principal)) -> JSONResponse:
    from ..services.keys import new_wallet_key

    state = _state(request)
    # An agent's token may not pick beast for itself: the wallet starts in guard and beast is
    # asked of the human like any other guard → beast switch (contract §7).
    wants_beast = body.tradingMode == "beast" and p.scope != "human"
    mode = "guard" if wants_beast else body.tradingMode
    address, key_enc, wrapped = new_wallet_key(state.keys)
    with state.store.tx() as conn:
        count = len(conn.execute(select(wallets.c.id).where(
            wallets.c.account_id == p.account_id)).all())
        name = body.name or f"Wallet {count + 1}"
        if conn.execute(select(wallets.c.id).where(and_(
                wallets.c.account_id == p.account_id, wallets.c.name == name))).first():
            raise ValidationError(f"A wallet named {name!r} already exists.")
        conn.execute(insert(wallets).values(
            id=uuid.uuid4().hex, account_id=p.account_id, address=address, name=name,
            trading_mode=mode, key_enc=key_enc, data_key_wrapped=wrapped,
            created_at=now()))
        row = conn.execute(select(wallets).where(wallets.c.address == address)).one()
    out = _wallet_json(row)
    if wants_beast:
        try:
            out["tradingModeChange"] = state.policies.set_mode(p.account_id, row, "beast")
        except MMError as err:  # the wallet exists (in guard); say why beast was not asked for
            out["tradingModeChange"] = {"status": "FAILED", "requestedMode": "beast",
                                        "error": {"code": err.code, "message": err.message}}
    return ok(out, 201)


@router.get("/v1/wallets/{address}")
def get_wallet(request: Request, address: str, p: Principal = Depends(principal)) -> JSONResponse:
    from mm_agent.evm.addresses import validate_address

    return ok(_wallet_json(_wallet_row(_state(request), p, validate_address(address))))


@router.get("/v1/wallets/{address}/balance")
def wallet_balance(request: Request, address: str, chainIds: str | None = None,
                   token: str | None = None, tokenContracts: str | None = None,
                   p: Principal = Depends(principal)) -> JSONResponse:
    from mm_agent.evm.addresses import validate_address
    from mm_agent.evm.chains import parse_chain_ids
    from mm_agent.wallets.balances import read_balances

    state = _state(request)
    row = _wallet_row(state, p, validate_address(address))
    # Default: what the service serves (the followed devnet, operator chains): chains_served.
    chains = parse_chain_ids(chainIds) or state.engine.default_chains()
    contracts = [c for c in (tokenContracts or "").split(",") if c.strip()]
    return ok(read_balances(state.engine, row.address, chains, token=token,
                            token_contracts=contracts))


@router.post("/v1/wallets/{address}/requests")
def submit_request(request: Request, address: str, body: SubmitBody,
                   p: Principal = Depends(principal),
                   idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                        max_length=200)) -> JSONResponse:
    from mm_agent.evm.addresses import validate_address

    state = _state(request)
    row = _wallet_row(state, p, validate_address(address))
    checked = body.checked(row.address)
    if not body.dryRun:
        from ..services.precheck import precheck_submission

        # UNKNOWN_TOKEN, RPC_CHAIN_MISMATCH, INSUFFICIENT_FUNDS… now, not in a recorded job.
        precheck_submission(state.engine, row.address, checked)
    if body.dryRun:
        preview, _ = state.jobs.preview_for(row.address, checked)
        preview.policy = state.policies.evaluate_and_reserve(None, row, preview)
        return ok(preview.to_dict())
    intent = _initial_intent(checked)
    req, _created = state.jobs.submit(p.account_id, row, checked, intent, idempotency_key)
    return ok(req, 202)


def _initial_intent(body: dict[str, Any]) -> str:
    # Replaced by the pipeline's readable intent once the job is previewed.
    if body["kind"] == "transfer":
        return f"Transfer {body['amount']} {body['token']} to {body['to']}"
    if body["kind"] == "message":
        return "Sign message"
    if body["kind"] == "typed-data":
        return f"Sign {body['payload'].get('primaryType', 'typed data')}"
    return f"Transaction to {body['payload'].get('to')}"


@router.get("/v1/requests")
def list_requests(request: Request, limit: int = Query(50, ge=1, le=500),
                  p: Principal = Depends(principal)) -> JSONResponse:
    return ok({"requests": _state(request).jobs.list(p.account_id, limit)})


@router.get("/v1/requests/{polling_id}")
def get_request(request: Request, polling_id: str,
                p: Principal = Depends(principal)) -> JSONResponse:
    row, address = _state(request).jobs.get(p.account_id, polling_id)
    return ok(job_to_request(row, address))


@router.get("/v1/requests/{polling_id}/wait")
async def wait_request(request: Request, polling_id: str, version: int = 0,
                       timeout: float = Query(25.0, ge=0, le=60),
                       until: Literal["change", "final"] = "change",
                       p: Principal = Depends(principal)) -> JSONResponse:
    """Long poll. ``until=change``: any change past ``version``; ``until=final``: only a
    terminal status or AWAITING_MFA (saves a round trip per intermediate step)."""
    state = _state(request)
    try:
        req = await state.jobs.wait(p.account_id, polling_id, version, timeout,
                                    final_only=until == "final")
    except asyncio.CancelledError:  # client went away
        raise
    return ok(req)


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(description="The complete policy document (YAML).")


class TradingModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["guard", "beast"] = Field(description="guard or beast.")


@router.get("/v1/wallets/{address}/policy")
def get_policy(request: Request, address: str, p: Principal = Depends(principal)) -> JSONResponse:
    from mm_agent.evm.addresses import validate_address

    state = _state(request)
    return ok(state.policies.get(_wallet_row(state, p, validate_address(address))))


@router.put("/v1/wallets/{address}/policy")
def set_policy(request: Request, address: str, body: PolicyBody,
               p: Principal = Depends(principal)) -> JSONResponse:
    """Tightening applies at once; broadening waits for the human (agent tokens included)."""
    from mm_agent.evm.addresses import validate_address

    state = _state(request)
    row = _wallet_row(state, p, validate_address(address))
    return ok(state.policies.set_policy(p.account_id, row, body.policy))


@router.get("/v1/wallets/{address}/trading-mode")
def get_trading_mode(request: Request, address: str,
                     p: Principal = Depends(principal)) -> JSONResponse:
    from mm_agent.evm.addresses import validate_address

    row = _wallet_row(_state(request), p, validate_address(address))
    return ok({"tradingMode": row.trading_mode, "address": row.address})


@router.put("/v1/wallets/{address}/trading-mode")
def set_trading_mode(request: Request, address: str, body: TradingModeBody,
                     p: Principal = Depends(principal)) -> JSONResponse:
    from mm_agent.evm.addresses import validate_address

    state = _state(request)
    row = _wallet_row(state, p, validate_address(address))
    return ok(state.policies.set_mode(p.account_id, row, body.mode))
