"""Every environment variable the engine, the CLI and the toolkits read, in one place.

Config keys with an environment override (``MM_SERVICE_URL``, ``MM_RPC_<chainId>``…) are read
through :class:`mm_agent.local.config.Config`, which takes its mapping from :func:`environ`; the
rest are read here by name. The wallet service reads its own (``MM_SMTP_*``, ``MM_SERVER_*``)
in ``mm_agent.server.settings``.

An empty value counts as unset everywhere (``MM_PASSWORD=`` is "no password given").
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = [
    "ANVIL",
    "CLI_TOKEN",
    "DATABASE_URL",
    "FORMAT",
    "HOME",
    "MCP_TOKEN",
    "MNEMONIC",
    "NEW_PASSWORD",
    "NEW_PASSWORD_CONFIRM",
    "PASSWORD",
    "SERVER_PUBLIC_URL",
    "VARIABLES",
    "environ",
    "get",
    "is_set",
    "raw",
]

HOME = "MM_HOME"  # the state folder (default ~/.metamask)
FORMAT = "MM_FORMAT"  # output format: text, json, toon (also the `format` config key)
MNEMONIC = "MM_MNEMONIC"  # `mm init --wallet byok`: the seed phrase (never a flag)
PASSWORD = "MM_PASSWORD"  # the BYOK vault's password (never a flag)
NEW_PASSWORD = "MM_NEW_PASSWORD"  # `mm wallet password set|change`: the new one
NEW_PASSWORD_CONFIRM = "MM_NEW_PASSWORD_CONFIRM"  # …and its repetition (default: the same)
CLI_TOKEN = "MM_CLI_TOKEN"  # `mm login`: a cliToken:cliRefreshToken pair, headless
ANVIL = "MM_ANVIL"  # `mm devnet`: the anvil binary (else PATH, then .tools/bin/anvil)
MCP_TOKEN = "MM_MCP_TOKEN"  # `mm mcp --http`: the bearer token (else one is generated)
DATABASE_URL = "MM_DATABASE_URL"  # `mm server start`: PostgreSQL instead of SQLite
SERVER_PUBLIC_URL = "MM_SERVER_PUBLIC_URL"  # `mm server start`: where people reach the pages

#: Name → what it is, for documentation and `mm doctor`-style listings.
VARIABLES: dict[str, str] = {
    HOME: "state folder (default ~/.metamask)",
    FORMAT: "output format: text, json or toon",
    MNEMONIC: "BYOK seed phrase for `mm init`",
    PASSWORD: "BYOK vault password",
    NEW_PASSWORD: "new vault password (`mm wallet password set|change`)",
    NEW_PASSWORD_CONFIRM: "repetition of the new vault password",
    CLI_TOKEN: "cliToken:cliRefreshToken pair for `mm login`",
    ANVIL: "path of the anvil binary",
    MCP_TOKEN: "bearer token of `mm mcp --http`",
    DATABASE_URL: "database of `mm server start` (PostgreSQL URL)",
    SERVER_PUBLIC_URL: "public URL of the wallet service's pages",
}


def environ() -> Mapping[str, str]:
    """The process environment (read at call time, so tests may change it)."""
    return os.environ


def get(name: str) -> str | None:
    """The variable's value, or ``None`` when it is unset or empty."""
    return os.environ.get(name) or None


def raw(name: str) -> str | None:
    """The value as given (``""`` when set empty), or ``None`` when unset: for secrets where an
    empty value is an answer (an empty new password is refused, not ignored)."""
    return os.environ.get(name)


def is_set(name: str) -> bool:
    """Whether the variable is present at all (even empty)."""
    return name in os.environ
