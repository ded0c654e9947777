"""The Python API (contract §9): ``Wallet`` and ``AsyncWallet``.

``Wallet.from_env()`` opens the wallet that `mm init` set up under MM_HOME. Every signing or
transaction method runs the security pipeline and returns a ``WalletRequest`` (or, with
``dry_run=True``, the section-5 preview). BYOK requests complete before the method returns.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from mm_agent.errors import (
    ApprovalRequired,
    InsufficientFunds,
    InvalidHash,
    MMError,
    NotInitialized,
    TxNotFound,
    UnsupportedInMode,
)
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.chains import DEVNET_CHAIN_ID, get_chain, parse_chain_id, parse_chain_ids
from mm_agent.evm.payloads import load_json_payload, parse_transaction_payload
from mm_agent.evm.rpc import hex_to_int
from mm_agent.local.config import Config
from mm_agent.local.request_log import RequestLog, WalletRequest, history_rows, new_polling_id
from mm_agent.local.state import Home
from mm_agent.operations.context import ApprovalHook
from mm_agent.security.pipeline import Engine, Preview, gate

__all__ = ["AsyncWallet", "RequestsAPI", "Wallet"]

DEFAULT_BALANCE_CHAINS = (1, 8453, 59144)


class RequestsAPI:
    def __init__(self, log: RequestLog) -> None:
        self._log = log

    def list(self, sync: bool = True) -> list[WalletRequest]:
        # BYOK records are local: there is nothing to sync.
        return list(reversed(self._log.all()))

    def get(self, polling_id: str) -> WalletRequest:
        return self._log.get(polling_id)

    def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        # BYOK requests are complete when their method returns: nothing to wait for.
        return self._log.get(polling_id)


class Wallet:
    """A wallet of either mode. Build it with ``Wallet.from_env()``."""

    # Set only on the copies ``bound()`` makes: the account they act for, the idempotency key
    # their submissions carry (server wallet).
    _account: str | None = None
    _idempotency_key: str | None = None
    # BYOK, set by ``bound(confirm=…)``: a human approved the flagged request with this
    # digest (``mm_agent.security.confirmation``); only a request with that same digest gets signed.
    _confirm: str | None = None

    def __init__(
        self,
        *,
        home: Home,
        config: Config,
        keyring: Any,
        approval_hook: ApprovalHook | None = None,
    ) -> None:
        self.home = home
        self.config = config
        self.keyring = keyring
        self.approval_hook = approval_hook
        self._log = RequestLog(home)
        self.requests = RequestsAPI(self._log)
        self.engine = Engine(home, config, counterparties=self._counterparties)

    def __repr__(self) -> str:
        return f"Wallet(mode='byok', address={self.address!r})"

    @classmethod
    def from_env(
        cls,
        *,
        home: Home | None = None,
        config: Config | None = None,
        approval_hook: ApprovalHook | None = None,
        interactive: bool = False,
        password: Callable[[], str | None] | None = None,
    ) -> Wallet:
        home = home or Home.from_env()
        config = config or Config(home)
        from mm_agent.local.wallets_file import load_wallets

        data = load_wallets(home)  # STATE_CORRUPT (never replaced) for a damaged file
        if data is None:
            raise NotInitialized("No wallet is set up under this MM_HOME.")
        if data["mode"] == "byok":
            from .byok.keyring import ByokKeyring

            def default_password() -> str | None:
                import os

                value = os.environ.get("MM_PASSWORD")
                if value:
                    return value
                if interactive:
                    import getpass

                    return getpass.getpass("Wallet password: ")
                return None

            return cls(home=home, config=config,
                       keyring=ByokKeyring(home, password or default_password),
                       approval_hook=approval_hook)
        if data["mode"] == "server-wallet":
            from .remote.wallet import RemoteWallet

            return RemoteWallet.from_env(home=home, config=config, approval_hook=approval_hook)
        raise UnsupportedInMode(f"Unknown wallet mode {data['mode']!r} in wallets.json.")

    # --- accounts ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "byok"

    @property
    def address(self) -> str:
        if self._account:
            return self._account
        active = self.keyring.active
        if not active:
            raise NotInitialized("No active account.")
        return str(active)

    def accounts(self) -> list[dict[str, Any]]:
        active = self.address
        return [{**a, "active": a["address"] == active} for a in self.keyring.accounts()]

    def bound(self, *, account: str | None = None,
              idempotency_key: str | None = None, confirm: str | None = None) -> Wallet:
        """A shallow copy acting for ``account`` (one of this wallet's accounts; default the
        active one) whose submissions carry ``idempotency_key``. The shared active account is
        not touched, so concurrent agents can each act for their own account.

        ``confirm`` (BYOK): the ``digest`` from an ``APPROVAL_REQUIRED`` error that a human
        approved. A flagged request is then signed only if its fresh preview has exactly that
        digest; any other flagged request is still ``APPROVAL_REQUIRED`` (nothing signed)."""
        import copy

        view = copy.copy(self)
        if account is not None:
            view._account = self._own_account(validate_address(account, field="account"))
        if idempotency_key is not None:
            view._idempotency_key = idempotency_key
        if confirm is not None:
            view._confirm = confirm
        return view

    def _own_account(self, address: str) -> str:
        return str(self.keyring.account(address)["address"])  # WALLET_NOT_FOUND if not ours

    def create_account(self, name: str | None = None,
                       trading_mode: str | None = None) -> dict[str, Any]:
        if trading_mode is not None:
            raise UnsupportedInMode("Trading modes belong to server wallets; BYOK has none.")
        return self.keyring.create_account(name)

    def select(self, address: str) -> dict[str, Any]:
        return self.keyring.select(validate_address(address))

    def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        acct = self.keyring.account(address, name)
        return {**acct, "mode": self.mode, "active": acct["address"] == self.address}

    def _counterparties(self, address: str) -> frozenset[str]:
        seen: set[str] = set()
        for req in self._log.all():
            if req.status != "COMPLETED" or (req.address or "").lower() != address.lower():
                continue
            if req.result:
                for key in ("to", "effectiveRecipient"):
                    if req.result.get(key):
                        seen.add(str(req.result[key]).lower())
        return frozenset(seen)

    # --- reads ---------------------------------------------------------------------------------
    def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                token_contracts: list[str] | None = None,
                address: str | None = None) -> dict[str, Any]:
        from .balances import read_balances

        owner = validate_address(address) if address else self.address
        chains = parse_chain_ids(chain_ids) if chain_ids else self._default_chains()
        return read_balances(self.engine, owner, chains, token=token,
                             token_contracts=token_contracts or [])

    def _default_chains(self) -> list[int]:
        return [DEVNET_CHAIN_ID] if self.engine.devnet() else list(DEFAULT_BALANCE_CHAINS)

    def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        import re

        if not isinstance(tx_hash, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", tx_hash):
            raise InvalidHash(f"{tx_hash!r} is not a transaction hash.")
        if chain_id is None:
            for req in self._log.all():
                if req.tx_hash and req.tx_hash.lower() == tx_hash.lower():
                    chain_id = req.chain_id
            chain_id = chain_id or (DEVNET_CHAIN_ID if self.engine.devnet() else 1)
        rpc = self.engine.rpc(chain_id)
        tx = rpc.call("eth_getTransactionByHash", [tx_hash])
        if not tx:
            raise TxNotFound(f"No transaction {tx_hash} on chain {chain_id}.")
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        status = "pending" if not receipt else (
            "success" if hex_to_int(receipt.get("status")) == 1 else "reverted")
        chain = get_chain(chain_id)
        return {
            "txHash": tx_hash, "chainId": chain_id, "status": status,
            "from": validate_address(tx["from"]),
            "to": validate_address(tx["to"]) if tx.get("to") else None,
            "value": str(hex_to_int(tx.get("value"))), "nonce": hex_to_int(tx.get("nonce")),
            "blockNumber": hex_to_int(receipt.get("blockNumber")) if receipt else None,
            "gasUsed": str(hex_to_int(receipt.get("gasUsed"))) if receipt else None,
            "explorerUrl": chain.explorer_tx(tx_hash),
        }

    def tx_history(self, chain_ids: list[int] | None = None,
                   limit: int = 20) -> list[dict[str, Any]]:
        return history_rows(list(reversed(self._log.all())), parse_chain_ids(chain_ids), limit)

    # --- previews ------------------------------------------------------------------------------
    def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        """The section-5 preview of a transaction, message or typed data, without signing."""
        return self._preview(kind, parse_chain_id(chain_id), payload, message, intent).to_dict()

    def _preview(self, kind: str, chain_id: int, payload: Any, message: str | None,
                 intent: str | None) -> Preview:
        if kind == "transaction":
            tx = parse_transaction_payload(payload, chain_id=chain_id, sender=self.address)
            return self.engine.preview_transaction(chain_id, self.address, tx, intent=intent)
        if kind == "message":
            return self.engine.preview_message(chain_id, self.address, str(message))
        from mm_agent.evm.signing import validate_typed_data

        typed = validate_typed_data(load_json_payload(payload), chain_id)
        return self.engine.preview_typed_data(chain_id, self.address, typed, intent=intent)

    # --- writes --------------------------------------------------------------------------------
    def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                 wait: bool = True, dry_run: bool = False,
                 wallet_timeout: int | None = None) -> WalletRequest | dict[str, Any]:
        chain_id = parse_chain_id(chain_id)
        tx, intent = self.engine.build_transfer(self.address, to, amount, token,
                                                chain_id)
        return self._run_transaction(chain_id, tx, intent, dry_run=dry_run,
                                     timeout=wallet_timeout, recipient=validate_address(to))

    def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                         intent: str | None = None, wait: bool = True, dry_run: bool = False,
                         wallet_timeout: int | None = None) -> WalletRequest | dict[str, Any]:
        chain_id = parse_chain_id(chain_id)
        tx = parse_transaction_payload(payload, chain_id=chain_id, sender=self.address)
        return self._run_transaction(chain_id, tx, intent, dry_run=dry_run,
                                     timeout=wallet_timeout)

    def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                     dry_run: bool = False, wallet_timeout: int | None = None
                     ) -> WalletRequest | dict[str, Any]:
        chain_id = parse_chain_id(chain_id)
        preview = self.engine.preview_message(chain_id, self.address, message)
        if dry_run:
            return preview.to_dict()
        return self._run_signature("message", preview,
                                   lambda: self.keyring.sign_message(self.address, message),
                                   {"message": message})

    def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                        intent: str | None = None, wait: bool = True, dry_run: bool = False,
                        wallet_timeout: int | None = None) -> WalletRequest | dict[str, Any]:
        from mm_agent.evm.signing import validate_typed_data

        chain_id = parse_chain_id(chain_id)
        typed = validate_typed_data(load_json_payload(payload), chain_id)
        preview = self.engine.preview_typed_data(chain_id, self.address, typed, intent=intent)
        if dry_run:
            return preview.to_dict()
        return self._run_signature("typed-data", preview,
                                   lambda: self.keyring.sign_typed_data(self.address, typed),
                                   {"primaryType": typed["primaryType"]})

    # --- the pipeline, BYOK flavour ---------------------------------------------------------
    def _new_request(self, kind: str, preview: Preview) -> WalletRequest:
        return WalletRequest(polling_id=new_polling_id(), kind=kind,  # type: ignore[arg-type]
                             status="PENDING", intent=preview.intent, chain_id=preview.chain_id,
                             address=self.address, preview=preview.to_dict())

    def _gate(self, req: WalletRequest, preview: Preview) -> bool:
        """Apply the verdict; on refusal record the request and say so (False)."""
        from mm_agent.errors import PolicyDenied, TxDenied
        from mm_agent.security.confirmation import preview_digest

        digest = preview_digest(preview)
        hook = self.approval_hook
        if self._confirm is not None:
            hook = _confirmed(self._confirm, digest)
        try:
            gate(preview, hook)
        except ApprovalRequired as err:
            # The digest a human's approval must name (``bound(confirm=…)``).
            err.details = {**(err.details or {}), "digest": digest}
            req.fail("FAILED", err)
            self._log.save(req)
            raise
        except TxDenied as err:
            req.fail("DENIED", err)
            self._log.save(req)
            return False
        except PolicyDenied as err:
            req.fail("FAILED", err)
            self._log.save(req)
            return False
        return True

    def _run_signature(self, kind: str, preview: Preview, sign: Callable[[], str],
                       result: dict[str, Any]) -> WalletRequest:
        req = self._new_request(kind, preview)
        if not self._gate(req, preview):
            return req
        req.signature = sign()
        req.result = {**result, "signature": req.signature, "address": self.address}
        req.set_status("COMPLETED")
        self._log.save(req)
        return req

    def _run_transaction(self, chain_id: int, tx: dict[str, Any], intent: str | None, *,
                         dry_run: bool, timeout: int | None,
                         recipient: str | None = None) -> WalletRequest | dict[str, Any]:
        sender = self.address
        try:
            preview = self.engine.preview_transaction(chain_id, sender, tx, intent=intent)
        except InsufficientFunds as err:
            # The node refused to simulate (value above balance): same outcome as the
            # funds check in prepare_transaction, a FAILED request and nothing signed.
            if dry_run:
                raise
            req = WalletRequest(polling_id=new_polling_id(), kind="transaction",
                                status="PENDING", intent=intent or f"Transaction to {tx['to']}",
                                chain_id=chain_id, address=sender)
            req.fail("FAILED", err)
            self._log.save(req)
            return req
        if dry_run:
            return preview.to_dict()
        req = self._new_request("transaction", preview)
        if not self._gate(req, preview):
            return req
        try:
            prepared = self.engine.prepare_transaction(chain_id, sender, tx, preview)
        except MMError as err:
            req.fail("FAILED", err)
            self._log.save(req)
            return req

        def on_broadcast(nonce: int, tx_hash: str) -> None:
            req.nonce, req.tx_hash = nonce, tx_hash
            req.set_status("SUBMITTED")
            self._log.save(req)

        try:
            result = self.engine.submit(
                chain_id, sender, prepared,
                lambda t: self.keyring.sign_transaction(sender, t),
                # A payload nonce was checked in the preview (only the next one passes):
                # the nonce manager reserves it as for any other transaction.
                timeout=float(timeout or self.config.wallet_timeout),
                on_broadcast=on_broadcast,
            )
        except MMError as err:
            req.fail("FAILED", err)
            self._log.save(req)
            return req
        req.tx_hash = result.tx_hash
        req.result = {"to": recipient or tx.get("to"),
                      "effectiveRecipient": recipient or preview.effective_recipient,
                      "replacements": result.replacements}
        if result.mined:
            assert result.receipt is not None
            req.result.update(blockNumber=hex_to_int(result.receipt.get("blockNumber")),
                              gasUsed=str(hex_to_int(result.receipt.get("gasUsed"))))
            req.set_status("COMPLETED")
        self._log.save(req)
        return req

    def close(self) -> None:
        if hasattr(self.keyring, "forget"):
            self.keyring.forget()


def _confirmed(approved: str, digest: str) -> ApprovalHook:
    """The approval hook of ``bound(confirm=approved)``: yes for exactly that digest."""
    import hmac

    def hook(preview: dict[str, Any], reason: str) -> bool:
        if hmac.compare_digest(approved, digest):
            return True
        raise ApprovalRequired(
            f"Approval required: {reason}. The human's approval was for another request "
            f"(digest {approved[:12]}…), not this one (digest {digest[:12]}…). Nothing was "
            "signed.", details={"preview": preview})

    return hook


class AsyncWallet:
    """The async face of ``Wallet``. BYOK work is local signing plus short RPC calls, so each
    method runs the sync implementation in a worker thread; the wallet-service client is
    natively async."""

    def __init__(self, wallet: Wallet) -> None:
        self._wallet = wallet

    @classmethod
    def from_env(cls, **kwargs: Any) -> AsyncWallet:
        wallet = Wallet.from_env(**kwargs)
        if wallet.mode == "server-wallet":
            # The wallet-service client is natively async (no worker threads).
            from .remote.wallet import AsyncRemoteWallet, RemoteWallet

            assert isinstance(wallet, RemoteWallet)
            return AsyncRemoteWallet(wallet)
        return cls(wallet)

    async def __aenter__(self) -> AsyncWallet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._wallet.close()

    @property
    def address(self) -> str:
        return self._wallet.address

    @property
    def sync(self) -> Wallet:
        return self._wallet

    def bound(self, *, account: str | None = None,
              idempotency_key: str | None = None, confirm: str | None = None) -> AsyncWallet:
        """See ``Wallet.bound``."""
        return AsyncWallet(self._wallet.bound(account=account, idempotency_key=idempotency_key,
                                              confirm=confirm))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._wallet, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attr, *args, **kwargs)

        return call
