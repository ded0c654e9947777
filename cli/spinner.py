"""The progress spinner of long waits (contract §2: stderr, text mode on a TTY, never JSON).

It owns the terminal line only while nothing else needs it: it registers itself as the line
owner of :mod:`mm_agent.console`, so prompts and notices (which run inside ``hold_line``) make it
clear its line first and stay silent until they are done. Frames are drawn under a lock, so a
frame can never be half-written when a prompt takes the line.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TextIO

from mm_agent import console

__all__ = ["Spinner", "spinner"]

FRAMES = "|/-\\"


class Spinner:
    def __init__(self, label: str, stream: TextIO, interval: float = 0.1) -> None:
        self.label = label
        self.stream = stream
        self.interval = interval
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._held = 0
        self._drawn = False  # whether our frame is on the line right now
        self._thread: threading.Thread | None = None
        self._previous: console.LineOwner | None = None

    # --- the line ---------------------------------------------------------------------------
    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * (len(self.label) + 2) + "\r")
            self.stream.flush()
            self._drawn = False

    def _draw(self, i: int) -> None:
        with self._lock:
            if self._held or self._stop.is_set():
                return
            self.stream.write(f"\r{FRAMES[i % len(FRAMES)]} {self.label}")
            self.stream.flush()
            self._drawn = True

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        # Re-entrant (a notice inside an approval prompt): only the outermost hold resumes.
        with self._lock:
            self._held += 1
            self._clear()
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1

    # --- lifecycle --------------------------------------------------------------------------
    def _run(self) -> None:
        i = 0
        while not self._stop.wait(self.interval):
            self._draw(i)
            i += 1

    def start(self) -> None:
        self._previous = console.set_line_owner(self)
        self._thread = threading.Thread(target=self._run, name="mm-spinner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._clear()
        console.set_line_owner(self._previous)


@contextlib.contextmanager
def spinner(label: str, stream: TextIO) -> Iterator[None]:
    s = Spinner(label, stream)
    s.start()
    try:
        yield
    finally:
        s.stop()
