"""`mm swap quote|execute|status`: same-chain swaps on Uniswap, through the wallet's pipeline.

Venues and routes (Uniswap V2 on the devnet, V3 QuoterV2/SwapRouter02 on real chains) are
``markets/swap_routes.py``'s; this module keeps the quotes and carries them out.

A quote is stored in ``<MM_HOME>/swaps.json`` (0600, written atomically under the state lock)
and expires (``expiresAt``, :data:`QUOTE_TTL_SECONDS`). ``execute``:

1. refuses an unknown (``QUOTE_NOT_FOUND``), used (``QUOTE_ALREADY_EXECUTED``) quote, one made
   for another account, and a ``QUOTED`` one past its expiry (``QUOTE_EXPIRED``). A quote in
   ``APPROVAL_PENDING`` may continue after expiry: its approval (exactly this amount, to this
   router) may have waited on a human longer than the TTL; the pool check below keeps the
   quote's minimum;
2. reads the pool again: when the swap would now return less than the quote's minimum (its
   slippage) or the best route's router changed, ``SWAP_PRICE_MOVED`` — nothing is signed, not
   even the approval;
3. approves **exactly** the input amount to the router when the allowance is short (never an
   unlimited approval); a short **non-zero** allowance is first reset with ``approve(router,
   0)`` (USDT-style tokens revert a change between two non-zero values). Both are waited
   for before the swap is sent, whatever ``wait`` says: a server wallet's job that stops (e.g.
   ``AWAITING_MFA`` past ``wallet_timeout``) leaves the quote ``APPROVAL_PENDING``, and
   ``execute`` again picks it up;
4. after approvals, reads the pool once more (they took blocks, maybe a human's time) with the
   same ``SWAP_PRICE_MOVED`` rule — the quote stays ``APPROVAL_PENDING`` — then sends the swap
   with the minimum out and a deadline computed now (the router enforces both on chain).

Every approval and swap is ``wallet.send_transaction``: the §5 pipeline (decode, simulate,
scan, policy, approval, submission) runs on each, in both wallet modes. Cross-chain requests are
``BRIDGE_UNSUPPORTED``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mm_agent.errors import (
    BridgeUnsupported,
    InvalidSwapParams,
    MMError,
    NoQuotes,
    QuoteAlreadyExecuted,
    QuoteExpired,
    QuoteNotFound,
    SwapPriceMoved,
)
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.amounts import format_units, parse_units
from mm_agent.evm.chains import DEVNET_CHAIN_ID, get_chain, parse_chain_id
from mm_agent.evm.tokens import TokenInfo

from . import amm
from .swap_routes import (
    V3_DEPLOYMENTS,
    Route,
    V3Deployment,
    call_data,
    decode_reply,
    route_v2,
    route_v3,
    swap_transaction,
)

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
        raw = self.engine.rpc(chain_id).call("eth_call", [{"to": token, "data": call_data(
            "allowance(address,address)", ["address", "address"], [owner, spender])}, "latest"])
        return int(decode_reply(["uint256"], raw)[0])

    # --- routes ------------------------------------------------------------------------------
    def _route(self, chain_id: int, src: TokenInfo, dst: TokenInfo, amount_in: int) -> Route:
        if chain_id == DEVNET_CHAIN_ID and chain_id not in self.v3:
            return route_v2(self.engine.rpc(chain_id), self._markets(), src, dst, amount_in)
        if chain_id in self.v3:
            return route_v3(self.engine.rpc(chain_id), chain_id, self.v3[chain_id], src, dst,
                            amount_in)
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

    def _live_route(self, record: dict[str, Any], src: TokenInfo, dst: TokenInfo) -> Route:
        """The pool now, held to the quote: ``SWAP_PRICE_MOVED`` when the best route's router
        changed or it returns less than the quote's minimum."""
        quote_id, min_out = record["quoteId"], int(record["minDestAssetAmount"])
        route = self._route(int(record["chainId"]), src, dst, int(record["srcAssetAmount"]))
        details = {"quoteId": quote_id, "destAssetAmountNow": str(route.amount_out),
                   "minDestAssetAmount": str(min_out), "routerNow": route.router}
        if route.router.lower() != str(record["router"]).lower():
            raise SwapPriceMoved(f"The best route changed since quote {quote_id} (router "
                                 f"{route.router}, quoted {record['router']}). Nothing was "
                                 "signed for the swap.", details=details)
        if route.amount_out < min_out:
            raise SwapPriceMoved(
                f"The pool moved: {format_units(route.amount_out, dst.decimals)} {dst.symbol} "
                f"now, below the quote's minimum {record['minDestAmount']} {dst.symbol} "
                f"(slippage {record['slippage']} %). Nothing was signed for the swap.",
                details=details)
        return route

    # --- execute -----------------------------------------------------------------------------
    def execute(self, quote_id: str, *, wait: bool = True,
                wallet_timeout: int | None = None) -> dict[str, Any]:
        record = self.get(quote_id)
        status = record.get("status")
        if status not in ("QUOTED", "APPROVAL_PENDING"):
            raise QuoteAlreadyExecuted(
                f"Quote {quote_id} was already executed (status {status}).")
        owner = self.wallet.address
        if owner.lower() != str(record["account"]).lower():
            raise InvalidSwapParams(f"Quote {quote_id} was made for {record['account']}, not "
                                    f"the active account {owner}.")
        # Only a quote nothing was signed for expires: one in APPROVAL_PENDING carries an
        # approval (this amount, this router) that may have waited on a human past the TTL.
        if status == "QUOTED" and self.now() > float(record["expiresAtTs"]):
            raise QuoteExpired(f"Quote {quote_id} expired at {record['expiresAt']}.")
        if status == "APPROVAL_PENDING":
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
        chain_id = int(record["chainId"])
        src, dst = _token_info(record["srcAsset"]), _token_info(record["destAsset"])
        amount_in, min_out = int(record["srcAssetAmount"]), int(record["minDestAssetAmount"])
        # The pool now (after any approval waited for above): refuse before anything more is
        # signed when the quote no longer holds.
        route = self._checked_route(record, src, dst)
        approved = self._approve(record, route, src, wallet_timeout) if src.address else None
        if approved == "pending":
            return _public(record)
        if approved == "done":
            # The approvals took blocks (maybe a human's time): the pool once more.
            route = self._checked_route(record, src, dst)
        deadline = self._deadline(chain_id)  # from now, not from the quote
        tx = swap_transaction(route, src, dst, owner, amount_in, min_out, deadline)
        record["deadline"] = deadline
        req = self._send(
            chain_id=chain_id, payload=tx, wait=wait, wallet_timeout=wallet_timeout,
            intent=f"Swap {record['srcAmount']} {src.symbol} for at least "
                   f"{record['minDestAmount']} {dst.symbol} ({route.venue}, quote {quote_id})")
        record["swapRequest"] = _req_json(req)
        record["txHash"] = getattr(req, "tx_hash", None)
        if getattr(req, "status", None) == "COMPLETED":
            record["status"] = "COMPLETED"
            record["received"] = self._received(chain_id, record, owner)
            self._save_quote(record)
            return _public(record)
        return self._stop_or_pending(record, req, "SUBMITTED")

    def _checked_route(self, record: dict[str, Any], src: TokenInfo, dst: TokenInfo) -> Route:
        """:meth:`_live_route`; a quote that already carries approvals stays
        ``APPROVAL_PENDING`` (saved, with them) when it is refused."""
        try:
            return self._live_route(record, src, dst)
        except SwapPriceMoved as err:
            if record.get("resetRequest") or record.get("approvalRequest"):
                record["status"] = "APPROVAL_PENDING"
                self._save_quote(record)
                err.details = {**(err.details or {}), "quote": _public(record)}
            raise

    def _approve(self, record: dict[str, Any], route: Route, src: TokenInfo,
                 wallet_timeout: int | None) -> str | None:
        """Exact approval of the input amount to the router when the allowance is short:
        ``"done"`` (mined), ``None`` (nothing needed) or ``"pending"`` (a job that has not
        completed: ``record`` is saved as ``APPROVAL_PENDING``; a failed one raises)."""
        assert src.address is not None
        chain_id, quote_id = int(record["chainId"]), record["quoteId"]
        amount_in, owner = int(record["srcAssetAmount"]), self.wallet.address
        have = self.allowance(chain_id, src.address, owner, route.router)
        steps = []
        if 0 < have < amount_in:
            # A short, non-zero allowance is reset to 0 first: tokens like USDT revert an
            # approve from one non-zero value to another.
            steps.append(("resetRequest", 0, f"Reset the {src.symbol} allowance to 0 before "
                                             f"approving swap {quote_id}"))
        if have < amount_in:
            steps.append(("approvalRequest", amount_in,
                          f"Approve exactly {record['srcAmount']} {src.symbol} for swap "
                          f"{quote_id}"))
        for key, value, intent in steps:
            # Always waited for, whatever ``wait`` says: a server wallet's job is only queued
            # when submitted, and a swap sent before the approval is mined reverts.
            req = self._send(
                chain_id=chain_id, wait=True, wallet_timeout=wallet_timeout, intent=intent,
                payload={"to": src.address, "value": "0x0", "data": call_data(
                    "approve(address,uint256)", ["address", "uint256"], [route.router, value])})
            record[key] = _req_json(req)
            if getattr(req, "status", None) != "COMPLETED":
                self._stop_or_pending(record, req, "APPROVAL_PENDING")
                return "pending"
        return "done" if steps else None

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


def _token_info(asset: dict[str, Any]) -> TokenInfo:
    return TokenInfo(asset["address"], asset["symbol"], int(asset["decimals"]))


def _req_json(req: Any) -> dict[str, Any]:
    if isinstance(req, dict):
        return req
    return {"pollingId": req.polling_id, "status": req.status, "txHash": req.tx_hash,
            "error": req.error}


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.endswith("Ts")}
