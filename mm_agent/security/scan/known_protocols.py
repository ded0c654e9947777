"""A curated, per-chain registry of well-known protocol contracts (spenders the scan trusts).

"Known" here means *verified protocol*: an address listed below (each one checked against the
project's own deployment docs/repositories), or added by the operator through the config key
``security.knownProtocols`` (a JSON file ``{"<chainId>": {"0xaddr": "name"}}``). It is not the
wallet's history (``ScanInput.known_counterparties``): a contract the wallet paid once is "used
before", never "known" — a drainer that got one harmless interaction first must not become
trusted.

Chain 31337 (the local devnet) lists its demo token contracts (read from ``devnet.json`` by the
caller), not ``Puller``: that contract takes whatever it is approved for and is the demo's
stand-in for an unknown dapp. Permit2's address is the same on every chain (deterministic
deployment), so it is listed for every chain; on a chain where it has no code the spender is an
account without code and judged as such.

Only the standard library is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "BUILTIN_KNOWN_PROTOCOLS",
    "EVERY_CHAIN",
    "PERMIT2",
    "known_protocols_for",
    "load_known_protocols",
]

PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"

# Deterministic (CREATE2) deployments: the same address and code on every chain they exist on.
EVERY_CHAIN: dict[str, str] = {
    PERMIT2: "Uniswap Permit2",
}

_SEAPORT = {
    "0x00000000000000ADc04C56Bf30aC9d3c0aAF14dC": "OpenSea Seaport 1.5",
    "0x0000000000000068F116a894984e2DB1123eB395": "OpenSea Seaport 1.6",
    "0x1E0049783F008A0085193E00003D00cd54003c71": "OpenSea conduit",
}
_ONEINCH = {
    "0x1111111254EEB25477B68fb85Ed929f73A960582": "1inch Aggregation Router v5",
    "0x111111125421cA6dc452d289314280a0f8842A65": "1inch Aggregation Router v6",
}
_COW = {
    "0x9008D19f58AAbD9eD0D60971565AA8510560ab41": "CoW Protocol settlement",
    "0xC92E8bdf79f0507f65a392b0ab4667716BFE0110": "CoW Protocol vault relayer",
}
_BALANCER = {"0xBA12222222228d8Ba445958a75a0704d566BF2C8": "Balancer V2 vault"}
_ZEROX_ALLOWANCE_HOLDER = {"0x0000000000001fF3684f28c67538d4D072C22734": "0x AllowanceHolder"}
_UNI_V3_ROUTER = {"0xE592427A0AEce92De3Edee1F18E0157C05861564": "Uniswap V3 SwapRouter"}
_UNI_ROUTER02 = {"0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45": "Uniswap SwapRouter02"}
_AAVE_V3_L2 = {"0x794a61358D6845594F94dc1DB02A252b5b4814aD": "Aave V3 pool"}

# chain id -> {address: name}. Sources: Uniswap docs + universal-router deploy-addresses/*.json,
# OpenSea Seaport README, 1inch/CoW/Balancer/0x/Aave/Lido deployment pages.
BUILTIN_KNOWN_PROTOCOLS: dict[int, dict[str, str]] = {
    1: {
        "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D": "Uniswap V2 Router02",
        **_UNI_V3_ROUTER, **_UNI_ROUTER02,
        "0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD": "Uniswap Universal Router 1.2",
        "0x66a9893cC07D91D95644AEDD05D03f95e1dBA8Af": "Uniswap Universal Router 2",
        **_ONEINCH,
        "0xDef1C0ded9bec7F1a1670819833240f027b25EfF": "0x Exchange Proxy",
        **_ZEROX_ALLOWANCE_HOLDER, **_COW, **_SEAPORT,
        "0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2": "Aave V3 pool",
        "0xae7ab96520DE3A18E5e111B5EaAb095312D7fE84": "Lido stETH",
        "0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0": "Lido wstETH",
        "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2": "WETH",
        **_BALANCER,
    },
    8453: {
        "0x2626664c2603336E57B271c5C0b26F421741e481": "Uniswap SwapRouter02",
        "0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD": "Uniswap Universal Router 1.2",
        "0x6fF5693b99212Da76ad316178A184AB56D299b43": "Uniswap Universal Router 2",
        **_ONEINCH, **_ZEROX_ALLOWANCE_HOLDER, **_COW, **_SEAPORT,
        "0xA238Dd80C259a72e81d7e4664a9801593F98d1c5": "Aave V3 pool",
        "0x4200000000000000000000000000000000000006": "WETH",
        **_BALANCER,
    },
    42161: {
        **_UNI_V3_ROUTER, **_UNI_ROUTER02,
        "0x5E325eDA8064b456f4781070C0738d849c824258": "Uniswap Universal Router 1.2",
        "0xA51afAFe0263b40EdaEf0Df8781eA9aa03E381a3": "Uniswap Universal Router 2",
        **_ONEINCH,
        "0xDef1C0ded9bec7F1a1670819833240f027b25EfF": "0x Exchange Proxy",
        **_ZEROX_ALLOWANCE_HOLDER, **_COW, **_SEAPORT, **_AAVE_V3_L2,
        "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1": "WETH",
        **_BALANCER,
    },
    10: {
        **_UNI_V3_ROUTER, **_UNI_ROUTER02,
        "0xCb1355ff08Ab38bBCE60111F1bb2B784bE25D7e8": "Uniswap Universal Router 1.2",
        "0x851116D9223fabED8E56C0E6b8Ad0c31d98B3507": "Uniswap Universal Router 2",
        **_ONEINCH,
        "0xDEF1ABE32c034e558Cdd535791643C58a13aCC10": "0x Exchange Proxy",
        **_ZEROX_ALLOWANCE_HOLDER, **_SEAPORT, **_AAVE_V3_L2,
        "0x4200000000000000000000000000000000000006": "WETH",
        **_BALANCER,
    },
    137: {
        **_UNI_V3_ROUTER, **_UNI_ROUTER02,
        "0x1095692A6237d83C6a72F3F5eFEdb9A670C49223": "Uniswap Universal Router 2",
        **_ONEINCH,
        "0xDef1C0ded9bec7F1a1670819833240f027b25EfF": "0x Exchange Proxy",
        **_ZEROX_ALLOWANCE_HOLDER, **_SEAPORT, **_AAVE_V3_L2,
        **_BALANCER,
    },
}


def _lower(table: Mapping[str, str]) -> dict[str, str]:
    return {str(a).lower(): str(n) for a, n in table.items()}


def load_known_protocols(path: str | Path) -> dict[int, dict[str, str]]:
    """Read ``{"<chainId>": {"0xaddr": "name"}}``; a missing or malformed file raises
    ``StateCorrupt`` (like the denylist: a trust list that silently fails to load would make
    the scan stricter or looser without anyone noticing)."""
    from mm_agent.errors import StateCorrupt  # lazy: keeps the scan package's import stdlib-only

    try:
        raw = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateCorrupt(f"Cannot read the known-protocols file {path}: "
                           f"{type(exc).__name__}.") from None
    if not isinstance(raw, dict):
        raise StateCorrupt(f"The known-protocols file {path} must be a JSON object "
                           '{"<chainId>": {"0xaddr": "name"}}.')
    out: dict[int, dict[str, str]] = {}
    for chain, table in raw.items():
        try:
            chain_id = int(str(chain), 0)
        except ValueError:
            raise StateCorrupt(f"Known-protocols file {path}: {chain!r} is not a chain id."
                               ) from None
        if not isinstance(table, dict) or not all(
                _is_addr(a) and isinstance(n, str) for a, n in table.items()):
            raise StateCorrupt(f"Known-protocols file {path}: chain {chain} must map "
                               "0x-addresses to names.")
        out.setdefault(chain_id, {}).update(_lower(table))
    return out


def _is_addr(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 42 or not value.lower().startswith("0x"):
        return False
    try:
        int(value[2:], 16)
    except ValueError:
        return False
    return True


def known_protocols_for(chain_id: int, *, extra: Mapping[int, Mapping[str, str]] | None = None,
                        devnet_contracts: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """{lowercase address: name} for one chain: built-in ∪ devnet contracts ∪ config file."""
    table = _lower(EVERY_CHAIN)
    table.update(_lower(BUILTIN_KNOWN_PROTOCOLS.get(chain_id, {})))
    table.update({a.lower(): n for a, n in devnet_contracts if _is_addr(a)})
    if extra:
        table.update(_lower(extra.get(chain_id, {})))
    return table
