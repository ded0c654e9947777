"""The CLI's side of :class:`mm_agent.console.Console`: the person at a terminal.

Prompts and confirmations need a TTY on both stdin and stdout (``interactive``); notices go to
stderr in text mode (``always``: in every format, for what the person must act on, such as a
sign-in page); progress is the spinner (stderr, text mode on a TTY); a result shown early (a
foreground devnet's status) is printed in the command's format, and the command then prints
nothing more. Everything that writes holds the line, so a running spinner never draws over it.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from mm_agent.console import Console, hold_line, notify

__all__ = ["TerminalConsole"]


class TerminalConsole(Console):
    def __init__(self, fmt: str, *, interactive: bool | None = None) -> None:
        self.fmt = fmt
        self.text_mode = fmt == "text"
        self.interactive = (sys.stdin.isatty() and sys.stdout.isatty()) if interactive is None \
            else interactive
        self.shown = False  # a result went out through show(): the command prints no other

    def notice(self, message: str, *, always: bool = False) -> None:
        if self.text_mode or always:
            notify(message, sys.stderr)

    def prompt_secret(self, label: str, *, confirm: bool = False) -> str | None:
        if not self.interactive:
            return None
        import getpass

        # Prompts own the line: a running spinner clears it and waits until they are answered.
        with hold_line():
            value = getpass.getpass(f"{label}: ")
            again = getpass.getpass(f"Repeat {label.lower()}: ") if confirm else value
        if confirm and again != value:
            from mm_agent.errors import PasswordMismatch

            raise PasswordMismatch("The two entries differ.")
        return value

    def prompt_choice(self, label: str, choices: tuple[str, ...], default: str) -> str | None:
        if not self.interactive:
            return None
        import click

        with hold_line():
            return str(click.prompt(label, type=click.Choice(choices), default=default))

    def confirm(self, question: str) -> bool | None:
        if not self.interactive:
            return None
        import click

        with hold_line():
            return bool(click.confirm(question, default=False))

    def progress(self, label: str) -> contextlib.AbstractContextManager[None]:
        if not (self.text_mode and sys.stderr.isatty()):
            return contextlib.nullcontext()
        from .spinner import spinner

        return spinner(label, sys.stderr)

    def qr(self, text: str, *, caption: str | None = None) -> None:
        import segno

        with hold_line():
            if caption:
                sys.stderr.write(caption + "\n")
            segno.make(text, error="m").terminal(out=sys.stderr, compact=True)
            sys.stderr.flush()

    def show(self, data: Any) -> None:
        from .output import emit_result

        self.shown = True
        with hold_line():
            emit_result(data, self.fmt)
