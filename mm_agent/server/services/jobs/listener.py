"""PostgreSQL wake-ups across replicas: ``LISTEN mm_jobs`` on a dedicated connection.

One thread per replica holds a connection of its own (detached from the pool) and turns each
notification (payload: a polling id) into a local wake-up. It reconnects when the connection
drops, and on reconnect wakes every local long poll, so none misses a change made while the
connection was down (they read the job again).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from ...db.store import Store
from .wakeups import Wakeups

__all__ = ["NotifyListener"]

log = logging.getLogger("mm_agent.server.services.jobs")


class NotifyListener:
    def __init__(self, store: Store, channel: str, stop: threading.Event,
                 wakeups: Wakeups) -> None:
        self.store = store
        self.channel = channel
        self.stop = stop
        self.wakeups = wakeups
        self._conn: Any = None
        self._thread: threading.Thread | None = None

    def start(self, ready_within: float = 10.0) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(ready,),
                                        name="mm-listen", daemon=True)
        self._thread.start()
        ready.wait(ready_within)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _listen(self, ready: threading.Event) -> None:
        first = True
        while not self.stop.is_set():
            try:
                raw = self.store.engine.raw_connection()
                # Read before detaching: a detached pool connection no longer hands out its
                # driver connection (it reads None).
                conn = raw.driver_connection
                raw.detach()  # ours for good, not the pool's
                conn.autocommit = True
                conn.execute(f"LISTEN {self.channel}")
                self._conn = conn
                if not first:
                    self.wakeups.fire_all()
                first = False
                ready.set()
                while not self.stop.is_set():
                    for note in conn.notifies(timeout=1.0):
                        self.wakeups.fire(note.payload)
            except Exception as exc:
                if self.stop.is_set():
                    return
                log.warning("LISTEN connection lost (%s); reconnecting", type(exc).__name__)
                ready.set()
                self.stop.wait(1.0)
            finally:
                self.close()
