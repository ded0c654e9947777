"""Long-poll wake-ups: which job changed, and (when the changer knows it) to what status.

A long poll (``JobQueue.wait``) parks on its job's :class:`Wake`; every change to the job
``fire``s it from whatever thread made the change (through the event loop). The status rides
along so that a poll waiting only for a final outcome (``until=final``) need not read the
job again on each intermediate step (PENDING → SUBMITTED → ...): it reads when a wake says
"settled", says nothing (a wake from another replica's NOTIFY, a reconnect, shutdown), or
when its safety timer runs out. Nothing is lost between a wake and the next park: a wake
stays registered while any poll of its job is parked or about to park, and statuses queue
on it until a poll takes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Wake", "Wakeups"]


class Wake:
    """The wake of one job, shared by its parked polls."""

    __slots__ = ("event", "polls", "statuses")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.statuses: list[str | None] = []  # None: changed, status unknown
        self.polls = 0

    def take(self) -> list[str | None]:
        """The statuses fired since the last take (empty: none known, read the job)."""
        out, self.statuses = self.statuses, []
        self.event.clear()
        return out


class Wakeups:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wakes: dict[str, Wake] = {}
        self.closing = False

    @contextmanager
    def parked(self, polling_id: str) -> Iterator[Wake]:
        """The job's wake for the duration of a poll (on the event loop)."""
        wake = self._wakes.get(polling_id)
        if wake is None:
            wake = self._wakes[polling_id] = Wake()
        wake.polls += 1
        try:
            yield wake
        finally:
            wake.polls -= 1
            if wake.polls == 0 and self._wakes.get(polling_id) is wake:
                del self._wakes[polling_id]

    def fire(self, polling_id: str, status: str | None = None) -> None:
        """From any thread: wake the job's polls in this process."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fire, polling_id, status)

    def fire_all(self) -> None:
        """From any thread: wake every poll (a change may have been missed)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fire_all)

    def close(self) -> None:
        """On the event loop, at shutdown: every poll ends."""
        self.closing = True
        self._fire_all()

    def _fire(self, polling_id: str, status: str | None) -> None:
        wake = self._wakes.get(polling_id)
        if wake is not None:
            wake.statuses.append(status)
            wake.event.set()

    def _fire_all(self) -> None:
        for polling_id in list(self._wakes):
            self._fire(polling_id, None)
