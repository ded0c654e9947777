"""What an operation handler sees of the world it runs in.

The CLI, the LangChain tools, the dispatcher and MCP each build a ``Context``; handlers use it
to reach local state, config and the wallet, and to talk to a person when one is present.
Interaction goes through overridable hooks so that the same handler prompts on a TTY, fails
with ``APPROVAL_REQUIRED`` headless, or raises a LangGraph interrupt inside an agent.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .config import Config
from .state import Home

if TYPE_CHECKING:
    from .wallet import Wallet

__all__ = ["ApprovalHook", "Context"]

# Given the request preview and a reason, return True to go ahead, False to refuse.
ApprovalHook = Callable[[dict[str, Any], str], bool]


class Context:
    def __init__(
        self,
        *,
        home: Home | None = None,
        config: Config | None = None,
        interactive: bool = False,
        wallet: Wallet | None = None,
        approval_hook: ApprovalHook | None = None,
        text_mode: bool = False,
    ) -> None:
        self.home = home or Home.from_env()
        self.config = config or Config(self.home)
        self.interactive = interactive
        self.text_mode = text_mode
        self._wallet = wallet
        self.approval_hook = approval_hook

    @property
    def wallet(self) -> Wallet:
        if self._wallet is None:
            from .wallet import Wallet

            self._wallet = Wallet.from_env(
                home=self.home, config=self.config, approval_hook=self.approval_hook,
                interactive=self.interactive,
            )
        return self._wallet

    def notice(self, message: str) -> None:
        """A one-off message for the person (stderr in text mode; silent otherwise)."""
        if self.text_mode:
            print(message, file=sys.stderr, flush=True)

    def prompt_secret(self, label: str, *, confirm: bool = False) -> str | None:
        """Hidden prompt on a TTY; ``None`` when nobody can answer."""
        if not self.interactive:
            return None
        import getpass

        value = getpass.getpass(f"{label}: ")
        if confirm:
            again = getpass.getpass(f"Repeat {label.lower()}: ")
            if again != value:
                from .errors import PasswordMismatch

                raise PasswordMismatch("The two entries differ.")
        return value

    def prompt_choice(self, label: str, choices: tuple[str, ...], default: str) -> str | None:
        if not self.interactive:
            return None
        import click

        return str(click.prompt(label, type=click.Choice(choices), default=default))

    def confirm(self, question: str) -> bool | None:
        if not self.interactive:
            return None
        import click

        return bool(click.confirm(question, default=False))

    @contextlib.contextmanager
    def progress(self, label: str) -> Iterator[None]:
        """A spinner on stderr in text mode on a TTY (never in json mode)."""
        if not (self.text_mode and sys.stderr.isatty()):
            yield
            return
        import threading

        stop = threading.Event()

        def spin() -> None:
            frames = "|/-\\"
            i = 0
            while not stop.wait(0.1):
                sys.stderr.write(f"\r{frames[i % 4]} {label}")
                sys.stderr.flush()
                i += 1
            sys.stderr.write("\r" + " " * (len(label) + 2) + "\r")

        thread = threading.Thread(target=spin, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
