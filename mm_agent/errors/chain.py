"""The chain and what is sent to it: RPC failures, transactions and signing requests
(approval, timeouts), and the local devnet (422 unless noted)."""

from __future__ import annotations

from mm_agent.errors.base import MMError

__all__ = [
    "AnvilNotFound",
    "ApprovalRequired",
    "ChainError",
    "DevnetError",
    "DevnetNotRunning",
    "InsufficientFunds",
    "JobTimeout",
    "NetworkUnreachable",
    "NonceTooLow",
    "PolicyDenied",
    "RpcChainMismatch",
    "RpcError",
    "SimulationMismatch",
    "TransactionError",
    "TxCancelled",
    "TxDenied",
    "TxExpired",
    "TxFailed",
    "TxNotFound",
    "TxReverted",
]


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


# --- the local devnet (anvil) -----------------------------------------------------------------
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
