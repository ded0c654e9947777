"""The rolling-24h outflow window of server wallets, kept in the ``outflows`` table.

A request the policy lets through reserves its USD outflow (``reserve``, inside the caller's
transaction that read the window); the reservation is committed when the transaction confirms
(``commit``) and released when the job fails, is denied, cancelled or expires (``release``).
A signed prediction-market order whose cancel the service verified on chain keeps only its
filled share (``settle_filled``, state ``settled``: still counted, final; ``order_release.py``).
Plain store functions: the policy service and the job runner both call them, neither owns them.

Exact across replicas without the database write lock: a reservation first locks the wallet's
row (``lock_wallet``, ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer), so the
window read and the reservation of one wallet never interleave with another's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from ..db.store import Store, now, outflows, wallets

__all__ = ["COUNTED", "WINDOW_SECONDS", "commit", "commit_many", "lock_wallet", "release",
           "release_in", "reservation", "reserve", "reserve_many", "reserved_amount",
           "reserved_ids", "settle_filled", "unreserve", "window_used"]

WINDOW_SECONDS = 24 * 3600
COUNTED = ("reserved", "committed", "settled")  # states that count toward the window


def _cents(usd: Decimal) -> int:
    return int((usd * 100).to_integral_value(rounding="ROUND_CEILING"))


def lock_wallet(conn: Any, wallet_id: str) -> None:
    """Serialise the wallet's window read-and-reserve until ``conn``'s transaction ends."""
    conn.execute(select(wallets.c.id).where(wallets.c.id == wallet_id).with_for_update())


def window_used(conn: Any, wallet_id: str) -> Decimal:
    """USD reserved or committed by the wallet in the last 24 hours."""
    cents = conn.execute(select(func.coalesce(func.sum(outflows.c.usd_cents), 0)).where(and_(
        outflows.c.wallet_id == wallet_id, outflows.c.state.in_(COUNTED),
        outflows.c.created_at > now() - WINDOW_SECONDS))).scalar()
    return Decimal(int(cents or 0)) / 100


def reserve(conn: Any, polling_id: str, wallet_id: str, usd: Decimal) -> Decimal:
    """Reserve once per request (a re-run keeps the first reservation). Returns what now
    counts in addition toward the window (cents rounded up; 0 when it was reserved before)."""
    return reserve_many(conn, wallet_id, [(polling_id, usd)])[0]


def reserve_many(conn: Any, wallet_id: str, amounts: list[tuple[str, Decimal]]
                 ) -> list[Decimal]:
    """``reserve`` for several requests in two statements; returns, per request, what now
    counts in addition toward the window (0 for one reserved before)."""
    if not amounts:
        return []
    before = reserved_ids(conn, [pid for pid, _ in amounts])
    ts = now()
    rows, added = [], []
    for pid, usd in amounts:
        if pid in before:
            added.append(Decimal(0))
            continue
        before.add(pid)
        cents = _cents(usd)
        rows.append({"polling_id": pid, "wallet_id": wallet_id, "usd_cents": cents,
                     "state": "reserved", "created_at": ts})
        added.append(Decimal(cents) / 100)
    if rows:
        conn.execute(insert(outflows), rows)
    return added


def reserved_ids(conn: Any, polling_ids: list[str]) -> set[str]:
    """Which of these requests already hold a reservation (in any state)."""
    if not polling_ids:
        return set()
    return set(conn.execute(select(outflows.c.polling_id).where(
        outflows.c.polling_id.in_(polling_ids))).scalars().all())


def reserved_amount(usd: Decimal) -> Decimal:
    """What a reservation of ``usd`` counts toward the window (whole cents, rounded up)."""
    return Decimal(_cents(usd)) / 100


def unreserve(conn: Any, polling_ids: list[str]) -> None:
    """Forget the reservations of requests that go back to the queue without having been
    signed (a batch stopped in front of them): they are evaluated, and reserve, afresh."""
    if polling_ids:
        conn.execute(outflows.delete().where(and_(
            outflows.c.polling_id.in_(polling_ids), outflows.c.state == "reserved")))


def release_in(conn: Any, polling_id: str) -> None:
    """``release``, in the caller's transaction."""
    _settle_in(conn, polling_id, "released")


def commit_many(conn: Any, polling_ids: list[str]) -> None:
    """``commit`` for several confirmed requests, in the caller's transaction."""
    if polling_ids:
        conn.execute(update(outflows).where(and_(
            outflows.c.polling_id.in_(polling_ids), outflows.c.state == "reserved"))
            .values(state="committed"))


def _settle_in(conn: Any, polling_id: str, state: str) -> None:
    conn.execute(update(outflows).where(and_(
        outflows.c.polling_id == polling_id, outflows.c.state == "reserved"))
        .values(state=state))


def _settle(store: Store, polling_id: str, state: str) -> None:
    with store.tx(exclusive=False) as conn:  # one conditional UPDATE: atomic alone
        _settle_in(conn, polling_id, state)


def release(store: Store, polling_id: str) -> None:
    """The request ended without spending: its reservation no longer counts."""
    _settle(store, polling_id, "released")


def commit(store: Store, polling_id: str) -> None:
    """The transaction confirmed: the reservation becomes spent."""
    _settle(store, polling_id, "committed")


def settle_filled(store: Store, polling_id: str, filled: int, total: int
                  ) -> tuple[int, int] | None:
    """A cancelled order verified on chain: its reservation keeps only the filled share
    ``ceil(cents × filled / total)`` and becomes ``settled``. Returns (cents before, cents
    after), or None when there is nothing to change (no reservation, released, or settled by
    an earlier call: a second release is a no-op)."""
    with store.tx(exclusive=False) as conn:
        wallet_id = conn.execute(select(outflows.c.wallet_id).where(
            outflows.c.polling_id == polling_id)).scalar()
        if wallet_id is None:
            return None
        lock_wallet(conn, wallet_id)  # serialised with the wallet's reservations
        row = conn.execute(select(outflows.c.usd_cents).where(and_(
            outflows.c.polling_id == polling_id,
            outflows.c.state.in_(("reserved", "committed"))))).first()
        if row is None:
            return None
        before = int(row.usd_cents)
        share = (Decimal(max(0, min(filled, total))) / Decimal(total)) if total > 0 \
            else Decimal(0)
        after = int((Decimal(before) * share).to_integral_value(rounding="ROUND_CEILING"))
        moved = conn.execute(update(outflows).where(and_(
            outflows.c.polling_id == polling_id,
            outflows.c.state.in_(("reserved", "committed"))))
            .values(usd_cents=after, state="settled")).rowcount
        return (before, after) if moved else None


def reservation(store: Store, polling_id: str) -> dict[str, Any]:
    """The job's reservation as it stands: ``{outflowState, remainingUsd}``."""
    with store.read() as conn:
        row = conn.execute(select(outflows.c.state, outflows.c.usd_cents).where(
            outflows.c.polling_id == polling_id)).first()
    if row is None:
        return {"outflowState": None, "remainingUsd": None}
    return {"outflowState": row.state,
            "remainingUsd": format((Decimal(int(row.usd_cents)) / 100).quantize(
                Decimal("0.01")), "f")}
