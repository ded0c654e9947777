"""What the blocking and the async server wallet share, without network I/O."""

from __future__ import annotations

import json
import uuid
from typing import Any

from mm_agent.errors import MMError, NotInitialized, ValidationError, WalletNotFound
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.amounts import validate_decimal
from mm_agent.evm.chains import parse_chain_id, parse_chain_ids
from mm_agent.evm.payloads import load_json_payload, parse_transaction_payload
from mm_agent.local.config import Config
from mm_agent.local.request_log import RequestLog, WalletRequest, history_rows
from mm_agent.local.session import SessionStore
from mm_agent.local.state import Home

from ..base import check_preview_kind
from .client import _to_request

__all__ = ["RemoteCore"]


class RemoteCore:
    """What ``RemoteWallet`` and ``AsyncRemoteWallet`` share, without network I/O: the local
    mirrors (wallets.json, session.json, requests.sqlite), argument checks and request bodies
    (validated here, so a bad argument fails before anything is sent), and the decisions."""

    home: Home
    config: Config
    # Set only on copies made by ``bound()``: the account they act for, the idempotency key
    # their submissions carry.
    _account: str | None = None
    _idempotency_key: str | None = None

    # -- local state (wallets.json, session.json, requests.sqlite) --
    def _wallets(self) -> dict[str, Any]:
        from mm_agent.local.wallets_file import load_wallets

        data = load_wallets(self.home)  # STATE_CORRUPT for a damaged file
        if data is None:
            raise NotInitialized("No wallet is set up under this MM_HOME.")
        return data

    def _active(self) -> str:
        active = self._wallets().get("active")
        if not active:
            raise NotInitialized("No active server wallet.",
                                 hint="Run `mm init --wallet server-wallet` or "
                                      "`mm wallet select <address>`.")
        return str(active)

    def _cache_accounts(self, wallets: list[dict[str, Any]], active: str | None = None) -> None:
        def apply(data: Any) -> dict[str, Any]:
            data = dict(data) if isinstance(data, dict) else {}
            data["mode"] = "server-wallet"
            data["accounts"] = [{"address": w["address"], "name": w.get("name"),
                                 "tradingMode": w.get("tradingMode")} for w in wallets]
            if active:
                data["active"] = active
            return data

        self.home.update_json("wallets.json", {}, apply)
        if active:
            SessionStore(self.home).update(active_wallet=active)

    def _add_account(self, wallet: dict[str, Any]) -> None:
        def apply(data: Any) -> dict[str, Any]:
            data = dict(data) if isinstance(data, dict) else {"mode": "server-wallet"}
            accounts = [a for a in data.get("accounts", [])
                        if a.get("address", "").lower() != wallet["address"].lower()]
            accounts.append({"address": wallet["address"], "name": wallet.get("name"),
                             "tradingMode": wallet.get("tradingMode")})
            data["accounts"] = accounts
            data.setdefault("active", wallet["address"])
            return data

        self.home.update_json("wallets.json", {}, apply)

    def _mark(self, wallets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        active = self._wallets().get("active")
        return [{**w, "active": w["address"] == active} for w in wallets]

    def _show(self, wallet: dict[str, Any]) -> dict[str, Any]:
        return {**wallet, "mode": "server-wallet",
                "active": wallet["address"] == self._wallets().get("active")}

    def _find(self, wallets: list[dict[str, Any]], address: str | None,
              name: str | None) -> dict[str, Any]:
        want = address or (None if name else self._active())
        for w in wallets:
            if want and w["address"].lower() == want.lower():
                return w
            if not want and name and w.get("name") == name:
                return w
        raise WalletNotFound(f"No server wallet {address or name or want} in this account.")

    def _cache_requests(self, items: list[dict[str, Any]], *, replace_all: bool) -> None:
        """Mirror the service's requests in the local request log (``requests.sqlite``, as
        BYOK's: one row per request, the newest 500 kept), so a command pays for the requests
        it touched, not for the whole history. A full listing (``replace_all``) writes only
        the records that are new or changed; the log keeps older ones (the service's list is
        capped, so the local history is not cut to it)."""
        del replace_all  # one upsert per record either way; kept for the callers' signature
        log = self._request_log()
        fresh = sorted((_to_request(i) for i in items if isinstance(i, dict)),
                       key=lambda r: str(r.created_at or ""))
        if len(fresh) > 1:  # a listing: skip what the log already holds unchanged
            known = {r.polling_id: r.to_dict() for r in log.all()}
            fresh = [r for r in fresh if known.get(r.polling_id) != r.to_dict()]
        for req in fresh:
            log.save(req)

    def _cached_requests(self) -> list[WalletRequest]:
        """The mirrored requests, newest first (by creation, as the service lists them)."""
        cached = list(reversed(self._request_log().all()))
        return sorted(cached, key=lambda r: str(r.created_at or ""), reverse=True)

    def _request_log(self) -> RequestLog:
        return RequestLog(self.home)

    def _wait_seconds(self, wallet_timeout: float | None) -> float:
        return float(wallet_timeout or self.config.wallet_timeout)

    # -- request bodies (validated here so a bad argument fails before any I/O) --
    @staticmethod
    def _transfer_body(to: str, amount: str, chain_id: int, token: str,
                       dry_run: bool) -> dict[str, Any]:
        return {"kind": "transfer", "chainId": parse_chain_id(chain_id),
                "to": validate_address(to, field="to"), "amount": validate_decimal(amount),
                "token": token or "ETH", "dryRun": dry_run}

    @staticmethod
    def _transaction_body(chain_id: int, payload: dict[str, Any] | str, intent: str | None,
                          dry_run: bool) -> dict[str, Any]:
        # BYOK's checks and codes (chainId included); the service rechecks, `from` too.
        parse_transaction_payload(payload, chain_id=parse_chain_id(chain_id))
        if isinstance(payload, str):
            payload = json.loads(payload)  # valid JSON: checked just above
        body: dict[str, Any] = {"kind": "transaction", "chainId": parse_chain_id(chain_id),
                                "payload": payload, "dryRun": dry_run}
        if intent:
            body["intent"] = intent
        return body

    @staticmethod
    def _message_body(message: str, chain_id: int, dry_run: bool) -> dict[str, Any]:
        if not isinstance(message, str):
            raise ValidationError("message must be text.")
        return {"kind": "message", "chainId": parse_chain_id(chain_id), "message": message,
                "dryRun": dry_run}

    @staticmethod
    def _typed_body(chain_id: int, payload: dict[str, Any] | str, intent: str | None,
                    dry_run: bool) -> dict[str, Any]:
        from mm_agent.errors import InvalidTypedData

        typed = load_json_payload(payload)
        if not isinstance(typed, dict):
            raise InvalidTypedData("Typed data must be a JSON object.")
        body: dict[str, Any] = {"kind": "typed-data", "chainId": parse_chain_id(chain_id),
                                "payload": typed, "dryRun": dry_run}
        if intent:
            body["intent"] = intent
        return body

    @staticmethod
    def _preview_body(kind: str, chain_id: int, payload: Any, message: str | None,
                      intent: str | None) -> dict[str, Any]:
        check_preview_kind(kind)
        if kind == "transaction":
            return RemoteCore._transaction_body(chain_id, payload, intent, True)
        if kind == "message":
            return RemoteCore._message_body(str(message), chain_id, True)
        if kind == "typed-data":
            return RemoteCore._typed_body(chain_id, payload, intent, True)
        spec = payload if isinstance(payload, dict) else {}
        return RemoteCore._transfer_body(spec.get("to", ""), spec.get("amount", ""),
                                         chain_id, spec.get("token") or "ETH", True)

    @staticmethod
    def _history(requests: list[WalletRequest], chain_ids: list[int] | None,
                 limit: int) -> list[dict[str, Any]]:
        return history_rows(requests, parse_chain_ids(chain_ids), limit)


    def _key(self, idempotency_key: str | None) -> str:
        """The submission's ``Idempotency-Key``: the call's, the bound copy's, or a new one."""
        return idempotency_key or self._idempotency_key or str(uuid.uuid4())

    @staticmethod
    def _settled(data: dict[str, Any], req: WalletRequest) -> dict[str, Any]:
        """A policy / trading-mode change after its approval request ended ``req``."""
        if req.status != "COMPLETED":
            err = MMError.from_payload(req.error or {"code": "TX_FAILED", "message": req.status})
            err.details = {"request": req.to_dict()}
            raise err
        data = dict(data, status="confirmed")
        if "requestedMode" in data:
            data["tradingMode"] = data.pop("requestedMode")
        return data

    @staticmethod
    def _must_wait(data: dict[str, Any], wait: bool) -> bool:
        return wait and data.get("status") == "pending_approval"
