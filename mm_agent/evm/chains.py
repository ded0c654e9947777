"""The chain registry: ids, CAIP-2 names, native assets, RPCs, explorers and well-known tokens.

Pure data and cheap lookups (no crypto or network imports): `mm chains list` must start fast.
Tokens on the local devnet (31337) are not known in advance; they are read from the
``devnet.json`` that `mm devnet start` writes under MM_HOME.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mm_agent.errors import InvalidChainId, TokenNoAddress, UnknownToken, UnsupportedChain

__all__ = [
    "CHAINS",
    "DEFAULT_CHAIN_IDS",
    "DEVNET_CHAIN_ID",
    "Chain",
    "Token",
    "get_chain",
    "parse_chain_id",
    "parse_chain_ids",
    "resolve_token",
    "tokens_for",
]

DEVNET_CHAIN_ID = 31337
# The chains used when none is named (balances, `mm chains list`'s "selected", the chains a
# wallet service serves): Ethereum, Base, Linea. The devnet replaces them while it runs.
DEFAULT_CHAIN_IDS: tuple[int, ...] = (1, 8453, 59144)


@dataclass(frozen=True)
class Token:
    symbol: str
    name: str
    decimals: int
    address: str | None  # None: the chain's native asset
    standard: str = "erc20"

    @property
    def is_native(self) -> bool:
        return self.address is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "name": self.name,
            "decimals": self.decimals,
            "address": self.address,
            "standard": "native" if self.address is None else self.standard,
        }


@dataclass(frozen=True)
class Chain:
    chain_id: int
    name: str
    native_symbol: str
    testnet: bool
    rpc_url: str
    explorer: str | None
    native_decimals: int = 18
    native_name: str = "Ether"
    tokens: tuple[Token, ...] = field(default_factory=tuple)
    # MEV-protected endpoint used when smart transactions are on (contract §5).
    private_rpc_url: str | None = None

    @property
    def caip2(self) -> str:
        return f"eip155:{self.chain_id}"

    @property
    def native(self) -> Token:
        return Token(self.native_symbol, self.native_name, self.native_decimals, None)

    def explorer_tx(self, tx_hash: str) -> str | None:
        return f"{self.explorer}/tx/{tx_hash}" if self.explorer else None


def _t(symbol: str, address: str, decimals: int, name: str) -> Token:
    return Token(symbol=symbol, name=name, decimals=decimals, address=address)


def _usdc(a: str, d: int = 6) -> Token:
    return _t("USDC", a, d, "USD Coin")


def _usdt(a: str, d: int = 6) -> Token:
    return _t("USDT", a, d, "Tether USD")


def _weth(a: str) -> Token:
    return _t("WETH", a, 18, "Wrapped Ether")


def _dai(a: str) -> Token:
    return _t("DAI", a, 18, "Dai Stablecoin")


_OP_WETH = "0x4200000000000000000000000000000000000006"

CHAINS: dict[int, Chain] = {
    c.chain_id: c
    for c in (
        Chain(
            1, "Ethereum", "ETH", False, "https://ethereum-rpc.publicnode.com",
            "https://etherscan.io",
            tokens=(
                _usdc("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
                _usdt("0xdAC17F958D2ee523a2206206994597C13D831ec7"),
                _weth("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
                _dai("0x6B175474E89094C44Da98b954EedeAC495271d0F"),
            ),
            private_rpc_url="https://rpc.flashbots.net/fast",
        ),
        Chain(
            11155111, "Sepolia", "ETH", True, "https://ethereum-sepolia-rpc.publicnode.com",
            "https://sepolia.etherscan.io", native_name="Sepolia Ether",
            tokens=(
                _usdc("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"),
                _weth("0xfFf9976782d46CC05630D1f6eBAb18b2324d6B14"),
            ),
        ),
        Chain(
            8453, "Base", "ETH", False, "https://mainnet.base.org", "https://basescan.org",
            tokens=(
                _usdc("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
                _usdt("0xfde4C96c8593536E31F229EA8f37b2ADa2699bb2"),
                _weth(_OP_WETH),
                _dai("0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb"),
            ),
        ),
        Chain(
            84532, "Base Sepolia", "ETH", True, "https://sepolia.base.org",
            "https://sepolia.basescan.org", native_name="Sepolia Ether",
            tokens=(_usdc("0x036CbD53842c5426634e7929541eC2318f3dCF7e"), _weth(_OP_WETH)),
        ),
        Chain(
            59144, "Linea", "ETH", False, "https://rpc.linea.build", "https://lineascan.build",
            tokens=(
                _usdc("0x176211869cA2b568f2A7D4EE941E073a821EE1ff"),
                _usdt("0xA219439258ca9da29E9Cc4cE5596924745e12B93"),
                _weth("0xe5D7C2a44FfDDf6b295A15c148167daaAf5Cf34f"),
                _dai("0x4AF15ec2A0BD43Db75dd04E62FAA3B8EF36b00d5"),
            ),
        ),
        Chain(
            42161, "Arbitrum One", "ETH", False, "https://arb1.arbitrum.io/rpc",
            "https://arbiscan.io",
            tokens=(
                _usdc("0xaf88d065e77c8cC2239327C5EDb3A432268e5831"),
                _usdt("0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9"),
                _weth("0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"),
                _dai("0xDA10009cBd5D07dd0CeCc66161FC93D7c9000da1"),
            ),
        ),
        Chain(
            10, "OP Mainnet", "ETH", False, "https://mainnet.optimism.io",
            "https://optimistic.etherscan.io",
            tokens=(
                _usdc("0x0b2C639c533813f4Aa9D7837cAf62653d097Ff85"),
                _usdt("0x94b008aA00579c1307B0EF2c499aD98a8ce58e58"),
                _weth(_OP_WETH),
                _dai("0xDA10009cBd5D07dd0CeCc66161FC93D7c9000da1"),
            ),
        ),
        Chain(
            137, "Polygon", "POL", False, "https://polygon-rpc.com", "https://polygonscan.com",
            native_name="POL",
            tokens=(
                _usdc("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"),
                _usdt("0xc2132D05D31c914a87C6611C10748AEb04B58e8F"),
                _weth("0x7ceB23fD6bC0adD59E62ac25578270cFf1b9f619"),
                _dai("0x8f3Cf7ad23Cd3CaDbD9735AFf958023239c6A063"),
            ),
        ),
        Chain(
            80002, "Polygon Amoy", "POL", True, "https://rpc-amoy.polygon.technology",
            "https://amoy.polygonscan.com", native_name="POL",
            tokens=(_usdc("0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582"),),
        ),
        Chain(
            56, "BNB Smart Chain", "BNB", False, "https://bsc-dataseed.bnbchain.org",
            "https://bscscan.com", native_name="BNB",
            tokens=(
                # Binance-Peg stablecoins on BSC have 18 decimals, not 6.
                _usdc("0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", 18),
                _usdt("0x55d398326f99059fF775485246999027B3197955", 18),
                _t("WETH", "0x2170Ed0880ac9A755fd29B2688956BD959F933F8", 18, "Binance-Peg Ether"),
                _dai("0x1AF3F329e8BE154074D8769D1FFa4eE058B1DBc3"),
            ),
        ),
        Chain(
            DEVNET_CHAIN_ID, "Local devnet", "ETH", True, "http://127.0.0.1:8545", None,
        ),
    )
}


def parse_chain_id(value: object, *, field: str = "chainId") -> int:
    """A positive integer chain id from an int, decimal string or 0x-hex string."""
    if isinstance(value, bool):
        raise InvalidChainId(f"{field}: {value!r} is not a chain id.")
    if isinstance(value, int):
        cid = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("eip155:"):
            text = text[7:]
        try:
            cid = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise InvalidChainId(f"{field}: {value!r} is not a chain id.") from None
    else:
        raise InvalidChainId(f"{field}: {value!r} is not a chain id.")
    if cid <= 0 or cid >= 2**53:
        raise InvalidChainId(f"{field}: {value!r} is out of range.")
    return cid


def parse_chain_ids(value: str | list[int] | list[str] | None) -> list[int] | None:
    """``"1,8453"`` or ``[1, 8453]`` → ``[1, 8453]`` (order kept, duplicates dropped)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[int] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        cid = parse_chain_id(item, field="chainIds")
        if cid not in out:
            out.append(cid)
    return out


def get_chain(chain_id: int) -> Chain:
    try:
        return CHAINS[chain_id]
    except KeyError:
        raise UnsupportedChain(f"Chain {chain_id} is not supported.") from None


def devnet_tokens(devnet: dict[str, Any] | None) -> tuple[Token, ...]:
    if not devnet:
        return ()
    return tuple(
        Token(
            symbol=t["symbol"],
            name=t.get("name", t["symbol"]),
            decimals=int(t.get("decimals", 0)),
            address=t["address"],
            standard=t.get("standard", "erc20"),
        )
        for t in devnet.get("tokens", [])
    )


def tokens_for(chain_id: int, devnet: dict[str, Any] | None = None) -> tuple[Token, ...]:
    """The known fungible tokens of a chain (devnet tokens from ``devnet.json``)."""
    chain = get_chain(chain_id)
    extra = devnet_tokens(devnet) if chain_id == DEVNET_CHAIN_ID else ()
    return tuple(t for t in (*chain.tokens, *extra) if t.standard == "erc20")


def resolve_token(chain_id: int, token: str, devnet: dict[str, Any] | None = None) -> Token | str:
    """A symbol → ``Token``; the native symbol → native ``Token``; a 0x address → the address.

    Addresses are returned as-is (validated by the caller) because their decimals must be read
    on chain, not guessed.
    """
    chain = get_chain(chain_id)
    text = token.strip()
    if text.lower().startswith("0x"):
        return text
    if text.upper() == chain.native_symbol.upper():
        return chain.native
    for t in tokens_for(chain_id, devnet):
        if t.symbol.upper() == text.upper():
            return t
    # Known symbol elsewhere but not on this chain: say so specifically.
    for other in CHAINS.values():
        if any(t.symbol.upper() == text.upper() for t in other.tokens):
            raise TokenNoAddress(
                f"{text} has no known contract on chain {chain_id} ({chain.name}).")
    raise UnknownToken(f"Unknown token {text!r} on chain {chain_id} ({chain.name}).")
