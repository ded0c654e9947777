"""Who owns the terminal line: a running spinner gives it up to prompts and notices.

A spinner redraws ``\\r<frame> <label>`` on stderr every tick. Anything else that writes to the
terminal while it runs (a hidden-password prompt, a confirmation, the "approval needed" notice)
would be drawn over, or would land in the middle of the spinner's line. So every such writer
runs inside :func:`hold_line`: the active line owner (the CLI's spinner) clears its line, stops
drawing until the block ends, and only resumes on the fresh line the prompt or notice left.

This module is the core's side of that agreement (stdlib only, imported by the context and the
service client); the spinner itself lives in the CLI (``mm_agent.cli.spinner``) and registers
itself here while it runs. Without a registered owner ``hold_line`` does nothing.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol, TextIO

__all__ = ["LineOwner", "hold_line", "notify", "set_line_owner"]


class LineOwner(Protocol):
    def hold(self) -> contextlib.AbstractContextManager[None]:
        """Clear the line and draw nothing until the block ends."""


_owner: LineOwner | None = None


def set_line_owner(owner: LineOwner | None) -> LineOwner | None:
    """Register the current owner (``None`` to clear); returns the previous one."""
    global _owner
    previous, _owner = _owner, owner
    return previous


@contextlib.contextmanager
def hold_line() -> Iterator[None]:
    """Run a prompt or a notice with the line to itself."""
    owner = _owner
    if owner is None:
        yield
        return
    with owner.hold():
        yield


def notify(message: str, stream: TextIO | None = None) -> None:
    """Write a one-off notice on its own line(s) of stderr, never under a spinner frame."""
    out = stream or sys.stderr
    with hold_line():
        out.write(message if message.endswith("\n") else message + "\n")
        out.flush()
