"""The security pipeline every signing path runs through (contract §5).

decode → fees & gas → simulate with exactly those (``txplan``) → threat scan → policy →
approval if required → sign the previewed gas and fees (``prepare_transaction``) with a nonce
→ submit → confirm. ``Engine`` holds chain access for one MM_HOME/config; ``preview_*`` build
the section-5 preview without signing; ``gate`` applies the verdict; ``prepare_transaction``
and ``submit`` do the rest. The BYOK wallet calls it in-process; the wallet service calls the
same code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mm_agent.errors import (
    ApprovalRequired,
    InsufficientFunds,
    MMError,
    NonceNotAllowed,
    RpcError,
    TxDenied,
    TxReverted,
)
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.amounts import format_units
from mm_agent.evm.chains import DEVNET_CHAIN_ID, get_chain
from mm_agent.evm.fees import FEE_CAP_MULTIPLIER, TxFees
from mm_agent.evm.nonces import NonceManager
from mm_agent.evm.rpc import RpcClient, hex_to_int
from mm_agent.evm.tokens import TokenInfo, read_token, resolve_asset
from mm_agent.local.config import Config
from mm_agent.local.state import Home

from .preview import Policy, PolicyResult, Preview
from .submit import SignFn, SubmitResult, Submitter

__all__ = ["Engine", "Policy", "PolicyResult", "Preview", "gate"]

log = logging.getLogger("mm_agent.security.pipeline")

# FEE_CAP_MULTIPLIER (evm/fees.py, re-exported here): stuck-transaction replacements may raise
# maxFeePerGas to at most this multiple of the signed one; the preview discloses the ceiling.


def with_engine_violations(preview: Preview, result: PolicyResult) -> PolicyResult:
    """``result`` plus the preview's engine violations (``fee_cap``): they need approval in
    every mode; a ``deny`` stays a deny."""
    extra = [v for v in preview.engine_violations if v not in result.violations]
    if not extra:
        return result
    decision = "deny" if result.decision == "deny" else "approval_required"
    return PolicyResult(decision, [*result.violations, *extra])


def scan_policy(preview: Preview) -> PolicyResult:
    """Verdict → action (contract §5): anything but Benign goes to a human."""
    result_type = preview.scan.get("resultType")
    if result_type == "Benign":
        return PolicyResult("allow")
    return PolicyResult("approval_required")


def gate(preview: Preview, hook: Callable[[dict[str, Any], str], bool] | None) -> None:
    """Apply the verdict: return to go ahead, raise to stop. Nothing is signed before this."""
    if preview.denied:
        from mm_agent.errors import PolicyDenied

        raise PolicyDenied(preview.reason, details={"preview": preview.to_dict()})
    if not preview.requires_approval:
        return
    if hook is None:
        raise ApprovalRequired(
            f"Approval required: {preview.reason}. Nothing was signed.",
            details={"preview": preview.to_dict()},
        )
    if not hook(preview.to_dict(), preview.reason):
        raise TxDenied("The request was rejected by the human reviewer.")


class Engine:
    """Chain access, token metadata and the pipeline stages for one MM_HOME and config."""

    def __init__(
        self,
        home: Home,
        config: Config,
        *,
        counterparties: Callable[[str], frozenset[str]] | None = None,
        remote_scanners: tuple[Any, ...] = (),
        policy: Policy | None = None,
    ) -> None:
        self.home = home
        self.config = config
        self._rpcs: dict[str, RpcClient] = {}
        self._counterparties = counterparties or (lambda _a: frozenset())
        self.remote_scanners = remote_scanners
        self.policy = policy or scan_policy
        self.nonces = NonceManager(home)
        self.nonce_source: Callable[[int, str], int] | None = None
        self._denylist: frozenset[str] | None = None
        self._known_protocols: dict[int, dict[str, str]] | None = None
        self._code_cache: dict[tuple[int, str], bool] = {}
        self._memos = threading.local()  # one_reading()

    # --- chain access -----------------------------------------------------------------------
    def devnet(self) -> dict[str, Any] | None:
        data = self.home.read_json("devnet.json")
        return data if isinstance(data, dict) else None

    def rpc_url(self, chain_id: int) -> str:
        override = self.config.rpc_override(chain_id)
        if override:
            return override
        if chain_id == DEVNET_CHAIN_ID:
            devnet = self.devnet()
            if devnet and devnet.get("rpcUrl"):
                return str(devnet["rpcUrl"])
        return get_chain(chain_id).rpc_url

    def _client(self, url: str) -> RpcClient:
        if url not in self._rpcs:
            self._rpcs[url] = RpcClient(url)
        return self._rpcs[url]

    def rpc(self, chain_id: int) -> RpcClient:
        from mm_agent.evm.rpc_chain import verify_chain_id

        client = self._client(self.rpc_url(chain_id))
        # RPC_CHAIN_MISMATCH before anything is previewed (asked once per URL and chain).
        verify_chain_id(client, chain_id)
        return client

    def private_rpc(self, chain_id: int) -> RpcClient | None:
        if not self.config.smart_transactions:
            return None
        url = self.config.get_private_rpc(chain_id) or get_chain(chain_id).private_rpc_url
        return self._client(url) if url else None

    def submitter(self, chain_id: int) -> Submitter:
        return Submitter(
            self.rpc(chain_id),
            private_rpc=self.private_rpc(chain_id),
            public_fallback=self.config.private_rpc_fallback,
            stuck_after=self.config.stuck_after_seconds,
        )

    def is_contract(self, chain_id: int, address: str) -> bool:
        key = (chain_id, address.lower())
        if key not in self._code_cache:
            code = self.rpc(chain_id).call("eth_getCode", [address, "latest"])
            self._code_cache[key] = bool(code and code != "0x")
        return self._code_cache[key]

    def asset(self, chain_id: int, token: str) -> TokenInfo:
        return resolve_asset(self.rpc(chain_id), chain_id, token, self.devnet())

    def asset_lookup(self, chain_id: int) -> Callable[[str], dict[str, Any]]:
        rpc = self.rpc(chain_id)
        known = {t.address.lower(): t for t in self._known_tokens(chain_id) if t.address}

        def lookup(address: str) -> dict[str, Any]:
            try:
                info = read_token(rpc, chain_id, address, known=known.get(address.lower()))
                return info.asset()
            except MMError:
                return {"type": "erc20", "address": to_checksum_address(address),
                        "symbol": None, "decimals": None, "tokenId": None}

        return lookup

    def _known_tokens(self, chain_id: int) -> tuple[Any, ...]:
        from mm_agent.evm.chains import tokens_for

        return tokens_for(chain_id, self.devnet())

    def denylist(self) -> frozenset[str]:
        if self._denylist is None:
            from .scan import load_denylist

            self._denylist = load_denylist(self.config.denylist_path)
        return self._denylist

    # --- threat-scan context (owned by the scan rules; see
    # mm_agent/security/scan/known_protocols.py) ---
    def known_protocols(self, chain_id: int) -> dict[str, str]:
        """Verified protocols of a chain: built-in registry, devnet tokens and market contracts
        (``devnet.json``'s ``markets`` deployment), config file."""
        from .scan.known_protocols import (
            devnet_contracts,
            known_protocols_for,
            load_known_protocols,
        )

        if self._known_protocols is None:
            path = self.config.known_protocols_path
            self._known_protocols = load_known_protocols(path) if path else {}
        devnet = self.devnet() if chain_id == DEVNET_CHAIN_ID else None
        return known_protocols_for(chain_id, extra=self._known_protocols,
                                   devnet_contracts=devnet_contracts(devnet))

    def ctf_exchanges(self, chain_id: int) -> dict[str, dict[str, Any]]:
        """CTF exchanges beyond the built-in table: the devnet's markets deployment."""
        from .scan.known_protocols import devnet_ctf_exchanges

        return devnet_ctf_exchanges(self.devnet()) if chain_id == DEVNET_CHAIN_ID else {}

    def token_balance(self, chain_id: int, token: str, holder: str) -> int | None:
        """``balanceOf(holder)`` at ``latest``; None when the token does not answer."""
        from mm_agent.evm.tokens import SEL_BALANCE_OF, encode_call

        try:
            raw = self.rpc(chain_id).call("eth_call", [{"to": token, "data": encode_call(
                SEL_BALANCE_OF, ["address"], [holder])}, "latest"])
        except MMError:
            return None
        if not isinstance(raw, str) or len(raw) != 66:  # not one ABI word: not an ERC-20 answer
            return None
        return hex_to_int(raw)

    def _scan_context(self, chain_id: int) -> dict[str, Any]:
        assets = frozenset(t.address.lower() for t in self._known_tokens(chain_id) if t.address)
        return {"known_protocols": self.known_protocols(chain_id), "known_assets": assets,
                "ctf_exchanges": self.ctf_exchanges(chain_id),
                "balance_of": lambda token, holder: self.token_balance(chain_id, token, holder)}

    def format_token_amount(self, chain_id: int) -> Callable[[str, int], str]:
        lookup = self.asset_lookup(chain_id)

        def fmt(token: str, raw: int) -> str:
            asset = lookup(token)
            if asset.get("decimals") is None:
                return f"{raw} units of {token}"
            return f"{format_units(raw, int(asset['decimals']))} {asset.get('symbol') or token}"

        return fmt

    def build_transfer(self, sender: str, to: str, amount: str, token: str,
                       chain_id: int) -> tuple[dict[str, Any], str]:
        """The transaction and intent of a transfer; INSUFFICIENT_FUNDS for ERC-20s up front."""
        from mm_agent.evm.addresses import validate_address
        from mm_agent.evm.amounts import parse_units
        from mm_agent.evm.chains import parse_chain_id
        from mm_agent.evm.tokens import erc20_transfer_data

        to = validate_address(to, field="to")
        chain_id = parse_chain_id(chain_id)
        asset = self.asset(chain_id, token)
        units = parse_units(amount, asset.decimals)
        intent = f"Transfer {format_units(units, asset.decimals)} {asset.symbol} to {to}"
        if asset.address is None:
            return {"to": to, "value": units, "data": "0x"}, intent
        rpc = self.rpc(chain_id)
        from mm_agent.evm.tokens import SEL_BALANCE_OF, encode_call

        raw = rpc.call("eth_call", [{"to": asset.address, "data": encode_call(
            SEL_BALANCE_OF, ["address"], [sender])}, "latest"])
        have = hex_to_int(raw) if raw and raw != "0x" else 0
        if have < units:
            raise InsufficientFunds(
                f"Needs {format_units(units, asset.decimals)} {asset.symbol}, has "
                f"{format_units(have, asset.decimals)}.")
        return {"to": asset.address, "value": 0, "data": erc20_transfer_data(to, units)}, intent

    # --- previews ----------------------------------------------------------------------------
    def _scan(self, chain_id: int, sender: str, **kw: Any) -> dict[str, Any]:
        from .scan import ScanInput, scan

        inp = ScanInput(
            chain_id=chain_id, wallet=sender,
            is_contract=lambda a: self.is_contract(chain_id, a),
            known_counterparties=self._memo(("counterparties", sender),
                                            lambda: self._counterparties(sender)),
            denylist=self.denylist(),
            **{**self._memo(("scan", chain_id), lambda: self._scan_context(chain_id)), **kw},
        )
        return scan(inp, remote=self.remote_scanners).to_dict()

    @contextmanager
    def one_reading(self) -> Iterator[None]:
        """Inside: the scan's context (known tokens, protocols, exchanges) and the wallet's
        counterparties are read once, not per preview. A batch's previews run in one go on
        the same recorded history (none of them completes meanwhile), so each reading would
        give the same answer. Per thread: the engine serves several workers."""
        if getattr(self._memos, "values", None) is not None:
            yield
            return
        self._memos.values = {}
        try:
            yield
        finally:
            self._memos.values = None

    def _memo(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        values = getattr(self._memos, "values", None)
        if values is None:
            return read()
        if key not in values:
            values[key] = read()
        return values[key]

    def _finish(self, preview: Preview) -> Preview:
        preview.policy = with_engine_violations(preview, self.policy(preview))
        return preview

    def check_nonce(self, chain_id: int, sender: str, tx: dict[str, Any]) -> None:
        """A payload ``nonce`` is accepted only when it is the next nonce the wallet would use
        anyway (then it changes nothing); anything else is ``NONCE_NOT_ALLOWED``."""
        if tx.get("nonce") is None:
            return
        expected = self.next_nonce(chain_id, sender)
        if int(tx["nonce"]) != expected:
            raise NonceNotAllowed(
                f"The payload's nonce {tx['nonce']} is not this wallet's next nonce "
                f"({expected}); the nonce manager picks nonces.")

    def next_nonce(self, chain_id: int, sender: str) -> int:
        """The nonce the next transaction of ``sender`` gets (the service plugs its own
        ``nonce_source`` in: its nonce table, not MM_HOME's)."""
        if self.nonce_source is not None:
            return self.nonce_source(chain_id, sender)
        return self.nonces.peek(self.rpc(chain_id), chain_id, sender)

    def preview_transaction(self, chain_id: int, sender: str, tx: dict[str, Any],
                            *, intent: str | None = None) -> Preview:
        """``intent``: a headline the engine itself wrote (a transfer's, a cancellation's);
        never an agent's words, which are only ever the labelled ``agentNote``."""
        from .txplan import plan_transaction

        self.check_nonce(chain_id, sender, tx)
        decoded, intent = self.decode_transaction(chain_id, tx, intent)
        plan = plan_transaction(self.rpc(chain_id), chain_id, sender, tx,
                                **self.plan_options(chain_id))
        return self.transaction_preview(chain_id, sender, tx, decoded, intent, plan)

    def preview_transactions(self, chain_id: int, sender: str,
                             items: list[tuple[dict[str, Any], str | None]]) -> list[Preview]:
        """Previews of a wallet's queued transactions ``(tx, engine intent or None)`` run in
        this order, in ONE ``eth_simulateV1`` call per round; each is what
        :meth:`preview_transaction` says once the ones before it executed. Returns a PREFIX
        (at least one for a non-empty list): ``batch_preview.preview_transactions``."""
        from .batch_preview import preview_transactions

        return preview_transactions(self, chain_id, sender, items)

    def decode_transaction(self, chain_id: int, tx: dict[str, Any],
                           intent: str | None) -> tuple[Any, str]:
        """(the decoded calldata, the intent headline: ``intent`` or one written here)."""
        from .decode import decode_calldata
        from .intents import intent_for

        chain = get_chain(chain_id)
        value = int(tx.get("value") or 0)
        data = tx.get("data") or "0x"
        if 2 < len(data) < 10:
            # 1–3 bytes of data: valid for a plain account, but no selector to decode.
            decoded = decode_calldata("0x", to=tx.get("to"), value=value)
            intent = intent or f"Send {len(data) // 2 - 1} bytes of data to {tx.get('to')}"
        else:
            decoded = decode_calldata(data, to=tx.get("to"), value=value)
        if intent is None:
            if decoded.function_name is None and (tx.get("data") or "0x") == "0x":
                intent = (f"Send {format_units(value, chain.native_decimals)} "
                          f"{chain.native_symbol} to {tx.get('to')}")
            else:
                intent = intent_for(decoded, self.format_token_amount(chain_id),
                                    native=(chain.native_symbol, chain.native_decimals))
        return decoded, intent

    def plan_options(self, chain_id: int) -> dict[str, Any]:
        """The keyword arguments of ``txplan.plan_transaction(s)`` for this engine."""
        from .decode import decode_revert

        chain = get_chain(chain_id)
        return {
            "fee_cap_multiple": self.config.fee_cap_multiple,
            "has_code": lambda a: self._code_cache.get((chain_id, a.lower())),
            "remember_code": lambda a, v: self._code_cache.__setitem__((chain_id, a.lower()), v),
            "simulate_kw": {"asset_of": self.asset_lookup(chain_id),
                            "native_symbol": chain.native_symbol,
                            "decode_revert": decode_revert},
        }

    def transaction_preview(self, chain_id: int, sender: str, tx: dict[str, Any], decoded: Any,
                            intent: str, plan: Any, *,
                            balance_of: Callable[[str, str], int | None] | None = None
                            ) -> Preview:
        """The preview of ``tx`` from its decoding and its ``TxPlan``: scan, then policy.
        ``balance_of``: token balances as the scan must see them (default: ``latest``)."""
        value = int(tx.get("value") or 0)
        extra = {} if balance_of is None else {"balance_of": balance_of}
        scan = self._scan(chain_id, sender, kind="transaction", **extra,
                          tx={"to": tx.get("to"), "value": value, "data": tx.get("data") or "0x",
                              "authorizationList": tx.get("authorizationList")},
                          decoded=decoded, simulation=plan.simulation)
        decoded_dict = {
            "functionName": decoded.function_name,
            "params": decoded.to_dict().get("params", []),
            "effectiveRecipient": decoded.effective_recipient,
        }
        return self._finish(Preview("transaction", chain_id, sender, intent, decoded_dict,
                                    plan.simulation, scan, PolicyResult(),
                                    effective_recipient=decoded.effective_recipient,
                                    tx={"to": tx.get("to"), "value": value,
                                        "data": tx.get("data") or "0x"},
                                    fees=plan.fees.to_dict(), executable=plan.executable,
                                    engine_violations=plan.violations))

    def preview_message(self, chain_id: int, sender: str, message: str) -> Preview:
        shown = message if len(message) <= 80 else message[:77] + "..."
        scan = self._scan(chain_id, sender, kind="message", message=message)
        return self._finish(Preview("message", chain_id, sender, f'Sign message "{shown}"',
                                    None, None, scan, PolicyResult(), message=message))

    def preview_typed_data(self, chain_id: int, sender: str, typed: dict[str, Any],
                           *, intent: str | None = None,
                           reference_prices: dict[str, Any] | None = None) -> Preview:
        """``reference_prices``: outcome-token prices for the CTF order rule (``ScanInput``);
        default: those of an enclosing ``scan.reference_prices(...)`` block, else none."""
        from .scan.rules_ctf_orders import current_reference_prices

        domain = typed.get("domain", {})
        what = typed.get("primaryType", "typed data")
        where = domain.get("name") or domain.get("verifyingContract") or "unknown app"
        refs = reference_prices if reference_prices is not None else current_reference_prices()
        scan = self._scan(chain_id, sender, kind="typed-data", typed_data=typed,
                          reference_prices=dict(refs))
        return self._finish(Preview("typed-data", chain_id, sender,
                                    intent or f"Sign {what} for {where}",
                                    {"functionName": what, "params": [],
                                     "effectiveRecipient": None},
                                    None, scan, PolicyResult(), typed_data=typed))

    # --- execution ---------------------------------------------------------------------------
    def prepare_transaction(self, chain_id: int, sender: str, tx: dict[str, Any],
                            preview: Preview) -> dict[str, Any]:
        """The unsigned transaction: exactly the previewed gas and fees, and the funds check.
        Raises ``TX_REVERTED`` for a reverting simulation."""
        fees = self.signable_fees(preview)
        balance = hex_to_int(self.rpc(chain_id).call("eth_getBalance", [sender, "latest"]))
        return self.funded_transaction(chain_id, tx, preview, fees, balance)

    def prepare_transactions(self, chain_id: int, sender: str,
                             pairs: list[tuple[dict[str, Any], Preview]]
                             ) -> list[dict[str, Any] | MMError]:
        """:meth:`prepare_transaction` for a batch in order, with ONE balance read: item i
        may spend what the items prepared before it leave (``batch_preview``)."""
        from .batch_preview import prepare_transactions

        return prepare_transactions(self, chain_id, sender, pairs)

    @staticmethod
    def signable_fees(preview: Preview) -> TxFees:
        """The previewed gas and fees; ``TX_REVERTED`` when there is nothing to sign."""
        sim = preview.simulation or {}
        if not sim.get("success", True):
            raise TxReverted(f"Simulation reverted: {sim.get('revertReason')}. Nothing was sent.",
                             details={"revertReason": sim.get("revertReason")})
        if preview.fees is None:
            raise TxReverted("The preview carries no gas and fees to sign; nothing was sent.")
        return TxFees.from_dict(preview.fees)

    @staticmethod
    def funded_transaction(chain_id: int, tx: dict[str, Any], preview: Preview, fees: TxFees,
                           balance: int) -> dict[str, Any]:
        """The unsigned transaction if ``balance`` covers it, else ``INSUFFICIENT_FUNDS``."""
        value = int(tx.get("value") or 0)
        # The node accepts the signed transaction if value + gasLimit x maxFeePerGas is covered;
        # a replacement the wallet cannot afford is refused by the node and simply not sent.
        if not preview.executable or balance < value + fees.signed_fee:
            chain = get_chain(chain_id)
            need = format_units(value + fees.signed_fee, chain.native_decimals)
            have = format_units(balance, chain.native_decimals)
            raise InsufficientFunds(
                f"Needs up to {need} {chain.native_symbol} (value + gas limit x max fee), "
                f"has {have}."
                + ("" if preview.executable else
                   " The preview could not run with real fees; fund the wallet and retry."))
        return {
            "type": 2, "chainId": chain_id, "to": tx.get("to"), "value": value,
            "data": tx.get("data") or "0x", **fees.to_tx(),
        }

    def submit(self, chain_id: int, sender: str, prepared: dict[str, Any], sign: SignFn,
               *, nonce: int | None = None, timeout: float = 120.0,
               on_broadcast: Callable[[int, str], None] | None = None,
               fee_ceiling: int | None = None) -> SubmitResult:
        """Reserve a nonce (unless given), sign, broadcast, confirm. ``fee_ceiling``: the
        preview's ``maxReplacementFeePerGas``, which replacements never exceed (default: the
        same rule applied to ``prepared``: FEE_CAP_MULTIPLIER x its maxFeePerGas)."""
        submitter = self.submitter(chain_id)
        signed = int(prepared["maxFeePerGas"])
        submitter.fee_cap = (signed * FEE_CAP_MULTIPLIER if fee_ceiling is None
                             else max(int(fee_ceiling), signed))
        reserved = nonce is None
        if nonce is None:
            nonce = self.nonces.reserve(self.rpc(chain_id), chain_id, sender)
        tx = {**prepared, "nonce": nonce}
        try:
            raw, tx_hash = sign(tx)
            submitter.broadcast(raw)
        except (MMError, RpcError):
            if reserved:
                self.nonces.release(chain_id, sender, nonce)
            raise
        if on_broadcast:
            on_broadcast(nonce, tx_hash)
        result = SubmitResult(tx_hash=tx_hash, receipt=None, hashes=[tx_hash])
        return submitter.confirm(result, tx, sign, timeout=timeout)
