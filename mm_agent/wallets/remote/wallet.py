"""The server-wallet implementation of the Wallet API (over ``mm_agent.wallets.remote.client``'s
clients).

``RemoteWallet`` is the server-wallet ``Wallet``: keys never leave the service, every signing
or transaction method submits a request (with an ``Idempotency-Key``) and either returns it at
once (``wait=False``) or long-polls it to a final status (``wait=True``). ``AsyncRemoteWallet``
is the same natively async. What both need of the wallet state lives in ``_WalletLogic``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from mm_agent.errors import (
    JobTimeout,
    MMError,
    NotInitialized,
    ValidationError,
    WalletNotFound,
)
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.amounts import validate_decimal
from mm_agent.evm.chains import parse_chain_id, parse_chain_ids
from mm_agent.evm.payloads import load_json_payload, parse_transaction_payload
from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest, history_rows
from mm_agent.local.session import SessionStore
from mm_agent.local.state import Home
from mm_agent.operations.context import ApprovalHook

from ..wallet import AsyncWallet, Wallet
from .client import (
    AsyncRemoteClient,
    AwaitingHook,
    RemoteClient,
    _print_notice,
    _to_request,
)

__all__ = [
    "AsyncRemoteRequestsAPI",
    "AsyncRemoteWallet",
    "RemoteRequestsAPI",
    "RemoteWallet",
]

# --- the wallet ---------------------------------------------------------------------------
_TRADING_MODES = ("guard", "beast")


class _WalletLogic:
    """What the sync and async server wallets share: checks, bodies, the local caches."""

    home: Home
    config: Config

    # -- local state (wallets.json, session.json, requests.json) --
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
        """requests.json mirrors the service (newest last, like the BYOK log)."""

        def apply(data: Any) -> list[dict[str, Any]]:
            old = [] if replace_all or not isinstance(data, list) else data
            ids = {i.get("pollingId") for i in items}
            kept = [r for r in old if isinstance(r, dict) and r.get("pollingId") not in ids]
            fresh = sorted(items, key=lambda r: str(r.get("createdAt") or ""))
            return (kept + fresh)[-500:]

        self.home.update_json("requests.json", [], apply)

    def _cached_requests(self) -> list[WalletRequest]:
        data = self.home.read_json("requests.json", [])
        items = [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []
        return [_to_request(r) for r in reversed(items)]

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
        if kind == "transaction":
            return _WalletLogic._transaction_body(chain_id, payload, intent, True)
        if kind == "message":
            return _WalletLogic._message_body(str(message), chain_id, True)
        if kind == "typed-data":
            return _WalletLogic._typed_body(chain_id, payload, intent, True)
        if kind == "transfer" and isinstance(payload, dict):
            return _WalletLogic._transfer_body(payload.get("to", ""), payload.get("amount", ""),
                                               chain_id, payload.get("token", "ETH"), True)
        raise ValidationError(f"Unknown preview kind {kind!r}.")

    @staticmethod
    def _check_mode(trading_mode: str | None) -> None:
        if trading_mode is not None and trading_mode not in _TRADING_MODES:
            raise ValidationError(f"tradingMode must be guard or beast, not {trading_mode!r}.")

    @staticmethod
    def _history(requests: list[WalletRequest], chain_ids: list[int] | None,
                 limit: int) -> list[dict[str, Any]]:
        return history_rows(requests, parse_chain_ids(chain_ids), limit)


class RemoteRequestsAPI:
    """``wallet.requests`` for a server wallet: the service is the source of truth."""

    def __init__(self, wallet: RemoteWallet) -> None:
        self._w = wallet

    def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        """Newest first. ``sync=False`` reads the local cache (``requests.json``) only."""
        if not sync:
            return self._w._cached_requests()
        items = self._w.client.list_requests(limit)
        self._w._cache_requests(items, replace_all=True)
        return [_to_request(r) for r in items]

    def get(self, polling_id: str) -> WalletRequest:
        data = self._w.client.get_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)

    def cancel(self, polling_id: str) -> WalletRequest:
        """PENDING/AWAITING_MFA → DENIED (TX_CANCELLED); SUBMITTED → a cancelling
        replacement is sent (``result.cancelTxHash``)."""
        data = self._w.client.cancel_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)

    def wait(self, polling_id: str, timeout: float | None = None, *,
             current: dict[str, Any] | None = None) -> WalletRequest:
        try:
            req = self._w.client.wait(polling_id, self._w._wait_seconds(timeout),
                                      on_awaiting=self._w.on_awaiting, current=current)
        except JobTimeout as err:
            self._w._cache_requests([err.details["request"]], replace_all=False)
            raise
        self._w._cache_requests([req.to_dict()], replace_all=False)
        return req


class RemoteWallet(_WalletLogic, Wallet):
    """A server wallet: same public API as the BYOK ``Wallet``; keys stay in the service."""

    def __init__(self, *, home: Home, config: Config, client: RemoteClient | None = None,
                 approval_hook: ApprovalHook | None = None,
                 on_awaiting: AwaitingHook | None = _print_notice) -> None:
        # Wallet.__init__ is not called: there is no keyring and no local pipeline here.
        self.home = home
        self.config = config
        self.keyring = None
        self.approval_hook = approval_hook  # approvals happen on the service's page
        self.on_awaiting = on_awaiting
        self.client = client or RemoteClient(home, config)
        self.requests = RemoteRequestsAPI(self)  # type: ignore[assignment]
        self._engine: Any = None

    def __repr__(self) -> str:
        try:
            address: str | None = self.address
        except MMError:
            address = None
        return (f"RemoteWallet(mode='server-wallet', address={address!r}, "
                f"service={self.client.base_url!r})")

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,  # type: ignore[override]
                 approval_hook: ApprovalHook | None = None,
                 on_awaiting: AwaitingHook | None = _print_notice,
                 **_ignored: Any) -> RemoteWallet:
        home = home or Home.from_env()
        config = config or Config(home)
        SessionStore(home).require()  # NOT_AUTHENTICATED before anything else
        return cls(home=home, config=config, approval_hook=approval_hook,
                   on_awaiting=on_awaiting)

    @property
    def engine(self) -> Any:  # type: ignore[override]
        """Local chain access, only for `tx` lookups (the service signs and sends)."""
        if self._engine is None:
            from mm_agent.security.pipeline import Engine

            self._engine = Engine(self.home, self.config)
        return self._engine

    # --- accounts ----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "server-wallet"

    @property
    def address(self) -> str:
        return self._account or self._active()

    def _own_account(self, address: str) -> str:
        return address  # the service refuses a wallet that is not this account's

    def accounts(self) -> list[dict[str, Any]]:
        wallets = self.client.list_wallets()
        self._cache_accounts(wallets)
        return self._mark(wallets)

    def create_account(self, name: str | None = None, trading_mode: str | None = None, *,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        self._check_mode(trading_mode)
        wallet = self.client.create_wallet(name, trading_mode, idempotency_key=idempotency_key)
        self._add_account(wallet)
        return dict(wallet)

    def select(self, address: str) -> dict[str, Any]:
        wallet = self.client.get_wallet(validate_address(address))
        self._add_account(wallet)
        self._cache_accounts(self.client.list_wallets(), active=wallet["address"])
        return dict(wallet)

    def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        if address:
            return self._show(self.client.get_wallet(validate_address(address)))
        return self._show(self._find(self.client.list_wallets(), None, name))

    # --- reads -------------------------------------------------------------------------------
    def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                token_contracts: list[str] | None = None,
                address: str | None = None) -> dict[str, Any]:
        owner = validate_address(address) if address else self.address
        contracts = [validate_address(c, field="tokenContracts") for c in token_contracts or []]
        return dict(self.client.balance(owner, parse_chain_ids(chain_ids), token, contracts))

    def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        if chain_id is None:
            for req in self._cached_requests():
                if req.tx_hash and req.tx_hash.lower() == str(tx_hash).lower():
                    chain_id = req.chain_id
                    break
        return super().tx(tx_hash, chain_id)

    def tx_history(self, chain_ids: list[int] | None = None,
                   limit: int = 20) -> list[dict[str, Any]]:
        return self._history(self.requests.list(), chain_ids, limit)

    # --- policy and trading mode ------------------------------------------------------------
    def policy(self) -> dict[str, Any]:
        return dict(self.client.get_policy(self.address))

    def trading_mode(self) -> dict[str, Any]:
        return dict(self.client.get_trading_mode(self.address))

    def set_policy(self, policy: str, *, wait: bool = False,
                   wallet_timeout: float | None = None) -> dict[str, Any]:
        """Tightening applies at once (``confirmed``); broadening returns ``pending_approval``
        and, with ``wait``, blocks until the human decides."""
        return self._settle(dict(self.client.set_policy(self.address, policy)), wait,
                            wallet_timeout)

    def set_trading_mode(self, mode: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        return self._settle(dict(self.client.set_trading_mode(self.address, mode)), wait,
                            wallet_timeout)

    def _settle(self, data: dict[str, Any], wait: bool,
                wallet_timeout: float | None) -> dict[str, Any]:
        if not wait or data.get("status") != "pending_approval":
            return data
        req = self.requests.wait(data["pollingId"], wallet_timeout)
        if req.status != "COMPLETED":
            err = MMError.from_payload(req.error or {"code": "TX_FAILED", "message": req.status})
            err.details = {"request": req.to_dict()}
            raise err
        data["status"] = "confirmed"
        if "requestedMode" in data:
            data["tradingMode"] = data.pop("requestedMode")
        return data

    # --- writes ------------------------------------------------------------------------------
    def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        body = self._preview_body(kind, chain_id, payload, message, intent)
        return dict(self.client.submit(self.address, body))

    def _submit(self, body: dict[str, Any], *, wait: bool, wallet_timeout: float | None,
                idempotency_key: str | None) -> WalletRequest | dict[str, Any]:
        data = self.client.submit(self.address, body,
                                  idempotency_key=(idempotency_key or self._idempotency_key
                                                   or str(uuid.uuid4())))
        if body.get("dryRun"):
            return dict(data)
        self._cache_requests([data], replace_all=False)
        if not wait:
            return _to_request(data)
        return self.requests.wait(data["pollingId"], wallet_timeout, current=data)

    def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                 wait: bool = True, dry_run: bool = False, wallet_timeout: int | None = None,
                 idempotency_key: str | None = None) -> WalletRequest | dict[str, Any]:
        return self._submit(self._transfer_body(to, amount, chain_id, token, dry_run),
                            wait=wait, wallet_timeout=wallet_timeout,
                            idempotency_key=idempotency_key)

    def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                         intent: str | None = None, wait: bool = True, dry_run: bool = False,
                         wallet_timeout: int | None = None,
                         idempotency_key: str | None = None) -> WalletRequest | dict[str, Any]:
        return self._submit(self._transaction_body(chain_id, payload, intent, dry_run),
                            wait=wait, wallet_timeout=wallet_timeout,
                            idempotency_key=idempotency_key)

    def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                     dry_run: bool = False, wallet_timeout: int | None = None,
                     idempotency_key: str | None = None) -> WalletRequest | dict[str, Any]:
        return self._submit(self._message_body(message, chain_id, dry_run), wait=wait,
                            wallet_timeout=wallet_timeout, idempotency_key=idempotency_key)

    def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                        intent: str | None = None, wait: bool = True, dry_run: bool = False,
                        wallet_timeout: int | None = None,
                        idempotency_key: str | None = None) -> WalletRequest | dict[str, Any]:
        return self._submit(self._typed_body(chain_id, payload, intent, dry_run), wait=wait,
                            wallet_timeout=wallet_timeout, idempotency_key=idempotency_key)

    def close(self) -> None:
        self.client.close()


# --- async ----------------------------------------------------------------------------------
class AsyncRemoteRequestsAPI:
    def __init__(self, wallet: AsyncRemoteWallet) -> None:
        self._w = wallet

    async def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        if not sync:
            return self._w._cached_requests()
        items = await self._w.client.list_requests(limit)
        self._w._cache_requests(items, replace_all=True)
        return [_to_request(r) for r in items]

    async def get(self, polling_id: str) -> WalletRequest:
        data = await self._w.client.get_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)

    async def wait(self, polling_id: str, timeout: float | None = None, *,
                   current: dict[str, Any] | None = None) -> WalletRequest:
        try:
            req = await self._w.client.wait(polling_id, self._w._wait_seconds(timeout),
                                            on_awaiting=self._w.on_awaiting, current=current)
        except JobTimeout as err:
            self._w._cache_requests([err.details["request"]], replace_all=False)
            raise
        self._w._cache_requests([req.to_dict()], replace_all=False)
        return req


class AsyncRemoteWallet(_WalletLogic, AsyncWallet):
    """The server wallet, natively async. ``sync`` gives the blocking ``RemoteWallet`` over the
    same MM_HOME (used for the few local-only helpers such as ``tx``)."""

    def __init__(self, wallet: RemoteWallet, client: AsyncRemoteClient | None = None) -> None:
        super().__init__(wallet)
        self.home = wallet.home
        self.config = wallet.config
        self.on_awaiting = wallet.on_awaiting
        self.client = client or AsyncRemoteClient(wallet.home, wallet.config)
        self.requests = AsyncRemoteRequestsAPI(self)

    def __repr__(self) -> str:
        return f"Async{self._wallet!r}"

    @classmethod
    def from_env(cls, **kwargs: Any) -> AsyncRemoteWallet:
        return cls(RemoteWallet.from_env(**kwargs))

    async def __aenter__(self) -> AsyncRemoteWallet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()
        self._wallet.close()

    @property
    def mode(self) -> str:
        return "server-wallet"

    # Set only on copies made by ``bound()`` (see ``Wallet.bound``).
    _account: str | None = None
    _idempotency_key: str | None = None

    @property
    def address(self) -> str:
        return self._account or self._active()

    def bound(self, *, account: str | None = None,  # type: ignore[override]
              idempotency_key: str | None = None) -> AsyncRemoteWallet:
        import copy

        view = copy.copy(self)
        view._wallet = self._wallet.bound(account=account, idempotency_key=idempotency_key)
        view._account = view._wallet._account
        view._idempotency_key = idempotency_key
        return view

    async def accounts(self) -> list[dict[str, Any]]:
        wallets = await self.client.list_wallets()
        self._cache_accounts(wallets)
        return self._mark(wallets)

    async def create_account(self, name: str | None = None, trading_mode: str | None = None,
                             *, idempotency_key: str | None = None) -> dict[str, Any]:
        self._check_mode(trading_mode)
        wallet = await self.client.create_wallet(name, trading_mode,
                                                 idempotency_key=idempotency_key)
        self._add_account(wallet)
        return dict(wallet)

    async def select(self, address: str) -> dict[str, Any]:
        wallet = await self.client.get_wallet(validate_address(address))
        self._add_account(wallet)
        self._cache_accounts(await self.client.list_wallets(), active=wallet["address"])
        return dict(wallet)

    async def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        if address:
            return self._show(await self.client.get_wallet(validate_address(address)))
        return self._show(self._find(await self.client.list_wallets(), None, name))

    async def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                      token_contracts: list[str] | None = None,
                      address: str | None = None) -> dict[str, Any]:
        owner = validate_address(address) if address else self.address
        contracts = [validate_address(c, field="tokenContracts") for c in token_contracts or []]
        return dict(await self.client.balance(owner, parse_chain_ids(chain_ids), token,
                                              contracts))

    async def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.tx, tx_hash, chain_id)

    async def tx_history(self, chain_ids: list[int] | None = None,
                         limit: int = 20) -> list[dict[str, Any]]:
        return self._history(await self.requests.list(), chain_ids, limit)

    async def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                      message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        body = self._preview_body(kind, chain_id, payload, message, intent)
        return dict(await self.client.submit(self.address, body))

    async def _submit(self, body: dict[str, Any], *, wait: bool, wallet_timeout: float | None,
                      idempotency_key: str | None) -> WalletRequest | dict[str, Any]:
        data = await self.client.submit(self.address, body,
                                        idempotency_key=(idempotency_key
                                                         or self._idempotency_key
                                                         or str(uuid.uuid4())))
        if body.get("dryRun"):
            return dict(data)
        self._cache_requests([data], replace_all=False)
        if not wait:
            return _to_request(data)
        return await self.requests.wait(data["pollingId"], wallet_timeout, current=data)

    async def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                       wait: bool = True, dry_run: bool = False,
                       wallet_timeout: int | None = None,
                       idempotency_key: str | None = None) -> WalletRequest | dict[str, Any]:
        return await self._submit(self._transfer_body(to, amount, chain_id, token, dry_run),
                                  wait=wait, wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)

    async def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                               intent: str | None = None, wait: bool = True,
                               dry_run: bool = False, wallet_timeout: int | None = None,
                               idempotency_key: str | None = None
                               ) -> WalletRequest | dict[str, Any]:
        return await self._submit(self._transaction_body(chain_id, payload, intent, dry_run),
                                  wait=wait, wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)

    async def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                           dry_run: bool = False, wallet_timeout: int | None = None,
                           idempotency_key: str | None = None
                           ) -> WalletRequest | dict[str, Any]:
        return await self._submit(self._message_body(message, chain_id, dry_run), wait=wait,
                                  wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)

    async def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                              intent: str | None = None, wait: bool = True,
                              dry_run: bool = False, wallet_timeout: int | None = None,
                              idempotency_key: str | None = None
                              ) -> WalletRequest | dict[str, Any]:
        return await self._submit(self._typed_body(chain_id, payload, intent, dry_run),
                                  wait=wait, wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)
