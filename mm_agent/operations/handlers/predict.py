"""`mm predict …` (contract §10) over :class:`mm_agent.markets.predict.Predict`, and the
operator's `mm devnet predict serve|resolve`.

`mm predict mode` is human-only; setup, auth, approve, deposit, withdraw, place, cancel and
redeem are agent writes whose signatures and transactions go through the wallet's security
pipeline. BYOK requests complete before returning, so `--wait` is accepted and changes nothing
there. `geoblock` needs no wallet. The result models of auth, approve and geoblock are declared
here with their handlers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.markets.predict import Predict, resolve_devnet_market, set_mode

from ..context import Context
from ..fields import Address, Amount, OptionalTimeout

_STRICT = ConfigDict(extra="forbid")
_WAIT = Field(False, description="Block until the job completes (BYOK jobs always complete "
              "before returning).")
_TOKEN = Field(description="Outcome token id (decimal), from `mm predict markets get`.",
               json_schema_extra={"cli_argument": True, "cli_flags": ["--token-id"]})
_MARKET_FILTER = Field(None, description="Market slug or condition id.")


def verified_contracts(chain_id: int) -> dict[str, Any] | None:
    """Polymarket's CTF Exchange V2 on ``chain_id``, its collateral and the Conditional Tokens,
    from the verified registry (``security/scan/known_protocols.py``): the only contracts a
    testnet/mainnet order is signed for or an approval names."""
    from mm_agent.security.scan.known_protocols import CTF_EXCHANGES, market_contracts

    exchange = next(((a, e) for a, e in CTF_EXCHANGES.get(chain_id, {}).items()
                     if e.get("version") == "2" and e.get("collateral")
                     and "neg risk" not in str(e.get("name", "")).lower()), None)
    ctf = next((a for a, name in market_contracts(chain_id)
                if name.startswith("Gnosis Conditional Tokens")), None)
    if exchange is None or ctf is None:
        return None
    collateral = exchange[1]["collateral"]
    return {"exchange": exchange[0], "exchangeName": exchange[1]["name"],
            "collateral": {"address": collateral["address"], "symbol": collateral["symbol"],
                           "decimals": collateral["decimals"]},
            "conditionalTokens": ctf}


def _predict(ctx: Context) -> Predict:
    from mm_agent.security.scan import reference_prices

    # The book's prices feed the scanner's off-book check (CTF_ORDER_PRICE_OFF_BOOK).
    return Predict(ctx.wallet, home=ctx.home, reference_prices=reference_prices,
                   contracts=verified_contracts)


# --- args -----------------------------------------------------------------------------------------
class ModeArgs(BaseModel):
    model_config = _STRICT
    mode: str | None = Field(None, description="devnet, testnet or mainnet; omit to show.",
                             json_schema_extra={"cli_argument": True,
                                                "enum": ["devnet", "testnet", "mainnet"]})


class WaitArgs(BaseModel):
    model_config = _STRICT
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


class AuthArgs(BaseModel):
    model_config = _STRICT
    refresh: bool = Field(False, description="Force-create or refresh the trading credentials: "
                          "ask the order book to create the API key before deriving it. Either "
                          "way they are derived again by one signature and never stored.")


class ApproveArgs(BaseModel):
    model_config = _STRICT
    amount: Amount | None = Field(None, description="Set the exchange's collateral allowance "
                                  "to exactly this amount, human decimal (e.g. '50'); omit to "
                                  "grant an unlimited allowance only when there is none (the "
                                  "reference's behaviour).")
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


class BalanceArgs(BaseModel):
    model_config = _STRICT
    token_id: str | None = Field(None, description="Also report this outcome token's holding.")
    sync: bool = Field(False, description="Accepted for the reference's syntax; balances are "
                       "always read from the chain.")


class DepositArgs(BaseModel):
    model_config = _STRICT
    amount: str = Field(description="Collateral amount, human decimal (e.g. '5').")
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


class WithdrawArgs(BaseModel):
    model_config = _STRICT
    amount: str = Field(description="Collateral amount, human decimal (e.g. '5').")
    to: Address | None = Field(None, description="Recipient (default: the owner EOA).")
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


class MarketsListArgs(BaseModel):
    model_config = _STRICT
    slug: str | None = Field(None, description="Only the market with this slug.")
    limit: int | None = Field(None, ge=1, le=500, description="At most this many markets.")
    offset: int | None = Field(None, ge=0, description="Skip this many markets.")
    active: bool = Field(False, description="Only markets still trading.")
    closed: bool = Field(False, description="Only resolved markets.")


class MarketsSearchArgs(BaseModel):
    model_config = _STRICT
    query: str = Field(description="Words to look for in the question or slug.",
                       json_schema_extra={"cli_argument": True, "cli_flags": ["--query"]})
    limit: int | None = Field(None, ge=1, le=100, description="At most this many results.")


class MarketsGetArgs(BaseModel):
    model_config = _STRICT
    market: str = Field(description="Market slug, id or condition id.",
                        json_schema_extra={"cli_argument": True, "cli_flags": ["--market"]})


class BookArgs(BaseModel):
    model_config = _STRICT
    token_id: str = _TOKEN


class QuoteArgs(BaseModel):
    model_config = _STRICT
    token_id: str = _TOKEN
    side: str = Field(description="buy or sell.", json_schema_extra={"enum": ["buy", "sell"]})
    size: str = Field(description="Shares, human decimal (e.g. '10').")
    limit_price: str | None = Field(None, description="Worst price per share, in (0, 1].")


class PlaceArgs(BaseModel):
    model_config = _STRICT
    token_id: str = _TOKEN
    side: str = Field(description="buy or sell.", json_schema_extra={"enum": ["buy", "sell"]})
    size: str = Field(description="Shares, human decimal (e.g. '10').")
    price: str = Field(description="Worst price per share in (0, 1]: the limit for GTC/GTD, "
                       "the worst fill for FOK/FAK.")
    order_type: str = Field("GTC", description="GTC (default), GTD, FOK or FAK.",
                            json_schema_extra={"enum": ["GTC", "GTD", "FOK", "FAK"]})
    post_only: bool = Field(False, description="Refuse the order if it would cross the book "
                            "(not with FOK/FAK).")
    expiration: int | None = Field(None, description="Unix seconds; GTD orders only.")
    wallet_timeout: OptionalTimeout = None


class CancelArgs(BaseModel):
    model_config = _STRICT
    order_id: str | None = Field(None, description="One order id.",
                                 json_schema_extra={"cli_argument": True,
                                                    "cli_flags": ["--order-id"]})
    all: bool = Field(False, description="Every open order.")
    market: str | None = Field(None, description="Open orders of this market (slug or "
                               "condition id).")
    asset: str | None = Field(None, description="Open orders of this outcome token id.")


class OrdersArgs(BaseModel):
    model_config = _STRICT
    market: str | None = _MARKET_FILTER
    cursor: str | None = Field(None, description="Pagination cursor (one page on the devnet).")


class PositionsArgs(BaseModel):
    model_config = _STRICT
    market: str | None = _MARKET_FILTER


class RedeemArgs(BaseModel):
    model_config = _STRICT
    condition_id: str | None = Field(None, description="Condition id (or slug) of a resolved "
                                     "market.", json_schema_extra={"cli_argument": True})
    all: bool = Field(False, description="Redeem every redeemable market.")
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


class HistoryArgs(BaseModel):
    model_config = _STRICT
    limit: int = Field(50, ge=1, le=500, description="At most this many entries.")


class WatchArgs(BaseModel):
    model_config = _STRICT
    id: str = Field(description="pollingId, order id or transaction hash.",
                    json_schema_extra={"cli_argument": True, "cli_flags": ["--id"]})
    wait: bool = _WAIT


class ServeArgs(BaseModel):
    model_config = _STRICT
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(0, ge=0, le=65535, description="TCP port (0: any free port).")
    geoblock: str | None = Field(None, description="Answer the geoblock endpoint as blocked "
                                 "from this COUNTRY[-REGION] (e.g. US-NY, SG); default "
                                 "MM_PREDICT_SERVICE_GEOBLOCK, else not blocked.",
                                 pattern=r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$")


class ResolveArgs(BaseModel):
    model_config = _STRICT
    market: str = Field(description="Market slug or condition id.",
                        json_schema_extra={"cli_argument": True, "cli_flags": ["--market"]})
    outcome: str = Field(description="yes, no or invalid (50/50).",
                         json_schema_extra={"enum": ["yes", "no", "invalid"]})


# --- results (auth, approve, geoblock) --------------------------------------------------------
class GeoblockResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    blocked: bool = Field(description="Whether this address may not open positions "
                          "(Polymarket's check; always false on the devnet).")
    ip: str | None = Field(description="The address the check saw (null on the devnet).")
    country: str | None = Field(description="ISO 3166-1 alpha-2 country code.")
    region: str | None = Field(description="Region or state code.")
    restriction: str = Field(description="none, close-only (positions may be closed, not "
                             "opened) or blocked.")
    source: str = Field(description="devnet, testnet or mainnet.")


class AuthResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    credentials: bool = Field(description="Trading credentials were derived and work.")
    apiKey: str = Field(description="The API key id (the secret and passphrase are never "
                        "shown or stored).")
    valid: bool = Field(description="An authenticated request with them succeeded.")
    refreshed: bool = Field(description="--refresh asked for the key to be created first.")


class ApproveResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    pollingId: str = Field(description="Id for `mm predict watch --id`.")
    status: str
    transactions: list[dict[str, Any]] = Field(description="Approval transactions sent "
                                               "(step, txHash, pollingId, status); empty when "
                                               "nothing was missing.")
    approvals: dict[str, Any] = Field(description="collateralAllowance, outcomeTokens, ok.")
    setupComplete: bool


# --- handlers -------------------------------------------------------------------------------------
def mode(ctx: Context, args: ModeArgs) -> dict[str, Any]:
    return set_mode(ctx.home, args.mode)


def setup(ctx: Context, args: WaitArgs) -> dict[str, Any]:
    with _predict(ctx) as p, ctx.progress("Setting up predict"):
        return p.setup()


def geoblock(ctx: Context, _args: None) -> dict[str, Any]:
    # No wallet: the check is about where requests come from, not who signs.
    with Predict(None, home=ctx.home, contracts=verified_contracts) as p:
        return p.geoblock()


def auth(ctx: Context, args: AuthArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.auth(refresh=args.refresh)


def approve(ctx: Context, args: ApproveArgs) -> dict[str, Any]:
    if args.amount is not None:
        Predict._amount(args.amount)  # a zero amount exits 2 before the wallet is opened
    with _predict(ctx) as p, ctx.progress("Approving the exchange"):
        return p.approve(args.amount)


def status(ctx: Context, _args: None) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.status()


def balance(ctx: Context, args: BalanceArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.balance(args.token_id)


def deposit(ctx: Context, args: DepositArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.deposit(args.amount)


def withdraw(ctx: Context, args: WithdrawArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.withdraw(args.amount, args.to)


def markets_list(ctx: Context, args: MarketsListArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.markets_list(slug=args.slug, limit=args.limit, offset=args.offset,
                              active="true" if args.active else None,
                              closed="true" if args.closed else None)


def markets_search(ctx: Context, args: MarketsSearchArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.markets_search(args.query, args.limit)


def markets_get(ctx: Context, args: MarketsGetArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.markets_get(args.market)


def book(ctx: Context, args: BookArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.book(args.token_id)


def quote(ctx: Context, args: QuoteArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.quote(args.token_id, args.side, args.size, args.limit_price)


def place(ctx: Context, args: PlaceArgs) -> dict[str, Any]:
    from mm_agent.markets.predict import validate_place

    # Flag combinations first (exit 2), before the wallet is opened.
    validate_place(side=args.side, size=args.size, price=args.price,
                   order_type=args.order_type, post_only=args.post_only,
                   expiration=args.expiration)
    with _predict(ctx) as p:
        return p.place(args.token_id, args.side, args.size, args.price,
                       order_type=args.order_type, post_only=args.post_only,
                       expiration=args.expiration, wallet_timeout=args.wallet_timeout)


def cancel(ctx: Context, args: CancelArgs) -> dict[str, Any]:
    from mm_agent.errors import ValidationError

    if sum(bool(x) for x in (args.order_id, args.all, args.market or args.asset)) != 1:
        raise ValidationError("Give exactly one cancel target: --order-id, --all, or "
                              "--market/--asset.")
    with _predict(ctx) as p:
        p.require_setup()
        before = _unfilled_buys(p, args)  # read on chain BEFORE the cancel is sent
        out = p.cancel(order_id=args.order_id, all=args.all, market=args.market,
                       asset=args.asset)
        released = {r["orderId"]: r for r in out.get("released") or []}
        out["remainders"] = [{**r, "windowReleased": bool(
            released.get(r["orderId"], {}).get("released"))}
            for r in before if r["orderId"] in out["canceled"]]
        return out


def _unfilled_buys(p: Predict, args: CancelArgs) -> list[dict[str, Any]]:
    """The unfilled remainder of each counted BUY a cancel reaches, read from the exchange
    (``getOrderStatus``) before the cancel: afterwards a cancelled untouched order and a
    filled one look alike. What it would give back to a rolling outflow window
    (``release_on_cancel``) is reported; on a server wallet ``Predict.cancel`` also cancels
    each order on chain and the service releases it after verifying that cancel and the fills
    itself (``windowReleased``; ``server/services/order_release.py``). BYOK wallets have no
    window."""
    from mm_agent.security.policy.orders import read_unfilled, release_on_cancel

    out = []
    for rec in p.open_records(order_id=args.order_id, market=args.market, asset=args.asset):
        if rec["side"] != "buy":
            continue
        maker_amount = int(rec["order"]["makerAmount"])
        unfilled = read_unfilled(p.chain.rpc, p.exchange, rec["orderId"], maker_amount)
        entry = {"side": "BUY", "makerAmount": str(maker_amount), "feeRateBps": "0",
                 "collateral": {"type": "erc20", **p.backend["collateral"], "tokenId": None}}
        units = sum(u for _asset, u in release_on_cancel(entry, unfilled))
        decimals = int(p.backend["collateral"].get("decimals") or 6)
        out.append({"orderId": rec["orderId"], "side": "buy",
                    "unfilledCollateral": format((Decimal(units) / Decimal(10) ** decimals)
                                                 .normalize(), "f"),
                    "symbol": p.collateral_symbol, "windowReleased": False})
    return out


def orders(ctx: Context, args: OrdersArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.orders(args.market)


def positions(ctx: Context, args: PositionsArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        p.require_setup()
        return p.positions(args.market)


def portfolio(ctx: Context, _args: None) -> dict[str, Any]:
    with _predict(ctx) as p:
        p.require_setup()
        return p.portfolio()


def redeem_list(ctx: Context, _args: None) -> dict[str, Any]:
    with _predict(ctx) as p:
        p.require_setup()
        return p.redeem_list()


def redeem(ctx: Context, args: RedeemArgs) -> dict[str, Any]:
    from mm_agent.errors import ValidationError

    if bool(args.condition_id) == bool(args.all):
        raise ValidationError("Give one condition id, or --all.",
                              hint="`mm predict redeem list` shows the redeemable markets.")
    with _predict(ctx) as p:
        return p.redeem(args.condition_id, all=args.all)


def history(ctx: Context, args: HistoryArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.history(args.limit)


def watch(ctx: Context, args: WatchArgs) -> dict[str, Any]:
    with _predict(ctx) as p:
        return p.watch(args.id, wait=args.wait)


# --- operator: the devnet market service ------------------------------------------------------
def serve(ctx: Context, args: ServeArgs) -> dict[str, Any]:
    """Foreground market service over the running devnet's markets (like `mm server start`).
    Another instance than the one `mm devnet start` runs: its book is its own."""
    from mm_agent.errors import DevnetNotRunning
    from mm_agent.local import env
    from mm_agent.markets.service import serve as run

    record = ctx.home.read_json("devnet.json", None)
    if not isinstance(record, dict) or not isinstance(record.get("markets"), dict):
        raise DevnetNotRunning("No devnet with markets is recorded.")

    def ready(url: str) -> None:
        ctx.show({"url": url, "gammaUrl": f"{url}/gamma", "source": "devnet"})
        ctx.notice("Market service running; press Ctrl-C to stop.")

    try:
        run(record["rpcUrl"], record["markets"], host=args.host, port=args.port,
            on_ready=ready, geoblock=args.geoblock or env.get(env.PREDICT_SERVICE_GEOBLOCK))
    except KeyboardInterrupt:
        pass
    return {"stopped": True}


def resolve(ctx: Context, args: ResolveArgs) -> dict[str, Any]:
    return resolve_devnet_market(ctx.home, args.market, args.outcome)
