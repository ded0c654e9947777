"""How the engine talks to a person, and who owns the terminal line.

:class:`Console` is the interface a handler uses (through its ``Context``) to reach the person
at the other end: notices, prompts, confirmations, progress, a QR code, a result shown while a
foreground command keeps running. Each edge implements it: the CLI with the terminal
(``mm_agent.cli.console``); the base class here is the library default, with nobody to talk
to: silent, and every prompt answers ``None`` so the handler raises the error that says which
flag or environment variable to use instead. Library code never prints (an MCP server on
stdio dies of a stray line on stdout).

The terminal line: a running spinner gives it up to prompts and notices.

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
from typing import Any, Protocol, TextIO

__all__ = ["Console", "LineOwner", "hold_line", "notify", "set_line_owner"]


class Console:
    """The person at the other end of an operation. This base: nobody (silent, no answers)."""

    #: A person can answer prompts now (a TTY; never an agent or a pipe).
    interactive: bool = False
    #: Results are read by a person (text), not parsed by a program (JSON, TOON).
    text_mode: bool = False

    def notice(self, message: str, *, always: bool = False) -> None:
        """A one-off message for the person. The CLI shows it on stderr in text mode, and in
        every format with ``always`` (a sign-in page the person must open)."""

    def prompt_secret(self, label: str, *, confirm: bool = False) -> str | None:
        """A hidden answer (asked twice with ``confirm``); ``None`` when nobody can answer."""
        return None

    def prompt_choice(self, label: str, choices: tuple[str, ...], default: str) -> str | None:
        """One of ``choices``; ``None`` when nobody can answer."""
        return None

    def confirm(self, question: str) -> bool | None:
        """Yes or no; ``None`` when nobody can answer."""
        return None

    def progress(self, label: str) -> contextlib.AbstractContextManager[None]:
        """Shows progress while the block runs (the CLI's spinner); the library draws nothing."""
        return contextlib.nullcontext()

    def qr(self, text: str, *, caption: str | None = None) -> None:
        """Show ``text`` as a QR code for a phone (an address, a pairing page)."""

    def show(self, data: Any) -> None:
        """Show a result now, in the edge's format, while the command keeps running (a
        foreground devnet's status before it waits for Ctrl-C). An edge that showed it does not
        print the final result again."""


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
