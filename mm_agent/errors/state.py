"""Local state and the BYOK vault: missing or corrupt files, wallets, requests and approvals
that do or do not exist (409/404), and the password that guards the mnemonic (422)."""

from __future__ import annotations

from mm_agent.errors.base import MMError

__all__ = [
    "AccountNotFound",
    "AlreadyAuthenticated",
    "AlreadyEncrypted",
    "AlreadyInitialized",
    "AlreadySetTradingMode",
    "ApprovalClosed",
    "ApprovalNotFound",
    "DataDirLocked",
    "DatabaseCorrupt",
    "EmptyPassword",
    "NotEncrypted",
    "NotInitialized",
    "OrderNotCancelled",
    "PasswordMismatch",
    "PasswordRequired",
    "PasswordTooShort",
    "PolicyApprovalInProgress",
    "RequestNotFound",
    "StateCorrupt",
    "StateError",
    "StatePermissions",
    "TradingModeApprovalInProgress",
    "UnsupportedInMode",
    "VaultError",
    "WalletExists",
    "WalletFrozen",
    "WalletNotFound",
    "WrongPassword",
]


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
