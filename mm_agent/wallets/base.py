"""The one wallet interface (contract §9): ``WalletBase`` (blocking; ``AsyncWalletBase`` in
``async_base.py``).

Two implementations stand behind it, chosen by the mode `mm init` stored in MM_HOME:

* BYOK (``wallets/byok/``): ``ByokWallet`` / ``AsyncByokWallet`` — the key is local, every
  write runs the security pipeline here and is complete when the method returns.
* Server wallet (``wallets/remote/``): ``RemoteWallet`` / ``AsyncRemoteWallet`` — the service
  holds the key; a write submits a request (``pollingId``) and, with ``wait=True``, long-polls
  it to a final status.

Neither inherits from the other, and nothing forwards through ``__getattr__``: the async
classes are written out (BYOK's run the blocking engine in a worker thread, the server
wallet's are natively async over ``httpx.AsyncClient``). What the twins share without I/O
lives next to them (``remote/core.py``) or here (argument checks, the request types, the hook
types). ``IMPLEMENTATIONS`` maps a mode to its classes by dotted path, imported on first use.

``Wallet`` and ``AsyncWallet`` (``mm_agent.Wallet``) are ``WalletBase`` and ``AsyncWalletBase``:
their ``from_env()`` opens the implementation of MM_HOME's mode, and ``isinstance(w, Wallet)``
holds in both modes.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from mm_agent.errors import NotInitialized, UnsupportedInMode, ValidationError
from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.state import Home

__all__ = [
    "IMPLEMENTATIONS",
    "TRADING_MODES",
    "ApprovalHook",
    "AwaitingHook",
    "PasswordSource",
    "RequestsBase",
    "WalletBase",
    "WriteResult",
    "check_preview_kind",
    "check_trading_mode",
    "implementation",
    "wallet_mode",
]

# Given the request preview and a reason, return True to go ahead, False to refuse (BYOK: the
# human's answer on a terminal; raising stops the request as well).
ApprovalHook = Callable[[dict[str, Any], str], bool]
# Called once when a server-wallet request first reaches AWAITING_MFA (the human must approve
# it). The library's default only logs; the CLI passes one that tells the person on stderr.
AwaitingHook = Callable[[WalletRequest], None]
# Where a BYOK wallet gets the vault password when it must unlock (None: no password known).
PasswordSource = Callable[[], "str | None"]
# What a write returns: the request, or with ``dry_run=True`` the section-5 preview.
WriteResult = WalletRequest | dict[str, Any]

TRADING_MODES = ("guard", "beast")
PREVIEW_KINDS = ("transaction", "message", "typed-data", "transfer")

# mode → ("module:BlockingClass", "module:AsyncClass"). Only the implementation asked for is
# imported: a BYOK wallet never loads the HTTP client, a server wallet never the keyring.
IMPLEMENTATIONS: dict[str, tuple[str, str]] = {
    "byok": ("mm_agent.wallets.byok.wallet:ByokWallet",
             "mm_agent.wallets.byok.async_wallet:AsyncByokWallet"),
    "server-wallet": ("mm_agent.wallets.remote.wallet:RemoteWallet",
                      "mm_agent.wallets.remote.async_wallet:AsyncRemoteWallet"),
}

_W = TypeVar("_W", bound="WalletBase")


def check_trading_mode(trading_mode: str | None) -> None:
    """``VALIDATION_ERROR`` unless ``trading_mode`` is None, ``guard`` or ``beast``."""
    if trading_mode is not None and trading_mode not in TRADING_MODES:
        raise ValidationError(f"tradingMode must be guard or beast, not {trading_mode!r}.")


def check_preview_kind(kind: str) -> None:
    """``VALIDATION_ERROR`` for a preview kind neither wallet knows."""
    if kind not in PREVIEW_KINDS:
        raise ValidationError(f"Unknown preview kind {kind!r}; one of {', '.join(PREVIEW_KINDS)}.")


def wallet_mode(home: Home) -> str:
    """The mode `mm init` stored in ``wallets.json``. NOT_INITIALIZED, STATE_CORRUPT (a
    damaged file, kept as it is), UNSUPPORTED_IN_MODE (a mode this version does not know)."""
    from mm_agent.local.wallets_file import load_wallets

    data = load_wallets(home)
    if data is None:
        raise NotInitialized("No wallet is set up under this MM_HOME.")
    mode = str(data["mode"])
    if mode not in IMPLEMENTATIONS:
        raise UnsupportedInMode(f"Unknown wallet mode {mode!r} in wallets.json.")
    return mode


def implementation(mode: str, *, asynchronous: bool = False) -> Any:
    """The class implementing ``mode`` (imported now)."""
    module, _, name = IMPLEMENTATIONS[mode][1 if asynchronous else 0].partition(":")
    return getattr(importlib.import_module(module), name)


# --- requests ----------------------------------------------------------------------------------
class RequestsBase(ABC):
    """``wallet.requests``: the wallet's requests (jobs, contract §4)."""

    @abstractmethod
    def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        """The wallet's requests, newest first.

        Args:
            sync: server wallet: ask the service (and refresh the local cache); ``False`` reads
                the cache (``requests.sqlite``) only. BYOK records are local either way.
            limit: at most this many.

        Returns:
            ``WalletRequest`` objects (``.to_dict()`` is the CLI's JSON).

        Raises:
            NOT_AUTHENTICATED, NETWORK_UNREACHABLE (server wallet, ``sync=True``).

        Example::

            pending = [r for r in w.requests.list() if not r.done]
        """

    @abstractmethod
    def get(self, polling_id: str) -> WalletRequest:
        """One request by its ``pollingId``.

        Raises:
            REQUEST_NOT_FOUND: no such request (for this account).

        Example::

            w.requests.get(req.polling_id).status
        """

    @abstractmethod
    def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        """Block until the request is final and return it.

        BYOK requests are final when their method returns, so this is ``get``. A server-wallet
        request is long-polled; ``AWAITING_MFA`` keeps waiting (the wallet's ``on_awaiting``
        hook is told once).

        Args:
            polling_id: the request.
            timeout: seconds; default ``walletTimeoutSeconds`` from the config.

        Raises:
            JOB_TIMEOUT: still not final at the deadline (``details.request`` holds it; the
                request itself goes on). REQUEST_NOT_FOUND.

        Example::

            done = w.requests.wait(req.polling_id, timeout=120)
        """

    @abstractmethod
    def cancel(self, polling_id: str) -> WalletRequest:
        """Cancel a request that is not final yet.

        ``PENDING``/``AWAITING_MFA`` end ``DENIED`` (``TX_CANCELLED``); a ``SUBMITTED``
        transaction is replaced by a 0-value self-transfer with the same nonce and higher fees
        (``result.cancelTxHash``), and the request ends ``DENIED`` once that is mined.

        Raises:
            ALREADY_DECIDED: the request is final, or its transaction is already mined.
            REQUEST_NOT_FOUND. BYOK: what signing needs (PASSWORD_REQUIRED, …).

        Example::

            w.requests.cancel(stuck.polling_id).result["cancelTxHash"]
        """


# --- the blocking wallet -----------------------------------------------------------------------
class WalletBase(ABC):
    """A wallet of either mode (``mm_agent.Wallet``). Open it with ``Wallet.from_env()``.

    Example::

        from mm_agent import Wallet

        with Wallet.from_env() as w:
            req = w.transfer(to="0x…", amount="0.5", token="ETH", chain_id=31337)
            print(req.status, req.tx_hash)
    """

    home: Home
    config: Config
    requests: RequestsBase

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,
                 approval_hook: ApprovalHook | None = None, interactive: bool = False,
                 password: PasswordSource | None = None,
                 on_awaiting: AwaitingHook | None = None) -> WalletBase:
        """Open the wallet `mm init` set up under MM_HOME, in its mode.

        Args:
            home: the state directory (default ``MM_HOME`` / ``~/.mm``).
            config: its configuration (default: read from ``home``).
            approval_hook: BYOK: asked when the security checks flag a request; without one
                a flagged request fails ``APPROVAL_REQUIRED`` (nothing signed).
            interactive: BYOK: may prompt for the vault password on a terminal.
            password: BYOK: where the vault password comes from (default ``MM_PASSWORD``).
            on_awaiting: server wallet: told once when a waited-for request needs a human
                (default: logged only; the library never prints).

        Returns:
            A ``ByokWallet`` or a ``RemoteWallet`` (both are ``Wallet``).

        Raises:
            NOT_INITIALIZED: nothing set up here. STATE_CORRUPT: a damaged ``wallets.json``.
            NOT_AUTHENTICATED: server wallet without a sign-in session.

        Example::

            w = Wallet.from_env()
            w.address
        """
        home = home or Home.from_env()
        config = config or Config(home)
        wallet: WalletBase = implementation(wallet_mode(home)).from_env(
            home=home, config=config, approval_hook=approval_hook, interactive=interactive,
            password=password, on_awaiting=on_awaiting)
        return wallet

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- identity --------------------------------------------------------------------------
    @property
    @abstractmethod
    def mode(self) -> str:
        """``"byok"`` or ``"server-wallet"``."""

    @property
    @abstractmethod
    def address(self) -> str:
        """The checksummed address this wallet acts for (the active account, or the one given
        to ``bound(account=…)``).

        Raises:
            NOT_INITIALIZED: no active account.

        Example::

            w.address  # '0xf39F…2266'
        """

    @abstractmethod
    def bound(self: _W, *, account: str | None = None, idempotency_key: str | None = None,
              confirm: str | None = None) -> _W:
        """A copy acting for ``account``; the shared active account is not touched, so
        concurrent agents can each act for their own account.

        Args:
            account: one of this wallet's accounts (default: the active one).
            idempotency_key: server wallet: sent with the copy's submissions (a retry with the
                same key returns the same request).
            confirm: BYOK: the ``digest`` of an ``APPROVAL_REQUIRED`` error that a human
                approved; a flagged request is then signed only if its fresh preview has
                exactly that digest.

        Returns:
            A wallet of the same class.

        Raises:
            INVALID_ADDRESS. WALLET_NOT_FOUND (BYOK: not one of this wallet's accounts).

        Example::

            w.bound(confirm=err.details["digest"]).send_transaction(chain_id=1, payload=p)
        """

    @abstractmethod
    def close(self) -> None:
        """Release what the wallet holds (unlocked key material, HTTP connections); also
        what ``with Wallet.from_env() as w:`` does on exit. Example: ``w.close()``."""

    # --- accounts --------------------------------------------------------------------------
    @abstractmethod
    def accounts(self) -> list[dict[str, Any]]:
        """The wallet's accounts: ``[{address, name, …, active}]``.

        Example::

            [a["address"] for a in w.accounts()]
        """

    @abstractmethod
    def create_account(self, name: str | None = None, trading_mode: str | None = None, *,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Add an account (BYOK: the next HD index of the mnemonic; server: a new wallet).

        Args:
            name: label (default "Account N" / "Wallet N").
            trading_mode: server wallet only: ``guard`` or ``beast``.
            idempotency_key: server wallet: a retry with it creates no second wallet.

        Returns:
            The new account ``{address, name, …}``.

        Raises:
            UNSUPPORTED_IN_MODE (BYOK with ``trading_mode``), VALIDATION_ERROR,
            PASSWORD_REQUIRED (BYOK, encrypted vault).

        Example::

            w.create_account("savings")["address"]
        """

    @abstractmethod
    def select(self, address: str) -> dict[str, Any]:
        """Make ``address`` the active account; returns it.

        Raises:
            INVALID_ADDRESS, WALLET_NOT_FOUND.

        Example::

            w.select("0x7099…79C8")
        """

    @abstractmethod
    def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        """One account by address or name (default the active one), with ``mode``/``active``.

        Raises:
            WALLET_NOT_FOUND.

        Example::

            w.show(name="Account 1")["address"]
        """

    # --- reads -----------------------------------------------------------------------------
    @abstractmethod
    def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                token_contracts: list[str] | None = None,
                address: str | None = None) -> dict[str, Any]:
        """Balances, the same data as `mm wallet balance`.

        Args:
            chain_ids: chains to read (default: the devnet if running, else 1, 8453, 59144;
                a server wallet: what the service serves).
            token: only this token (symbol or 0x contract).
            token_contracts: extra ERC-20 contracts to include.
            address: whose balance (default: this wallet's address).

        Raises:
            UNSUPPORTED_CHAIN, UNKNOWN_TOKEN, RPC errors.

        Example::

            w.balance(chain_ids=[31337])
        """

    @abstractmethod
    def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        """A transaction's status by hash: ``{txHash, chainId, status, from, to, value, …}``.

        Args:
            tx_hash: ``0x`` + 64 hex.
            chain_id: where to look (default: the chain of this wallet's request with that
                hash, else the devnet or Ethereum).

        Raises:
            INVALID_HASH, TX_NOT_FOUND.

        Example::

            w.tx(req.tx_hash)["status"]  # 'success'
        """

    @abstractmethod
    def tx_history(self, chain_ids: list[int] | None = None,
                   limit: int = 20) -> list[dict[str, Any]]:
        """Transactions this wallet sent, newest first (`mm tx history`).

        Example::

            w.tx_history(chain_ids=[31337], limit=5)
        """

    # --- server-wallet policy --------------------------------------------------------------
    @abstractmethod
    def policy(self) -> dict[str, Any]:
        """The server wallet's policy document.

        Raises:
            UNSUPPORTED_IN_MODE: BYOK has no policy (the threat scan and a human decide).

        Example::

            w.policy()["policy"]
        """

    @abstractmethod
    def set_policy(self, policy: str, *, wait: bool = False,
                   wallet_timeout: float | None = None) -> dict[str, Any]:
        """Replace the policy: tightening applies at once (``confirmed``), broadening returns
        ``pending_approval`` and, with ``wait``, blocks until the human decides.

        Raises:
            UNSUPPORTED_IN_MODE (BYOK), INVALID_POLICY, JOB_TIMEOUT.

        Example::

            w.set_policy(json.dumps(doc), wait=True)["status"]
        """

    @abstractmethod
    def trading_mode(self) -> dict[str, Any]:
        """The server wallet's trading mode ``{tradingMode}``.

        Raises:
            UNSUPPORTED_IN_MODE (BYOK).

        Example::

            w.trading_mode()["tradingMode"]  # 'guard'
        """

    @abstractmethod
    def set_trading_mode(self, mode: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        """Switch guard/beast (guard → beast needs a human's approval; see ``set_policy``).

        Raises:
            UNSUPPORTED_IN_MODE (BYOK), VALIDATION_ERROR, JOB_TIMEOUT.

        Example::

            w.set_trading_mode("beast", wait=True)
        """

    # --- writes ----------------------------------------------------------------------------
    @abstractmethod
    def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        """The section-5 preview ``{intent, decoded, simulation, scan, policy,
        requiresApproval, fees}`` without signing anything.

        Args:
            kind: ``transaction``, ``message``, ``typed-data`` or ``transfer`` (payload
                ``{to, amount, token}``).
            chain_id: the chain.
            payload: the transaction or typed data (dict or JSON text).
            message: for ``kind="message"``.
            intent: the agent's note (the headline is always the engine's own decoding).

        Raises:
            VALIDATION_ERROR, INVALID_TRANSACTION_PAYLOAD, INVALID_TYPED_DATA, RPC errors.

        Example::

            w.preview(chain_id=31337, payload={"to": "0x…", "value": "0x1"})["scan"]
        """

    @abstractmethod
    def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                 wait: bool = True, dry_run: bool = False, wallet_timeout: int | None = None,
                 idempotency_key: str | None = None) -> WriteResult:
        """Send ``amount`` (human decimal) of ``token`` to ``to``.

        Args:
            to: recipient address. amount: e.g. ``"0.5"``. chain_id: the chain.
            token: native symbol, a token symbol or a 0x ERC-20 contract.
            wait: server wallet: block until final (BYOK always completes before returning).
            dry_run: return the preview; nothing is signed.
            wallet_timeout: seconds for ``wait`` / confirmation.
            idempotency_key: server wallet: the submission's ``Idempotency-Key``.

        Returns:
            A ``WalletRequest`` (``.polling_id, .status, .tx_hash, .intent, .error``), or the
            preview dict with ``dry_run``. A refused or reverted request is returned with
            ``status`` ``FAILED``/``DENIED`` and ``error``.

        Raises:
            INVALID_ADDRESS, INVALID_AMOUNT, UNKNOWN_TOKEN, INSUFFICIENT_FUNDS (nothing
            recorded), APPROVAL_REQUIRED (flagged, no approval hook; ``details.digest``),
            PASSWORD_REQUIRED, JOB_TIMEOUT (server, ``wait``).

        Example::

            req = w.transfer(to="0x…", amount="0.5", token="ETH", chain_id=31337)
        """

    @abstractmethod
    def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                         intent: str | None = None, wait: bool = True, dry_run: bool = False,
                         wallet_timeout: int | None = None,
                         idempotency_key: str | None = None) -> WriteResult:
        """Sign and send a raw transaction ``{to, value, data, gas?, nonce?, maxFeePerGas?,
        maxPriorityFeePerGas?}`` (hex quantities) after the security pipeline.

        Args:
            chain_id: the chain. payload: dict or JSON text.
            intent: the agent's words, kept as ``agentNote`` (one line, sanitised, labelled
                as the agent's); the request's ``intent`` is the engine's decoding.
            wait, dry_run, wallet_timeout, idempotency_key: as for ``transfer``.

        Returns:
            As ``transfer``.

        Raises:
            INVALID_TRANSACTION_PAYLOAD, PAYLOAD_FROM_MISMATCH, NONCE_NOT_ALLOWED,
            NONCE_TOO_LOW and INSUFFICIENT_FUNDS (nothing recorded), APPROVAL_REQUIRED,
            PASSWORD_REQUIRED, JOB_TIMEOUT.

        Example::

            w.send_transaction(chain_id=31337, payload={"to": "0x…", "value": "0x2a"},
                               intent="tip Bob")
        """

    @abstractmethod
    def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                     dry_run: bool = False, wallet_timeout: int | None = None,
                     idempotency_key: str | None = None) -> WriteResult:
        """personal_sign (EIP-191) ``message`` after the scan (raw 32-byte hashes are flagged).

        Returns:
            A ``WalletRequest`` with ``.signature``, or the preview with ``dry_run``.

        Raises:
            VALIDATION_ERROR, APPROVAL_REQUIRED, PASSWORD_REQUIRED, JOB_TIMEOUT.

        Example::

            w.sign_message(message="hello", chain_id=1).signature
        """

    @abstractmethod
    def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                        intent: str | None = None, wait: bool = True, dry_run: bool = False,
                        wallet_timeout: int | None = None,
                        idempotency_key: str | None = None) -> WriteResult:
        """Sign EIP-712 typed data (``domain.chainId`` must equal ``chain_id``) after the scan
        (permits and approvals are checked like transactions).

        Args:
            intent: the agent's note (``agentNote``), as for ``send_transaction``.

        Returns:
            A ``WalletRequest`` with ``.signature``, or the preview with ``dry_run``.

        Raises:
            INVALID_TYPED_DATA, APPROVAL_REQUIRED, PASSWORD_REQUIRED, JOB_TIMEOUT.

        Example::

            w.sign_typed_data(chain_id=1, payload=typed).signature
        """
