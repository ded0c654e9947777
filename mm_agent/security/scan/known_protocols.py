"""A curated, per-chain registry of well-known protocol contracts (spenders the scan trusts).

"Known" here means *verified protocol*: an address listed below (each one checked against the
project's own deployment docs/repositories), or added by the operator through the config key
``security.knownProtocols`` (a JSON file ``{"<chainId>": {"0xaddr": "name"}}``). It is not the
wallet's history (``ScanInput.known_counterparties``): a contract the wallet paid once is "used
before", never "known" — a drainer that got one harmless interaction first must not become
trusted.

Chain 31337 (the local devnet) lists its demo token contracts and, when the devnet record has a
``markets`` deployment (``mm_agent/markets/devnet_deploy.py``), its Conditional Tokens, CTF
exchange, WETH9 and Uniswap V2 router (:func:`devnet_contracts`), not ``Puller``: that contract
takes whatever it is approved for and is the demo's stand-in for an unknown dapp.

CTF exchanges (prediction-market order books) are also listed in :data:`CTF_EXCHANGES` with the
order version their EIP-712 domain carries and their collateral token, which the CTF order rule
(``rules_ctf_orders``) and the policy's order outflow need. Sources: docs.polymarket.com
"Contracts" (Polygon: CTF Exchange, Neg Risk CTF Exchange, Neg Risk Adapter, Conditional Tokens,
USDC.e), the Polymarket/ctf-exchange deployment notes (V1 constructor: USDC.e collateral) and
``py-clob-client-v2`` 1.2.1 ``config.py`` (V1/V2/V3 exchanges and pUSD for 137 and Amoy 80002).

Permit2's address is the same on every chain (deterministic deployment), so it is listed for
every chain; on a chain where it has no code the spender is an account without code and judged
as such.

Only the standard library is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "BUILTIN_KNOWN_PROTOCOLS",
    "CTF_EXCHANGES",
    "EVERY_CHAIN",
    "PERMIT2",
    "ctf_exchanges_for",
    "devnet_contracts",
    "devnet_ctf_exchanges",
    "known_protocols_for",
    "load_known_protocols",
    "market_contracts",
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

# --- prediction markets (Polymarket) ------------------------------------------------------------
POLYGON_USDC_E = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"  # V1 collateral (6 decimals)
POLYMARKET_PUSD = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"  # V2/V3 collateral (6 decimals)
_USDC_E = {"type": "erc20", "address": POLYGON_USDC_E, "symbol": "USDC.e", "decimals": 6,
           "tokenId": None}
_PUSD = {"type": "erc20", "address": POLYMARKET_PUSD, "symbol": "pUSD", "decimals": 6,
         "tokenId": None}
_NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
_V2_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
_V2_NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
_V1_NEG_RISK_EXCHANGE = "0xC5d563A36AE78145C45a50134d48A1215220f80a"

# chain id -> {exchange address: {name, version (the EIP-712 domain version its orders carry),
# collateral (asset dict, None when not verified), operators (who may be a V1 order's taker)}}.
# Operators of the real exchanges are not listed (not verified): a V1 order naming any taker
# there is held for a human.
CTF_EXCHANGES: dict[int, dict[str, dict[str, Any]]] = {
    137: {
        "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E": {
            "name": "Polymarket CTF Exchange (V1)", "version": "1", "collateral": _USDC_E},
        _V1_NEG_RISK_EXCHANGE: {
            "name": "Polymarket Neg Risk CTF Exchange (V1)", "version": "1",
            "collateral": _USDC_E},
        _V2_EXCHANGE: {"name": "Polymarket CTF Exchange V2", "version": "2", "collateral": _PUSD},
        _V2_NEG_RISK_EXCHANGE: {
            "name": "Polymarket Neg Risk CTF Exchange V2", "version": "2", "collateral": _PUSD},
        "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa": {
            "name": "Polymarket Exchange V3", "version": "3", "collateral": _PUSD},
    },
    80002: {
        "0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40": {
            "name": "Polymarket CTF Exchange (V1, Amoy)", "version": "1", "collateral": None},
        _V1_NEG_RISK_EXCHANGE: {
            "name": "Polymarket Neg Risk CTF Exchange (V1, Amoy)", "version": "1",
            "collateral": None},
        _V2_EXCHANGE: {"name": "Polymarket CTF Exchange V2 (Amoy)", "version": "2",
                       "collateral": _PUSD},
        _V2_NEG_RISK_EXCHANGE: {
            "name": "Polymarket Neg Risk CTF Exchange V2 (Amoy)", "version": "2",
            "collateral": _PUSD},
        "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D": {
            "name": "Polymarket Exchange V3 (Amoy)", "version": "3", "collateral": _PUSD},
    },
}
# Other prediction-market contracts a wallet calls or approves (not order exchanges).
_MARKET_OTHERS: dict[int, dict[str, str]] = {
    137: {_NEG_RISK_ADAPTER: "Polymarket Neg Risk Adapter",
          "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045": "Gnosis Conditional Tokens (Polymarket)"},
    80002: {_NEG_RISK_ADAPTER: "Polymarket Neg Risk Adapter (Amoy)",
            "0x69308FB512518e39F9b16112fA8d994F4e2Bf8bB": "Gnosis Conditional Tokens (Amoy)"},
}

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
        **{a: e["name"] for a, e in CTF_EXCHANGES[137].items()}, **_MARKET_OTHERS[137],
    },
    80002: {
        **{a: e["name"] for a, e in CTF_EXCHANGES[80002].items()}, **_MARKET_OTHERS[80002],
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


# --- the devnet's contracts and prediction-market exchanges -------------------------------------
# Contracts of a devnet ``markets`` deployment that count as verified protocols (the factory is
# never a spender or a called-for-value contract, so it is left out).
_DEVNET_MARKET_CONTRACTS = {
    "ConditionalTokens": "Devnet Conditional Tokens",
    "CtfExchange": "Devnet CTF Exchange",
    "WETH9": "Devnet WETH9",
    "UniswapV2Router02": "Devnet Uniswap V2 Router02",
}


def _markets_record(devnet: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The ``deploy_markets`` record stored under the devnet record's ``markets`` key."""
    markets = (devnet or {}).get("markets")
    return markets if isinstance(markets, Mapping) else {}


def devnet_contracts(devnet: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``[(address, name)]`` of a devnet record: its demo tokens and, when ``devnet["markets"]``
    holds a markets deployment, its Conditional Tokens, CTF exchange, WETH9 and router."""
    out = [(str(t.get("address")), str(t.get("symbol")))
           for t in (devnet or {}).get("tokens", []) if isinstance(t, Mapping)]
    contracts = _markets_record(devnet).get("contracts")
    if isinstance(contracts, Mapping):
        out += [(str(contracts[k]), name) for k, name in _DEVNET_MARKET_CONTRACTS.items()
                if _is_addr(contracts.get(k))]
    return out


def devnet_ctf_exchanges(devnet: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{lowercase exchange: entry}`` (like :data:`CTF_EXCHANGES`) of the devnet's markets
    deployment: DevnetCtfExchange speaks the V2 order, its collateral is the record's
    ``collateral`` and its ``operator`` may fill orders."""
    record = _markets_record(devnet)
    contracts = record.get("contracts")
    exchange = contracts.get("CtfExchange") if isinstance(contracts, Mapping) else None
    if not _is_addr(exchange):
        return {}
    raw = record.get("collateral")
    collateral = None
    if isinstance(raw, Mapping) and _is_addr(raw.get("address")):
        collateral = {"type": "erc20", "address": str(raw["address"]),
                      "symbol": raw.get("symbol"), "decimals": raw.get("decimals"),
                      "tokenId": None}
    operators = [str(a) for a in (record.get("operator"),) if _is_addr(a)]
    ctf = contracts.get("ConditionalTokens") if isinstance(contracts, Mapping) else None
    return {str(exchange).lower(): {
        "name": _DEVNET_MARKET_CONTRACTS["CtfExchange"], "version": "2",
        "collateral": collateral, "operators": operators,
        "conditionalTokens": str(ctf) if _is_addr(ctf) else None,
    }}


def ctf_exchanges_for(chain_id: int, *, extra: Mapping[str, Mapping[str, Any]] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """``{lowercase exchange: entry}`` for one chain: the built-in table plus ``extra``."""
    table = {a.lower(): dict(e) for a, e in CTF_EXCHANGES.get(chain_id, {}).items()}
    table.update({str(a).lower(): dict(e) for a, e in (extra or {}).items() if _is_addr(a)})
    return table


def market_contracts(chain_id: int, devnet: Mapping[str, Any] | None = None
                     ) -> list[tuple[str, str]]:
    """``[(address, name)]`` of the prediction-market exchanges, adapters and swap routers a
    guard-mode policy may want to allowlist on ``chain_id`` (the policy template offers them)."""
    out = [(a, str(e["name"])) for a, e in CTF_EXCHANGES.get(chain_id, {}).items()]
    out += list(_MARKET_OTHERS.get(chain_id, {}).items())
    if devnet is not None:
        contracts = _markets_record(devnet).get("contracts")
        if isinstance(contracts, Mapping):
            out += [(str(contracts[k]), _DEVNET_MARKET_CONTRACTS[k])
                    for k in ("CtfExchange", "UniswapV2Router02") if _is_addr(contracts.get(k))]
    return out
