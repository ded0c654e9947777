"""Result models of the `mm predict` operations (the JSON ``data`` objects; open like
:mod:`.results`: descriptions for MCP's outputSchema, not the producers)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_OPEN = ConfigDict(extra="allow")


class _Sourced(BaseModel):
    model_config = _OPEN
    source: str | None = Field(None, description="Back end the data comes from: devnet, "
                               "testnet or mainnet.")


class PredictStatus(_Sourced):
    mode: str = Field(description="devnet, testnet or mainnet.")
    gamma: str = Field(description="Market-data back end: ok, down or unavailable.")
    clob: str = Field(description="Order-book back end: ok, down or unavailable.")
    account: dict[str, Any] = Field(description="ownerAddress, credentials, approvals, "
                                    "setupComplete.")


class PredictSetup(BaseModel):
    model_config = _OPEN
    setupComplete: bool = Field(description="Credentials derived and approvals in place.")
    transactions: list[dict[str, Any]] = Field(description="Approval transactions sent "
                                               "(step, txHash, pollingId, status).")


class PredictBalance(_Sourced):
    pusd: str = Field(description="Collateral balance (human decimal).")
    approvals: bool = Field(description="The exchange may move collateral and outcome tokens.")
    setupComplete: bool


class PredictJob(BaseModel):
    model_config = _OPEN
    pollingId: str = Field(description="Id for `mm predict watch --id`.")
    status: str
    amount: str
    txHash: str | None = None


class MarketList(_Sourced):
    markets: list[dict[str, Any]] = Field(description="Gamma-shaped markets: id, question, "
                                          "conditionId, slug, outcomes, outcomePrices, "
                                          "clobTokenIds, active, closed.")


class Market(_Sourced):
    question: str
    conditionId: str
    slug: str
    tokens: list[dict[str, Any]] = Field(description="outcome, tokenId, price per outcome.")
    closed: bool


class Book(_Sourced):
    asset_id: str = Field(description="Outcome token id.")
    bids: list[dict[str, str]] = Field(description="{price, size} levels, best last.")
    asks: list[dict[str, str]] = Field(description="{price, size} levels, best last.")


class Quote(_Sourced):
    fillableSize: str
    averagePrice: str | None
    fullyFillable: bool


class PredictOrder(_Sourced):
    orderId: str = Field(description="The order hash (also the pollingId).")
    status: str = Field(description="FILLED (with receipts), PARTIALLY_FILLED, OPEN, "
                        "UNMATCHED or FILLED_PARTIAL_CANCELLED.")
    filledSize: str
    txHashes: list[str] = Field(description="Settlement transactions (receipts checked).")


class CancelResult(BaseModel):
    model_config = _OPEN
    canceled: list[str] = Field(description="Cancelled order ids.")
    notCanceled: dict[str, str] = Field(description="Order id → reason.")


class OrderList(_Sourced):
    orders: list[dict[str, Any]] = Field(description="Open orders: orderId, tokenId, side, "
                                         "price, size, sizeMatched, status.")
    cursor: str | None = None


class PositionList(_Sourced):
    positions: list[dict[str, Any]] = Field(description="On-chain outcome-token holdings: "
                                            "conditionId, question, outcome, tokenId, size.")


class Portfolio(_Sourced):
    balance: str
    positions: list[dict[str, Any]]
    redeemable: list[dict[str, Any]]


class RedeemList(_Sourced):
    redeemable: list[dict[str, Any]] = Field(description="conditionId, question, payout, "
                                             "positions.")


class Redemptions(_Sourced):
    redemptions: list[dict[str, Any]] = Field(description="conditionId, txHash, credited, "
                                              "pollingId, status.")


class PredictHistory(_Sourced):
    history: list[dict[str, Any]] = Field(description="Newest first.")


class PredictWatch(BaseModel):
    model_config = _OPEN
    id: str
    kind: str = Field(description="order, setup, deposit, withdraw, cancel, redeem or "
                      "transaction.")
    status: str
