"""`mm predict` as a Python API: :class:`Predict` over a wallet, MM_HOME and a back end.

Back ends (``mm predict mode``): ``devnet`` — the market service that ``mm devnet start``
runs over the devnet's Conditional Tokens and DevnetCtfExchange (its URL is in
``devnet.json["markets"]["service"]``); ``testnet`` (Polygon Amoy, 80002) and ``mainnet``
(Polygon, 137) — Polymarket's CLOB and Gamma APIs at the config's ``predict.<mode>.clobUrl`` /
``predict.<mode>.gammaUrl`` (defaults :data:`DEFAULT_CLOB_URL`, :data:`DEFAULT_GAMMA_URL`), the
chain at ``rpc.<chainId>`` (else the chain registry's public RPC), and the CTF Exchange V2,
its collateral (pUSD) and the Conditional Tokens from the verified registry the caller passes
(``contracts``: the handlers read ``security/scan/known_protocols.py``; this layer sits below
the security package). On a real network, markets come from Gamma (``clob_token_ids``,
``condition_ids``, ``slug`` filters); positions are read on chain for the outcome tokens this
client has traded (no data-API).

Every write goes through the wallet, hence through the security pipeline: the ``ClobAuth``
message and each order are typed data (``wallet.sign_typed_data``; orders are recognised by
threat rule 5b, checked against the book's prices with
:func:`mm_agent.security.scan.reference_prices`, and the policy counts a BUY's worst case as
outflow); approvals and redemptions are transactions (``wallet.send_transaction``). The
exchange an order is signed for is the one in the local devnet record (devnet) or the verified
registry (testnet/mainnet), never one a service names.

``predict.json`` (MM_HOME, 0600, atomic)::

    {"version": 1, "mode": "devnet",
     "accounts": {"<address lower>": {"<mode>": {"credentials": bool, "setupAt",
                                                 "setupTxs": [...]}}},
     "orders": [{"orderId", "mode", "address", "tokenId", "conditionId", "side", "price",
                 "size", "orderType", "status", "filledSize", "txHashes", "createdAt"}],
     "history": [{"kind": "setup|deposit|withdraw|order|cancel|redeem", "id", "at", ...}]}

API credentials are never stored: each process re-derives them with one ``ClobAuth``
signature (the service's derivation is deterministic per address and nonce).

Devnet funding: the wallet's own mUSD is the collateral (there is no pUSD and no deposit
wallet: orders are EOA orders, signature type 0). ``deposit --amount X`` therefore converts
nothing: it checks X against the mUSD balance and makes sure the exchange may spend it (an
``approve`` through the pipeline when the allowance is short); ``withdraw --amount X --to A``
is an mUSD transfer to ``A`` (nothing to do without ``--to``).

An order counts as filled only with a receipt: the settlement transaction's receipt (status 1)
and its ``OrderFilled`` log for this order's hash, read from the chain by this client.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mm_agent.errors import (
    InsufficientFunds,
    InvalidAmount,
    PredictBackendUnavailable,
    PredictError,
    PredictNotFound,
    PredictSetupRequired,
    ValidationError,
)
from mm_agent.evm.signatures import keccak256
from mm_agent.local.state import Home

from . import ctf, orders
from .chain import Chain, encode_call
from .clob_client import ClobClient, signed

__all__ = ["DEFAULT_CLOB_URL", "DEFAULT_GAMMA_URL", "MODES", "NETWORKS", "PREDICT_FILE", "Predict",
           "read_state", "set_mode", "validate_place"]

PREDICT_FILE = "predict.json"
MODES = ("devnet", "testnet", "mainnet")
# The real networks of ``testnet`` and ``mainnet``.
NETWORKS: dict[str, dict[str, Any]] = {
    "testnet": {"chainId": 80002, "name": "Polygon Amoy"},
    "mainnet": {"chainId": 137, "name": "Polygon"},
}
# The reference clients' hosts (py-clob-client / @polymarket/clob-client; Gamma's public API).
DEFAULT_CLOB_URL = "https://clob.polymarket.com"
DEFAULT_GAMMA_URL = "https://gamma-api.polymarket.com"
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
MAX_UINT = 2**256 - 1
ONE = Decimal(10) ** orders.COLLATERAL_DECIMALS
FILLED_TOPIC = "0x" + keccak256(
    b"OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,"
    b"bytes32)").hex()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _units(amount: int) -> str:
    return format((Decimal(amount) / ONE).normalize(), "f")


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """An order record as commands show it (the signed struct stays in predict.json)."""
    return {k: v for k, v in record.items() if k not in ("order", "exchange", "chainId")}


def read_state(home: Home) -> dict[str, Any]:
    state = home.read_json(PREDICT_FILE, None)
    if not isinstance(state, dict):
        state = {}
    state.setdefault("version", 1)
    state.setdefault("mode", "devnet")
    state.setdefault("accounts", {})
    state.setdefault("orders", [])
    state.setdefault("history", [])
    return state


def set_mode(home: Home, mode: str | None) -> dict[str, Any]:
    """Show (``mode`` None) or switch the back end."""
    with home.locked():
        state = read_state(home)
        if mode is not None:
            if mode not in MODES:
                raise ValidationError(f"Unknown predict mode {mode!r}.",
                                      hint="One of devnet, testnet, mainnet.")
            state["mode"] = mode
            home.write_json(PREDICT_FILE, state)
    out: dict[str, Any] = {"mode": state["mode"], "available": True}
    if state["mode"] in NETWORKS:
        out["chainId"] = NETWORKS[state["mode"]]["chainId"]
        out["network"] = NETWORKS[state["mode"]]["name"]
    return out


def _decimal(value: str | None, what: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{what} {value!r} is not a number.") from None
    if not d.is_finite():
        raise InvalidAmount(f"{what} {value!r} is not a number.")
    return d


def validate_place(*, side: str, size: str, price: str, order_type: str = "GTC",
                   post_only: bool = False, expiration: int | None = None) -> None:
    """The reference's validation rules (exit 2)."""
    if side.lower() not in ("buy", "sell"):
        raise ValidationError(f"Side {side!r} is neither buy nor sell.", hint="--side buy")
    p = _decimal(price, "Price")
    if not Decimal(0) < p <= Decimal(1):
        raise InvalidAmount(f"Price {price} is outside (0, 1].", hint="e.g. --price 0.55")
    if _decimal(size, "Size") <= 0:
        raise InvalidAmount(f"Size {size} is not positive.", hint="e.g. --size 10")
    if order_type.upper() not in ORDER_TYPES:
        raise ValidationError(f"Unknown order type {order_type!r}.",
                              hint="--order-type GTC, GTD, FOK or FAK.")
    if post_only and order_type.upper() in ("FOK", "FAK"):
        raise ValidationError("--post-only cannot be used with FOK or FAK orders.")
    if expiration is not None and order_type.upper() != "GTD":
        raise ValidationError("--expiration is only valid for GTD orders.",
                              hint="Add --order-type GTD, or drop --expiration.")
    if order_type.upper() == "GTD" and expiration is None:
        raise ValidationError("A GTD order needs --expiration (Unix seconds).")


class Predict:
    """One wallet's prediction-market account on the selected back end."""

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

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._chain is not None:
            self._chain.close()

    def __enter__(self) -> Predict:
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

    # --- account ---------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "source": self.mode}
        try:
            client = self.client
        except PredictBackendUnavailable as exc:
            return {**out, "chainId": None, "gamma": "unavailable", "clob": "unavailable",
                    "reason": exc.message, "account": {"ownerAddress": self.address,
                                                       "setupComplete": False}}
        approvals = self._approvals()
        creds = bool(self._account_state().get("credentials"))
        return {**out, "chainId": self.chain_id, "gamma": "ok" if client.gamma_ok() else "down",
                "clob": "ok" if client.ok() else "down", "exchange": self.exchange,
                "account": {"ownerAddress": self.address, "depositWalletAddress": None,
                            "deployed": True, "credentials": creds,
                            "approvals": approvals["ok"],
                            "setupComplete": creds and approvals["ok"]}}

    def _approvals(self) -> dict[str, Any]:
        allowance = self._allowance()
        outcomes = self._outcomes_approved()
        return {"collateralAllowance": _units(allowance) if allowance < MAX_UINT else "unlimited",
                "outcomeTokens": outcomes, "ok": allowance > 0 and outcomes}

    def require_setup(self) -> None:
        if not self._account_state().get("credentials") or not self._approvals()["ok"]:
            raise PredictSetupRequired(
                f"Predict is not set up for {self.address} on the {self.mode} back end.")

    def setup(self) -> dict[str, Any]:
        """Credentials (L1 ``ClobAuth`` through the wallet), then the exchange's collateral
        allowance and ``setApprovalForAll`` of the outcome tokens (transactions through the
        pipeline), each only if missing."""
        creds = self.client.derive_api_key()
        txs = []
        if self._allowance() == 0:
            txs.append({"step": "approveCollateral", **self._send(
                self.collateral, encode_call("approve(address,uint256)", ["address", "uint256"],
                                             [self.exchange, MAX_UINT]),
                f"Let the {self.backend['exchangeName']} spend {self.collateral_symbol} for "
                "prediction-market orders")})
        if not self._outcomes_approved():
            txs.append({"step": "approveOutcomeTokens", **self._send(
                self.ctf, ctf.set_approval_for_all_calldata(self.exchange, True),
                f"Let the {self.backend['exchangeName']} move outcome tokens for sell orders")})

        def save(state: dict[str, Any]) -> None:
            acc = state["accounts"].setdefault(self.address.lower(), {})
            acc[self.mode] = {"credentials": True, "setupAt": _now(),
                              "setupTxs": [t["txHash"] for t in txs]}

        self._update(save)
        self._log("setup", txHashes=[t["txHash"] for t in txs])
        approvals = self._approvals()
        return {"mode": self.mode, "address": self.address, "credentials": True,
                "apiKey": creds["apiKey"], "transactions": txs, "approvals": approvals,
                "setupComplete": approvals["ok"], "status": "COMPLETED"}

    def balance(self, token_id: str | None = None) -> dict[str, Any]:
        bal = self._collateral_balance()
        allowance = self._allowance()
        out = {"pusd": _units(bal), "collateral": self.collateral_symbol,
               "tradable": _units(min(bal, allowance)), "approvals": self._approvals()["ok"],
               "setupComplete": bool(self._account_state().get("credentials"))
               and self._approvals()["ok"], "source": self.mode}
        if token_id is not None:
            market = self._market_of_token(token_id)
            out["token"] = {"tokenId": str(token_id), "outcome": market["outcome"],
                            "conditionId": market["conditionId"],
                            "size": _units(self._token_balance(token_id))}
        return out

    def deposit(self, amount: str) -> dict[str, Any]:
        self.require_setup()
        units = self._amount(amount)
        bal = self._collateral_balance()
        if units > bal:
            raise InsufficientFunds(f"Deposit of {amount} {self.collateral_symbol} exceeds the "
                                    f"balance ({_units(bal)} {self.collateral_symbol}).")
        tx = None
        if self._allowance() < units:
            tx = self._send(self.collateral, encode_call(
                "approve(address,uint256)", ["address", "uint256"], [self.exchange, MAX_UINT]),
                f"Let the {self.backend['exchangeName']} spend {self.collateral_symbol} for "
                "prediction-market orders")
        entry = self._log("deposit", amount=amount, txHash=tx and tx["txHash"])
        return {"pollingId": entry["id"], "status": "COMPLETED", "amount": amount,
                "pusd": _units(bal), "txHash": tx and tx["txHash"],
                "note": f"The wallet's {self.collateral_symbol} is the collateral itself (EOA "
                        "orders): nothing is converted."}

    def withdraw(self, amount: str, to: str | None = None) -> dict[str, Any]:
        self.require_setup()
        units = self._amount(amount)
        bal = self._collateral_balance()
        if units > bal:
            raise InsufficientFunds(f"Withdrawal of {amount} {self.collateral_symbol} exceeds "
                                    f"the balance ({_units(bal)} {self.collateral_symbol}).")
        if to is None or to.lower() == self.address.lower():
            entry = self._log("withdraw", amount=amount, to=self.address, txHash=None)
            return {"pollingId": entry["id"], "status": "COMPLETED", "amount": amount,
                    "to": self.address, "txHash": None,
                    "note": "The collateral already sits in the owner EOA."}
        from eth_utils import to_checksum_address

        tx = self._send(self.collateral, encode_call(
            "transfer(address,uint256)", ["address", "uint256"], [to_checksum_address(to), units]),
            f"Withdraw {amount} {self.collateral_symbol} from the predict account")
        entry = self._log("withdraw", amount=amount, to=to, txHash=tx["txHash"])
        return {"pollingId": entry["id"], "status": "COMPLETED", "amount": amount, "to": to,
                "txHash": tx["txHash"]}

    @staticmethod
    def _amount(amount: str) -> int:
        d = _decimal(amount, "Amount")
        if d <= 0:
            raise InvalidAmount(f"Amount {amount} is not positive.")
        return int(d * ONE)

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

    # --- trading ---------------------------------------------------------------------------------
    def build_order(self, token_id: str, side: str, size: str, price: str) -> orders.Order:
        return orders.build_order(maker=self.address, token_id=int(token_id), side=side.upper(),
                                  price=price, size=size, tick_size="0.01")

    def sign_order(self, order: orders.Order, *, exchange: str | None = None,
                   intent: str | None = None, wallet_timeout: int | None = None,
                   record: dict[str, Any] | None = None) -> str:
        """The wallet's signature (pipeline: rule 5b, the off-book check against this book).
        A server wallet's signing request id goes into ``record["signingPollingId"]``: a
        cancel releases the order's outflow reservation through it."""
        typed = orders.order_typed_data(order, chain_id=self.chain_id,
                                        exchange=exchange or self.exchange)
        refs: dict[str, Any] = {}
        try:
            book = self.client.book(order.tokenId)
            bids = [Decimal(b["price"]) for b in book["bids"]]
            asks = [Decimal(a["price"]) for a in book["asks"]]
            ref: dict[str, Any] = {"source": self.mode}
            if bids:
                ref["bid"] = str(max(bids))
            if asks:
                ref["ask"] = str(min(asks))
            if len(ref) > 1:
                refs[str(order.tokenId)] = ref
        except PredictError:
            pass
        ctx = self._reference_prices(refs) if self._reference_prices else nullcontext()
        with ctx:
            req = self.wallet.sign_typed_data(chain_id=self.chain_id, payload=typed,
                                              intent=intent, wallet_timeout=wallet_timeout)
        if record is not None and self._server_wallet and getattr(req, "polling_id", None):
            record["signingPollingId"] = req.polling_id
        return signed(req, "order")

    @property
    def _server_wallet(self) -> bool:
        return callable(getattr(getattr(self.wallet, "requests", None), "release_order", None))

    def place(self, token_id: str, side: str, size: str, price: str, *,
              order_type: str = "GTC", post_only: bool = False,
              expiration: int | None = None, wallet_timeout: int | None = None
              ) -> dict[str, Any]:
        """Sign (through the wallet) and post one order. A server wallet's signature may wait
        for the human (guard mode: over the outflow limit, …): when the wait ends first, the
        order is kept as ``AWAITING_MFA`` with the signing request's ``signingPollingId`` and
        ``mm predict watch --id <orderId> --wait`` posts it once approved."""
        from mm_agent.errors import JobTimeout

        validate_place(side=side, size=size, price=price, order_type=order_type,
                       post_only=post_only, expiration=expiration)
        self.require_setup()
        market = self._market_of_token(token_id)
        order = self.build_order(token_id, side, size, price)
        order_id = orders.order_hash(order, chain_id=self.chain_id, exchange=self.exchange)
        intent = (f"{side.upper()} {size} '{market['outcome']}' shares at {price} "
                  f"({order_type.upper()}) on: {market['question']}")
        record = {
            "orderId": order_id, "mode": self.mode, "address": self.address,
            "tokenId": str(token_id), "conditionId": market["conditionId"],
            "outcome": market["outcome"], "question": market["question"],
            "side": side.lower(), "price": price, "size": size,
            "orderType": order_type.upper(), "postOnly": post_only, "expiration": expiration,
            "status": "SIGNING", "filledSize": "0", "txHashes": [], "receipts": [],
            "createdAt": _now(), "source": self.mode,
            "order": order.to_dict(), "exchange": self.exchange, "chainId": self.chain_id,
        }
        try:
            signature = self.sign_order(order, intent=intent, wallet_timeout=wallet_timeout,
                                        record=record)
        except JobTimeout as exc:
            request = (exc.details or {}).get("request") or {}
            record.update(status="AWAITING_MFA", signingPollingId=request.get("pollingId"))
            self._update(lambda s: s["orders"].append(record))
            self._log("order", id=order_id, status="AWAITING_MFA",
                      signingPollingId=record["signingPollingId"])
            return {**_public(record), "pollingId": order_id,
                    "next": f"mm predict watch --id {order_id} --wait"}
        return self._post_signed(record, signature)

    def _post_signed(self, record: dict[str, Any], signature: str) -> dict[str, Any]:
        """Post a signed order, read its fills from the chain, store the outcome."""
        order = orders.Order(**record["order"])
        order_id = record["orderId"]
        resp = self.client.post_order(order, signature, order_type=record["orderType"],
                                      post_only=bool(record["postOnly"]),
                                      expiration=record["expiration"] or 0)
        if resp.get("orderID") != order_id:
            raise PredictError("The market service answered for another order.",
                               details={"orderID": resp.get("orderID")})
        fills = self._fills(order_id, resp.get("transactionsHashes") or [])
        tokens = sum(f["tokens"] for f in fills)
        total = order.takerAmount if order.side == orders.BUY else order.makerAmount
        if tokens >= total:
            status = "FILLED"
        elif tokens:
            status = "PARTIALLY_FILLED" if resp.get("remaining") not in (None, "0") \
                and record["orderType"] in ("GTC", "GTD") else "FILLED_PARTIAL_CANCELLED"
        else:
            status = "OPEN" if resp.get("status") == "live" else "UNMATCHED"
        done = {"status": status, "filledSize": _units(tokens),
                "txHashes": [f["txHash"] for f in fills], "receipts": fills,
                "postedAt": _now()}
        record.update(done)

        def save(state: dict[str, Any]) -> None:
            for rec in state["orders"]:
                if rec["orderId"] == order_id:
                    rec.update(done)
                    return
            state["orders"].append(record)

        self._update(save)
        self._log("order", id=order_id, status=status, txHashes=record["txHashes"])
        return {**_public(record), "pollingId": order_id,
                "cost" if order.side == orders.BUY else "proceeds":
                    _units(sum(f["collateral"] for f in fills))}

    def _resume(self, record: dict[str, Any], wait: bool, timeout: float | None
                ) -> dict[str, Any]:
        """An order whose signature waited for the human: post it once the signing request
        completed; a denied, failed or expired request ends it ``REJECTED``."""
        from mm_agent.errors import JobTimeout

        polling_id = record.get("signingPollingId")
        if not polling_id:
            raise PredictError("This order has no signing request to follow.")
        try:
            req = (self.wallet.requests.wait(polling_id, timeout) if wait
                   else self.wallet.requests.get(polling_id))
        except JobTimeout:
            return {"id": record["orderId"], "kind": "order", **_public(record)}
        status = getattr(req, "status", None)
        if status == "COMPLETED" and getattr(req, "signature", None):
            return {"id": record["orderId"], "kind": "order",
                    **self._post_signed(record, str(req.signature))}
        if status in ("DENIED", "FAILED", "EXPIRED"):
            error = getattr(req, "error", None)

            def reject(state: dict[str, Any]) -> None:
                for rec in state["orders"]:
                    if rec["orderId"] == record["orderId"]:
                        rec.update(status="REJECTED", signingStatus=status, error=error)

            self._update(reject)
            record.update(status="REJECTED", signingStatus=status, error=error)
            self._log("order", id=record["orderId"], status="REJECTED", signingStatus=status)
        return {"id": record["orderId"], "kind": "order", **_public(record)}

    def _fills(self, order_id: str, tx_hashes: list[str]) -> list[dict[str, Any]]:
        """This order's fills, from receipts read here (status 1 and an ``OrderFilled`` log for
        ``order_id`` emitted by the exchange)."""
        from eth_abi import decode

        out = []
        for tx in tx_hashes:
            receipt = self.chain.rpc.call("eth_getTransactionReceipt", [tx])
            if not receipt or int(receipt["status"], 16) != 1:
                continue
            for log in receipt["logs"]:
                if (log["address"].lower() == self.exchange.lower()
                        and log["topics"][0] == FILLED_TOPIC
                        and log["topics"][1].lower() == order_id.lower()):
                    side, _token, making, taking, *_rest = decode(
                        ["uint8", "uint256", "uint256", "uint256", "uint256", "bytes32",
                         "bytes32"], bytes.fromhex(log["data"][2:]))
                    tokens, collateral = (taking, making) if side == orders.BUY \
                        else (making, taking)
                    out.append({"txHash": tx, "blockNumber": int(receipt["blockNumber"], 16),
                                "tokens": tokens, "collateral": collateral,
                                "size": _units(tokens), "amount": _units(collateral)})
        return out

    def open_records(self, *, order_id: str | None = None, market: str | None = None,
                     asset: str | None = None) -> list[dict[str, Any]]:
        """This account's local orders a cancel may reach (posted, not finished), with their
        signed struct: what ``cancel`` reads the unfilled remainders of beforehand."""
        cid = self._resolve_market(market)["conditionId"].lower() if market else None
        return [o for o in read_state(self.home)["orders"]
                if o.get("mode") == self.mode and o.get("order")
                and str(o.get("address", "")).lower() == self.address.lower()
                and o.get("status") in ("OPEN", "PARTIALLY_FILLED")
                and (order_id is None or o["orderId"] == order_id)
                and (cid is None or str(o.get("conditionId", "")).lower() == cid)
                and (asset is None or str(o.get("tokenId")) == str(asset))]

    def cancel(self, *, order_id: str | None = None, all: bool = False,
               market: str | None = None, asset: str | None = None) -> dict[str, Any]:
        targets = sum(bool(x) for x in (order_id, all, market or asset))
        if targets != 1:
            raise ValidationError("Give exactly one cancel target: --order-id, --all, or "
                                  "--market/--asset.")
        self.require_setup()
        if order_id:
            resp = self.client.cancel(order_id)
        elif all:
            resp = self.client.cancel_all()
        else:
            cid = self._resolve_market(market)["conditionId"] if market else None
            resp = self.client.cancel_market_orders(cid, asset)
        canceled = list(resp.get("canceled") or [])
        released = self._release_cancelled(canceled)

        def mark(state: dict[str, Any]) -> None:
            for rec in state["orders"]:
                if rec["orderId"] in canceled:
                    rec["status"] = "CANCELLED"
                    rec["cancelledAt"] = _now()
                    if rec["orderId"] in released:
                        rec["release"] = released[rec["orderId"]]

        self._update(mark)
        self._log("cancel", orderIds=canceled)
        out: dict[str, Any] = {"canceled": canceled,
                               "notCanceled": resp.get("not_canceled") or {}}
        if released:
            out["released"] = [{"orderId": k, **v} for k, v in released.items()]
        return out

    def _release_cancelled(self, canceled: list[str]) -> dict[str, dict[str, Any]]:
        """Server wallets: each cancelled order signed through the service is also cancelled
        **on chain** (the maker's ``cancelOrder(order)``, a wallet transaction through the
        pipeline) and then released: the service verifies that cancel and the order's fills on
        chain itself and scales the signing request's outflow reservation to the filled share
        (``POST /v1/requests/{pollingId}/release``). BYOK wallets have no window: nothing to
        do. A failure is reported per order (``error``); the off-chain cancel stands.

        Devnet only: DevnetCtfExchange (like Polymarket's V1 exchange) has the maker's
        ``cancelOrder(Order)`` emitting ``OrderCancelled(orderHash)``; the V2 exchange that
        testnet/mainnet orders are signed for has no maker cancel on chain (off-chain cancels
        and a user pause only), so there the reservation stays until the window rolls."""
        from mm_agent.errors import MMError

        from .chain import encode_call

        if not self._server_wallet or not canceled or self.mode != "devnet":
            return {}
        out: dict[str, dict[str, Any]] = {}
        for rec in read_state(self.home)["orders"]:
            if (rec.get("orderId") not in canceled or not rec.get("signingPollingId")
                    or not rec.get("order") or rec.get("mode") != self.mode
                    or str(rec.get("address", "")).lower() != self.address.lower()):
                continue
            order = orders.Order(**rec["order"])
            exchange = rec.get("exchange") or self.exchange
            try:
                data = encode_call(f"cancelOrder({orders.ORDER_ABI_TUPLE})",
                                   [orders.ORDER_ABI_TUPLE], [order.as_tuple(b"")])
                sent = self._send(exchange, data, f"Cancel order {rec['orderId']} on chain")
                if sent["status"] != "confirmed":
                    out[rec["orderId"]] = {"cancelTxHash": sent["txHash"], "released": False,
                                           "error": {"code": "TX_REVERTED",
                                                     "message": "The on-chain cancel reverted."}}
                    continue
                res = self.wallet.requests.release_order(rec["signingPollingId"],
                                                         str(sent["txHash"]))
                out[rec["orderId"]] = {k: res.get(k) for k in (
                    "cancelTxHash", "released", "filledMakerAmount", "unfilledMakerAmount",
                    "reservedUsd", "releasedUsd", "remainingUsd") if k in res}
            except MMError as exc:
                out[rec["orderId"]] = {"released": False,
                                       "error": {"code": exc.code, "message": exc.message}}
        return out

    def orders(self, market: str | None = None) -> dict[str, Any]:
        self.require_setup()
        cid = self._resolve_market(market)["conditionId"] if market else None
        live = self.client.orders(market=cid)
        return {"orders": [{
            "orderId": o["id"], "tokenId": o["asset_id"], "conditionId": o["market"],
            "side": o["side"].lower(), "price": o["price"], "size": o["original_size"],
            "sizeMatched": o["size_matched"], "orderType": o["order_type"],
            "status": o["status"], "expiration": o["expiration"]} for o in live],
            "cursor": None, "source": self.mode}

    # --- positions -------------------------------------------------------------------------------
    def positions(self, market: str | None = None) -> dict[str, Any]:
        """Outcome-token balances read from the Conditional Tokens contract."""
        markets = [self._resolve_market(market)] if market else self._markets()
        out = []
        for m in markets:
            payouts = self._payouts(m["conditionId"])
            for i, t in enumerate(m["tokens"]):
                bal = self._token_balance(t["tokenId"])
                if not bal:
                    continue
                value = None
                if payouts is not None:
                    value = _units(bal * payouts[i] // (sum(payouts) or 1))
                out.append({"conditionId": m["conditionId"], "question": m["question"],
                            "slug": m["slug"], "outcome": t["outcome"],
                            "tokenId": str(t["tokenId"]), "size": _units(bal),
                            "resolved": payouts is not None, "redeemableValue": value,
                            "source": self.mode})
        return {"positions": out, "source": self.mode}

    def portfolio(self) -> dict[str, Any]:
        positions = self.positions()["positions"]
        return {"balance": _units(self._collateral_balance()), "positions": positions,
                "redeemable": [p for p in positions if p["resolved"]
                               and Decimal(p["redeemableValue"] or 0) > 0],
                "source": self.mode}

    def redeem_list(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for p in self.positions()["positions"]:
            if not p["resolved"]:
                continue
            entry = out.setdefault(p["conditionId"], {
                "conditionId": p["conditionId"], "question": p["question"], "payout": "0",
                "positions": []})
            entry["positions"].append({"outcome": p["outcome"], "size": p["size"]})
            entry["payout"] = format((Decimal(entry["payout"])
                                      + Decimal(p["redeemableValue"] or 0)).normalize(), "f")
        return {"redeemable": list(out.values()), "source": self.mode}

    def redeem(self, condition_id: str | None = None, *, all: bool = False) -> dict[str, Any]:
        if bool(condition_id) == bool(all):
            raise ValidationError("Give one condition id, or --all.")
        self.require_setup()
        redeemable = self.redeem_list()["redeemable"]
        if condition_id:
            market = self._resolve_market(condition_id)
            if self._payouts(market["conditionId"]) is None:
                raise PredictError("This market is not resolved yet; nothing to redeem.")
            targets = [market["conditionId"]]
        else:
            targets = [r["conditionId"] for r in redeemable]
        results = []
        for cid in targets:
            before = self._collateral_balance()
            tx = self._send(self.ctf, ctf.redeem_positions_calldata(self.collateral, cid),
                            "Redeem resolved prediction-market positions for mUSD")
            credited = self._collateral_balance() - before
            entry = self._log("redeem", conditionId=cid, txHash=tx["txHash"],
                              credited=_units(credited))
            results.append({"conditionId": cid, "txHash": tx["txHash"],
                            "credited": _units(credited), "pollingId": entry["id"],
                            "status": "COMPLETED"})
        return {"redemptions": results, "source": self.mode}

    def history(self, limit: int = 50) -> dict[str, Any]:
        state = read_state(self.home)
        items = [h for h in state["history"] if h.get("address", "").lower()
                 == self.address.lower() and h.get("mode") == self.mode]
        return {"history": list(reversed(items))[:limit], "source": self.mode}

    def watch(self, job_id: str, wait: bool = False, timeout: float = 60.0) -> dict[str, Any]:
        """An order (its id), a history entry (setup/deposit/redeem id) or a transaction."""
        state = read_state(self.home)
        order = next((o for o in state["orders"] if o["orderId"] == job_id), None)
        if order is not None:
            if order["status"] == "AWAITING_MFA":
                return self._resume(order, wait, timeout)
            live = {o["orderId"]: o for o in self.orders()["orders"]} \
                if order["status"] in ("OPEN", "PARTIALLY_FILLED") else {}
            return {"id": job_id, "kind": "order", **_public(order),
                    "open": job_id in live, "live": live.get(job_id)}
        entry = next((h for h in state["history"] if h["id"] == job_id), None)
        if entry is not None:
            return {**entry, "status": "COMPLETED"}
        if job_id.startswith("0x") and len(job_id) == 66:
            deadline = time.monotonic() + timeout
            while True:
                receipt = self.chain.rpc.call("eth_getTransactionReceipt", [job_id])
                if receipt or not wait or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            if receipt is None:
                return {"id": job_id, "kind": "transaction", "status": "PENDING"}
            return {"id": job_id, "kind": "transaction", "txHash": job_id,
                    "status": "CONFIRMED" if int(receipt["status"], 16) == 1 else "FAILED",
                    "blockNumber": int(receipt["blockNumber"], 16)}
        raise PredictNotFound(f"No predict job, order or transaction {job_id!r}.",
                              hint="`mm predict history` lists them.")


def resolve_devnet_market(home: Home, market: str, outcome: str) -> dict[str, Any]:
    """``mm devnet predict resolve``: the oracle (the devnet deployer, unlocked) reports the
    payouts; returns them with what each side's holders get per share."""
    from .devnet_deploy import resolve_market

    record = home.read_json("devnet.json", None)
    if not isinstance(record, dict) or not isinstance(record.get("markets"), dict):
        raise PredictBackendUnavailable("No devnet markets record.",
                                        hint="Start the devnet: `mm devnet start --detach`.")
    markets = record["markets"]
    k = market.lower()
    m = next((x for x in markets["markets"] if k in (x["slug"].lower(),
                                                     x["conditionId"].lower())), None)
    if m is None:
        raise PredictNotFound(f"No devnet market {market!r}.")
    payouts = {"yes": [1, 0], "no": [0, 1], "invalid": [1, 1]}.get(outcome.lower())
    if payouts is None:
        raise ValidationError(f"Unknown outcome {outcome!r}.", hint="yes, no or invalid.")
    with Chain(record["rpcUrl"]) as chain:
        cid = bytes.fromhex(m["conditionId"][2:])
        if chain.call(markets["contracts"]["ConditionalTokens"], encode_call(
                "payoutDenominator(bytes32)", ["bytes32"], [cid]), ["uint256"]):
            raise PredictError("This market is already resolved.")
        receipt = resolve_market(chain, markets["contracts"]["ConditionalTokens"], m, payouts)
    total = sum(payouts)
    return {"conditionId": m["conditionId"], "question": m["question"], "outcome": outcome,
            "payouts": payouts, "payoutPerShare": {
                t["outcome"]: format((Decimal(p) / total).normalize(), "f")
                for t, p in zip(m["tokens"], payouts, strict=True)},
            "txHash": receipt["transactionHash"], "source": "devnet"}
