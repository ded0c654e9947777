"""USD prices for the guard-mode outflow limit (contract §6).

``PriceSource.usd_price(chain_id, asset)`` returns the USD price of ONE whole unit of an asset
(the section-5 ``asset`` dict: type, address, symbol, decimals, tokenId) or None when unknown.
None is never guessed away: the policy counts unpriced outflow as over the limit.

- ``StaticPrices``: fixed prices from the service config (devnet, tests, pegged tokens).
- ``ChainlinkPrices``: Chainlink AggregatorV3 feeds read with ``eth_call``; stale, non-positive
  or unfinished-round answers are refused (None), never used. Its public reads (``latest_round``,
  ``decimals``, ``refusal``, ``round_data``, ``phase_aggregator``, ``aggregator_latest_round``)
  also serve ``mm price history`` (``mm_agent.markets.price``).
- ``ChainedPrices``: the first source that knows a price wins.

All arithmetic is ``Decimal`` with ample precision; no float ever touches an amount.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mm_agent.errors import InvalidConfigValue, MMError, RpcError
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.chains import CHAINS

if TYPE_CHECKING:
    from mm_agent.evm.rpc import RpcClient

__all__ = [
    "CHAINLINK_FEEDS",
    "ChainedPrices",
    "ChainlinkPrices",
    "PriceSource",
    "Round",
    "StaticPrices",
    "is_revert",
    "usd_value",
]

log = logging.getLogger("mm_agent.security.policy.prices")

SEL_LATEST_ROUND_DATA = "0xfeaf968c"
SEL_DECIMALS = "0x313ce567"
SEL_GET_ROUND_DATA = "0x9a6fc8f5"  # getRoundData(uint80)
SEL_PHASE_AGGREGATORS = "0xc1597304"  # phaseAggregators(uint16), on AggregatorProxy
SEL_LATEST_ROUND = "0x668a0f02"  # latestRound(), AggregatorInterface (v2)
NATIVE_KEY = "native"

# Chainlink USD proxies (docs.chain.link/data-feeds/price-feeds/addresses). ERC-20s are keyed
# by token address only: a symbol is whatever the token contract says, so anyone can claim one.
_ETH_USD_1 = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"
_ETH_USD_8453 = "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70"
CHAINLINK_FEEDS: dict[int, dict[str, str]] = {
    1: {
        NATIVE_KEY: _ETH_USD_1,
        "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2": _ETH_USD_1,  # WETH
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48":  # USDC
            "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6",
        "0xdAC17F958D2ee523a2206206994597C13D831ec7":  # USDT
            "0x3E7d1eAB13ad0104d2750B8863b489D65364e32D",
        "0x6B175474E89094C44Da98b954EedeAC495271d0F":  # DAI
            "0xAed0c38402a5d19df6E4c03F4E2DceD6e29c1ee9",
    },
    8453: {
        NATIVE_KEY: _ETH_USD_8453,
        "0x4200000000000000000000000000000000000006": _ETH_USD_8453,  # WETH
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913":  # USDC
            "0x7e860098F58bBFC8648a4311b374B1D669a2bc6B",
        "0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb":  # DAI
            "0x591e79239a7d679378eC8c847e5038150364C78F",
    },
}


@runtime_checkable
class PriceSource(Protocol):
    def usd_price(self, chain_id: int, asset: dict[str, Any]) -> Decimal | None:
        """USD per whole unit of ``asset`` on ``chain_id``, or None if unknown."""
        ...


def _candidate_keys(chain_id: int, asset: dict[str, Any]) -> list[str]:
    """Lookup keys, most specific first: ``<chain>:<address|native>``, then the symbol."""
    keys: list[str] = []
    address = asset.get("address")
    symbol = asset.get("symbol")
    if asset.get("type") == "native" or not address:
        keys.append(f"{chain_id}:{NATIVE_KEY}")
        chain = CHAINS.get(chain_id)
        symbol = symbol or (chain.native_symbol if chain else None)
    else:
        keys.append(f"{chain_id}:{str(address).lower()}")
    if symbol:
        keys += [f"{chain_id}:{str(symbol).lower()}", str(symbol).lower()]
    return keys


def _price_value(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidConfigValue(f"{where}: expected a USD price, got {value!r}.")
    from mm_agent.evm.decimals import bounded_decimal

    # Bounded: an exponent of a billion would stall every USD conversion after it.
    price = bounded_decimal(value, what=where, max_digits=40, max_exponent=30,
                            error=InvalidConfigValue)
    if not price.is_finite() or price < 0:
        raise InvalidConfigValue(f"{where}: {value!r} is not a USD price ≥ 0.")
    return price


class StaticPrices:
    """Fixed prices. Keys (case-insensitive): ``"31337:native"``, ``"31337:0xToken…"``,
    ``"31337:mUSD"`` or a bare symbol ``"ETH"``; the most specific key wins."""

    def __init__(self, mapping: Mapping[str, object]) -> None:
        self._prices: dict[str, Decimal] = {}
        for key, value in mapping.items():
            self._prices[str(key).strip().lower()] = _price_value(value, f"prices.{key}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StaticPrices:
        """From the service config: ``{"prices": {"ETH": "2000", "mUSD": "1"}}``."""
        prices = config.get("prices") or {}
        if not isinstance(prices, Mapping):
            raise InvalidConfigValue("prices: expected a mapping of asset → USD price.")
        return cls(prices)

    def usd_price(self, chain_id: int, asset: dict[str, Any]) -> Decimal | None:
        for key in _candidate_keys(chain_id, asset):
            if key in self._prices:
                return self._prices[key]
        return None


@dataclass(frozen=True)
class Round:
    """One AggregatorV3 round as the feed returned it (through a proxy: ``roundId`` is
    ``phaseId << 64 | aggregatorRoundId``)."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int

    @classmethod
    def decode(cls, raw: object) -> Round:
        from eth_abi import decode

        values = decode(["uint80", "int256", "uint256", "uint256", "uint80"], _bytes(raw, 160))
        return cls(*(int(v) for v in values))

    @property
    def phase_id(self) -> int:
        return self.round_id >> 64

    @property
    def aggregator_round_id(self) -> int:
        return self.round_id & (2**64 - 1)


class ChainlinkPrices:
    """Chainlink AggregatorV3 feeds. ``feeds``: chain id → {``"native"`` | token address |
    symbol → feed address}; defaults to ``CHAINLINK_FEEDS``."""

    def __init__(self, rpc_for: Callable[[int], RpcClient],
                 feeds: Mapping[int, Mapping[str, str]] | None = None, *,
                 max_age_seconds: float = 3600, now: Callable[[], float] = time.time) -> None:
        self.rpc_for = rpc_for
        self.max_age_seconds = max_age_seconds
        self.now = now
        source = CHAINLINK_FEEDS if feeds is None else feeds
        self.feeds: dict[int, dict[str, str]] = {
            int(cid): {str(k).lower(): to_checksum_address(v) for k, v in table.items()}
            for cid, table in source.items()
        }
        self._decimals: dict[tuple[int, str], int] = {}

    def feed_for(self, chain_id: int, asset: dict[str, Any]) -> str | None:
        table = self.feeds.get(chain_id) or {}
        for key in _candidate_keys(chain_id, asset):
            short = key.split(":", 1)[1] if ":" in key else key
            if short in table:
                return table[short]
        return None

    def usd_price(self, chain_id: int, asset: dict[str, Any]) -> Decimal | None:
        feed = self.feed_for(chain_id, asset)
        if feed is None:
            return None
        try:
            return self.read_feed(chain_id, feed)
        except (MMError, ValueError) as exc:  # unreachable node, odd reply: unpriced, not 0
            log.warning("chainlink feed %s on chain %s unreadable: %s", feed, chain_id, exc)
            return None

    def read_feed(self, chain_id: int, feed: str) -> Decimal | None:
        """The feed's answer in USD, or None if it must not be trusted."""
        latest = self.latest_round(chain_id, feed)
        reason = self.refusal(latest)
        if reason is not None:
            log.warning("chainlink feed %s: %s (round %s, answer %s, updatedAt %s)", feed,
                        reason, latest.round_id, latest.answer, latest.updated_at)
            return None
        return self.scale(latest.answer, self.decimals(chain_id, feed))

    # --- reads (also for `mm price history`) ---------------------------------------------------
    def latest_round(self, chain_id: int, contract: str) -> Round:
        """``latestRoundData()``; the first read of a contract also fetches its ``decimals()``
        in the same batch. Raises ``MMError`` (node) or ``ValueError`` (odd reply)."""
        from eth_abi import decode

        rpc = self.rpc_for(chain_id)
        round_call = ("eth_call", [{"to": contract, "data": SEL_LATEST_ROUND_DATA}, "latest"])
        key = (chain_id, contract.lower())
        if key in self._decimals:
            return Round.decode(rpc.call(*round_call))
        raw_round, raw_decimals = rpc.batch(
            [round_call, ("eth_call", [{"to": contract, "data": SEL_DECIMALS}, "latest"])])
        (decimals,) = decode(["uint8"], _bytes(raw_decimals, 32))
        self._decimals[key] = int(decimals)
        return Round.decode(raw_round)

    def decimals(self, chain_id: int, contract: str) -> int:
        """``decimals()`` of a feed or aggregator (cached per chain and address)."""
        key = (chain_id, contract.lower())
        if key not in self._decimals:
            from eth_abi import decode

            raw = self.rpc_for(chain_id).call(
                "eth_call", [{"to": contract, "data": SEL_DECIMALS}, "latest"])
            (value,) = decode(["uint8"], _bytes(raw, 32))
            self._decimals[key] = int(value)
        return self._decimals[key]

    def refusal(self, latest: Round) -> str | None:
        """Why a latest round must not be used as a price, or None if it may."""
        if latest.answer <= 0:
            return "non-positive answer"
        if latest.updated_at == 0 or latest.answered_in_round < latest.round_id:
            return "round is not finished"
        if self.now() - latest.updated_at > self.max_age_seconds:
            return "answer is stale"
        return None

    @staticmethod
    def scale(answer: int, decimals: int) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = 200  # an int256 answer has up to 77 digits
            return Decimal(answer).scaleb(-decimals)

    def round_data(self, chain_id: int, feed: str,
                   round_ids: Sequence[int]) -> list[Round | None]:
        """``getRoundData`` of each round id, in one batch; None where the call reverts (a round
        that never existed: FluxAggregator and AggregatorFacade revert "No data present", a
        phase without an aggregator reverts in the proxy). Node errors are raised."""
        from eth_abi import encode

        calls = [("eth_call", [{"to": feed, "data": SEL_GET_ROUND_DATA
                                + encode(["uint80"], [r]).hex()}, "latest"]) for r in round_ids]
        rpc = self.rpc_for(chain_id)
        try:
            replies = rpc.batch(calls)
        except RpcError as exc:
            if not is_revert(exc):
                raise
            replies = []  # the batch stops at its first error: ask one by one
            for call in calls:
                try:
                    replies.append(rpc.call(*call))
                except RpcError as one:
                    if not is_revert(one):
                        raise
                    replies.append(None)
        return [None if raw is None else Round.decode(raw) for raw in replies]

    def phase_aggregator(self, chain_id: int, proxy: str, phase_id: int) -> str | None:
        """``phaseAggregators(phaseId)`` of an AggregatorProxy; None when the phase has none or
        ``proxy`` is no proxy (a bare aggregator has no phases)."""
        from eth_abi import encode

        data = SEL_PHASE_AGGREGATORS + encode(["uint16"], [phase_id]).hex()
        try:
            raw = self.rpc_for(chain_id).call("eth_call", [{"to": proxy, "data": data}, "latest"])
        except RpcError as exc:
            if not is_revert(exc):
                raise
            return None
        word = _bytes(raw, 32) if isinstance(raw, str) and len(raw) >= 66 else None
        address = int.from_bytes(word[12:32], "big") if word else 0
        return to_checksum_address(f"0x{address:040x}") if address else None

    def aggregator_latest_round(self, chain_id: int, aggregator: str) -> int:
        """``latestRound()`` of an aggregator: every one a proxy can point at has it (the proxy's
        own ``latestRound()`` delegates to it)."""
        raw = self.rpc_for(chain_id).call(
            "eth_call", [{"to": aggregator, "data": SEL_LATEST_ROUND}, "latest"])
        return int.from_bytes(_bytes(raw, 32)[:32], "big")


def is_revert(exc: MMError) -> bool:
    """A contract revert (JSON-RPC code 3 / "execution reverted"), not a node failure."""
    if not isinstance(exc, RpcError):
        return False
    return (exc.details or {}).get("rpcCode") == 3 or "revert" in exc.message.lower()


def _bytes(raw: object, size: int) -> bytes:
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise ValueError(f"eth_call returned {raw!r}")
    data = bytes.fromhex(raw[2:])
    if len(data) < size:
        raise ValueError(f"eth_call returned {len(data)} bytes, expected {size}")
    return data


class ChainedPrices:
    """Ask each source in turn; the first non-None price wins."""

    def __init__(self, *sources: PriceSource) -> None:
        self.sources = sources

    def usd_price(self, chain_id: int, asset: dict[str, Any]) -> Decimal | None:
        for source in self.sources:
            price = source.usd_price(chain_id, asset)
            if price is not None:
                return price
        return None


def usd_value(source: PriceSource, chain_id: int, asset: dict[str, Any],
              amount_units: int) -> Decimal | None:
    """USD value of ``amount_units`` base units of ``asset`` (exact), or None if unpriced."""
    price = source.usd_price(chain_id, asset)
    if price is None:
        return None
    decimals = asset.get("decimals")
    if decimals is None:
        if asset.get("type") in ("erc721", "erc1155"):
            decimals = 0
        elif asset.get("type") == "native" and chain_id in CHAINS:
            decimals = CHAINS[chain_id].native_decimals
        else:
            return None  # cannot scale units we do not understand
    with localcontext() as ctx:
        ctx.prec = 200  # uint256 × price without rounding
        return (Decimal(int(amount_units)) * price).scaleb(-int(decimals))
