"""The base of :class:`mm_agent.markets.predict.Predict`: the selected back end (devnet record
or verified registry + config), its CLOB client and chain, ``predict.json`` updates, chain
reads, market lookups, read-only market data, and the one path of a write transaction
(``wallet.send_transaction``, hence the security pipeline)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from mm_agent.errors import (
    InvalidAmount,
    PredictBackendUnavailable,
    PredictNotFound,
    ValidationError,
)
from mm_agent.local.state import Home

from .chain import Chain, encode_call
from .clob_client import ClobClient, signed
from .predict_state import (
    DEFAULT_CLOB_URL,
    DEFAULT_GAMMA_URL,
    NETWORKS,
    PREDICT_FILE,
    _decimal,
    _now,
    read_state,
)

__all__ = ["PredictBase"]


class PredictBase:
    """One wallet's prediction-market account on the selected back end: what every command
    reads (the subclasses add the account, trading and positions commands)."""

    def __init__(self, wallet: Any, *, home: Home | None = None, mode: str | None = None,
                 reference_prices: Callable[[dict[str, Any]], AbstractContextManager[Any]]
                 | None = None,
                 contracts: Callable[[int], dict[str, Any] | None] | None = None) -> None:
        """``reference_prices``: :func:`mm_agent.security.scan.reference_prices` (the
        handlers pass it) feeds the book's best bid/ask to the scanner's off-book check;
        ``contracts(chain_id)``: the verified ``{exchange, exchangeName, collateral: {address,
        symbol, decimals}, conditionalTokens}`` of a real network (the handlers read
        ``known_protocols``). This layer sits below the security package and does not import
        it."""
        self.wallet = wallet
        self._reference_prices = reference_prices
        self._contracts = contracts
        self.home = home or Home.from_env()
        state = read_state(self.home)
        self.mode = mode or state["mode"]
        self._client: ClobClient | None = None
        self._chain: Chain | None = None
        self._backend: dict[str, Any] | None = None
        self._geoblock: dict[str, Any] | None = None  # the check's answer, asked once

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._chain is not None:
            self._chain.close()

    def __enter__(self) -> PredictBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- back end --------------------------------------------------------------------------------
    @property
    def backend(self) -> dict[str, Any]:
        """``{chainId, exchange, exchangeName, conditionalTokens, collateral, clobUrl, gammaUrl,
        rpcUrl, markets (devnet only)}`` of the selected mode."""
        if self._backend is None:
            self._backend = (self._devnet_backend() if self.mode == "devnet"
                             else self._network_backend())
        return self._backend

    def _devnet_backend(self) -> dict[str, Any]:
        record = self.home.read_json("devnet.json", None)
        if not isinstance(record, dict) or not isinstance(record.get("markets"), dict):
            raise PredictBackendUnavailable(
                "No devnet markets: the devnet is not running or has no markets record.",
                hint="Start it with `mm devnet start --detach`.")
        markets = record["markets"]
        service = markets.get("service") or {}
        return {"chainId": int(markets["chainId"]),
                "exchange": str(markets["contracts"]["CtfExchange"]),
                "exchangeName": "devnet CTF exchange",
                "conditionalTokens": str(markets["contracts"]["ConditionalTokens"]),
                "collateral": dict(markets["collateral"]),
                "clobUrl": service.get("url"),
                "gammaUrl": service.get("gammaUrl") or (f"{service['url']}/gamma"
                                                        if service.get("url") else None),
                "rpcUrl": str(record["rpcUrl"]), "markets": list(markets["markets"])}

    def _network_backend(self) -> dict[str, Any]:
        if self.mode not in NETWORKS:
            raise PredictBackendUnavailable(f"Unknown predict mode {self.mode!r}.")
        from mm_agent.local.config import Config

        net = NETWORKS[self.mode]
        chain_id = int(net["chainId"])
        verified = self._contracts(chain_id) if self._contracts else None
        if not verified:
            raise PredictBackendUnavailable(
                f"No verified Polymarket exchange for chain {chain_id} was given to this "
                "client.", hint="Use the `mm predict` commands (they pass the registry).")
        config = Config(self.home)
        rpc = config.rpc_override(chain_id)
        if not rpc:
            from mm_agent.evm.chains import get_chain

            rpc = get_chain(chain_id).rpc_url
        return {"chainId": chain_id, "network": net["name"],
                "exchange": str(verified["exchange"]),
                "exchangeName": str(verified.get("exchangeName") or "CTF exchange"),
                "conditionalTokens": str(verified["conditionalTokens"]),
                "collateral": dict(verified["collateral"]),
                "clobUrl": str(config.get(f"predict.{self.mode}.clobUrl") or DEFAULT_CLOB_URL),
                "gammaUrl": str(config.get(f"predict.{self.mode}.gammaUrl")
                                or DEFAULT_GAMMA_URL),
                "rpcUrl": str(rpc), "markets": None}

    @property
    def chain_id(self) -> int:
        return int(self.backend["chainId"])

    @property
    def exchange(self) -> str:
        return str(self.backend["exchange"])

    @property
    def ctf(self) -> str:
        return str(self.backend["conditionalTokens"])

    @property
    def collateral(self) -> str:
        return str(self.backend["collateral"]["address"])

    @property
    def collateral_symbol(self) -> str:
        return str(self.backend["collateral"].get("symbol") or "collateral")

    @property
    def address(self) -> str:
        return str(self.wallet.address)

    @property
    def client(self) -> ClobClient:
        if self._client is None:
            b = self.backend
            if not b["clobUrl"]:
                raise PredictBackendUnavailable(
                    "The devnet market service is not running (no URL in devnet.json).",
                    hint="Restart the devnet (`mm devnet stop`, `mm devnet start --detach`) or "
                         "run `mm devnet predict serve`.")
            self._client = ClobClient(b["clobUrl"], b["gammaUrl"], wallet=self.wallet,
                                      chain_id=self.chain_id)
        return self._client

    @property
    def chain(self) -> Chain:
        if self._chain is None:
            self._chain = Chain(str(self.backend["rpcUrl"]))
        return self._chain

    # --- state -----------------------------------------------------------------------------------
    def _update(self, fn: Any) -> Any:
        with self.home.locked():
            state = read_state(self.home)
            out = fn(state)
            self.home.write_json(PREDICT_FILE, state)
        return out

    def _account_state(self) -> dict[str, Any]:
        acc = read_state(self.home)["accounts"].get(self.address.lower(), {})
        return dict(acc.get(self.mode, {}))

    def _log(self, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {"kind": kind, "id": fields.pop("id", None) or str(uuid.uuid4()), "at": _now(),
                 "mode": self.mode, "address": self.address, **fields}
        self._update(lambda s: s["history"].append(entry))
        return entry

    # --- chain reads -----------------------------------------------------------------------------
    def _collateral_balance(self, owner: str | None = None) -> int:
        return int(self.chain.call(self.collateral, encode_call(
            "balanceOf(address)", ["address"], [owner or self.address]), ["uint256"]))

    def _allowance(self) -> int:
        return int(self.chain.call(self.collateral, encode_call(
            "allowance(address,address)", ["address", "address"],
            [self.address, self.exchange]), ["uint256"]))

    def _outcomes_approved(self) -> bool:
        return bool(self.chain.call(self.ctf, encode_call(
            "isApprovedForAll(address,address)", ["address", "address"],
            [self.address, self.exchange]), ["bool"]))

    def _token_balance(self, token_id: int | str) -> int:
        return int(self.chain.call(self.ctf, encode_call(
            "balanceOf(address,uint256)", ["address", "uint256"],
            [self.address, int(token_id)]), ["uint256"]))

    def _payouts(self, condition_id: str) -> list[int] | None:
        cid = bytes.fromhex(condition_id[2:])
        den = self.chain.call(self.ctf, encode_call("payoutDenominator(bytes32)", ["bytes32"],
                                                    [cid]), ["uint256"])
        if not den:
            return None
        return [int(self.chain.call(self.ctf, encode_call(
            "payoutNumerators(bytes32,uint256)", ["bytes32", "uint256"], [cid, i]),
            ["uint256"])) for i in range(2)]

    @staticmethod
    def _gamma_market(m: dict[str, Any]) -> dict[str, Any]:
        """A Gamma market as the record's shape: ``tokens: [{outcome, tokenId}]``."""
        import json as _json

        def listed(value: Any) -> list[Any]:
            return list(_json.loads(value) if isinstance(value, str) else value or [])

        ids, names = listed(m.get("clobTokenIds")), listed(m.get("outcomes"))
        return {"slug": m.get("slug"), "question": m.get("question"),
                "conditionId": m.get("conditionId"),
                "tokens": [{"outcome": n, "tokenId": str(t)}
                           for n, t in zip(names, ids, strict=False)]}

    def _markets(self) -> list[dict[str, Any]]:
        """The markets this client knows without a search: the devnet record's, or on a real
        network those of the outcome tokens this account has traded (its local orders)."""
        if self.backend["markets"] is not None:
            return list(self.backend["markets"])
        seen: dict[str, dict[str, Any]] = {}
        for o in read_state(self.home)["orders"]:
            if o.get("mode") == self.mode and str(o.get("address", "")).lower() \
                    == self.address.lower() and o.get("conditionId") not in seen:
                try:
                    seen[o["conditionId"]] = self._resolve_market(o["conditionId"])
                except PredictNotFound:
                    continue
        return list(seen.values())

    def _market_of_token(self, token_id: str | int) -> dict[str, Any]:
        if self.backend["markets"] is None:  # a real network: Gamma's clob_token_ids filter
            for raw in self.client.markets(clob_token_ids=str(token_id)):
                m = self._gamma_market(raw)
                for t in m["tokens"]:
                    if t["tokenId"] == str(token_id):
                        return {**m, "outcome": t["outcome"]}
            raise PredictNotFound(f"No {self.mode} market has the outcome token {token_id}.",
                                  hint="`mm predict markets search <words>` lists markets.")
        for m in self.backend["markets"]:
            for t in m["tokens"]:
                if str(t["tokenId"]) == str(token_id):
                    return {**m, "outcome": t["outcome"]}
        raise PredictNotFound(f"No devnet outcome token {token_id}.",
                              hint="`mm predict markets get <slug>` lists the token ids.")

    def _resolve_market(self, key: str) -> dict[str, Any]:
        k = key.lower()
        if self.backend["markets"] is None:
            query = {"condition_ids": key} if k.startswith("0x") and len(k) == 66 \
                else {"slug": key}
            for raw in self.client.markets(**query):
                m = self._gamma_market(raw)
                if k in (str(m["slug"]).lower(), str(m["conditionId"]).lower()):
                    return m
            raise PredictNotFound(f"No {self.mode} market {key!r}.")
        for m in self.backend["markets"]:
            if k in (m["slug"].lower(), m["conditionId"].lower()):
                return dict(m)
        raise PredictNotFound(f"No devnet market {key!r}.")

    # --- writes through the wallet ------------------------------------------------------------
    def _send(self, to: str, data: bytes, intent: str) -> dict[str, Any]:
        req = self.wallet.send_transaction(
            chain_id=self.chain_id, payload={"to": to, "value": "0x0", "data": "0x" + data.hex()},
            intent=intent)
        status = getattr(req, "status", None)
        if status != "COMPLETED" or not getattr(req, "tx_hash", None):
            signed(req, intent)  # raises the request's error
        receipt = self.chain.wait(str(req.tx_hash), intent)
        return {"pollingId": req.polling_id, "txHash": req.tx_hash,
                "status": "confirmed" if int(receipt["status"], 16) == 1 else "failed"}

    # --- data ------------------------------------------------------------------------------------
    def markets_list(self, **filters: Any) -> dict[str, Any]:
        return {"markets": self.client.markets(**filters), "source": self.mode}

    def markets_search(self, query: str, limit: int | None = None) -> dict[str, Any]:
        found = self.client.search(query)
        markets = found["markets"][: limit or 10]
        return {"query": query, "markets": markets, "source": self.mode}

    def markets_get(self, key: str) -> dict[str, Any]:
        import json as _json

        m = self.client.market(key)
        ids = _json.loads(m["clobTokenIds"])
        names = _json.loads(m["outcomes"])
        prices = _json.loads(m["outcomePrices"])
        m["tokens"] = [{"outcome": n, "tokenId": t, "price": p}
                       for n, t, p in zip(names, ids, prices, strict=False)]
        return m

    def book(self, token_id: str) -> dict[str, Any]:
        return self.client.book(token_id)

    def quote(self, token_id: str, side: str, size: str, limit_price: str | None = None
              ) -> dict[str, Any]:
        """Walk the book: average price, cost (BUY) or proceeds (SELL), fillable size."""
        if side.lower() not in ("buy", "sell"):
            raise ValidationError(f"Side {side!r} is neither buy nor sell.")
        want = _decimal(size, "Size")
        if want <= 0:
            raise InvalidAmount(f"Size {size} is not positive.")
        limit = None
        if limit_price is not None:
            limit = _decimal(limit_price, "Limit price")
            if not Decimal(0) < limit <= 1:
                raise InvalidAmount(f"Limit price {limit_price} is outside (0, 1].")
        book = self.client.book(token_id)
        levels = book["asks"] if side.lower() == "buy" else book["bids"]
        # The CLOB lists the best level last.
        ordered = sorted(((Decimal(lv["price"]), Decimal(lv["size"])) for lv in levels),
                         key=lambda x: x[0], reverse=side.lower() == "sell")
        filled, cost = Decimal(0), Decimal(0)
        for price, avail in ordered:
            if limit is not None and (price > limit if side.lower() == "buy" else price < limit):
                break
            take = min(avail, want - filled)
            filled += take
            cost += take * price
            if filled >= want:
                break
        avg = (cost / filled) if filled else None
        return {"tokenId": str(token_id), "side": side.lower(), "size": str(want),
                "fillableSize": format(filled.normalize(), "f"),
                "averagePrice": format(avg.quantize(Decimal("0.0001")).normalize(), "f")
                if avg is not None else None,
                "estimatedCost" if side.lower() == "buy" else "estimatedProceeds":
                    format(cost.normalize(), "f"),
                "fullyFillable": filled >= want, "limitPrice": limit_price,
                "source": self.mode}
