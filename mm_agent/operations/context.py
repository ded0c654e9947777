"""What an operation handler sees of the world it runs in.

The CLI, the LangChain tools, the dispatcher and MCP each build a ``Context``; handlers use it
to reach local state, config and the wallet, and to talk to a person when one is present.
Interaction goes through overridable hooks so that the same handler prompts on a TTY, fails
with ``APPROVAL_REQUIRED`` headless, or raises a LangGraph interrupt inside an agent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mm_agent import console
from mm_agent.local.config import Config
from mm_agent.local.state import Home

if TYPE_CHECKING:
    from mm_agent.wallets.wallet import Wallet

__all__ = ["ApprovalHook", "Context", "ProgressFactory"]

# Given the request preview and a reason, return True to go ahead, False to refuse.
ApprovalHook = Callable[[dict[str, Any], str], bool]
# Given a label, a context manager that shows progress while the block runs (the CLI's spinner).
ProgressFactory = Callable[[str], contextlib.AbstractContextManager[None]]


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
        progress_factory: ProgressFactory | None = None,
    ) -> None:
        self.home = home or Home.from_env()
        self.config = config or Config(self.home)
        self.interactive = interactive
        self.text_mode = text_mode
        self._wallet = wallet
        self.approval_hook = approval_hook
        self.progress_factory = progress_factory

    @property
    def wallet(self) -> Wallet:
        if self._wallet is None:
            from mm_agent.wallets.wallet import Wallet

            self._wallet = Wallet.from_env(
                home=self.home, config=self.config, approval_hook=self.approval_hook,
                interactive=self.interactive,
            )
        return self._wallet

    def notice(self, message: str) -> None:
        """A one-off message for the person (stderr in text mode; silent otherwise)."""
        if self.text_mode:
            console.notify(message)

    def prompt_secret(self, label: str, *, confirm: bool = False) -> str | None:
        """Hidden prompt on a TTY; ``None`` when nobody can answer."""
        if not self.interactive:
            return None
        import getpass

        # Prompts own the line: a running spinner clears it and waits until they are answered.
        with console.hold_line():
            value = getpass.getpass(f"{label}: ")
            again = getpass.getpass(f"Repeat {label.lower()}: ") if confirm else value
        if confirm:
            if again != value:
                from mm_agent.errors import PasswordMismatch

                raise PasswordMismatch("The two entries differ.")
        return value

    def prompt_choice(self, label: str, choices: tuple[str, ...], default: str) -> str | None:
        if not self.interactive:
            return None
        import click

        with console.hold_line():
            return str(click.prompt(label, type=click.Choice(choices), default=default))

    def confirm(self, question: str) -> bool | None:
        if not self.interactive:
            return None
        import click

        with console.hold_line():
            return bool(click.confirm(question, default=False))

    @contextlib.contextmanager
    def progress(self, label: str) -> Iterator[None]:
        """Progress while the block runs, if the edge gave a way to show it (the CLI's spinner
        on a TTY in text mode); the library itself never draws anything."""
        if self.progress_factory is None or not self.text_mode:
            yield
            return
        with self.progress_factory(label):
            yield
