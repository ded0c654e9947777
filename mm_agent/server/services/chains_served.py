"""Which chains the wallet service serves, over which RPC, with which tokens.

The service's engine resolves a chain's RPC in this order, all chosen by the operator (an
agent never picks an RPC: a node of its choosing could lie to the simulation):

1. ``mm server start --rpc <chainId>=<url>`` flags, then ``MM_SERVER_RPC_<chainId>``;
2. ``rpc.<chainId>`` in ``<data-dir>/config.json`` (or ``MM_RPC_<chainId>``), re-read when
   the file changes: no restart needed;
3. for the devnet (31337): the devnet record ``MM_HOME/devnet.json`` of the MM_HOME that ran
   ``mm server start`` (and ``<data-dir>/devnet.json``), re-read on every use, so a devnet
   started, stopped or moved to another port is followed without a restart; its tokens
   (mUSD, mDAI) become known symbols;
4. the registry's public RPC.

:func:`served_chains` is what ``GET /v1/chains`` returns and what clients use for
``mm wallet balance`` and for token symbols.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mm_agent.errors import InvalidConfigValue
from mm_agent.evm.chains import (
    CHAINS,
    DEFAULT_CHAIN_IDS,
    DEVNET_CHAIN_ID,
    get_chain,
    parse_chain_id,
    tokens_for,
)
from mm_agent.evm.rpc import redact_url
from mm_agent.local import env as env_vars
from mm_agent.local.config import Config, parse_url
from mm_agent.local.state import Home
from mm_agent.security.pipeline import Engine

__all__ = ["LiveConfig", "ServiceEngine", "parse_rpc_flags", "served_chains"]

ENV_PREFIX = env_vars.SERVER_RPC_PREFIX


def parse_rpc_flags(values: list[str] | tuple[str, ...] | None,
                    env: dict[str, str] | None = None) -> dict[int, str]:
    """``["8453=https://…"]`` plus ``MM_SERVER_RPC_<id>`` → ``{8453: "https://…"}`` (flags win)."""
    out: dict[int, str] = {}
    for suffix, value in env_vars.prefixed(ENV_PREFIX, env).items():
        if suffix.isdigit():
            out[parse_chain_id(suffix)] = parse_url(value, field=ENV_PREFIX + suffix)
    for item in values or ():
        cid_text, sep, url = item.partition("=")
        if not sep or not url.strip():
            raise InvalidConfigValue(f"--rpc {item.split('=')[0]!r}: expected CHAIN_ID=URL.")
        cid = parse_chain_id(cid_text, field="--rpc")
        get_chain(cid)  # UNSUPPORTED_CHAIN for chains the registry does not know
        out[cid] = parse_url(url.strip(), field=f"--rpc {cid}")
    return out


class LiveConfig(Config):
    """The service's config.json, re-read when the file changes (no restart needed)."""

    _mtime: float | None = None

    @property
    def stored(self) -> dict[str, Any]:
        try:
            mtime: float | None = self.home.path("config.json").stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime:
            self._stored, self._mtime = None, mtime
        return super().stored


class ServiceEngine(Engine):
    """The engine of the wallet service: operator RPCs and the followed devnet."""

    def __init__(self, home: Home, config: Config, *, rpc: dict[int, str] | None = None,
                 devnet_file: Path | None = None, **kw: Any) -> None:
        super().__init__(home, config, **kw)
        self.operator_rpc = dict(rpc or {})
        self.devnet_file = devnet_file

    def devnet(self) -> dict[str, Any] | None:
        """The followed devnet record, else one in the data dir (older set-ups)."""
        if self.devnet_file is not None:
            home = Home(self.devnet_file.parent)
            data = home.read_json(self.devnet_file.name)
            if isinstance(data, dict) and data.get("rpcUrl"):
                return data
        return super().devnet()

    def rpc_url(self, chain_id: int) -> str:
        if chain_id in self.operator_rpc:
            return self.operator_rpc[chain_id]
        return super().rpc_url(chain_id)

    def rpc_source(self, chain_id: int) -> str:
        if chain_id in self.operator_rpc:
            return "operator"
        if self.config.rpc_override(chain_id):
            return "config"
        if chain_id == DEVNET_CHAIN_ID and (self.devnet() or {}).get("rpcUrl"):
            return "devnet"
        return "registry"

    def default_chains(self) -> list[int]:
        """What `mm wallet balance` shows without --chain-ids: the devnet when one is served,
        plus operator-added chains; else the registry's main chains."""
        chosen = [cid for cid in self.operator_rpc if cid != DEVNET_CHAIN_ID]
        if self.devnet() or DEVNET_CHAIN_ID in self.operator_rpc:
            chosen.insert(0, DEVNET_CHAIN_ID)
        return chosen or list(DEFAULT_CHAIN_IDS)


def served_chains(engine: ServiceEngine) -> dict[str, Any]:
    """``{chains: [{chainId, caip2, name, nativeSymbol, testnet, rpc, rpcSource, default,
    tokens: [{symbol, name, address, decimals}]}], defaultChainIds}``. RPC URLs are shown as
    scheme://host:port only (paths and queries often carry API keys)."""
    devnet = engine.devnet()
    defaults = engine.default_chains()
    out = []
    for cid, chain in CHAINS.items():
        if cid == DEVNET_CHAIN_ID and not devnet and cid not in engine.operator_rpc:
            continue  # no devnet running: nothing serves 31337
        tokens = [chain.native.to_dict(), *(t.to_dict() for t in tokens_for(cid, devnet))]
        out.append({"chainId": cid, "caip2": chain.caip2, "name": chain.name,
                    "nativeSymbol": chain.native_symbol, "testnet": chain.testnet,
                    "rpc": redact_url(engine.rpc_url(cid)), "rpcSource": engine.rpc_source(cid),
                    "default": cid in defaults, "tokens": tokens})
    return {"chains": out, "defaultChainIds": defaults}
