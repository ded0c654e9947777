"""Response models of the HTTP API: the ``{ok: true, data}`` envelope around each route's data.

They describe the API in the OpenAPI document (``response_model`` on every JSON route); the
routes still answer with the exact dicts the services build. Where the CLI's result models
(``mm_agent/operations/results.py``, contract §3–§5) describe the same object they are reused,
extended with what only the service adds (``version``, ``address``). All stay open
(``extra="allow"``): a newer service may add keys.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.operations import results

__all__ = [
    "AuthStatus",
    "ChainsServed",
    "DeviceStarted",
    "Envelope",
    "Health",
    "LoggedOut",
    "OrderRelease",
    "PolicyChange",
    "PolicyDocument",
    "Preview",
    "RequestList",
    "ServiceRequest",
    "TokenPair",
    "TradingMode",
    "TradingModeChange",
    "Wallet",
    "WalletBalance",
    "WalletList",
]

_OPEN = ConfigDict(extra="allow", populate_by_name=True)
T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """The success envelope of every JSON route."""

    ok: Literal[True] = True
    data: T


class Health(BaseModel):
    model_config = _OPEN
    status: Literal["ok"]
    schema_version: int = Field(alias="schemaVersion", description="Database schema version.")


class DeviceStarted(BaseModel):
    model_config = _OPEN
    device_code: str = Field(alias="deviceCode", description="The CLI's polling secret.")
    verification_url: str = Field(alias="verificationUrl", description="Page the human opens.")
    expires_in: int = Field(alias="expiresIn", description="Seconds until the login expires.")
    interval: int = Field(description="Seconds between polls.")


class TokenPair(BaseModel):
    model_config = _OPEN
    access_token: str = Field(alias="accessToken", description="`mma_…`, short-lived.")
    refresh_token: str = Field(alias="refreshToken", description="`mmr_…`, rotated on use.")
    expires_in: int = Field(alias="expiresIn", description="Access token lifetime, seconds.")
    email: str
    channel: Literal["email", "authenticator"]


class LoggedOut(BaseModel):
    model_config = _OPEN
    logged_out: bool = Field(alias="loggedOut")


class AuthStatus(BaseModel):
    model_config = _OPEN
    email: str
    channel: Literal["email", "authenticator"]
    scope: Literal["agent", "human"]
    expires_at: str = Field(alias="expiresAt", description="ISO-8601 expiry of the token.")


class Wallet(BaseModel):
    model_config = _OPEN
    address: str = Field(description="Checksummed address.")
    name: str | None = Field(None, description="Label.")
    trading_mode: Literal["guard", "beast"] = Field(alias="tradingMode")
    created_at: str = Field(alias="createdAt", description="ISO-8601 time.")
    frozen: bool = Field(False, description="Frozen by the service's operator: signs nothing "
                                            "(WALLET_FROZEN) until unfrozen; reads work.")
    frozen_reason: str | None = Field(None, alias="frozenReason",
                                      description="The operator's reason, when frozen.")
    trading_mode_change: dict[str, Any] | None = Field(
        None, alias="tradingModeChange",
        description="Create with beast from an agent token: the guard → beast request.")


class WalletList(BaseModel):
    model_config = _OPEN
    wallets: list[Wallet]


class WalletBalance(results.Balance):
    """The `mm wallet balance` object."""


class ServiceRequest(results.Request):
    """A request (contract §4) as the service reports it."""

    model_config = _OPEN
    version: int = Field(description="Bumps on every change (long-poll cursor).")
    address: str | None = Field(None, description="The wallet.")
    agent_note: str | None = Field(None, alias="agentNote",
                                   description="The agent's words, labelled as such.")
    result: dict[str, Any] | None = Field(None, description="Outcome details once final.")
    nonce: int | None = Field(None, description="Nonce of a signed transaction.")


class RequestList(BaseModel):
    model_config = _OPEN
    requests: list[ServiceRequest] = Field(description="Requests, newest first.")


class OrderRelease(BaseModel):
    """``POST /v1/requests/{pollingId}/release``: a cancelled order's reservation, verified on
    chain by the service and scaled to the filled share (``services/order_release.py``)."""

    model_config = _OPEN
    polling_id: str = Field(alias="pollingId", description="The order's signing request.")
    address: str | None = None
    order_hash: str = Field(alias="orderHash", description="Recomputed from the signed data.")
    exchange: str
    cancel_tx_hash: str = Field(alias="cancelTxHash")
    maker_amount: str = Field(alias="makerAmount")
    filled_maker_amount: str = Field(alias="filledMakerAmount", description="Read on chain.")
    unfilled_maker_amount: str = Field(alias="unfilledMakerAmount")
    released: bool = Field(description="False: nothing changed (already released, or no "
                                       "reservation).")
    reserved_usd: str | None = Field(None, alias="reservedUsd")
    remaining_usd: str | None = Field(None, alias="remainingUsd",
                                      description="What still counts toward the window.")
    released_usd: str | None = Field(None, alias="releasedUsd")
    outflow_state: str | None = Field(None, alias="outflowState")


class Preview(results.RequestResult):
    """A dry run: the section-5 preview; nothing signed, nothing recorded."""


class PolicyDocument(results.PolicyDocument):
    pass


class PolicyChange(results.PolicyChange):
    model_config = _OPEN
    changes: list[str] = Field(default_factory=list, description="What changes.")
    applied: list[str] | None = Field(None, description="Tightening applied at once.")
    address: str | None = None


class TradingMode(results.TradingMode):
    model_config = _OPEN
    address: str | None = None


class TradingModeChange(results.TradingModeChange):
    model_config = _OPEN
    requested_mode: Literal["guard", "beast"] | None = Field(None, alias="requestedMode")
    address: str | None = None


class ServedToken(BaseModel):
    model_config = _OPEN
    symbol: str
    address: str | None = None
    decimals: int


class ServedChain(BaseModel):
    model_config = _OPEN
    chain_id: int = Field(alias="chainId")
    caip2: str
    name: str
    native_symbol: str = Field(alias="nativeSymbol")
    testnet: bool
    rpc: str | None = Field(None, description="scheme://host:port of the RPC in use.")
    rpc_source: str | None = Field(None, alias="rpcSource")
    default: bool = Field(description="Shown by `mm wallet balance` without --chain-ids.")
    tokens: list[ServedToken]


class ChainsServed(BaseModel):
    model_config = _OPEN
    chains: list[ServedChain]
    default_chain_ids: list[int] = Field(alias="defaultChainIds")
