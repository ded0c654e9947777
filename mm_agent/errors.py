"""The one error tree of mm-agent.

Every error carries a stable ``code`` from the contract (``../shared/spec/contract.md``), a
human ``message`` and an optional ``hint``. The core raises these; only the edges (CLI, tools,
dispatcher, MCP, HTTP service) turn them into envelopes, ``ToolException``s or exit codes.

::

    MMError                              MM_ERROR
    ├── UsageError (exit 2)              USAGE_ERROR
    │   ├── MissingFlag                  MISSING_FLAG
    │   ├── UnknownFlag                  UNKNOWN_FLAG
    │   ├── UnknownTool                  UNKNOWN_TOOL
    │   ├── InlineSecretRefused          INLINE_SECRET_REFUSED
    │   ├── ConfirmationRequired         CONFIRMATION_REQUIRED
    │   └── ValidationError              INVALID_ARGUMENT
    │       ├── InvalidAddress           INVALID_EVM_ADDRESS
    │       ├── InvalidAmount            INVALID_AMOUNT
    │       ├── InvalidChainId           INVALID_CHAIN_ID
    │       ├── UnsupportedChain         UNSUPPORTED_CHAIN
    │       ├── InvalidTimeout           INVALID_TIMEOUT
    │       ├── InvalidUrl               INVALID_URL
    │       ├── InvalidFormat            INVALID_FORMAT
    │       ├── InvalidConfigKey         INVALID_CONFIG_KEY
    │       ├── InvalidConfigValue       INVALID_CONFIG_VALUE
    │       ├── InvalidMnemonic          INVALID_MNEMONIC
    │       ├── InvalidTransactionPayload INVALID_TRANSACTION_PAYLOAD
    │       ├── InvalidTypedData         INVALID_TYPED_DATA
    │       ├── InvalidCalldata          INVALID_CALLDATA
    │       ├── InvalidHash              INVALID_HASH
    │       ├── InvalidPolicyYaml        INVALID_POLICY_YAML
    │       ├── InvalidEmail             INVALID_EMAIL
    │       ├── ChainIdMismatch          CHAIN_ID_MISMATCH
    │       ├── PayloadFromMismatch      PAYLOAD_FROM_MISMATCH
    │       ├── NonceNotAllowed          NONCE_NOT_ALLOWED
    │       ├── InvalidJson              INVALID_JSON
    │       ├── RequestTooLarge          REQUEST_TOO_LARGE
    │       ├── UnknownToken             UNKNOWN_TOKEN
    │       └── TokenNoAddress           TOKEN_NO_ADDRESS
    ├── StateError                       STATE_ERROR
    │   ├── StateCorrupt                 STATE_CORRUPT
    │   ├── StatePermissions             STATE_PERMISSIONS
    │   ├── NotInitialized               NOT_INITIALIZED
    │   ├── AlreadyInitialized           ALREADY_INITIALIZED
    │   ├── WalletNotFound               WALLET_NOT_FOUND
    │   ├── RequestNotFound              REQUEST_NOT_FOUND
    │   ├── AccountNotFound              ACCOUNT_NOT_FOUND
    │   ├── ApprovalNotFound             APPROVAL_NOT_FOUND
    │   ├── ApprovalClosed               ALREADY_DECIDED
    │   ├── WalletExists                 WALLET_EXISTS
    │   ├── AlreadySetTradingMode        ALREADY_SET_TRADING_MODE
    │   ├── AlreadyAuthenticated         ALREADY_AUTHENTICATED
    │   ├── PolicyApprovalInProgress     WALLET_POLICY_APPROVAL_IN_PROGRESS
    │   ├── TradingModeApprovalInProgress TRADING_MODE_APPROVAL_IN_PROGRESS
    │   ├── DataDirLocked                DATA_DIR_LOCKED
    │   ├── DatabaseCorrupt              DATABASE_CORRUPT
    │   ├── UnsupportedInMode            UNSUPPORTED_IN_MODE
    │   ├── WalletFrozen                 WALLET_FROZEN
    │   └── OrderNotCancelled            ORDER_NOT_CANCELLED
    ├── VaultError                       VAULT_ERROR
    │   ├── AlreadyEncrypted             ALREADY_ENCRYPTED
    │   ├── NotEncrypted                 NOT_ENCRYPTED
    │   ├── WrongPassword                WRONG_PASSWORD
    │   ├── EmptyPassword                EMPTY_PASSWORD
    │   ├── PasswordMismatch             PASSWORD_MISMATCH
    │   ├── PasswordRequired             PASSWORD_REQUIRED
    │   └── PasswordTooShort             PASSWORD_TOO_SHORT
    ├── ChainError                       CHAIN_ERROR
    │   ├── RpcError                     RPC_ERROR
    │   ├── NetworkUnreachable           NETWORK_UNREACHABLE
    │   ├── InsufficientFunds            INSUFFICIENT_FUNDS
    │   ├── RpcChainMismatch             RPC_CHAIN_MISMATCH
    │   ├── NonceTooLow                  NONCE_TOO_LOW
    │   └── TxNotFound                   TX_NOT_FOUND
    ├── TransactionError                 TX_FAILED
    │   ├── TxReverted                   TX_REVERTED
    │   ├── SimulationMismatch           SIMULATION_MISMATCH
    │   ├── TxFailed                     TX_FAILED
    │   ├── TxDenied                     TX_DENIED
    │   ├── TxCancelled                  TX_CANCELLED
    │   ├── TxExpired                    TX_EXPIRED
    │   └── PolicyDenied                 POLICY_DENIED
    ├── ApprovalRequired                 APPROVAL_REQUIRED
    ├── JobTimeout                       JOB_TIMEOUT
    ├── IdempotencyConflict              IDEMPOTENCY_CONFLICT
    ├── RateLimited                      RATE_LIMITED
    ├── RouteNotFound                    NOT_FOUND (HTTP 404: no such route)
    ├── MethodNotAllowed                 METHOD_NOT_ALLOWED (HTTP 405)
    ├── PortInUse (exit 2)               PORT_IN_USE
    ├── AuthError                        AUTH_ERROR
    │   ├── NotAuthenticated             NOT_AUTHENTICATED
    │   ├── Forbidden                    FORBIDDEN
    │   └── InvalidOtp                   INVALID_OTP
    ├── SignInError                      SIGNIN_ERROR
    │   ├── AuthorizationPending         AUTHORIZATION_PENDING
    │   ├── LoginExpired                 EXPIRED
    │   ├── LinkUsed                     ALREADY_USED
    │   └── LoginNotFound                LOGIN_NOT_FOUND
    ├── DevnetError                      DEVNET_ERROR
    │   ├── AnvilNotFound                ANVIL_NOT_FOUND
    │   └── DevnetNotRunning             DEVNET_NOT_RUNNING
    ├── PredictError                     PREDICT_ERROR
    │   ├── PredictSetupRequired         PREDICT_SETUP_REQUIRED
    │   ├── PredictGeoblocked            PREDICT_GEOBLOCKED
    │   ├── PredictGeoblockUnavailable   PREDICT_GEOBLOCK_UNAVAILABLE
    │   ├── PredictBackendUnavailable    PREDICT_BACKEND_UNAVAILABLE
    │   ├── PredictNotFound              PREDICT_NOT_FOUND
    │   └── PredictAuthError             PREDICT_AUTH_FAILED
    └── ServiceError                     SERVICE_ERROR
        └── ServiceStopping (503)        SERVICE_STOPPING

``http_status`` (a ClassVar, inherited) is the status the wallet service answers with: 400
usage, 409 state, 404 ``*NotFound``, 401/403 auth, 410 expired, 428 sign-in pending, 422 chain,
vault and transaction failures, 500 otherwise; a few classes override it (413, 429, 503...).

``MMError.from_payload`` rebuilds the right class from a ``{"code", "message", "hint"}``
object, so an error raised in the wallet service surfaces as the same class in the client.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = [
    "AccountNotFound",
    "AlreadyAuthenticated",
    "AlreadyEncrypted",
    "AlreadyInitialized",
    "AlreadySetTradingMode",
    "AmountTooHigh",
    "AnvilNotFound",
    "ApprovalClosed",
    "ApprovalNotFound",
    "ApprovalRequired",
    "AuthError",
    "AuthorizationPending",
    "BridgeUnsupported",
    "ChainError",
    "ChainIdMismatch",
    "ConfirmationRequired",
    "DataDirLocked",
    "DatabaseCorrupt",
    "DevnetError",
    "DevnetNotRunning",
    "EmptyPassword",
    "Forbidden",
    "IdempotencyConflict",
    "InlineSecretRefused",
    "InsufficientFunds",
    "InvalidAddress",
    "InvalidAmount",
    "InvalidAssetId",
    "InvalidCalldata",
    "InvalidChainId",
    "InvalidConfigKey",
    "InvalidConfigValue",
    "InvalidEmail",
    "InvalidFormat",
    "InvalidHash",
    "InvalidInterval",
    "InvalidJson",
    "InvalidMnemonic",
    "InvalidOtp",
    "InvalidPolicyYaml",
    "InvalidSwapParams",
    "InvalidTimeout",
    "InvalidTimestamp",
    "InvalidTransactionPayload",
    "InvalidTypedData",
    "InvalidUrl",
    "JobTimeout",
    "LinkUsed",
    "LoginExpired",
    "LoginNotFound",
    "MMError",
    "MethodNotAllowed",
    "MissingFlag",
    "NetworkUnreachable",
    "NoQuotes",
    "NonceNotAllowed",
    "NonceTooLow",
    "NotAuthenticated",
    "NotEncrypted",
    "NotInitialized",
    "OrderNotCancelled",
    "PasswordMismatch",
    "PasswordRequired",
    "PasswordTooShort",
    "PayloadFromMismatch",
    "PolicyApprovalInProgress",
    "PolicyDenied",
    "PortInUse",
    "PredictAuthError",
    "PredictBackendUnavailable",
    "PredictError",
    "PredictGeoblockUnavailable",
    "PredictGeoblocked",
    "PredictNotFound",
    "PredictSetupRequired",
    "PriceUnavailable",
    "QuoteAlreadyExecuted",
    "QuoteExpired",
    "QuoteNotFound",
    "RateLimited",
    "RequestNotFound",
    "RequestTooLarge",
    "RouteNotFound",
    "RpcChainMismatch",
    "RpcError",
    "ServiceError",
    "ServiceStopping",
    "SignInError",
    "SimulationMismatch",
    "StateCorrupt",
    "StateError",
    "StatePermissions",
    "SwapError",
    "SwapPriceMoved",
    "SwapProtocolUnavailable",
    "TokenNoAddress",
    "TradingModeApprovalInProgress",
    "TransactionError",
    "TxCancelled",
    "TxDenied",
    "TxExpired",
    "TxFailed",
    "TxNotFound",
    "TxReverted",
    "UnknownFlag",
    "UnknownToken",
    "UnknownTool",
    "UnsupportedChain",
    "UnsupportedInMode",
    "UsageError",
    "ValidationError",
    "VaultError",
    "WalletExists",
    "WalletFrozen",
    "WalletNotFound",
    "WrongPassword",
]

_BY_CODE: dict[str, type[MMError]] = {}


_DOUBLED_END = re.compile(r"(?<![.])([.!?:;,])\s*\.$")
_DOUBLED_INSIDE = re.compile(r"(?<![.])([.!?])\.(?=\s)")


def _tidy(text: str) -> str:
    """One closing mark: ``"… {reason}."`` where ``reason`` already ended in "." (an
    exception's text, a pydantic message) must not read "…." — at the end or before the next
    sentence. An ellipsis ("...") is left alone."""
    text = _DOUBLED_INSIDE.sub(r"\1", text.strip())
    return _DOUBLED_END.sub(r"\1", text) if text.endswith(".") else text


class MMError(Exception):
    """Base of every mm-agent error. ``code`` is stable; ``message`` is for people."""

    code: ClassVar[str] = "MM_ERROR"
    exit_code: ClassVar[int] = 1
    # HTTP status the wallet service answers with; inherited down the tree, so a new class
    # gets its family's status (never derived from the code's spelling).
    http_status: ClassVar[int] = 500
    default_hint: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        message = _tidy(message)
        super().__init__(message)
        self.message = message
        hint = hint if hint is not None else self.default_hint
        self.hint = _tidy(hint) if hint else hint
        # Extra machine-readable context (e.g. the preview for APPROVAL_REQUIRED). Must never
        # hold a secret: it is printed in envelopes.
        self.details = details or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # First class to claim a code is the canonical one for from_payload.
        _BY_CODE.setdefault(cls.code, cls)

    def to_payload(self) -> dict[str, Any]:
        """The ``error`` object of the JSON envelope."""
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            payload["hint"] = self.hint
        if self.details:
            payload["details"] = self.details
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MMError:
        """Rebuild an error of the right class from an envelope's ``error`` object."""
        code = str(payload.get("code") or "MM_ERROR")
        klass = _BY_CODE.get(code, ServiceError)
        err = klass(
            str(payload.get("message") or code),
            hint=payload.get("hint"),
            details=payload.get("details") or None,
        )
        if klass is ServiceError:
            err.remote_code = code  # type: ignore[attr-defined]
        return err

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


_BY_CODE[MMError.code] = MMError


# --- usage and validation (exit code 2) -------------------------------------------------------
class UsageError(MMError):
    code = "USAGE_ERROR"
    http_status = 400
    exit_code = 2


class MissingFlag(UsageError):
    code = "MISSING_FLAG"
    default_hint = "Run the command with --help to see its required flags."


class UnknownFlag(UsageError):
    code = "UNKNOWN_FLAG"
    default_hint = "Run the command with --help to see the flags it takes."


class UnknownTool(UsageError):
    code = "UNKNOWN_TOOL"
    default_hint = "Call one of the tools you were given, by its exact name."


class InlineSecretRefused(UsageError):
    code = "INLINE_SECRET_REFUSED"
    default_hint = (
        "Secrets are never taken on the command line (they would end up in shell history and "
        "process lists). Use MM_MNEMONIC / MM_PASSWORD or the hidden prompt."
    )


class ConfirmationRequired(UsageError):
    code = "CONFIRMATION_REQUIRED"
    default_hint = "Pass --yes to confirm in non-interactive use."


class ValidationError(UsageError):
    code = "INVALID_ARGUMENT"


class InvalidAddress(ValidationError):
    code = "INVALID_EVM_ADDRESS"
    default_hint = (
        "An EVM address is 0x followed by 40 hex characters (EIP-55 checksum if mixed case).")


class InvalidAmount(ValidationError):
    code = "INVALID_AMOUNT"
    default_hint = 'Give a positive decimal amount as a string, e.g. "0.5".'


class InvalidChainId(ValidationError):
    code = "INVALID_CHAIN_ID"
    default_hint = "Chain ids are positive integers; `mm chains list` shows the known ones."


class UnsupportedChain(ValidationError):
    code = "UNSUPPORTED_CHAIN"
    default_hint = "`mm chains list` shows the supported chains."


class InvalidTimeout(ValidationError):
    code = "INVALID_TIMEOUT"
    default_hint = "Timeouts are whole seconds from 1 to 600."


class InvalidUrl(ValidationError):
    code = "INVALID_URL"
    default_hint = "Give an http:// or https:// URL."


class InvalidFormat(ValidationError):
    code = "INVALID_FORMAT"
    default_hint = "Formats: text, json, toon."


class InvalidConfigKey(ValidationError):
    code = "INVALID_CONFIG_KEY"
    default_hint = (
        "Keys: serviceUrl, format, verbose, walletTimeoutSeconds, rpc.<chainId>, "
        "security.denylist, smartTransactions."
    )


class InvalidConfigValue(ValidationError):
    code = "INVALID_CONFIG_VALUE"


class InvalidMnemonic(ValidationError):
    code = "INVALID_MNEMONIC"
    default_hint = "A BIP-39 mnemonic is 12, 15, 18, 21 or 24 English words with a valid checksum."


class InvalidTransactionPayload(ValidationError):
    code = "INVALID_TRANSACTION_PAYLOAD"
    default_hint = (
        'Payload: JSON object {"to": "0x…", "value": "0x…" (hex wei), "data": "0x…"} with '
        "optional gas, nonce, maxFeePerGas, maxPriorityFeePerGas."
    )


class InvalidTypedData(ValidationError):
    code = "INVALID_TYPED_DATA"
    default_hint = "EIP-712 payload: JSON object with types, primaryType, domain and message."


class InvalidCalldata(ValidationError):
    code = "INVALID_CALLDATA"
    default_hint = "Calldata is 0x followed by an even number of hex characters (at least 4 bytes)."


class InvalidHash(ValidationError):
    code = "INVALID_HASH"
    default_hint = "A transaction hash is 0x followed by 64 hex characters."


class InvalidPolicyYaml(ValidationError):
    code = "INVALID_POLICY_YAML"
    default_hint = "`mm wallet policy template` prints a valid policy document."


class InvalidEmail(ValidationError):
    code = "INVALID_EMAIL"
    default_hint = "Give an email address such as alice@example.com."


class ChainIdMismatch(ValidationError):
    code = "CHAIN_ID_MISMATCH"


class PayloadFromMismatch(ValidationError):
    code = "PAYLOAD_FROM_MISMATCH"
    default_hint = "Leave `from` out of the payload, or use the wallet's own address."


class NonceNotAllowed(ValidationError):
    code = "NONCE_NOT_ALLOWED"
    default_hint = ("Leave `nonce` out: the wallet's nonce manager picks it. To replace a "
                    "stuck transaction, cancel or replace its request instead.")


class InvalidJson(ValidationError):
    code = "INVALID_JSON"


class RequestTooLarge(ValidationError):
    code = "REQUEST_TOO_LARGE"
    http_status = 413


class UnknownToken(ValidationError):
    code = "UNKNOWN_TOKEN"
    default_hint = ("`mm token list --chain <chainId>` lists the known token symbols; or pass "
                    "the token's 0x contract address.")


class TokenNoAddress(ValidationError):
    code = "TOKEN_NO_ADDRESS"
    default_hint = "This token has no contract on that chain; pass its 0x address instead."


# --- local state ------------------------------------------------------------------------------
class StateError(MMError):
    code = "STATE_ERROR"
    http_status = 409


class StateCorrupt(StateError):
    code = "STATE_CORRUPT"
    # Never suggest deleting: the file may be wallets.json or master.key, the only copy of keys.
    default_hint = ("Keep the file (it may hold the only copy of keys): restore it from a "
                    "backup or repair it by hand.")


class StatePermissions(StateError):
    code = "STATE_PERMISSIONS"
    default_hint = "State files must be owned by you with mode 0600 (folder 0700)."


class NotInitialized(StateError):
    code = "NOT_INITIALIZED"
    default_hint = "Run `mm init` first."


class AlreadyInitialized(StateError):
    code = "ALREADY_INITIALIZED"
    default_hint = "`mm init show` shows the current set-up; `mm reset --yes` starts over."


class WalletNotFound(StateError):
    code = "WALLET_NOT_FOUND"
    http_status = 404
    default_hint = "`mm wallet list` shows your wallets."


class RequestNotFound(StateError):
    code = "REQUEST_NOT_FOUND"
    http_status = 404
    default_hint = "`mm wallet requests list` shows known requests."


class AccountNotFound(StateError):
    code = "ACCOUNT_NOT_FOUND"
    http_status = 404
    default_hint = "`mm server admin create-login --email E` creates the account."


class ApprovalNotFound(StateError):
    code = "APPROVAL_NOT_FOUND"
    http_status = 404
    default_hint = "Open the link from the approval mail exactly as it was sent."


class ApprovalClosed(StateError):
    """The approval was already approved, rejected or expired: nothing more can change."""

    code = "ALREADY_DECIDED"


class WalletExists(StateError):
    code = "WALLET_EXISTS"


class AlreadySetTradingMode(StateError):
    code = "ALREADY_SET_TRADING_MODE"


class AlreadyAuthenticated(StateError):
    code = "ALREADY_AUTHENTICATED"
    default_hint = "Run `mm logout` first to sign in as someone else."


class PolicyApprovalInProgress(StateError):
    code = "WALLET_POLICY_APPROVAL_IN_PROGRESS"
    default_hint = ("A broadening policy change already awaits approval; approve or reject it "
                    "first (tightening changes still apply at once).")


class TradingModeApprovalInProgress(StateError):
    code = "TRADING_MODE_APPROVAL_IN_PROGRESS"
    default_hint = "A trading-mode change already awaits approval; approve or reject it first."


class DataDirLocked(StateError):
    code = "DATA_DIR_LOCKED"
    default_hint = ("Another `mm server start` uses this data dir; stop it, or give this one "
                    "its own --data-dir. Scale out with replicas on PostgreSQL instead.")


class DatabaseCorrupt(StateError):
    code = "DATABASE_CORRUPT"
    http_status = 500
    default_hint = ("Stop the service and keep mm.sqlite and master.key (they hold the wallets' "
                    "keys): restore mm.sqlite from a backup, or check it with "
                    "`sqlite3 mm.sqlite 'PRAGMA integrity_check'`.")


class UnsupportedInMode(StateError):
    code = "UNSUPPORTED_IN_MODE"


class OrderNotCancelled(StateError):
    """A release asked for an order the chain does not show cancelled (``POST
    /v1/requests/{pollingId}/release``): the order's outflow reservation stays."""

    code = "ORDER_NOT_CANCELLED"
    default_hint = ("Cancel the order on chain (the maker's cancelOrder on the exchange), wait "
                    "for the receipt, then release with that transaction's hash.")


class WalletFrozen(StateError):
    """An operator froze the wallet (``mm server admin freeze``): it signs nothing; reads,
    cancels and policy reads still work. 409 like every state refusal."""

    code = "WALLET_FROZEN"
    default_hint = ("The service's operator froze this wallet: it signs nothing until they run "
                    "`mm server admin unfreeze`. Reading it still works.")


# --- BYOK vault -------------------------------------------------------------------------------
class VaultError(MMError):
    code = "VAULT_ERROR"
    http_status = 422


class AlreadyEncrypted(VaultError):
    code = "ALREADY_ENCRYPTED"
    http_status = 409
    default_hint = "Use `mm wallet password change`."


class NotEncrypted(VaultError):
    code = "NOT_ENCRYPTED"
    default_hint = "Use `mm wallet password set`."


class WrongPassword(VaultError):
    code = "WRONG_PASSWORD"


class EmptyPassword(VaultError):
    code = "EMPTY_PASSWORD"


class PasswordMismatch(VaultError):
    code = "PASSWORD_MISMATCH"


class PasswordRequired(VaultError):
    code = "PASSWORD_REQUIRED"
    default_hint = "Set MM_PASSWORD or run the command on a terminal to be prompted."


class PasswordTooShort(VaultError):
    # A vault password guards the mnemonic against anyone who copies wallets.json; scrypt
    # slows guessing, it cannot save a four-letter password.
    code = "PASSWORD_TOO_SHORT"
    exit_code = 2
    default_hint = "Choose a password of at least 8 characters."


# --- chain / RPC ------------------------------------------------------------------------------
class ChainError(MMError):
    code = "CHAIN_ERROR"
    http_status = 422


class RpcError(ChainError):
    code = "RPC_ERROR"


class NetworkUnreachable(ChainError):
    code = "NETWORK_UNREACHABLE"
    default_hint = "Check the RPC URL (`mm config get rpc.<chainId>`) or start the devnet."


class InsufficientFunds(ChainError):
    code = "INSUFFICIENT_FUNDS"
    default_hint = "Fund the wallet first: `mm wallet add-fund` shows its address."


class RpcChainMismatch(ChainError):
    code = "RPC_CHAIN_MISMATCH"


class NonceTooLow(ChainError):
    code = "NONCE_TOO_LOW"


class TxNotFound(ChainError):
    code = "TX_NOT_FOUND"
    http_status = 404


# --- transactions and requests ----------------------------------------------------------------
class TransactionError(MMError):
    code = "TX_FAILED"
    http_status = 422


class TxReverted(TransactionError):
    code = "TX_REVERTED"


class SimulationMismatch(TransactionError):
    """The preview said it succeeds; the chain reverted it: the contract told them apart."""

    code = "SIMULATION_MISMATCH"


class TxFailed(TransactionError):
    code = "TX_FAILED"


class TxDenied(TransactionError):
    code = "TX_DENIED"


class TxCancelled(TransactionError):
    """Cancelled by its submitter (`mm wallet requests cancel`): status DENIED."""

    code = "TX_CANCELLED"


class TxExpired(TransactionError):
    code = "TX_EXPIRED"
    http_status = 410


class PolicyDenied(TransactionError):
    code = "POLICY_DENIED"


class ApprovalRequired(MMError):
    code = "APPROVAL_REQUIRED"
    http_status = 422
    default_hint = "Run the command on a terminal to review and confirm it, or use --dry-run."


class JobTimeout(MMError):
    code = "JOB_TIMEOUT"
    http_status = 422
    default_hint = "The request goes on; `mm wallet requests watch <pollingId>` follows it."


class IdempotencyConflict(MMError):
    code = "IDEMPOTENCY_CONFLICT"
    http_status = 409


class RateLimited(MMError):
    code = "RATE_LIMITED"
    http_status = 429
    default_hint = "Too many requests; wait `retryAfterSeconds` and try again."


class RouteNotFound(MMError):
    code = "NOT_FOUND"
    http_status = 404


class MethodNotAllowed(MMError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class PortInUse(MMError):
    code = "PORT_IN_USE"
    http_status = 422
    exit_code = 2


# --- service ----------------------------------------------------------------------------------
class AuthError(MMError):
    code = "AUTH_ERROR"
    http_status = 401


class NotAuthenticated(AuthError):
    code = "NOT_AUTHENTICATED"
    default_hint = "Run `mm login`."


class Forbidden(AuthError):
    code = "FORBIDDEN"
    http_status = 403


class InvalidOtp(AuthError):
    code = "INVALID_OTP"
    default_hint = (
        "Enter the current 6-digit code from your authenticator app (each code works once).")


# Not AuthErrors: the service answers them with 428/410/409/404, not 401.
class SignInError(MMError):
    code = "SIGNIN_ERROR"
    http_status = 422


class AuthorizationPending(SignInError):
    code = "AUTHORIZATION_PENDING"
    http_status = 428
    default_hint = "Finish signing in on the page the CLI showed; the CLI keeps polling."


class LoginExpired(SignInError):
    code = "EXPIRED"
    http_status = 410
    default_hint = "Start again with `mm login`."


class LinkUsed(SignInError):
    code = "ALREADY_USED"
    http_status = 409
    default_hint = "Each link works once; start again with `mm login` if you need to."


class LoginNotFound(SignInError):
    code = "LOGIN_NOT_FOUND"
    http_status = 404
    default_hint = "Start again with `mm login`."


class DevnetError(MMError):
    code = "DEVNET_ERROR"
    http_status = 422


class AnvilNotFound(DevnetError):
    code = "ANVIL_NOT_FOUND"
    default_hint = (
        "Run `make setup` (installs anvil from npm @foundry-rs/anvil-linux-amd64 into .tools/), "
        "put anvil on PATH, or set MM_ANVIL to its path."
    )


class DevnetNotRunning(DevnetError):
    code = "DEVNET_NOT_RUNNING"
    default_hint = "Start it with `mm devnet start --detach`."


class ServiceError(MMError):
    """An error from the wallet service whose code this client does not know."""

    code = "SERVICE_ERROR"


class ServiceStopping(ServiceError):
    """The service is shutting down; an open long poll ends with this instead of holding
    the shutdown up."""

    code = "SERVICE_STOPPING"
    http_status = 503
    default_hint = ("The wallet service is stopping or restarting; the request goes on. Retry "
                    "in a few seconds (`mm wallet requests watch <pollingId>`).")


# --- prediction markets (`mm predict`, contract §10) ---------------------------------------------
class PredictError(MMError):
    """A prediction-market back end (the devnet market service, Gamma/CLOB) refused or failed."""

    code = "PREDICT_ERROR"
    http_status = 422


class PredictSetupRequired(PredictError):
    code = "PREDICT_SETUP_REQUIRED"
    http_status = 409
    default_hint = "Run `mm predict setup --wait`, then check `mm predict status`."


class PredictGeoblocked(PredictError):
    code = "PREDICT_GEOBLOCKED"
    http_status = 403
    default_hint = "Predict is not available from this region."


class PredictGeoblockUnavailable(PredictError):
    """The geoblock check of a real network could not be made: the commands that open a
    position fail closed (nothing is signed)."""

    code = "PREDICT_GEOBLOCK_UNAVAILABLE"
    http_status = 503
    default_hint = ("Retry when the check answers (`mm predict geoblock`); its base URL is the "
                    "config's predict.<mode>.geoblockUrl.")


class PredictBackendUnavailable(PredictError):
    code = "PREDICT_BACKEND_UNAVAILABLE"
    http_status = 503
    default_hint = "Only the devnet back end is built: `mm predict mode devnet`."


class PredictNotFound(PredictError):
    code = "PREDICT_NOT_FOUND"
    http_status = 404
    default_hint = "Find markets with `mm predict markets list`."


class PredictAuthError(PredictError):
    code = "PREDICT_AUTH_FAILED"
    http_status = 401
    default_hint = "Re-derive the trading credentials with `mm predict setup`."


# --- swaps, prices and allowances (`mm swap`, `mm price`, `mm wallet allowances`, §10) ----------
class SwapError(MMError):
    """A swap could not be quoted or executed."""

    code = "SWAP_ERROR"
    http_status = 422


class InvalidSwapParams(SwapError):
    code = "INVALID_SWAP_PARAMS"
    http_status = 400
    exit_code = 2


class BridgeUnsupported(SwapError):
    code = "BRIDGE_UNSUPPORTED"
    default_hint = ("Only same-chain swaps are supported: leave out --to-chain or give the same "
                    "chain as --from-chain.")


class NoQuotes(SwapError):
    code = "NO_QUOTES"
    default_hint = "No pool trades this pair on this chain; `mm token list` shows the tokens."


class AmountTooHigh(SwapError):
    code = "AMOUNT_TOO_HIGH"


class QuoteNotFound(SwapError):
    code = "QUOTE_NOT_FOUND"
    http_status = 404
    default_hint = "Get a quote with `mm swap quote`."


class QuoteExpired(SwapError):
    code = "QUOTE_EXPIRED"
    http_status = 410
    default_hint = "Get a fresh quote with `mm swap quote`."


class QuoteAlreadyExecuted(SwapError):
    code = "QUOTE_ALREADY_EXECUTED"
    http_status = 409
    default_hint = "Follow it with `mm swap status --quote-id`."


class SwapPriceMoved(SwapError):
    """The pool moved since the quote: the swap would now return less than its minimum."""

    code = "SWAP_PRICE_MOVED"
    http_status = 409
    default_hint = ("Nothing was signed. Get a fresh quote with `mm swap quote`, or allow more "
                    "slippage with --slippage.")


class SwapProtocolUnavailable(SwapError):
    """The swap contracts of this chain are not where the address table says (no code)."""

    code = "SWAP_PROTOCOL_UNAVAILABLE"


class InvalidAssetId(ValidationError):
    code = "INVALID_ASSET_ID"
    default_hint = ("Use CAIP-19 ids such as eip155:1/slip44:60 (native) or "
                    "eip155:1/erc20:0x… (token).")


class InvalidInterval(ValidationError):
    code = "INVALID_INTERVAL"


class InvalidTimestamp(ValidationError):
    code = "INVALID_TIMESTAMP"


class PriceUnavailable(MMError):
    code = "PRICE_UNAVAILABLE"
    http_status = 422
