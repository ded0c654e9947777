"""Account commands of :class:`mm_agent.markets.predict.Predict`: status, the geoblock check,
setup (= auth + approve), auth, approve, balance, deposit, withdraw.

On testnet/mainnet the commands that open or fund a position (setup, approve, deposit, place)
ask Polymarket's geoblock check first and are refused before anything is signed when this
address may not trade (:mod:`.predict_geoblock`); cancel, redeem and withdraw never ask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mm_agent.errors import (
    InsufficientFunds,
    InvalidAmount,
    PredictAuthError,
    PredictBackendUnavailable,
    PredictGeoblocked,
    PredictSetupRequired,
)

from . import ctf
from .chain import encode_call
from .predict_base import PredictBase
from .predict_geoblock import DEFAULT_GEOBLOCK_URL, fetch_geoblock
from .predict_state import MAX_UINT, ONE, _decimal, _now, _units

__all__ = ["PredictAccount"]


class PredictAccount(PredictBase):
    # --- status ------------------------------------------------------------------------------
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

    # --- geoblock ----------------------------------------------------------------------------
    def geoblock(self) -> dict[str, Any]:
        """Polymarket's geoblock check of the address requests come from (``mm predict
        geoblock``): ``{blocked, ip, country, region, restriction, url, source}``, asked once
        per instance. The devnet is local and never geoblocked (no request)."""
        if self.mode == "devnet":
            return {"blocked": False, "ip": None, "country": None, "region": None,
                    "restriction": "none", "url": None, "source": "devnet",
                    "note": "The devnet is local: it is never geoblocked."}
        if self._geoblock is None:
            from mm_agent.local.config import Config

            base = Config(self.home).get(f"predict.{self.mode}.geoblockUrl")
            self._geoblock = fetch_geoblock(str(base or DEFAULT_GEOBLOCK_URL))
        return {**self._geoblock, "source": self.mode}

    def check_geoblock(self, action: str, *, closing: Callable[[], bool] | None = None
                       ) -> dict[str, Any] | None:
        """Refuse ``action`` (setup, approve, deposit, place) when this address may not trade:
        ``PREDICT_GEOBLOCKED``, or ``PREDICT_GEOBLOCK_UNAVAILABLE`` when the check gives no
        answer (fail closed). In a close-only jurisdiction ``closing()`` (a place that sells
        outcome tokens the wallet holds) lets it through, as Polymarket does. Called before
        anything is signed; the devnet is never checked."""
        if self.mode == "devnet":
            return None
        status = self.geoblock()
        kind = status["restriction"]
        if kind == "none" or (kind == "close-only" and closing is not None and closing()):
            return status
        where = "-".join(x for x in (status.get("country"), status.get("region")) if x) \
            or "this location"
        if kind == "close-only":
            message = (f"Polymarket is close-only from {where}: positions may be closed (a sell "
                       f"of outcome tokens this wallet holds), not opened or funded, so "
                       f"'{action}' is refused; nothing was signed.")
        else:
            message = (f"Polymarket blocks trading from {where}: '{action}' is refused; nothing "
                       "was signed.")
        raise PredictGeoblocked(
            message, hint="`mm predict geoblock` shows the check. Cancelling orders, redeeming "
                          "and withdrawing stay available.",
            details={"country": status.get("country"), "region": status.get("region"),
                     "restriction": kind, "action": action})

    # --- credentials and approvals -------------------------------------------------------------
    def setup(self) -> dict[str, Any]:
        """Credentials (L1 ``ClobAuth`` through the wallet), then the exchange's collateral
        allowance and ``setApprovalForAll`` of the outcome tokens (transactions through the
        pipeline), each only if missing: :meth:`auth` and :meth:`approve` in one."""
        self.check_geoblock("setup")
        creds = self.client.derive_api_key()
        txs = self._ensure_approvals()

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

    def auth(self, refresh: bool = False) -> dict[str, Any]:
        """``mm predict auth [--refresh]``: derive the CLOB API credentials with one L1
        ``ClobAuth`` signature through the wallet (``refresh``: ask the CLOB to create them
        first, then derive), and check them with an L2 request (``GET /auth/api-keys``). They
        stay in this process's memory: never written, never shown (only the key id)."""
        creds = self.client.derive_api_key(create=refresh)
        if creds["apiKey"] not in self.client.api_keys():
            raise PredictAuthError("The derived API key is not among this address's keys.")

        def save(state: dict[str, Any]) -> None:
            acc = state["accounts"].setdefault(self.address.lower(), {})
            acc.setdefault(self.mode, {}).update(credentials=True, authAt=_now())

        self._update(save)
        return {"mode": self.mode, "address": self.address, "credentials": True,
                "apiKey": creds["apiKey"], "valid": True, "refreshed": refresh,
                "stored": False, "source": self.mode}

    def approve(self, amount: str | None = None) -> dict[str, Any]:
        """``mm predict approve [--amount X]``: repair the exchange's approvals (the same path
        as setup's). Without ``amount`` the collateral allowance is made unlimited only when
        there is none (the reference's approvals); with it, it is set to exactly ``amount``
        (guard mode values an exact grant; an unlimited one always needs the human).
        ``setApprovalForAll`` of the outcome tokens has no amount (ERC-1155)."""
        units = None if amount is None else self._amount(amount)
        self.check_geoblock("approve")
        txs = self._ensure_approvals(units)
        entry = self._log("approve", amount=amount, txHashes=[t["txHash"] for t in txs])
        approvals = self._approvals()
        return {"pollingId": entry["id"], "status": "COMPLETED", "mode": self.mode,
                "address": self.address, "transactions": txs, "approvals": approvals,
                "setupComplete": bool(self._account_state().get("credentials"))
                and approvals["ok"], "source": self.mode}

    def _ensure_approvals(self, collateral: int | None = None) -> list[dict[str, Any]]:
        """The one path of the exchange's approvals (setup, approve), each a transaction
        through the pipeline and only when needed: the collateral allowance (unlimited when
        there is none; exactly ``collateral`` units when given and different) and the outcome
        tokens' ``setApprovalForAll``."""
        txs = []
        allowance = self._allowance()
        if (allowance == 0) if collateral is None else (allowance != collateral):
            txs.append({"step": "approveCollateral",
                        **self._approve_collateral(MAX_UINT if collateral is None
                                                   else collateral)})
        if not self._outcomes_approved():
            txs.append({"step": "approveOutcomeTokens", **self._send(
                self.ctf, ctf.set_approval_for_all_calldata(self.exchange, True),
                f"Let the {self.backend['exchangeName']} move outcome tokens for sell orders")})
        return txs

    def _approve_collateral(self, units: int) -> dict[str, Any]:
        what = self.collateral_symbol if units == MAX_UINT \
            else f"{_units(units)} {self.collateral_symbol}"
        return self._send(
            self.collateral, encode_call("approve(address,uint256)", ["address", "uint256"],
                                         [self.exchange, units]),
            f"Let the {self.backend['exchangeName']} spend {what} for prediction-market orders")

    # --- funds ---------------------------------------------------------------------------------
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
        self.check_geoblock("deposit")
        self.require_setup()
        units = self._amount(amount)
        bal = self._collateral_balance()
        if units > bal:
            raise InsufficientFunds(f"Deposit of {amount} {self.collateral_symbol} exceeds the "
                                    f"balance ({_units(bal)} {self.collateral_symbol}).")
        tx = None
        if self._allowance() < units:
            tx = self._approve_collateral(MAX_UINT)
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
