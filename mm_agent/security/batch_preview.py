"""Previews and preparation for a wallet's queued transactions as one batch (the job engine's
batch path; ``Engine.preview_transactions`` / ``Engine.prepare_transactions`` call these).

Batching never changes what a preview says: preview i is what ``Engine.preview_transaction``
would say for transaction i once transactions 0..i-1 executed (same nonce rule, decoding,
intent, simulation in the block it lands in, scan and policy). Only the round trips change:
one context read and ONE ``eth_simulateV1`` call per simulation round for the whole batch
(``txplan.plan_transactions``), one balance read for the whole preparation.

Both return per-position results in order; ``preview_transactions`` may return a PREFIX
(at least one preview): the caller plans the rest again after the planned ones ran, or did
not. Where the batch is cut and why is in ``txplan.plan_transactions`` (no eth_simulateV1,
a reverting simulation, funds) and below (a bad payload nonce).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mm_agent.errors import MMError, NonceNotAllowed

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mm_agent.evm.fees import TxFees
    from mm_agent.evm.rpc import RpcClient

    from .preview import Preview


class Engine(Protocol):
    """``pipeline.Engine`` as far as this module uses it (named here: the pipeline calls into
    this module, so importing it back would be a cycle)."""

    def rpc(self, chain_id: int) -> RpcClient: ...
    def next_nonce(self, chain_id: int, sender: str) -> int: ...
    def decode_transaction(self, chain_id: int, tx: dict[str, Any],
                           intent: str | None) -> tuple[Any, str]: ...
    def plan_options(self, chain_id: int) -> dict[str, Any]: ...
    def one_reading(self) -> AbstractContextManager[None]: ...
    def transaction_preview(self, chain_id: int, sender: str, tx: dict[str, Any],
                            decoded: Any, intent: str, plan: Any, *,
                            balance_of: Callable[[str, str], int | None] | None = None
                            ) -> Preview: ...
    def token_balance(self, chain_id: int, token: str, holder: str) -> int | None: ...
    def signable_fees(self, preview: Preview) -> TxFees: ...
    def funded_transaction(self, chain_id: int, tx: dict[str, Any], preview: Preview,
                           fees: TxFees, balance: int) -> dict[str, Any]: ...

__all__ = ["prepare_transactions", "preview_transactions"]


def preview_transactions(engine: Engine, chain_id: int, sender: str,
                         items: list[tuple[dict[str, Any], str | None]]) -> list[Preview]:
    """Previews of ``items`` (``(tx, engine intent or None)``) executed in this order.

    Nonces: a payload ``nonce`` of item i must be ``next_nonce + i`` (the nonce it will get
    once the items before it are signed). Item 0 with another one raises
    ``NONCE_NOT_ALLOWED`` as ``preview_transaction`` does; a later item with another one ends
    the batch before it (the caller previews it alone later and gets the error then).
    """
    from .txplan import plan_transactions

    if not items:
        return []
    if any(tx.get("nonce") is not None for tx, _ in items):
        expected = engine.next_nonce(chain_id, sender)
        for i, (tx, _) in enumerate(items):
            if tx.get("nonce") is None or int(tx["nonce"]) == expected + i:
                continue
            if i == 0:
                raise NonceNotAllowed(
                    f"The payload's nonce {tx['nonce']} is not this wallet's next nonce "
                    f"({expected}); the nonce manager picks nonces.")
            items = items[:i]
            break
    decoded = [engine.decode_transaction(chain_id, tx, intent) for tx, intent in items]
    plans = plan_transactions(engine.rpc(chain_id), chain_id, sender,
                              [tx for tx, _ in items], **engine.plan_options(chain_id))
    previews = []
    moved: dict[tuple[str, str], int] = defaultdict(int)  # (token, holder) -> delta so far
    with engine.one_reading():
        for (tx, _), (dec, headline), plan in zip(items, decoded, plans, strict=False):
            previews.append(engine.transaction_preview(
                chain_id, sender, tx, dec, headline, plan,
                balance_of=_balances_after(engine, chain_id, dict(moved))))
            for change in plan.simulation.get("balanceChanges") or []:
                asset = change["asset"]
                if asset.get("type") == "erc20" and asset.get("address"):
                    moved[(asset["address"].lower(), change["address"].lower())] += int(
                        change["delta"])
    return previews


def _balances_after(engine: Engine, chain_id: int, moved: dict[tuple[str, str], int]
                    ) -> Callable[[str, str], int | None]:
    """Token balances as they will be when the earlier items have executed: ``latest`` plus
    what their simulations moved (the scan judges an approval against the balance then)."""

    def balance_of(token: str, holder: str) -> int | None:
        now = engine.token_balance(chain_id, token, holder)
        if now is None:
            return None
        return now + moved.get((token.lower(), holder.lower()), 0)

    return balance_of


def prepare_transactions(engine: Engine, chain_id: int, sender: str,
                         pairs: list[tuple[dict[str, Any], Preview]]
                         ) -> list[dict[str, Any] | MMError]:
    """``prepare_transaction`` for each ``(tx, preview)`` in order, with ONE balance read.

    Item i's funds check counts the balance minus what the items prepared before it may
    spend (value + gas limit x max fee each); an item that is not prepared (its simulation
    reverted: ``TX_REVERTED``; its funds fall short: ``INSUFFICIENT_FUNDS``) gets its error in
    its slot and spends nothing. The caller stops at the first error: the items after it were
    previewed as if it ran.
    """
    from mm_agent.evm.rpc import hex_to_int

    if not pairs:
        return []
    balance = hex_to_int(engine.rpc(chain_id).call("eth_getBalance", [sender, "latest"]))
    out: list[dict[str, Any] | MMError] = []
    spent = 0
    for tx, preview in pairs:
        try:
            fees = engine.signable_fees(preview)
            prepared = engine.funded_transaction(chain_id, tx, preview, fees, balance - spent)
        except MMError as err:
            out.append(err)
            continue
        spent += int(prepared["value"]) + fees.signed_fee
        out.append(prepared)
    return out
