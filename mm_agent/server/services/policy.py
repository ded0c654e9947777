"""Policies and trading modes of server wallets, and the rolling-24h outflow window.

The window is kept in the ``outflows`` table: a request that the policy lets through reserves
its USD outflow in the SAME database transaction that read the window (``BEGIN IMMEDIATE`` on
SQLite), so concurrent requests cannot overrun the limit. The reservation is committed when
the transaction confirms and released when the job fails, is denied or expires.

Changes: tightening applies at once (``confirmed``); broadening (guard → beast, a higher limit,
a new allowlisted address/chain/recipient, a removed blocklist entry) becomes a request that
waits for the human (``pending_approval``) and applies only when approved. While one waits,
another broadening change of the same kind is refused (``WALLET_POLICY_APPROVAL_IN_PROGRESS``,
``TRADING_MODE_APPROVAL_IN_PROGRESS``); tightening still applies at once. An approved policy
change is applied as the field diff the human saw, onto the then-current document.
"""

from __future__ import annotations

import functools
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, select, update

from mm_agent.errors import (
    AlreadySetTradingMode,
    PolicyApprovalInProgress,
    PolicyDenied,
    TradingModeApprovalInProgress,
)
from mm_agent.security.policy.document import (
    PolicyDocument,
    apply_broadening,
    broadening_changes,
    broadening_diff,
    default_policy,
    dump_policy,
    field_changes,
    mode_change_is_broadening,
    parse_policy,
    parse_trading_mode,
    tighten_only,
    tightening_changes,
)
from mm_agent.security.policy.evaluate import evaluate, price_outflow
from mm_agent.security.policy.grants import PolicyGrant, grants_of, price_grants
from mm_agent.security.policy.prices import (
    ChainedPrices,
    ChainlinkPrices,
    PriceSource,
    StaticPrices,
)

from ..db.store import Store, jobs, now, policies, wallets
from . import outflows
from .jobs.records import body_hash, job_to_request

if TYPE_CHECKING:
    from mm_agent.local.state import Home
    from mm_agent.security.pipeline import Engine, PolicyResult, Preview

    from .jobs.approval import ApprovalOpener
    from .jobs.queue import JobQueue


@functools.lru_cache(maxsize=1024)
def _parsed_policy(text: str, address: str) -> PolicyDocument:
    """A stored document, parsed once (the document is frozen; every job reads it, inside
    the wallet's lock)."""
    return parse_policy(text, wallet_address=address)


__all__ = ["DEVNET_PRICES", "PolicyService", "price_source"]

# Devnet defaults so the USD limit works out of the box on `mm devnet`.
DEVNET_PRICES = {"31337:native": "2000", "31337:mUSD": "1", "31337:mDAI": "1"}


def price_source(home: Home, engine: Engine) -> PriceSource:
    """Operator prices (``prices.json`` in the data dir) over the devnet defaults, then
    Chainlink feeds read through the engine's RPCs."""
    configured = home.read_json("prices.json", {}) or {}
    static = StaticPrices({**DEVNET_PRICES, **(configured.get("prices") or {})})
    return ChainedPrices(static, ChainlinkPrices(engine.rpc))


class PolicyService:
    """Policy documents, trading modes and the outflow window of server wallets.

    ``opener`` asks the human about broadening changes; ``queue`` fails a change request
    when nobody could be asked."""

    def __init__(self, store: Store, engine: Engine, prices: PriceSource,
                 opener: ApprovalOpener, queue: JobQueue) -> None:
        self.store = store
        self.engine = engine
        self.prices = prices
        self.opener = opener
        self.queue = queue

    # --- documents ---------------------------------------------------------------------------
    def document(self, conn: Any, wallet_row: Any) -> PolicyDocument:
        row = conn.execute(select(policies.c.document).where(
            policies.c.wallet_id == wallet_row.id)).first()
        if row is None:
            return default_policy(wallet_row.address)
        return _parsed_policy(row.document["yaml"], wallet_row.address)

    def _store_document(self, conn: Any, wallet_row: Any, doc: PolicyDocument) -> None:
        payload = {"yaml": dump_policy(doc)}
        exists = conn.execute(select(policies.c.wallet_id).where(
            policies.c.wallet_id == wallet_row.id)).first()
        if exists:
            conn.execute(update(policies).where(policies.c.wallet_id == wallet_row.id)
                         .values(document=payload, updated_at=now()))
        else:
            conn.execute(insert(policies).values(wallet_id=wallet_row.id, document=payload,
                                                 updated_at=now()))

    def get(self, wallet_row: Any) -> dict[str, Any]:
        with self.store.read() as conn:
            doc = self.document(conn, wallet_row)
        return {"policy": dump_policy(doc), "address": wallet_row.address}

    # --- evaluation and the window -------------------------------------------------------------
    def evaluate_and_reserve(self, polling_id: str | None, wallet_row: Any,
                             preview: Preview) -> PolicyResult:
        """The policy verdict; when it allows, the outflow is reserved in the same transaction."""
        outflow = price_outflow(self.prices, preview)  # priced before taking the write lock
        grant_values = self.grant_values(preview)
        with self.store.tx(exclusive=False) as conn:
            outflows.lock_wallet(conn, wallet_row.id)  # this wallet's window, across replicas
            doc = self.document(conn, wallet_row)
            mode = conn.execute(select(wallets.c.trading_mode).where(
                wallets.c.id == wallet_row.id)).scalar()
            used = outflows.window_used(conn, wallet_row.id)
            result = evaluate(doc, mode, preview, outflow_usd=outflow, window_used_usd=used,
                              grant_values=grant_values)
            if result.decision == "allow" and outflow and polling_id is not None:
                outflows.reserve(conn, polling_id, wallet_row.id, outflow)
        return result

    def evaluate_and_reserve_many(self, wallet_row: Any, items: list[tuple[str, Preview]]
                                  ) -> list[PolicyResult]:
        """``evaluate_and_reserve`` for a wallet's queued requests in order, in ONE
        transaction: each is judged with the window as the ones before it left it (their
        reservations count). Stops after the first one that is not allowed: the result list
        is a prefix of ``items`` ending there (the requests behind a stop are judged again
        once they are simulated again)."""
        priced = [(pid, preview, price_outflow(self.prices, preview),
                   self.grant_values(preview)) for pid, preview in items]
        results: list[PolicyResult] = []
        with self.store.tx(exclusive=False) as conn:
            outflows.lock_wallet(conn, wallet_row.id)
            doc = self.document(conn, wallet_row)
            mode = conn.execute(select(wallets.c.trading_mode).where(
                wallets.c.id == wallet_row.id)).scalar()
            used = outflows.window_used(conn, wallet_row.id)
            reserved = outflows.reserved_ids(conn, [pid for pid, _, _, _ in priced])
            kept: list[tuple[str, Decimal]] = []
            for pid, preview, outflow, grant_values in priced:
                result = evaluate(doc, mode, preview, outflow_usd=outflow,
                                  window_used_usd=used, grant_values=grant_values)
                results.append(result)
                if result.decision != "allow":
                    break
                if outflow and pid not in reserved:  # a re-run keeps its first reservation
                    kept.append((pid, outflow))
                    used += outflows.reserved_amount(outflow)
            outflows.reserve_many(conn, wallet_row.id, kept)  # one statement for the batch
        return results

    def grant_values(self, preview: Preview) -> list[tuple[PolicyGrant, Decimal | None]]:
        """Each grant of the preview with its USD value (token metadata read from the chain)."""
        grants = grants_of(preview, tx=preview.tx, typed_data=preview.typed_data)
        if not grants:
            return []
        lookup = self.engine.asset_lookup(preview.chain_id)
        return price_grants(self.prices, preview, grants, lookup=lookup)

    def reserve_approved(self, polling_id: str, wallet_row: Any, preview: Preview) -> None:
        """A human approved: whatever it costs counts toward the window from now on."""
        outflow = price_outflow(self.prices, preview)
        if outflow:
            with self.store.tx(exclusive=False) as conn:
                outflows.lock_wallet(conn, wallet_row.id)
                outflows.reserve(conn, polling_id, wallet_row.id, outflow)

    # --- changes -------------------------------------------------------------------------------
    @staticmethod
    def _pending_change(conn: Any, wallet_id: str, kind: str) -> Any:
        return conn.execute(select(jobs).where(and_(
            jobs.c.wallet_id == wallet_id, jobs.c.kind == kind,
            jobs.c.status.in_(("PENDING", "AWAITING_MFA"))))).first()

    @staticmethod
    def _insert_change(conn: Any, account_id: str, wallet_row: Any, kind: str,
                       body: dict[str, Any], intent: str, status: str,
                       result: dict[str, Any] | None = None) -> str:
        polling_id = uuid.uuid4().hex
        ts = now()
        conn.execute(insert(jobs).values(
            polling_id=polling_id, wallet_id=wallet_row.id, account_id=account_id,
            kind=kind, status=status, intent=intent, chain_id=None, body=body,
            body_hash=body_hash(body), idempotency_key=None, version=1,
            result=result if result is not None else (
                {"applied": True} if status == "COMPLETED" else None),
            created_at=ts, updated_at=ts))
        return polling_id

    def set_policy(self, account_id: str, wallet_row: Any, text: str) -> dict[str, Any]:
        """Tightening applies at once; broadening waits for the human. A document that does
        both is split: its tightening half applies now (an emergency blocklist entry never
        waits), its broadening half is what the human is asked about. While a broadening
        change awaits approval, another one is refused (``WALLET_POLICY_APPROVAL_IN_PROGRESS``).
        The read, the check and the write are one database transaction, so two concurrent
        broadening requests cannot both open an approval."""
        new = parse_policy(text, wallet_address=wallet_row.address)
        address = wallet_row.address
        with self.store.tx() as conn:
            old = self.document(conn, wallet_row)
            tightened = tighten_only(old, new)
            tighter = tightening_changes(old, new)
            broader = broadening_changes(tightened, new)
            if tighter:
                self._store_document(conn, wallet_row, tightened)
            if not broader:
                body = {"kind": "policy", "policy": dump_policy(tightened),
                        "fields": field_changes(old, tightened)}
                pid = self._insert_change(conn, account_id, wallet_row, "policy", body,
                                          "Tighten the wallet policy", "COMPLETED")
                return {"status": "confirmed", "pollingId": pid, "changes": tighter,
                        "address": address}
            pending = self._pending_change(conn, wallet_row.id, "policy")
            if pending is None:
                diff = broadening_diff(tightened, new)
                body = {"kind": "policy", "policy": dump_policy(new),
                        "base": dump_policy(tightened), "diff": diff,
                        "changes": broader, "fields": field_changes(tightened, new)}
                pid = self._insert_change(conn, account_id, wallet_row, "policy", body,
                                          "Broaden the wallet policy: " + "; ".join(broader),
                                          "PENDING")
        if pending is not None:
            applied = f" Its tightening changes were applied: {'; '.join(tighter)}." \
                if tighter else ""
            raise PolicyApprovalInProgress(
                "A broadening policy change already awaits approval (pollingId "
                f"{pending.polling_id}); this one broadens too and was refused.{applied}",
                details={"pollingId": pending.polling_id, "applied": tighter})
        self._ask_human(pid, "Policy change broadens: " + "; ".join(broader))
        out: dict[str, Any] = {"status": "pending_approval", "pollingId": pid,
                               "changes": broader, "address": address}
        if tighter:
            out["applied"] = tighter
        return out

    def set_mode(self, account_id: str, wallet_row: Any, mode: str) -> dict[str, Any]:
        new = parse_trading_mode(mode)
        body = {"kind": "trading-mode", "mode": new}
        address = wallet_row.address
        with self.store.tx() as conn:
            old = conn.execute(select(wallets.c.trading_mode).where(
                wallets.c.id == wallet_row.id)).scalar()
            if new == old:
                raise AlreadySetTradingMode(f"The wallet is already in {new} mode.")
            if not mode_change_is_broadening(old, new):
                conn.execute(update(wallets).where(wallets.c.id == wallet_row.id)
                             .values(trading_mode=new))
                pid = self._insert_change(conn, account_id, wallet_row, "trading-mode", body,
                                          f"Switch trading mode {old} → {new}", "COMPLETED",
                                          {"applied": True, "tradingMode": new})
                return {"status": "confirmed", "pollingId": pid, "tradingMode": new,
                        "address": address}
            pending = self._pending_change(conn, wallet_row.id, "trading-mode")
            if pending is None:
                body["from"] = old
                pid = self._insert_change(conn, account_id, wallet_row, "trading-mode", body,
                                          f"Switch trading mode {old} → {new}", "PENDING")
        if pending is not None:
            raise TradingModeApprovalInProgress(
                f"A switch to {new} mode already awaits approval (pollingId "
                f"{pending.polling_id}).", details={"pollingId": pending.polling_id})
        self._ask_human(pid, f"Trading mode {old} → {new} removes guardrails")
        return {"status": "pending_approval", "pollingId": pid, "tradingMode": old,
                "requestedMode": new, "address": address}

    def _ask_human(self, polling_id: str, reason: str) -> None:
        from mm_agent.errors import MMError

        try:
            self.opener.open(polling_id, reason)
        except MMError as err:
            # Nobody could be asked (mail down, no webhook): the change request fails.
            self.queue.fail(polling_id, "FAILED", err)
            raise

    def apply_approved(self, job: Any, wallet_row: Any) -> dict[str, Any]:
        """Apply an approved change to the CURRENT state. A policy change is applied as the
        diff the human saw, onto the document as it is now (it may have been tightened since),
        and the result is re-checked: it may loosen nothing beyond that diff."""
        if job.kind == "trading-mode":
            with self.store.tx() as conn:
                conn.execute(update(wallets).where(wallets.c.id == wallet_row.id)
                             .values(trading_mode=job.body["mode"]))
            return {"applied": True, "tradingMode": job.body["mode"]}
        with self.store.tx() as conn:
            current = self.document(conn, wallet_row)
            diff = job.body.get("diff")
            if diff is None:  # a request stored before diffs: its full document
                target = parse_policy(job.body["policy"], wallet_address=wallet_row.address)
                diff = broadening_diff(current, target)
                approved = set(job.body.get("changes") or broadening_changes(current, target))
            else:
                approved = set(job.body.get("changes") or [])
            result, skipped = apply_broadening(current, diff)
            extra = [c for c in broadening_changes(current, result) if c not in approved]
            if extra:  # cannot happen by construction; refuse rather than loosen unseen
                raise PolicyDenied("The approved change would now loosen more than was "
                                   "approved: " + "; ".join(extra) + ". Nothing was changed.")
            self._store_document(conn, wallet_row, result)
        out: dict[str, Any] = {"applied": True, "changes": field_changes(current, result)}
        if skipped:
            out["skipped"] = skipped
        return out

    def request_json(self, polling_id: str, wallet_row: Any) -> dict[str, Any]:
        with self.store.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.polling_id == polling_id)).one()
        return job_to_request(row, wallet_row.address)
