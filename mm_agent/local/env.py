"""Every environment variable the engine, the CLI and the toolkits read, in one place.

Config keys with an environment override (``MM_SERVICE_URL``, ``MM_RPC_<chainId>``…) are read
through :class:`mm_agent.local.config.Config`, which takes its mapping from :func:`environ`; the
rest are read here by name, the wallet service's own (``MM_SMTP_*``, ``MM_SERVER_*``,
``MM_RATE_LIMIT_*``…) included: ``mm_agent.server.settings`` and the service's modules take
their names and values from this module.

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
    "JOB_LEASE_SECONDS",
    "MAX_BODY_BYTES",
    "MCP_TOKEN",
    "MNEMONIC",
    "NEW_PASSWORD",
    "NEW_PASSWORD_CONFIRM",
    "PASSWORD",
    "PREDICT_SERVICE_GEOBLOCK",
    "RATE_LIMIT_PREFIX",
    "SERVER_MASTER_KEY",
    "SERVER_NEW_MASTER_KEY",
    "SERVER_PUBLIC_URL",
    "SERVER_RPC_PREFIX",
    "SMTP_FROM",
    "SMTP_HOST",
    "SMTP_PASSWORD",
    "SMTP_PORT",
    "SMTP_STARTTLS",
    "SMTP_USERNAME",
    "VARIABLES",
    "environ",
    "get",
    "is_set",
    "prefixed",
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
# The local market service (`mm devnet predict serve`, the one `mm devnet start` runs): answer
# its geoblock endpoint as blocked from this COUNTRY[-REGION] (e.g. US-NY, SG); unset: not blocked.
PREDICT_SERVICE_GEOBLOCK = "MM_PREDICT_SERVICE_GEOBLOCK"

# The wallet service (`mm server start`, `mm server admin …`), read by mm_agent.server.
SERVER_MASTER_KEY = "MM_SERVER_MASTER_KEY"  # the master key (else <data dir>/master.key)
SERVER_NEW_MASTER_KEY = "MM_SERVER_NEW_MASTER_KEY"  # `mm server admin rotate-master-key`
SERVER_RPC_PREFIX = "MM_SERVER_RPC_"  # MM_SERVER_RPC_<chainId>: the operator's RPC per chain
SMTP_HOST = "MM_SMTP_HOST"  # mail approvals through this SMTP server (else the outbox)
SMTP_PORT = "MM_SMTP_PORT"  # default 587
SMTP_USERNAME = "MM_SMTP_USERNAME"
SMTP_PASSWORD = "MM_SMTP_PASSWORD"
SMTP_STARTTLS = "MM_SMTP_STARTTLS"  # "false" turns STARTTLS off (default on)
SMTP_FROM = "MM_SMTP_FROM"  # the sender (default mm-agent <no-reply@localhost>)
RATE_LIMIT_PREFIX = "MM_RATE_LIMIT_"  # MM_RATE_LIMIT_<SCOPE>: e.g. 10/h, 6000/min, off
JOB_LEASE_SECONDS = "MM_JOB_LEASE_SECONDS"  # a replica's claim on a job (default 30)
MAX_BODY_BYTES = "MM_MAX_BODY_BYTES"  # largest JSON request body (default 256 KiB)

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
    PREDICT_SERVICE_GEOBLOCK: "local market service: geoblocked from COUNTRY[-REGION]",
    SERVER_MASTER_KEY: "wallet service master key (else <data dir>/master.key)",
    SERVER_NEW_MASTER_KEY: "new master key for `mm server admin rotate-master-key`",
    SERVER_RPC_PREFIX + "<chainId>": "wallet service RPC URL for a chain",
    SMTP_HOST: "wallet service SMTP host (else mails go to the outbox)",
    SMTP_PORT: "wallet service SMTP port (default 587)",
    SMTP_USERNAME: "wallet service SMTP user name",
    SMTP_PASSWORD: "wallet service SMTP password",
    SMTP_STARTTLS: "wallet service SMTP STARTTLS (false turns it off)",
    SMTP_FROM: "wallet service mail sender",
    RATE_LIMIT_PREFIX + "<SCOPE>": "wallet service rate limit, e.g. 10/h or off",
    JOB_LEASE_SECONDS: "wallet service job lease in seconds (default 30)",
    MAX_BODY_BYTES: "wallet service largest JSON body in bytes",
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


def prefixed(prefix: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{suffix: value}`` of the set, non-empty variables named ``prefix + suffix``
    (``MM_SERVER_RPC_8453`` → ``{"8453": …}``), from ``env`` or the process environment."""
    source = os.environ if env is None else env
    return {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix) and v}
