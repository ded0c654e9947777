"""USD prices with their source: `mm price spot|history` and the USD values of `wallet balance`.

Every price says where it comes from (contract §10). Sources, first that knows wins:

1. ``static``: the operator's ``<MM_HOME>/prices.json`` (``{"prices": {"ETH": "2000", …}}``,
   the same keys as the policy's ``StaticPrices``): an explicit operator price is never
   overridden.
2. ``chainlink``: a Chainlink AggregatorV3 USD feed (``CHAINLINK_FEEDS``; stale, unfinished or
   non-positive answers are refused, never used).
3. ``devnet-pool``: on the devnet, the mid price of a Uniswap V2 pool of the markets deployment
   (``devnet.json["markets"]["pools"]``) against a token whose USD price comes from (1), (2) or
   (4) — real on-chain reserves, not a fixture.
4. ``devnet-static``: the devnet defaults (ETH $2000, mUSD/mDAI $1), the ones the policy uses.

History: ``chainlink`` (the feed's earlier rounds, walked back with ``getRoundData`` across the
proxy's phases) or ``devnet-pool`` (the pool's ``Sync`` events and their block times). A static
price has no history, nor has a feed whose latest answer spot would refuse
(``PRICE_UNAVAILABLE``).

Note: the guard-mode USD limit keeps its own sources (static, then Chainlink; never a pool, which
a trader can move): ``mm_agent.security.policy.prices``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from mm_agent.errors import (
    InvalidAssetId,
    InvalidInterval,
    InvalidTimestamp,
    MMError,
    PriceUnavailable,
    RpcError,
    ValidationError,
)
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.chains import CHAINS, DEVNET_CHAIN_ID, get_chain
from mm_agent.security.policy.prices import ChainlinkPrices, StaticPrices, is_revert

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Engine

__all__ = [
    "DEVNET_DEFAULT_PRICES",
    "Asset",
    "PriceBook",
    "SpotPrice",
    "format_usd",
    "parse_asset_id",
    "price_history",
]

log = logging.getLogger("mm_agent.markets.price")

# Same values as the service's policy defaults (server/services/policy.py DEVNET_PRICES).
DEVNET_DEFAULT_PRICES = {"31337:native": "2000", "31337:mUSD": "1", "31337:mDAI": "1"}
# SLIP-44 coin types of the supported chains' native coins.
SLIP44 = {"ETH": 60, "POL": 966, "BNB": 714}
SEL_GET_RESERVES = "0x0902f1ac"
SYNC_TOPIC = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
SUPPORTED_VS = ("usd",)


@dataclass(frozen=True)
class Asset:
    chain_id: int
    address: str | None  # None: the native coin
    symbol: str
    decimals: int

    @property
    def asset_id(self) -> str:
        chain = get_chain(self.chain_id)
        if self.address is None:
            return f"{chain.caip2}/slip44:{SLIP44.get(chain.native_symbol, 60)}"
        return f"{chain.caip2}/erc20:{self.address.lower()}"

    def as_dict(self) -> dict[str, Any]:
        return {"type": "native" if self.address is None else "erc20", "address": self.address,
                "symbol": self.symbol, "decimals": self.decimals, "tokenId": None}


@dataclass
class SpotPrice:
    asset: Asset
    price: Decimal
    source: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"assetId": self.asset.asset_id, "vsCurrency": "usd", "price": _num(self.price),
                "source": self.source, "symbol": self.asset.symbol,
                "chainId": self.asset.chain_id, **self.details}


def _num(value: Decimal) -> str:
    """A decimal string without exponent, trimmed to 18 significant decimals."""
    with localcontext() as ctx:
        ctx.prec = 80
        q = value.quantize(Decimal(1).scaleb(-18)).normalize()
    text = format(q, "f")
    return text


def format_usd(value: Decimal) -> str:
    """USD amounts in outputs: two decimals, exact rounding (half-even)."""
    with localcontext() as ctx:
        ctx.prec = 200
        return format(value.quantize(Decimal("0.01")), "f")


_CAIP19 = re.compile(r"^eip155:(\d{1,16})/(slip44|erc20):([0-9a-zA-Zx]{1,64})$")


def parse_asset_id(text: str) -> tuple[int, str | None]:
    """``eip155:<chain>/slip44:<coin>`` → (chain, None); ``eip155:<chain>/erc20:0x…`` →
    (chain, address). Anything else: ``INVALID_ASSET_ID``."""
    m = _CAIP19.match(text.strip())
    if not m:
        raise InvalidAssetId(f"{text[:100]!r} is not a CAIP-19 asset id.")
    chain_id, namespace, ref = int(m.group(1)), m.group(2), m.group(3)
    chain = CHAINS.get(chain_id)
    if chain is None:
        from mm_agent.errors import UnsupportedChain

        raise UnsupportedChain(f"Chain {chain_id} is not supported.",
                               hint="`mm chains list` shows the supported chains.")
    if namespace == "slip44":
        if ref != str(SLIP44.get(chain.native_symbol, 60)):
            raise InvalidAssetId(f"slip44:{ref} is not the native coin of {chain.name}.")
        return chain_id, None
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", ref):
        raise InvalidAssetId(f"erc20:{ref[:64]} is not a 0x token address.")
    return chain_id, to_checksum_address(ref)


def check_vs(vs: str | None) -> str:
    value = (vs or "usd").strip().lower()
    if value not in SUPPORTED_VS:
        raise ValidationError(f"--vs {vs!r} is not supported; prices are in usd only.")
    return value


class PriceBook:
    """Spot prices with their source, over an engine's RPCs and its MM_HOME."""

    def __init__(self, engine: Engine, *, now: Any = time.time,
                 feeds: dict[int, dict[str, str]] | None = None) -> None:
        self.engine = engine
        configured = engine.home.read_json("prices.json", {}) or {}
        self.static = StaticPrices.from_config(configured if isinstance(configured, dict)
                                               else {})
        self.devnet_static = StaticPrices(DEVNET_DEFAULT_PRICES)
        self.chainlink = ChainlinkPrices(engine.rpc, feeds, now=now)
        self._reserves: dict[str, tuple[int, int]] = {}

    # --- assets ------------------------------------------------------------------------------
    def asset(self, chain_id: int, address: str | None) -> Asset:
        if address is None:
            chain = get_chain(chain_id)
            return Asset(chain_id, None, chain.native_symbol, chain.native_decimals)
        info = self.engine.asset(chain_id, address)
        return Asset(chain_id, info.address, info.symbol, info.decimals)

    def asset_by_id(self, asset_id: str) -> Asset:
        chain_id, address = parse_asset_id(asset_id)
        return self.asset(chain_id, address)

    # --- spot --------------------------------------------------------------------------------
    def spot(self, asset: Asset) -> SpotPrice | None:
        anchor = self._anchor(asset, include_devnet=False)
        if anchor is not None:
            return anchor
        if asset.chain_id == DEVNET_CHAIN_ID:
            pooled = self._devnet_pool_price(asset)
            if pooled is not None:
                return pooled
            return self._anchor(asset, include_devnet=True)
        return None

    def usd_price(self, chain_id: int, asset: dict[str, Any]) -> Decimal | None:
        """``PriceSource``-compatible: the spot price alone."""
        spot = self.spot(Asset(chain_id, asset.get("address"), str(asset.get("symbol") or ""),
                               int(asset.get("decimals") or 0)))
        return spot.price if spot else None

    def _anchor(self, asset: Asset, *, include_devnet: bool) -> SpotPrice | None:
        """Sources that do not depend on a pool: static, Chainlink, devnet defaults."""
        raw = asset.as_dict()
        price = self.static.usd_price(asset.chain_id, raw)
        if price is not None:
            return SpotPrice(asset, price, "static")
        feed = self.chainlink.feed_for(asset.chain_id, raw)
        if feed is not None:
            price = self.chainlink.usd_price(asset.chain_id, raw)
            if price is not None:
                return SpotPrice(asset, price, "chainlink", {"feed": feed})
        if include_devnet and asset.chain_id == DEVNET_CHAIN_ID:
            price = self.devnet_static.usd_price(asset.chain_id, raw)
            if price is not None:
                return SpotPrice(asset, price, "devnet-static")
        return None

    def _markets(self) -> dict[str, Any]:
        devnet = self.engine.devnet() or {}
        markets = devnet.get("markets") if isinstance(devnet, dict) else None
        return markets if isinstance(markets, dict) else {}

    def devnet_pools(self, asset: Asset) -> list[tuple[dict[str, Any], str, str]]:
        """Pools holding ``asset`` (native = WETH): (pool, asset's pool token, other token)."""
        markets = self._markets()
        weth = (markets.get("contracts") or {}).get("WETH9")
        mine = (asset.address or weth or "").lower()
        out = []
        for pool in markets.get("pools") or []:
            t0, t1 = str(pool.get("token0", "")), str(pool.get("token1", ""))
            if mine and mine == t0.lower():
                out.append((pool, t0, t1))
            elif mine and mine == t1.lower():
                out.append((pool, t1, t0))
        return out

    def reserves(self, pair: str, token_in: str, token0: str) -> tuple[int, int]:
        raw = self.engine.rpc(DEVNET_CHAIN_ID).call(
            "eth_call", [{"to": pair, "data": SEL_GET_RESERVES}, "latest"])
        # getReserves() → (uint112, uint112, uint32): three static words. Sliced by hand so
        # `mm wallet balance` does not pay ~50 ms for importing eth-abi.
        words = str(raw)[2:]
        if len(words) < 192:
            raise RpcError(f"getReserves() of {pair} returned {len(words) // 2} bytes.")
        r0, r1 = int(words[0:64], 16), int(words[64:128], 16)
        return (int(r0), int(r1)) if token_in.lower() == token0.lower() else (int(r1), int(r0))

    def _other_asset(self, address: str) -> Asset:
        weth = (self._markets().get("contracts") or {}).get("WETH9")
        if weth and address.lower() == str(weth).lower():
            return self.asset(DEVNET_CHAIN_ID, None)
        return self.asset(DEVNET_CHAIN_ID, address)

    def _devnet_pool_price(self, asset: Asset) -> SpotPrice | None:
        for pool, mine, other in self.devnet_pools(asset):
            other_asset = self._other_asset(other)
            anchor = self._anchor(other_asset, include_devnet=True)
            if anchor is None:
                continue
            try:
                r_mine, r_other = self.reserves(pool["pair"], mine, pool["token0"])
            except (MMError, ValueError) as exc:
                log.warning("devnet pool %s unreadable: %s", pool.get("pair"), exc)
                continue
            if r_mine <= 0 or r_other <= 0:
                continue
            with localcontext() as ctx:
                ctx.prec = 80
                mid = (Decimal(r_other).scaleb(-other_asset.decimals)
                       / Decimal(r_mine).scaleb(-asset.decimals))
                price = mid * anchor.price
            return SpotPrice(asset, price, "devnet-pool", {
                "pool": pool["pair"], "quoteSymbol": other_asset.symbol,
                "quoteSource": anchor.source})
        return None


# --- history ---------------------------------------------------------------------------------
PERIODS = {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "2M": 61 * 86_400,
           "1y": 365 * 86_400, "3y": 3 * 365 * 86_400}
INTERVALS = {"5m": 300, "hourly": 3_600, "daily": 86_400}
MAX_ROUNDS = 500  # points in one answer
MAX_READS = 2_000  # getRoundData calls for one answer (gaps cost reads, not points)
ROUND_BATCH = 50


def _window(time_period: str | None, start: int | None, end: int | None,
            now: float) -> tuple[int, int]:
    if time_period is not None and (start is not None or end is not None):
        raise InvalidTimestamp("Give --time-period or --from/--to, not both.")
    if (start is None) != (end is None):
        raise InvalidTimestamp("--from and --to go together (Unix seconds).")
    if start is not None and end is not None:
        if start < 0 or end < 0 or start >= end:
            raise InvalidTimestamp("--from must be before --to (Unix seconds).")
        return start, end
    period = time_period or "1d"
    if period not in PERIODS:
        raise ValidationError(f"--time-period {period!r}: use one of {', '.join(PERIODS)}.")
    return int(now) - PERIODS[period], int(now)


def _sample(points: list[tuple[int, Decimal]], interval: int | None) -> list[tuple[int, Decimal]]:
    """The last point of each interval bucket (all points without an interval)."""
    if not interval:
        return points
    buckets: dict[int, tuple[int, Decimal]] = {}
    for ts, price in points:
        buckets[ts // interval] = (ts, price)
    return [buckets[k] for k in sorted(buckets)]


def price_history(book: PriceBook, asset: Asset, *, time_period: str | None = None,
                  start: int | None = None, end: int | None = None,
                  interval: str | None = None, now: float | None = None) -> dict[str, Any]:
    """``{chainId, assetType, vsCurrency, source, timePeriod, interval, prices: [[ms, price]]}``
    from the first source with a history (Chainlink rounds, devnet pool Sync events)."""
    if interval is not None and interval not in INTERVALS:
        raise InvalidInterval(f"--interval {interval!r}: use one of {', '.join(INTERVALS)}.")
    now = time.time() if now is None else now
    lo, hi = _window(time_period, start, end, now)
    points: list[tuple[int, Decimal]] | None = None
    source = None
    details: dict[str, Any] = {}
    if book.static.usd_price(asset.chain_id, asset.as_dict()) is not None:
        raise PriceUnavailable(f"{asset.symbol} has a static price (prices.json): no history.")
    feed = book.chainlink.feed_for(asset.chain_id, asset.as_dict())
    if feed is not None:
        points, truncated = _chainlink_history(book.chainlink, asset.chain_id, feed, lo)
        source, details = "chainlink", {"feed": feed, "truncated": truncated}
    elif asset.chain_id == DEVNET_CHAIN_ID:
        found = _devnet_pool_history(book, asset)
        if found is not None:
            points, details = found
            source = "devnet-pool"
    if points is None or source is None:
        raise PriceUnavailable(f"No price history is known for {asset.symbol} on chain "
                               f"{asset.chain_id}.",
                               hint="History comes from Chainlink feeds or devnet pools.")
    inside = [(ts, p) for ts, p in points if lo <= ts <= hi]
    inside = _sample(sorted(inside, key=lambda x: x[0]),
                     INTERVALS.get(interval) if interval else None)
    asset_type = asset.asset_id.split("/", 1)[1]
    return {"chainId": get_chain(asset.chain_id).caip2, "assetType": asset_type,
            "vsCurrency": "usd", "source": source, "timePeriod": time_period,
            "from": lo, "to": hi, "interval": interval,
            "prices": [[ts * 1000, _num(p)] for ts, p in inside], **details}


def _chainlink_history(chainlink: ChainlinkPrices, chain_id: int, feed: str,
                       since: int) -> tuple[list[tuple[int, Decimal]], bool]:
    """(points newest first, truncated): the feed's rounds from the latest back to the first one
    updated before ``since``.

    Through a proxy a round id is ``phaseId << 64 | aggregatorRoundId``; when a phase's rounds
    run out (round 0 is never a round) the walk goes on with the previous phase's aggregator
    (``phaseAggregators``), reading its rounds through the proxy and scaling them with that
    aggregator's own ``decimals()``. A round that reverts or comes back empty (never written) is
    a gap; a non-positive answer or one carried from an earlier round is no price. A feed whose
    latest answer spot refuses (stale, non-positive, unfinished) or that cannot be read is
    ``PRICE_UNAVAILABLE``; node failures keep their own codes. ``truncated``: the budget
    (``MAX_ROUNDS`` points, ``MAX_READS`` reads) ran out before ``since``, or an earlier
    phase's aggregator cannot say its rounds."""
    try:
        latest = chainlink.latest_round(chain_id, feed)
    except ValueError as exc:  # no contract there ("0x"), a short reply
        raise _unreadable(feed, chain_id, str(exc)) from None
    except MMError as exc:
        if not is_revert(exc):
            raise
        raise _unreadable(feed, chain_id, exc.message) from None
    reason = chainlink.refusal(latest)
    if reason is not None:
        raise PriceUnavailable(
            f"Chainlink feed {feed} on chain {chain_id}: {reason} (round {latest.round_id}, "
            f"updatedAt {latest.updated_at}); its history is not used.",
            details={"feed": feed, "reason": reason, "roundId": str(latest.round_id),
                     "updatedAt": latest.updated_at})
    points: list[tuple[int, Decimal]] = []
    reads = 0
    phase, top = latest.phase_id, latest.aggregator_round_id
    decimals = chainlink.decimals(chain_id, feed)  # the current phase's aggregator's
    while True:
        rid = top
        while rid >= 1:
            if reads >= MAX_READS:
                return points, True
            ids = list(range(rid, max(0, rid - ROUND_BATCH), -1))
            reads += len(ids)
            for found in chainlink.round_data(chain_id, feed, [phase << 64 | i for i in ids]):
                if found is None or found.updated_at == 0:
                    continue  # a gap: never written
                if found.updated_at < since:
                    return points, False
                if found.answer <= 0 or found.answered_in_round < found.round_id:
                    continue
                if len(points) >= MAX_ROUNDS:
                    return points, True
                points.append((found.updated_at, chainlink.scale(found.answer, decimals)))
            rid = ids[-1] - 1
        if phase <= 1:  # phase 0: a bare aggregator; phase 1: the proxy's first
            return points, False
        phase -= 1
        aggregator = chainlink.phase_aggregator(chain_id, feed, phase)
        if aggregator is None:
            return points, False
        try:
            top = chainlink.aggregator_latest_round(chain_id, aggregator)
            decimals = chainlink.decimals(chain_id, aggregator)
        except ValueError:  # the old aggregator has no code left: older rounds are unknowable
            return points, True
        except MMError as exc:
            if not is_revert(exc):
                raise
            return points, True


def _unreadable(feed: str, chain_id: int, why: str) -> PriceUnavailable:
    return PriceUnavailable(f"Chainlink feed {feed} on chain {chain_id} cannot be read: {why}",
                            details={"feed": feed, "reason": "unreadable"})


def _devnet_pool_history(book: PriceBook,
                         asset: Asset) -> tuple[list[tuple[int, Decimal]], dict[str, Any]] | None:
    from eth_abi import decode

    for pool, mine, other in book.devnet_pools(asset):
        other_asset = book._other_asset(other)
        anchor = book._anchor(other_asset, include_devnet=True)
        if anchor is None:
            continue
        rpc = book.engine.rpc(DEVNET_CHAIN_ID)
        logs = rpc.call("eth_getLogs", [{"address": pool["pair"], "topics": [SYNC_TOPIC],
                                         "fromBlock": "0x0", "toBlock": "latest"}])
        blocks = sorted({str(lg["blockNumber"]) for lg in logs})
        stamps = dict(zip(blocks, (int(b["timestamp"], 16) for b in rpc.batch(
            [("eth_getBlockByNumber", [b, False]) for b in blocks])), strict=True))
        mine_is_0 = mine.lower() == str(pool["token0"]).lower()
        points = []
        for lg in logs:
            r0, r1 = decode(["uint112", "uint112"], bytes.fromhex(str(lg["data"])[2:]))
            r_mine, r_other = (r0, r1) if mine_is_0 else (r1, r0)
            if r_mine <= 0:
                continue
            with localcontext() as ctx:
                ctx.prec = 80
                price = (Decimal(r_other).scaleb(-other_asset.decimals)
                         / Decimal(r_mine).scaleb(-asset.decimals)) * anchor.price
            points.append((stamps[str(lg["blockNumber"])], price))
        return points, {"pool": pool["pair"], "quoteSymbol": other_asset.symbol,
                        "quoteSource": anchor.source}
    return None
