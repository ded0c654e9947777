"""Wallet and request routes: accounts' wallets, balances, job submission, reads, long poll."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, insert, select

from mm_agent.errors import MMError, ValidationError, WalletFrozen, WalletNotFound
from mm_agent.operations.fields import Address, Amount, ChainId

from ..db.store import Store, now, wallets
from ..deps import (
    EngineDep,
    JobsDep,
    KeysDep,
    PoliciesDep,
    PrincipalDep,
    ServicesDep,
    StoreDep,
)
from ..http import ok
from ..services.auth import Principal
from ..services.jobs.records import job_to_request
from .models import (
    Envelope,
    PolicyChange,
    PolicyDocument,
    Preview,
    RequestList,
    ServiceRequest,
    TradingMode,
    TradingModeChange,
    Wallet,
    WalletBalance,
    WalletList,
)

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


def _wallet_json(row: Any) -> dict[str, Any]:
    import time

    out: dict[str, Any] = {
        "address": row.address, "name": row.name, "tradingMode": row.trading_mode,
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.created_at)),
        "frozen": row.frozen_at is not None}
    if row.frozen_at is not None and row.frozen_reason:
        out["frozenReason"] = row.frozen_reason
    return out


def _wallet_row(store: Store, p: Principal, address: str) -> Any:
    """The caller's wallet at ``address`` (WALLET_NOT_FOUND for anyone else's)."""
    from mm_agent.evm.addresses import validate_address

    address = validate_address(address)
    with store.read() as conn:
        row = conn.execute(select(wallets).where(and_(
            wallets.c.account_id == p.account_id, wallets.c.address == address))).first()
    if row is None:
        raise WalletNotFound(f"No wallet {address} on this account.")
    return row


@router.get("/v1/wallets", response_model=Envelope[WalletList])
def list_wallets(p: PrincipalDep, store: StoreDep) -> JSONResponse:
    with store.read() as conn:
        rows = conn.execute(select(wallets).where(wallets.c.account_id == p.account_id)
                            .order_by(wallets.c.created_at)).all()
    return ok({"wallets": [_wallet_json(r) for r in rows]})


@router.post("/v1/wallets", status_code=201, response_model=Envelope[Wallet])
def create_wallet(body: CreateWalletBody, p: PrincipalDep, store: StoreDep, keys: KeysDep,
                  policies: PoliciesDep) -> JSONResponse:
    from ..services.keys import new_wallet_key

    # An agent's token may not pick beast for itself: the wallet starts in guard and beast is
    # asked of the human like any other guard → beast switch (contract §7).
    wants_beast = body.tradingMode == "beast" and p.scope != "human"
    mode = "guard" if wants_beast else body.tradingMode
    address, key_enc, wrapped = new_wallet_key(keys)
    with store.tx() as conn:
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
            out["tradingModeChange"] = policies.set_mode(p.account_id, row, "beast")
        except MMError as err:  # the wallet exists (in guard); say why beast was not asked for
            out["tradingModeChange"] = {"status": "FAILED", "requestedMode": "beast",
                                        "error": {"code": err.code, "message": err.message}}
    return ok(out, 201)


@router.get("/v1/wallets/{address}", response_model=Envelope[Wallet])
def get_wallet(address: str, p: PrincipalDep, store: StoreDep) -> JSONResponse:
    return ok(_wallet_json(_wallet_row(store, p, address)))


@router.get("/v1/wallets/{address}/balance", response_model=Envelope[WalletBalance])
def wallet_balance(address: str, p: PrincipalDep, store: StoreDep, engine: EngineDep,
                   chainIds: str | None = None, token: str | None = None,
                   tokenContracts: str | None = None) -> JSONResponse:
    from mm_agent.evm.chains import parse_chain_ids
    from mm_agent.wallets.balances import read_balances

    row = _wallet_row(store, p, address)
    # Default: what the service serves (the followed devnet, operator chains): chains_served.
    chains = parse_chain_ids(chainIds) or engine.default_chains()
    contracts = [c for c in (tokenContracts or "").split(",") if c.strip()]
    return ok(read_balances(engine, row.address, chains, token=token,
                            token_contracts=contracts))


@router.post("/v1/wallets/{address}/requests", status_code=202,
             response_model=Envelope[ServiceRequest],
             responses={200: {"model": Envelope[Preview],
                              "description": "`dryRun`: the preview; nothing recorded."}})
def submit_request(address: str, body: SubmitBody, p: PrincipalDep, s: ServicesDep,
                   idempotency_key: Annotated[str | None, Header(
                       alias="Idempotency-Key", max_length=200)] = None) -> JSONResponse:
    # One dependency for the collaborators: every request resolves each one it names.
    engine, jobs, policies = s.engine, s.jobs, s.policies
    row = _wallet_row(s.store, p, address)
    checked = body.checked(row.address)
    if body.dryRun:
        preview, _ = jobs.preview_for(row.address, checked)
        preview.policy = policies.evaluate_and_reserve(None, row, preview)
        return ok(preview.to_dict())
    if row.frozen_at is not None:  # `mm server admin freeze`: refused before anything runs
        raise WalletFrozen(f"Wallet {row.address} is frozen by the service's operator"
                           + (f": {row.frozen_reason}" if row.frozen_reason else "") + ".")
    from ..services.precheck import precheck_submission

    # UNKNOWN_TOKEN, RPC_CHAIN_MISMATCH, INSUFFICIENT_FUNDS… now, not in a recorded job.
    precheck_submission(engine, row.address, checked)
    req, _created = jobs.submit(p.account_id, row, checked, _initial_intent(checked),
                                idempotency_key)
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


@router.get("/v1/requests", response_model=Envelope[RequestList])
def list_requests(p: PrincipalDep, jobs: JobsDep,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> JSONResponse:
    return ok({"requests": jobs.list(p.account_id, limit)})


@router.get("/v1/requests/{polling_id}", response_model=Envelope[ServiceRequest])
def get_request(polling_id: str, p: PrincipalDep, s: ServicesDep) -> JSONResponse:
    row, address = s.jobs.get(p.account_id, polling_id)
    return ok(job_to_request(row, address))


@router.get("/v1/requests/{polling_id}/wait", response_model=Envelope[ServiceRequest])
async def wait_request(polling_id: str, p: PrincipalDep, s: ServicesDep, version: int = 0,
                       timeout: Annotated[float, Query(ge=0, le=60)] = 25.0,
                       until: Literal["change", "final"] = "change") -> JSONResponse:
    """Long poll. ``until=change``: any change past ``version``; ``until=final``: only a
    terminal status or AWAITING_MFA (saves a round trip per intermediate step). A client
    that goes away cancels the wait (CancelledError propagates)."""
    req = await s.jobs.wait(p.account_id, polling_id, version, timeout,
                            final_only=until == "final")
    return ok(req)


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(description="The complete policy document (YAML).")


class TradingModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["guard", "beast"] = Field(description="guard or beast.")


@router.get("/v1/wallets/{address}/policy", response_model=Envelope[PolicyDocument])
def get_policy(address: str, p: PrincipalDep, store: StoreDep,
               policies: PoliciesDep) -> JSONResponse:
    return ok(policies.get(_wallet_row(store, p, address)))


@router.put("/v1/wallets/{address}/policy", response_model=Envelope[PolicyChange])
def set_policy(address: str, body: PolicyBody, p: PrincipalDep, store: StoreDep,
               policies: PoliciesDep) -> JSONResponse:
    """Tightening applies at once; broadening waits for the human (agent tokens included)."""
    row = _wallet_row(store, p, address)
    return ok(policies.set_policy(p.account_id, row, body.policy))


@router.get("/v1/wallets/{address}/trading-mode", response_model=Envelope[TradingMode])
def get_trading_mode(address: str, p: PrincipalDep, store: StoreDep) -> JSONResponse:
    row = _wallet_row(store, p, address)
    return ok({"tradingMode": row.trading_mode, "address": row.address})


@router.put("/v1/wallets/{address}/trading-mode", response_model=Envelope[TradingModeChange])
def set_trading_mode(address: str, body: TradingModeBody, p: PrincipalDep, store: StoreDep,
                     policies: PoliciesDep) -> JSONResponse:
    row = _wallet_row(store, p, address)
    return ok(policies.set_mode(p.account_id, row, body.mode))
