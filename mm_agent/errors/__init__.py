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

Layout (each module imports only ``base`` and the modules above it; import the names from
``mm_agent.errors``):

- ``base``: ``MMError``, the code → class table, ``ServiceError``
- ``usage``: ``UsageError``, ``ValidationError`` and their members
- ``state``: ``StateError``, ``VaultError``
- ``chain``: ``ChainError``, ``TransactionError``, ``ApprovalRequired``, ``JobTimeout``,
  ``DevnetError``
- ``service``: HTTP refusals, ``PortInUse``, ``AuthError``, ``SignInError``, ``ServiceStopping``
- ``markets``: ``PredictError``, ``SwapError``, price validation, ``PriceUnavailable``
"""

from __future__ import annotations

# Every module is imported here, so the code → class table of ``MMError.from_payload`` (filled
# as each class is defined) knows every code as soon as ``mm_agent.errors`` is imported.
from mm_agent.errors.base import MMError, ServiceError
from mm_agent.errors.base import _tidy as _tidy  # private; still importable from here
from mm_agent.errors.chain import (
    AnvilNotFound,
    ApprovalRequired,
    ChainError,
    DevnetError,
    DevnetNotRunning,
    InsufficientFunds,
    JobTimeout,
    NetworkUnreachable,
    NonceTooLow,
    PolicyDenied,
    RpcChainMismatch,
    RpcError,
    SimulationMismatch,
    TransactionError,
    TxCancelled,
    TxDenied,
    TxExpired,
    TxFailed,
    TxNotFound,
    TxReverted,
)
from mm_agent.errors.markets import (
    AmountTooHigh,
    BridgeUnsupported,
    InvalidAssetId,
    InvalidInterval,
    InvalidSwapParams,
    InvalidTimestamp,
    NoQuotes,
    PredictAuthError,
    PredictBackendUnavailable,
    PredictError,
    PredictGeoblocked,
    PredictGeoblockUnavailable,
    PredictNotFound,
    PredictSetupRequired,
    PriceUnavailable,
    QuoteAlreadyExecuted,
    QuoteExpired,
    QuoteNotFound,
    SwapError,
    SwapPriceMoved,
    SwapProtocolUnavailable,
)
from mm_agent.errors.service import (
    AuthError,
    AuthorizationPending,
    Forbidden,
    IdempotencyConflict,
    InvalidOtp,
    LinkUsed,
    LoginExpired,
    LoginNotFound,
    MethodNotAllowed,
    NotAuthenticated,
    PortInUse,
    RateLimited,
    RouteNotFound,
    ServiceStopping,
    SignInError,
)
from mm_agent.errors.state import (
    AccountNotFound,
    AlreadyAuthenticated,
    AlreadyEncrypted,
    AlreadyInitialized,
    AlreadySetTradingMode,
    ApprovalClosed,
    ApprovalNotFound,
    DatabaseCorrupt,
    DataDirLocked,
    EmptyPassword,
    NotEncrypted,
    NotInitialized,
    OrderNotCancelled,
    PasswordMismatch,
    PasswordRequired,
    PasswordTooShort,
    PolicyApprovalInProgress,
    RequestNotFound,
    StateCorrupt,
    StateError,
    StatePermissions,
    TradingModeApprovalInProgress,
    UnsupportedInMode,
    VaultError,
    WalletExists,
    WalletFrozen,
    WalletNotFound,
    WrongPassword,
)
from mm_agent.errors.usage import (
    ChainIdMismatch,
    ConfirmationRequired,
    InlineSecretRefused,
    InvalidAddress,
    InvalidAmount,
    InvalidCalldata,
    InvalidChainId,
    InvalidConfigKey,
    InvalidConfigValue,
    InvalidEmail,
    InvalidFormat,
    InvalidHash,
    InvalidJson,
    InvalidMnemonic,
    InvalidPolicyYaml,
    InvalidTimeout,
    InvalidTransactionPayload,
    InvalidTypedData,
    InvalidUrl,
    MissingFlag,
    NonceNotAllowed,
    PayloadFromMismatch,
    RequestTooLarge,
    TokenNoAddress,
    UnknownFlag,
    UnknownToken,
    UnknownTool,
    UnsupportedChain,
    UsageError,
    ValidationError,
)

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
