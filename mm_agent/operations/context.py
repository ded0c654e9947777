"""What an operation handler sees of the world it runs in.

The CLI, the LangChain tools, the dispatcher and MCP each build a ``Context``; handlers use it
to reach local state, config and the wallet, and to talk to a person when one is present.
Talking goes through the context's :class:`~mm_agent.console.Console`, which each edge
implements (the CLI: prompts, stderr notices and a spinner on a terminal). The default console
is silent and answers no prompt, so the same handler prompts on a TTY, fails with the error
that names the missing flag (``MISSING_FLAG``, ``CONFIRMATION_REQUIRED``…) headless, and
never writes to stdout inside an MCP server.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mm_agent.console import Console
from mm_agent.local.config import Config
from mm_agent.local.state import Home
from mm_agent.wallets.base import ApprovalHook

if TYPE_CHECKING:
    from mm_agent.wallets.wallet import Wallet

__all__ = ["ApprovalHook", "Context"]  # ApprovalHook: defined by the wallets, re-exported

_SILENT = Console()


class Context:
    def __init__(
        self,
        *,
        home: Home | None = None,
        config: Config | None = None,
        wallet: Wallet | None = None,
        approval_hook: ApprovalHook | None = None,
        console: Console | None = None,
    ) -> None:
        self.home = home or Home.from_env()
        self.config = config or Config(self.home)
        self._wallet = wallet
        self.approval_hook = approval_hook
        self.console = console or _SILENT

    @property
    def interactive(self) -> bool:
        """A person can answer prompts (the console says so)."""
        return self.console.interactive

    @property
    def text_mode(self) -> bool:
        """Results are read by a person rather than parsed by a program."""
        return self.console.text_mode

    @property
    def wallet(self) -> Wallet:
        if self._wallet is None:
            from mm_agent.wallets.factory import open_wallet

            self._wallet = open_wallet(
                home=self.home, config=self.config, approval_hook=self.approval_hook,
                interactive=self.interactive, on_awaiting=self._awaiting_notice,
                password=self._vault_password,
            )
        return self._wallet

    def _vault_password(self) -> str | None:
        """BYOK: ``MM_PASSWORD``, else the console's hidden prompt (``None`` headless)."""
        from mm_agent.local import env as env_vars

        return env_vars.get(env_vars.PASSWORD) or self.console.prompt_secret("Wallet password")

    def _awaiting_notice(self, request: Any) -> None:
        """A server-wallet request waited for needs a human (AWAITING_MFA): say once how to
        approve it, in every format (contract §4), through the console (silent in the
        library, where it is only logged)."""
        from mm_agent.wallets.remote.client import approval_notice, log_awaiting

        log_awaiting(request)
        self.console.notice(approval_notice(request), always=True)

    # --- the person, through the console (shorthands) ----------------------------------------
    def notice(self, message: str, *, always: bool = False) -> None:
        self.console.notice(message, always=always)

    def prompt_secret(self, label: str, *, confirm: bool = False) -> str | None:
        return self.console.prompt_secret(label, confirm=confirm)

    def prompt_choice(self, label: str, choices: tuple[str, ...], default: str) -> str | None:
        return self.console.prompt_choice(label, choices, default)

    def confirm(self, question: str) -> bool | None:
        return self.console.confirm(question)

    def progress(self, label: str) -> contextlib.AbstractContextManager[None]:
        return self.console.progress(label)

    def qr(self, text: str, *, caption: str | None = None) -> None:
        self.console.qr(text, caption=caption)

    def show(self, data: Any) -> None:
        self.console.show(data)
