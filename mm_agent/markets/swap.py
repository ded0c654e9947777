"""`mm swap quote|execute|status`: same-chain swaps on Uniswap, through the wallet's pipeline.

Venues:

- **Uniswap V2 on the devnet**: the router, WETH9 and pools of the markets deployment
  (``devnet.json["markets"]``); quotes are ``getAmountOut`` over the pools' reserves
  (``markets/amm.py``), exact to the wei.
- **Uniswap V3 on real chains**: QuoterV2 (``quoteExactInputSingle`` over the fee tiers) and
  SwapRouter02 (``exactInputSingle`` inside ``multicall(deadline, …)``), addresses from
  Uniswap's deployment pages (:data:`V3_DEPLOYMENTS`). Each address must hold code
  (``eth_getCode``) before a quote is given: ``SWAP_PROTOCOL_UNAVAILABLE`` otherwise.

A quote is stored in ``<MM_HOME>/swaps.json`` (0600, written atomically under the state lock)
and expires (``expiresAt``, :data:`QUOTE_TTL_SECONDS`). ``execute``:

1. refuses an unknown (``QUOTE_NOT_FOUND``), expired (``QUOTE_EXPIRED``), used
   (``QUOTE_ALREADY_EXECUTED``) quote, or one made for another account;
2. quotes again from the chain: when the pool moved so that the swap would return less than
   the quote's minimum (its slippage), ``SWAP_PRICE_MOVED`` — nothing is signed, not even the
   approval;
3. approves **exactly** the input amount to the router when the allowance is short (never an
   unlimited approval); a short **non-zero** allowance is first reset with ``approve(router,
   0)`` (USDT-style tokens revert a change between two non-zero values). Both are waited
   for before the swap is sent, whatever ``wait`` says: a server wallet's job that stops (e.g.
   ``AWAITING_MFA`` past ``wallet_timeout``) leaves the quote ``APPROVAL_PENDING``, and
   ``execute`` again picks it up;
4. sends the swap with the minimum out and a deadline (the router enforces both on chain).

Every approval and swap is ``wallet.send_transaction``: the §5 pipeline (decode, simulate,
scan, policy, approval, submission) runs on each, in both wallet modes. Cross-chain requests are
``BRIDGE_UNSUPPORTED``.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mm_agent.errors import (
    AmountTooHigh,
    BridgeUnsupported,
    InvalidAmount,
    InvalidSwapParams,
    MMError,
    NoQuotes,
    QuoteAlreadyExecuted,
    QuoteExpired,
    QuoteNotFound,
    SwapError,
    SwapPriceMoved,
    SwapProtocolUnavailable,
)
from mm_agent.evm.addresses import to_checksum_address, validate_address
from mm_agent.evm.amounts import format_units, parse_units
from mm_agent.evm.chains import DEVNET_CHAIN_ID, get_chain, parse_chain_id
from mm_agent.evm.tokens import TokenInfo

from . import amm

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Engine

__all__ = [
    "QUOTE_TTL_SECONDS",
    "SWAPS_FILE",
    "V3_DEPLOYMENTS",
    "SwapService",
    "V3Deployment",
    "parse_slippage",
]

SWAPS_FILE = "swaps.json"
QUOTE_TTL_SECONDS = 120
DEADLINE_SECONDS = 600  # the router's deadline, from the chain's latest block time
DEFAULT_SLIPPAGE = Decimal("0.5")  # percent, as the reference CLI
HIGH_IMPACT_PERCENT = Decimal(1)
HIGH_SLIPPAGE_PERCENT = Decimal(5)
KEEP_SECONDS = 7 * 86_400  # executed quotes stay this long for `swap status`
V3_FEES = (100, 500, 3000, 10000)
ADDRESS_THIS = "0x0000000000000000000000000000000000000002"  # SwapRouter02's "the router"
MAX_UINT160 = 2**160 - 1


@dataclass(frozen=True)
class V3Deployment:
    factory: str
    quoter_v2: str
    swap_router02: str
    weth: str


# Uniswap's v3 deployment pages (docs.uniswap.org/contracts/v3/reference/deployments/…):
# Ethereum, Arbitrum, Optimism, Polygon share the factory, QuoterV2 and SwapRouter02 addresses;
# Base has its own. Checked with eth_getCode before every quote.
_V3_SHARED = ("0x1F98431c8aD98523631AE4a59f267346ea31F984",
              "0x61fFE014bA17989E743c5F6cB21bF9697530B21e",
              "0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45")
V3_DEPLOYMENTS: dict[int, V3Deployment] = {
    1: V3Deployment(*_V3_SHARED, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
    42161: V3Deployment(*_V3_SHARED, "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"),
    10: V3Deployment(*_V3_SHARED, "0x4200000000000000000000000000000000000006"),
    137: V3Deployment(*_V3_SHARED, "0x0d500B1d8E8eF31E21C99d1Db9A6444d3ADf1270"),  # WPOL
    8453: V3Deployment("0x33128a8fC17869897dcE68Ed026d694621f6FDfD",
                       "0x3d4e44Eb1374240CE5F1B871ab261CD16335B76a",
                       "0x2626664c2603336E57B271c5C0b26F421741e481",
                       "0x4200000000000000000000000000000000000006"),
}


def _sel(signature: str) -> str:
    from mm_agent.evm.signatures import keccak256

    return "0x" + keccak256(signature.encode())[:4].hex()


def _enc(signature: str, types: list[str], args: list[Any]) -> str:
    from eth_abi import encode

    return _sel(signature) + encode(types, args).hex()


def _dec(types: list[str], raw: Any) -> Any:
    from eth_abi import decode

    if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) < 2 + 64 * len(types):
        raise SwapError(f"Unexpected eth_call reply {str(raw)[:80]!r}.")
    return decode(types, bytes.fromhex(raw[2:]))


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_slippage(value: object) -> Decimal:
    """A percentage 0–100 with at most two decimals (basis points); default 0.5."""
    if value is None or value == "":
        return DEFAULT_SLIPPAGE
    try:
        pct = Decimal(str(value).strip().rstrip("%"))
    except (InvalidOperation, ValueError):
        raise InvalidSwapParams(f"--slippage {value!r} is not a percentage.") from None
    if not pct.is_finite() or pct < 0 or pct > 100:
        raise InvalidSwapParams("--slippage is a percentage between 0 and 100.")
    if (pct * 100) != (pct * 100).to_integral_value():
        raise InvalidSwapParams("--slippage has at most two decimals (0.01 % steps).")
    return pct


@dataclass
class Route:
    venue: str  # "uniswap-v2" | "uniswap-v3"
    router: str
    path: list[str]  # token addresses (WETH for the native coin)
    amount_in: int
    amount_out: int
    price_impact: Decimal  # fraction
    fee: int | None = None  # V3 fee tier
    pools: list[str] | None = None


class SwapService:
    """Quotes, executes and follows swaps for one wallet (``Wallet``, ``AsyncWallet``'s sync
    face excluded, or a ``bound`` copy): any object with ``address``, ``engine``,
    ``send_transaction`` and ``requests``."""

    def __init__(self, wallet: Any, *, engine: Engine | None = None,
                 now: Any = time.time,
                 v3_deployments: dict[int, V3Deployment] | None = None) -> None:
        self.wallet = wallet
        self.engine: Engine = engine if engine is not None else wallet.engine  # type: ignore[attr-defined]
        self.home = self.engine.home
        self.now = now
        self.v3 = V3_DEPLOYMENTS if v3_deployments is None else v3_deployments

    # --- storage -----------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        data = self.home.read_json(SWAPS_FILE, {}) or {}
        if not isinstance(data, dict) or not isinstance(data.get("quotes", {}), dict):
            from mm_agent.errors import StateCorrupt

            raise StateCorrupt(f"{self.home.path(SWAPS_FILE)} is not a swaps file.")
        data.setdefault("quotes", {})
        return data

    def _save_quote(self, record: dict[str, Any]) -> None:
        now = self.now()

        def update(data: Any) -> Any:
            data = data if isinstance(data, dict) else {}
            quotes = dict(data.get("quotes") or {})
            # Forget expired quotes never used, and old finished ones.
            quotes = {k: v for k, v in quotes.items()
                      if (v.get("status") != "QUOTED" or v.get("expiresAtTs", 0) > now)
                      and v.get("createdAtTs", now) > now - KEEP_SECONDS}
            quotes[record["quoteId"]] = record
            return {"quotes": quotes}

        self.home.update_json(SWAPS_FILE, {}, update)

    def get(self, quote_id: str) -> dict[str, Any]:
        record = self._load()["quotes"].get(str(quote_id))
        if not isinstance(record, dict):
            raise QuoteNotFound(f"No swap quote {str(quote_id)[:80]!r} in this MM_HOME.")
        return record

    # --- tokens ------------------------------------------------------------------------------
    def _token(self, chain_id: int, token: str) -> TokenInfo:
        if not isinstance(token, str) or not token.strip():
            raise InvalidSwapParams("--from and --to name a token (symbol or 0x address).")
        return self.engine.asset(chain_id, token.strip())

    @staticmethod
    def _asset_json(chain_id: int, info: TokenInfo) -> dict[str, Any]:
        return {"chainId": chain_id, "symbol": info.symbol, "address": info.address,
                "decimals": info.decimals}

    # --- quote -------------------------------------------------------------------------------
    def quote(self, *, from_token: str, to_token: str, amount: str, from_chain: int,
              to_chain: int | None = None, to_address: str | None = None,
              slippage: object = None) -> dict[str, Any]:
        """A stored quote: ``{quoteId, destAssetAmount, minDestAssetAmount, priceImpact,
        slippage, protocols, warnings, expiresAt, …}`` (amounts in base units, percentages as
        decimal strings)."""
        chain_id = parse_chain_id(from_chain, field="fromChain")
        if to_chain is not None and parse_chain_id(to_chain, field="toChain") != chain_id:
            raise BridgeUnsupported(
                f"Bridging from chain {chain_id} to chain {to_chain} is not supported.")
        owner = self.wallet.address
        if to_address is not None and validate_address(to_address).lower() != owner.lower():
            raise InvalidSwapParams("--to-address is only valid for cross-chain swaps, which "
                                    "are not supported; a swap pays this wallet.")
        pct = parse_slippage(slippage)
        src, dst = self._token(chain_id, from_token), self._token(chain_id, to_token)
        if (src.address or "").lower() == (dst.address or "").lower():
            raise InvalidSwapParams("--from and --to are the same token.")
        amount_in = parse_units(amount, src.decimals)
        route = self._route(chain_id, src, dst, amount_in)
        bps = int(pct * 100)
        min_out = amm.min_amount_out(route.amount_out, bps)
        now = self.now()
        impact_pct = route.price_impact * 100
        warnings = []
        if impact_pct > HIGH_IMPACT_PERCENT:
            warnings.append(f"Price impact {impact_pct:.2f} % is above 1 %.")
        if pct > HIGH_SLIPPAGE_PERCENT:
            warnings.append(f"Slippage {pct} % is high: the swap may return much less than "
                            "quoted.")
        approval = self._approval_needed(chain_id, src, owner, route.router, amount_in)
        record = {
            "quoteId": str(uuid.uuid4()), "status": "QUOTED", "chainId": chain_id,
            "caip2": get_chain(chain_id).caip2, "account": owner,
            "srcAsset": self._asset_json(chain_id, src),
            "destAsset": self._asset_json(chain_id, dst),
            "srcAssetAmount": str(amount_in), "srcAmount": format_units(amount_in, src.decimals),
            "destAssetAmount": str(route.amount_out),
            "destAmount": format_units(route.amount_out, dst.decimals),
            "minDestAssetAmount": str(min_out),
            "minDestAmount": format_units(min_out, dst.decimals),
            "priceImpact": _pct(route.price_impact), "slippage": str(pct),
            "protocols": [route.venue], "router": route.router, "path": route.path,
            "pools": route.pools or [], "fee": route.fee,
            "approval": approval, "warnings": warnings,
            "createdAt": _now_iso(now), "createdAtTs": now,
            "expiresAt": _now_iso(now + QUOTE_TTL_SECONDS), "expiresAtTs": now + QUOTE_TTL_SECONDS,
            "toChain": chain_id, "toAddress": owner,
        }
        self._save_quote(record)
        return _public(record)

    def _approval_needed(self, chain_id: int, src: TokenInfo, owner: str, router: str,
                         amount: int) -> dict[str, Any] | None:
        if src.address is None:
            return None
        have = self.allowance(chain_id, src.address, owner, router)
        if have >= amount:
            return None
        return {"token": src.address, "spender": router, "amount": str(amount),
                "currentAllowance": str(have)}

    def allowance(self, chain_id: int, token: str, owner: str, spender: str) -> int:
        raw = self.engine.rpc(chain_id).call("eth_call", [{"to": token, "data": _enc(
            "allowance(address,address)", ["address", "address"], [owner, spender])}, "latest"])
        return int(_dec(["uint256"], raw)[0])

    # --- routes ------------------------------------------------------------------------------
    def _route(self, chain_id: int, src: TokenInfo, dst: TokenInfo, amount_in: int) -> Route:
        if chain_id == DEVNET_CHAIN_ID and chain_id not in self.v3:
            return self._route_v2_devnet(src, dst, amount_in)
        if chain_id in self.v3:
            return self._route_v3(chain_id, self.v3[chain_id], src, dst, amount_in)
        raise NoQuotes(f"No swap venue is configured on chain {chain_id}.",
                       hint="Swaps run on the devnet (Uniswap V2) and on chains "
                            f"{', '.join(str(c) for c in sorted(V3_DEPLOYMENTS))} (Uniswap V3).")

    def _markets(self) -> dict[str, Any]:
        devnet = self.engine.devnet() or {}
        markets = devnet.get("markets") if isinstance(devnet, dict) else None
        if not isinstance(markets, dict) or not isinstance(markets.get("contracts"), dict):
            raise NoQuotes("The devnet has no Uniswap deployment (devnet.json has no markets "
                           "record).", hint="Restart it with `mm devnet start`.")
        return markets

    def _require_code(self, chain_id: int, contracts: dict[str, str]) -> None:
        rpc = self.engine.rpc(chain_id)
        codes = rpc.batch([("eth_getCode", [a, "latest"]) for a in contracts.values()])
        missing = [f"{name} {addr}" for (name, addr), code in zip(contracts.items(), codes,
                                                                   strict=True)
                   if code in (None, "0x", "0x0", "")]
        if missing:
            raise SwapProtocolUnavailable(
                f"No contract code at {', '.join(missing)} on chain {chain_id}: refusing to "
                "quote or swap there.",
                hint="The address table does not match this chain (check the RPC URL).")

    def _route_v2_devnet(self, src: TokenInfo, dst: TokenInfo, amount_in: int) -> Route:
        markets = self._markets()
        contracts = markets["contracts"]
        router, weth = str(contracts["UniswapV2Router02"]), str(contracts["WETH9"])
        self._require_code(DEVNET_CHAIN_ID, {"UniswapV2Router02": router, "WETH9": weth})
        a = (src.address or weth).lower()
        b = (dst.address or weth).lower()
        pools = [p for p in markets.get("pools") or [] if isinstance(p, dict)]
        edges: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for p in pools:
            t0, t1 = str(p["token0"]).lower(), str(p["token1"]).lower()
            edges.setdefault(t0, []).append((t1, p))
            edges.setdefault(t1, []).append((t0, p))
        # Shortest path by breadth-first search (at most three hops).
        frontier: list[list[tuple[str, dict[str, Any] | None]]] = [[(a, None)]]
        found: list[tuple[str, dict[str, Any] | None]] | None = None
        for _ in range(3):
            nxt = []
            for path in frontier:
                for token, pool in edges.get(path[-1][0], []):
                    if any(token == t for t, _ in path):
                        continue
                    candidate = [*path, (token, pool)]
                    if token == b:
                        found = candidate
                        break
                    nxt.append(candidate)
                if found:
                    break
            if found:
                break
            frontier = nxt
        if not found:
            raise NoQuotes(f"No devnet pool path from {src.symbol} to {dst.symbol}.")
        from .price import PriceBook

        book = PriceBook(self.engine)
        reserves = []
        for (tin, _), (_, pool) in itertools.pairwise(found):
            assert pool is not None
            reserves.append(book.reserves(str(pool["pair"]), tin, str(pool["token0"])))
        last_reserve_out = reserves[-1][1]
        try:
            quote = amm.quote_path(amount_in, reserves, 0)
        except InvalidAmount as exc:
            raise AmountTooHigh(str(exc)) from exc
        if quote.amount_out <= 0 or quote.amount_out >= last_reserve_out:
            raise AmountTooHigh(f"{src.symbol} → {dst.symbol}: the pools cannot fill "
                                f"this amount.")
        return Route("uniswap-v2", to_checksum_address(router),
                     [to_checksum_address(t) for t, _ in found], amount_in, quote.amount_out,
                     quote.price_impact,
                     pools=[to_checksum_address(str(p["pair"])) for _, p in found[1:] if p])

    def _route_v3(self, chain_id: int, dep: V3Deployment, src: TokenInfo, dst: TokenInfo,
                  amount_in: int) -> Route:
        self._require_code(chain_id, {"UniswapV3Factory": dep.factory,
                                      "QuoterV2": dep.quoter_v2,
                                      "SwapRouter02": dep.swap_router02})
        rpc = self.engine.rpc(chain_id)
        tin, tout = src.address or dep.weth, dst.address or dep.weth
        pools = rpc.batch([("eth_call", [{"to": dep.factory, "data": _enc(
            "getPool(address,address,uint24)", ["address", "address", "uint24"],
            [tin, tout, fee])}, "latest"]) for fee in V3_FEES])
        best: tuple[int, int, str] | None = None
        for fee, raw in zip(V3_FEES, pools, strict=True):
            pool = _dec(["address"], raw)[0]
            if int(pool, 16) == 0:
                continue
            try:
                out = rpc.call("eth_call", [{"to": dep.quoter_v2, "data": _enc(
                    "quoteExactInputSingle((address,address,uint256,uint24,uint160))",
                    ["(address,address,uint256,uint24,uint160)"],
                    [(tin, tout, amount_in, fee, 0)])}, "latest"])
            except MMError:
                continue  # the quoter reverts for a pool without liquidity at that size
            amount_out = int(_dec(["uint256", "uint160", "uint32", "uint256"], out)[0])
            if best is None or amount_out > best[0]:
                best = (amount_out, fee, to_checksum_address(pool))
        if best is None or best[0] <= 0:
            raise NoQuotes(f"No Uniswap V3 pool quotes {src.symbol} → {dst.symbol} on chain "
                           f"{chain_id}.")
        amount_out, fee, pool = best
        slot0 = rpc.call("eth_call", [{"to": pool, "data": _sel("slot0()")}, "latest"])
        sqrt_price = int(_dec(["uint160"], slot0)[0])
        token0 = _dec(["address"], rpc.call("eth_call", [{"to": pool, "data": _sel("token0()")},
                                                         "latest"]))[0]
        mid = Decimal(sqrt_price) ** 2 / Decimal(2**192)  # token1 per token0, base units
        if token0.lower() != tin.lower():
            mid = 1 / mid if mid else Decimal(0)
        execution = Decimal(amount_out) / Decimal(amount_in)
        impact = max(Decimal(0), 1 - execution / mid) if mid else Decimal(0)
        return Route("uniswap-v3", to_checksum_address(dep.swap_router02),
                     [to_checksum_address(tin), to_checksum_address(tout)], amount_in,
                     amount_out, impact, fee=fee, pools=[pool])

    # --- execute -----------------------------------------------------------------------------
    def execute(self, quote_id: str, *, wait: bool = True,
                wallet_timeout: int | None = None) -> dict[str, Any]:
        record = self.get(quote_id)
        if record.get("status") not in ("QUOTED", "APPROVAL_PENDING"):
            raise QuoteAlreadyExecuted(
                f"Quote {quote_id} was already executed (status {record.get('status')}).")
        if self.now() > float(record["expiresAtTs"]):
            raise QuoteExpired(f"Quote {quote_id} expired at {record['expiresAt']}.")
        if record.get("status") == "APPROVAL_PENDING":
            # Server-wallet approval jobs (the reset to 0, the exact approval) from an earlier
            # execute: the swap is sent only once they are COMPLETED (mined), so wait for them
            # (up to wallet_timeout).
            for key in ("resetRequest", "approvalRequest"):
                pending = record.get(key) or {}
                if not pending.get("pollingId") or pending.get("status") == "COMPLETED":
                    continue
                req = self._wait_request(pending["pollingId"], wallet_timeout)
                record[key] = _req_json(req)
                if req.status != "COMPLETED":
                    return self._stop_or_pending(record, req, "APPROVAL_PENDING")
        owner = self.wallet.address
        if owner.lower() != str(record["account"]).lower():
            raise InvalidSwapParams(f"Quote {quote_id} was made for {record['account']}, not "
                                    f"the active account {owner}.")
        chain_id = int(record["chainId"])
        src = TokenInfo(record["srcAsset"]["address"], record["srcAsset"]["symbol"],
                        int(record["srcAsset"]["decimals"]))
        dst = TokenInfo(record["destAsset"]["address"], record["destAsset"]["symbol"],
                        int(record["destAsset"]["decimals"]))
        amount_in, min_out = int(record["srcAssetAmount"]), int(record["minDestAssetAmount"])
        # The pool now: refuse before anything is signed when the quote no longer holds.
        route = self._route(chain_id, src, dst, amount_in)
        if route.router.lower() != str(record["router"]).lower():
            raise SwapPriceMoved("The best route changed since the quote.")
        if route.amount_out < min_out:
            raise SwapPriceMoved(
                f"The pool moved: {format_units(route.amount_out, dst.decimals)} {dst.symbol} "
                f"now, below the quote's minimum {record['minDestAmount']} {dst.symbol} "
                f"(slippage {record['slippage']} %). Nothing was signed.",
                details={"quoteId": quote_id, "destAssetAmountNow": str(route.amount_out),
                         "minDestAssetAmount": str(min_out)})
        # Exact approval of the input amount to the router, when the allowance is short.
        if src.address is not None:
            have = self.allowance(chain_id, src.address, owner, route.router)
            if 0 < have < amount_in:
                # A short, non-zero allowance is reset to 0 first: tokens like USDT revert an
                # approve from one non-zero value to another.
                req = self._send(
                    chain_id=chain_id, wait=True, wallet_timeout=wallet_timeout,
                    payload={"to": src.address, "value": "0x0", "data": _enc(
                        "approve(address,uint256)", ["address", "uint256"], [route.router, 0])},
                    intent=f"Reset the {src.symbol} allowance to 0 before approving swap "
                           f"{quote_id}")
                record["resetRequest"] = _req_json(req)
                if getattr(req, "status", None) != "COMPLETED":
                    return self._stop_or_pending(record, req, "APPROVAL_PENDING")
                have = 0
            if have < amount_in:
                # Always waited for, whatever ``wait`` says: a server wallet's job is only
                # queued when submitted, and a swap sent before the approval is mined reverts.
                req = self._send(
                    chain_id=chain_id, wait=True, wallet_timeout=wallet_timeout,
                    payload={"to": src.address, "value": "0x0", "data": _enc(
                        "approve(address,uint256)", ["address", "uint256"],
                        [route.router, amount_in])},
                    intent=f"Approve exactly {record['srcAmount']} {src.symbol} for swap "
                           f"{quote_id}")
                record["approvalRequest"] = _req_json(req)
                if getattr(req, "status", None) != "COMPLETED":
                    return self._stop_or_pending(record, req, "APPROVAL_PENDING")
        deadline = self._deadline(chain_id)
        tx = self._swap_tx(route, src, dst, owner, amount_in, min_out, deadline)
        record["deadline"] = deadline
        req = self._send(
            chain_id=chain_id, payload=tx, wait=wait, wallet_timeout=wallet_timeout,
            intent=f"Swap {record['srcAmount']} {src.symbol} for at least "
                   f"{record['minDestAmount']} {dst.symbol} ({route.venue}, quote {quote_id})")
        record["swapRequest"] = _req_json(req)
        record["txHash"] = getattr(req, "tx_hash", None)
        status = getattr(req, "status", None)
        if status == "COMPLETED":
            record["status"] = "COMPLETED"
            record["received"] = self._received(chain_id, record, owner)
            self._save_quote(record)
            return _public(record)
        return self._stop_or_pending(record, req, "SUBMITTED")

    def _send(self, **kwargs: Any) -> Any:
        """``wallet.send_transaction``; a server-wallet job still running at the wait's
        deadline (``JOB_TIMEOUT``, e.g. ``AWAITING_MFA``) is returned as it stands."""
        from mm_agent.errors import JobTimeout

        try:
            return self.wallet.send_transaction(**kwargs)
        except JobTimeout as err:
            return _timed_out(err)

    def _wait_request(self, polling_id: str, wallet_timeout: int | None) -> Any:
        from mm_agent.errors import JobTimeout

        try:
            return self.wallet.requests.wait(polling_id, wallet_timeout)
        except JobTimeout as err:
            return _timed_out(err)

    def _stop_or_pending(self, record: dict[str, Any], req: Any, pending: str) -> dict[str, Any]:
        status = getattr(req, "status", None)
        if status in ("FAILED", "DENIED", "EXPIRED"):
            record["status"] = "FAILED"
            record["error"] = getattr(req, "error", None)
            self._save_quote(record)
            err = MMError.from_payload(req.error or {"code": "SWAP_ERROR",
                                                     "message": "The swap failed."})
            err.details = {"quote": _public(record)}
            raise err
        record["status"] = pending
        self._save_quote(record)
        return _public(record)

    def _deadline(self, chain_id: int) -> int:
        block = self.engine.rpc(chain_id).call("eth_getBlockByNumber", ["latest", False])
        return int(str(block["timestamp"]), 16) + DEADLINE_SECONDS

    @staticmethod
    def _swap_tx(route: Route, src: TokenInfo, dst: TokenInfo, owner: str, amount_in: int,
                 min_out: int, deadline: int) -> dict[str, Any]:
        value = amount_in if src.address is None else 0
        if route.venue == "uniswap-v2":
            if src.address is None:
                data = _enc("swapExactETHForTokens(uint256,address[],address,uint256)",
                            ["uint256", "address[]", "address", "uint256"],
                            [min_out, route.path, owner, deadline])
            elif dst.address is None:
                data = _enc("swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
                            ["uint256", "uint256", "address[]", "address", "uint256"],
                            [amount_in, min_out, route.path, owner, deadline])
            else:
                data = _enc(
                    "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
                    ["uint256", "uint256", "address[]", "address", "uint256"],
                    [amount_in, min_out, route.path, owner, deadline])
            return {"to": route.router, "value": hex(value), "data": data}
        # Uniswap V3 SwapRouter02: exactInputSingle inside multicall(deadline, calls).
        recipient = ADDRESS_THIS if dst.address is None else owner
        calls = [bytes.fromhex(_enc(
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))",
            ["(address,address,uint24,address,uint256,uint256,uint160)"],
            [(route.path[0], route.path[1], int(route.fee or 0), recipient, amount_in, min_out,
              0)])[2:])]
        if dst.address is None:
            calls.append(bytes.fromhex(_enc("unwrapWETH9(uint256,address)",
                                            ["uint256", "address"], [min_out, owner])[2:]))
        data = _enc("multicall(uint256,bytes[])", ["uint256", "bytes[]"], [deadline, calls])
        return {"to": route.router, "value": hex(value), "data": data}

    def _received(self, chain_id: int, record: dict[str, Any], owner: str) -> str | None:
        """What the swap paid ``owner``, read from the receipt's logs (base units)."""
        tx_hash = record.get("txHash")
        if not tx_hash:
            return None
        try:
            receipt = self.engine.rpc(chain_id).call("eth_getTransactionReceipt", [tx_hash])
        except MMError:
            return None
        if not receipt:
            return None
        transfer = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        withdrawal = "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"
        dst = record["destAsset"]["address"]
        total = 0
        for lg in receipt.get("logs") or []:
            topics = [str(t).lower() for t in lg.get("topics") or []]
            if not topics:
                continue
            if dst is not None and str(lg.get("address", "")).lower() == dst.lower() \
                    and topics[0] == transfer and len(topics) == 3 \
                    and topics[2][-40:] == owner.lower()[2:]:
                total += int(str(lg["data"]), 16)
            elif dst is None and topics[0] == withdrawal and len(topics) == 2 \
                    and topics[1][-40:] == str(record["router"]).lower()[2:]:
                total += int(str(lg["data"]), 16)
        return str(total)

    # --- status ------------------------------------------------------------------------------
    def status(self, quote_id: str) -> dict[str, Any]:
        record = self.get(quote_id)
        if record.get("status") in ("SUBMITTED", "APPROVAL_PENDING"):
            key = "swapRequest" if record["status"] == "SUBMITTED" else \
                "approvalRequest" if record.get("approvalRequest") else "resetRequest"
            pid = (record.get(key) or {}).get("pollingId")
            if pid:
                try:
                    req = self.wallet.requests.get(pid)
                except MMError:
                    req = None
                if req is not None:
                    record[key] = _req_json(req)
                    if key == "swapRequest" and req.status == "COMPLETED":
                        record["status"] = "COMPLETED"
                        record["txHash"] = req.tx_hash
                        record["received"] = self._received(int(record["chainId"]), record,
                                                            str(record["account"]))
                        self._save_quote(record)
                    elif req.status in ("FAILED", "DENIED", "EXPIRED"):
                        record["status"] = "FAILED"
                        record["error"] = req.error
                        self._save_quote(record)
        elif record.get("status") == "QUOTED" and self.now() > float(record["expiresAtTs"]):
            record = {**record, "status": "EXPIRED"}
        return _public(record)


def _pct(fraction: Decimal) -> str:
    """A fraction as a percentage string with 4 decimals (0.012345 → "1.2345")."""
    return str((fraction * 100).quantize(Decimal("0.0001"), rounding=ROUND_DOWN))


def _timed_out(err: MMError) -> Any:
    """The request a ``JOB_TIMEOUT`` carries (``details.request``), as a ``WalletRequest``."""
    from mm_agent.local.request_log import WalletRequest

    data = (err.details or {}).get("request")
    if not isinstance(data, dict) or not data.get("pollingId"):
        raise err
    return WalletRequest.from_dict({"intent": "", "kind": "transaction", "status": "PENDING",
                                    **data})


def _req_json(req: Any) -> dict[str, Any]:
    if isinstance(req, dict):
        return req
    return {"pollingId": req.polling_id, "status": req.status, "txHash": req.tx_hash,
            "error": req.error}


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.endswith("Ts")}
