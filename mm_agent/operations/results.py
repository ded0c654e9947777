"""Result models: the JSON ``data`` object of each agent-facing operation.

Each operation names its model in the registry (``Operation.result``); MCP publishes it as the
tool's ``outputSchema`` and tests validate real results against it. The models describe what the
handlers return (contract §3–§5) and stay open (``extra="allow"``) where the engine or the
service may add keys, so a newer service never makes an older client's results invalid. They
are descriptions, not the producers: handlers return plain dicts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Account",
    "AccountList",
    "AddressResult",
    "Balance",
    "ChainList",
    "Decoded",
    "PolicyChange",
    "PolicyDocument",
    "Request",
    "RequestList",
    "RequestResult",
    "TokenList",
    "TradingMode",
    "TradingModeChange",
    "Transaction",
    "TxHistory",
]

_OPEN = ConfigDict(extra="allow")

RequestKind = Literal["transaction", "message", "typed-data", "policy", "trading-mode"]
RequestStatus = Literal[
    "PENDING", "AWAITING_MFA", "SUBMITTED", "COMPLETED", "FAILED", "DENIED", "EXPIRED"
]


class ErrorInfo(BaseModel):
    model_config = _OPEN
    code: str = Field(description="Stable error code, e.g. TX_REVERTED.")
    message: str = Field(description="What went wrong, for people.")


class Approval(BaseModel):
    model_config = _OPEN
    channel: str | None = Field(None, description="email or authenticator.")
    reason: str | None = Field(None, description="Why a human must approve.")
    expires_at: str | None = Field(None, alias="expiresAt", description="ISO-8601 deadline.")


class Request(BaseModel):
    """A signing or transaction request (job) of contract §4."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    polling_id: str = Field(alias="pollingId", description="Id to follow the request with.")
    kind: RequestKind = Field(description="What is signed.")
    status: RequestStatus = Field(description="PENDING → (AWAITING_MFA) → SUBMITTED → "
                                  "COMPLETED, or FAILED / DENIED / EXPIRED.")
    intent: str = Field(description="What the request does, derived by the engine.")
    chain_id: int | None = Field(None, alias="chainId", description="Chain id.")
    tx_hash: str | None = Field(None, alias="txHash", description="Transaction hash, once sent.")
    signature: str | None = Field(None, description="Signature of a message or typed data.")
    error: ErrorInfo | None = Field(None, description="Why it failed.")
    preview: dict[str, Any] | None = Field(None, description="The security preview (§5).")
    approval: Approval | None = Field(None, description="Where a human approves it.")
    created_at: str | None = Field(None, alias="createdAt", description="ISO-8601 time.")
    updated_at: str | None = Field(None, alias="updatedAt", description="ISO-8601 time.")


class RequestResult(BaseModel):
    """A request (§4), or with ``dry_run`` the security preview (§5): one object either way."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    polling_id: str | None = Field(None, alias="pollingId",
                                   description="Id of the request (absent for a dry run).")
    kind: RequestKind | None = Field(None, description="What is signed.")
    status: RequestStatus | None = Field(None, description="Request status (absent for a dry "
                                         "run).")
    intent: str | None = Field(None, description="What the request does.")
    chain_id: int | None = Field(None, alias="chainId", description="Chain id.")
    tx_hash: str | None = Field(None, alias="txHash", description="Transaction hash, once sent.")
    signature: str | None = Field(None, description="Signature of a message or typed data.")
    error: ErrorInfo | None = Field(None, description="Why it failed.")
    preview: dict[str, Any] | None = Field(None, description="The security preview (§5).")
    approval: Approval | None = Field(None, description="Where a human approves it.")
    decoded: dict[str, Any] | None = Field(None, description="Dry run: the decoded call.")
    simulation: dict[str, Any] | None = Field(None, description="Dry run: simulation result.")
    scan: dict[str, Any] | None = Field(None, description="Dry run: threat-scan verdict.")
    policy: dict[str, Any] | None = Field(None, description="Dry run: policy decision.")
    requires_approval: bool | None = Field(None, alias="requiresApproval",
                                           description="Dry run: whether a human must approve.")


class RequestList(BaseModel):
    model_config = _OPEN
    requests: list[Request] = Field(description="Requests, newest first.")


class Account(BaseModel):
    model_config = _OPEN
    address: str = Field(description="Checksummed address.")
    name: str | None = Field(None, description="Label.")


class AccountList(BaseModel):
    model_config = _OPEN
    accounts: list[Account] = Field(description="Accounts; `active` marks the active one.")


class AddressResult(BaseModel):
    model_config = _OPEN
    address: str = Field(description="Checksummed address of the active account.")


class TokenBalance(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    symbol: str | None = Field(description="Token symbol.")
    address: str | None = Field(description="Token contract (null for the native coin).")
    decimals: int = Field(description="Decimals of the token.")
    amount: str = Field(description="Exact human decimal amount.")
    usd_value: str | None = Field(None, alias="usdValue", description="USD value, when known.")


class ChainBalance(BaseModel):
    model_config = _OPEN
    chain_id: int = Field(alias="chainId", description="Chain id.")
    caip2: str | None = Field(None, description="CAIP-2 id.")
    name: str | None = Field(None, description="Chain name.")
    tokens: list[TokenBalance] = Field(description="Balances on this chain.")


class Balance(BaseModel):
    model_config = _OPEN
    address: str = Field(description="Whose balances.")
    currency: str | None = Field(None, description="Currency of usdValue/totalValue.")
    total_value: str | None = Field(None, alias="totalValue", description="Sum, when priced.")
    chains: list[ChainBalance] = Field(description="Balances per chain.")


class Chain(BaseModel):
    model_config = _OPEN
    chain_id: int = Field(alias="chainId", description="Chain id.")
    caip2: str = Field(description="CAIP-2 id, e.g. eip155:1.")
    name: str = Field(description="Chain name.")
    native_symbol: str = Field(alias="nativeSymbol", description="Native coin symbol.")
    testnet: bool = Field(description="Whether it is a test network.")


class ChainList(BaseModel):
    model_config = _OPEN
    chains: list[Chain] = Field(description="Supported chains.")


class DecodedParam(BaseModel):
    model_config = _OPEN
    name: str | None = Field(description="Parameter name.")
    type: str = Field(description="ABI type.")
    value: Any = Field(description="Decoded value (integers as decimal strings).")


class Decoded(BaseModel):
    model_config = _OPEN
    function_name: str | None = Field(alias="functionName",
                                      description="Function name; null for unknown selectors.")
    signature: str | None = Field(description="Function signature.")
    params: list[DecodedParam] = Field(description="Decoded parameters.")
    intent: str = Field(description="Readable intent.")


class Transaction(BaseModel):
    model_config = _OPEN
    tx_hash: str = Field(alias="txHash", description="Transaction hash.")
    chain_id: int = Field(alias="chainId", description="Chain id.")
    status: Literal["pending", "success", "reverted"] = Field(description="Receipt status.")
    from_: str = Field(alias="from", description="Sender.")
    to: str | None = Field(description="Recipient or contract (null: creation).")
    value: str = Field(description="Native value in wei, decimal string.")
    block_number: int | None = Field(alias="blockNumber", description="Block, once mined.")
    gas_used: str | None = Field(alias="gasUsed", description="Gas used, once mined.")


class HistoryRow(BaseModel):
    model_config = _OPEN
    tx_hash: str = Field(alias="txHash", description="Transaction hash.")
    chain_id: int | None = Field(alias="chainId", description="Chain id.")
    status: RequestStatus = Field(description="Request status.")
    intent: str = Field(description="What it did.")
    polling_id: str = Field(alias="pollingId", description="The request's id.")


class TxHistory(BaseModel):
    model_config = _OPEN
    transactions: list[HistoryRow] = Field(description="Newest first.")


class PolicyDocument(BaseModel):
    model_config = _OPEN
    policy: str = Field(description="The policy document as YAML (contract §6).")
    address: str | None = Field(None, description="The wallet it belongs to.")


class PolicyChange(BaseModel):
    model_config = _OPEN
    status: Literal["confirmed", "pending_approval"] = Field(
        description="confirmed: applied; pending_approval: waits for the human.")
    polling_id: str | None = Field(None, alias="pollingId", description="Request to follow.")


class TradingMode(BaseModel):
    model_config = _OPEN
    trading_mode: Literal["guard", "beast"] = Field(alias="tradingMode",
                                                    description="The current mode.")


class TradingModeChange(BaseModel):
    model_config = _OPEN
    status: Literal["confirmed", "pending_approval"] = Field(
        description="confirmed: applied; pending_approval: waits for the human.")
    trading_mode: Literal["guard", "beast"] = Field(alias="tradingMode",
                                                    description="The mode in force now.")
    polling_id: str | None = Field(None, alias="pollingId", description="Request to follow.")


class KnownToken(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    symbol: str = Field(description="Token symbol.")
    name: str | None = Field(None, description="Token name.")
    address: str | None = Field(None, description="Contract address (null: native coin).")


class TokenList(BaseModel):
    model_config = _OPEN
    tokens: list[KnownToken] = Field(description="Known tokens.")
