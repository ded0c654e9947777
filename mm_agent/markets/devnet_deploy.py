"""Deploy the devnet's markets: Conditional Tokens, a CTF-exchange-compatible exchange, WETH9
and Uniswap V2 with seeded pools — all from an unlocked account over plain JSON-RPC.

:func:`deploy_markets` returns the record to store next to the devnet's (``devnet.json``)::

    {"chainId", "deployer", "operator", "oracle",
     "collateral": {"symbol", "address", "decimals"},
     "contracts": {"ConditionalTokens", "CtfExchange", "WETH9", "UniswapV2Factory",
                   "UniswapV2Router02"},
     "pools": [{"symbols": [a, b], "pair", "token0", "token1"}],
     "markets": [{"slug", "question", "questionId", "conditionId", "oracle", "collateral",
                  "outcomes": ["Yes", "No"], "tokens": [{"outcome", "tokenId"}],
                  "source": "devnet"}]}

Given the record of an earlier run (``existing``) whose contracts all still have code, it is
returned as is: deploying twice on the same chain is a no-op. The collateral is the devnet's
mUSD (6 decimals, like USDC); outcome tokens have the collateral's decimals. Tokens are minted
with the demo tokens' open ``mint``; the ETH side of the ETH/mUSD pool comes from the deployer.
"""

from __future__ import annotations

import re
from typing import Any

from mm_agent.errors import DevnetError

from . import ctf
from .chain import Chain, encode_call, load_artifact
from .orders import ORDER_ABI_TUPLE, Order

__all__ = [
    "DEFAULT_MARKETS",
    "DEFAULT_POOLS",
    "approve_for_trading",
    "create_market",
    "deploy_markets",
    "erc20_balance",
    "erc1155_balance",
    "match_orders_calldata",
    "pair_reserves",
    "resolve_market",
    "split_collateral",
    "uniswap_init_code_hash",
]

DEFAULT_MARKETS = (
    "Will mDAI trade above 1.00 mUSD on the devnet at resolution?",
    "Will the devnet reach block 1,000,000?",
)
# (symbol A, amount A, symbol B, amount B) in whole units; "ETH" is the native coin (WETH).
DEFAULT_POOLS: tuple[tuple[str, int, str, int], ...] = (
    ("mUSD", 100_000, "mDAI", 100_000),
    # $2000 per ETH: the same as the policy's devnet default, so balances and limits agree.
    ("ETH", 100, "mUSD", 200_000),
)
MAX_UINT = 2**256 - 1
DEADLINE = 2**40


def _contracts_alive(chain: Chain, record: dict[str, Any]) -> bool:
    addresses = list(record.get("contracts", {}).values())
    addresses += [p["pair"] for p in record.get("pools", [])]
    return bool(addresses) and all(chain.has_code(a) for a in addresses)


def deploy_markets(rpc_url: str, *, tokens: list[dict[str, Any]] | dict[str, dict[str, Any]],
                   deployer: str | None = None, operator: str | None = None,
                   oracle: str | None = None, collateral_symbol: str = "mUSD",
                   markets: tuple[str, ...] = DEFAULT_MARKETS,
                   pools: tuple[tuple[str, int, str, int], ...] = DEFAULT_POOLS,
                   existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Deploy everything on the node at ``rpc_url``; ``tokens`` is the devnet record's token
    list (``symbol``, ``address``, ``decimals``). ``deployer`` (default: the node's first
    account) must be unlocked; it is the exchange's admin and, unless ``operator`` is given,
    its operator, and the markets' oracle unless ``oracle`` is given."""
    by_symbol = tokens if isinstance(tokens, dict) else {t["symbol"]: t for t in tokens}
    if collateral_symbol not in by_symbol:
        raise DevnetError(f"No {collateral_symbol} among the devnet tokens.")
    with Chain(rpc_url) as chain:
        if existing and _contracts_alive(chain, existing):
            return existing
        accounts = chain.accounts()
        if not accounts and deployer is None:
            raise DevnetError(f"{rpc_url} has no unlocked account to deploy from.")
        deployer = deployer or accounts[0]
        operator = operator or deployer
        oracle = oracle or deployer
        chain_id = int(chain.rpc.call("eth_chainId"), 16)
        collateral = by_symbol[collateral_symbol]

        ctf_address = chain.deploy(deployer, "ConditionalTokens")
        exchange = chain.deploy(deployer, "DevnetCtfExchange", ["address", "address"],
                                [collateral["address"], ctf_address])
        if operator.lower() != deployer.lower():
            chain.transact(deployer, exchange, encode_call("addOperator(address)", ["address"],
                                                           [operator]), label="addOperator")
        weth = chain.deploy(deployer, "WETH9")
        factory = chain.deploy(deployer, "UniswapV2Factory", ["address"], [deployer])
        router = chain.deploy(deployer, "UniswapV2Router02", ["address", "address"],
                              [factory, weth])

        pool_records = [
            _seed_pool(chain, deployer, router, factory, weth, by_symbol, *pool) for pool in pools
        ]
        market_records = [
            create_market(chain, ctf_address, collateral["address"], oracle, question,
                          sender=deployer)
            for question in markets
        ]
    return {
        "chainId": chain_id,
        "deployer": deployer,
        "operator": operator,
        "oracle": oracle,
        "collateral": {"symbol": collateral_symbol, "address": collateral["address"],
                       "decimals": collateral["decimals"]},
        "contracts": {"ConditionalTokens": ctf_address, "CtfExchange": exchange, "WETH9": weth,
                      "UniswapV2Factory": factory, "UniswapV2Router02": router},
        "pools": pool_records,
        "markets": market_records,
    }


def _seed_pool(chain: Chain, deployer: str, router: str, factory: str, weth: str,
               by_symbol: dict[str, dict[str, Any]], sym_a: str, units_a: int, sym_b: str,
               units_b: int) -> dict[str, Any]:
    legs = []
    for symbol, units in ((sym_a, units_a), (sym_b, units_b)):
        if symbol == "ETH":
            legs.append((symbol, weth, units * 10**18, True))
            continue
        token = by_symbol.get(symbol)
        if token is None:
            raise DevnetError(f"No {symbol} among the devnet tokens.")
        amount = units * 10 ** int(token["decimals"])
        chain.transact(deployer, token["address"], encode_call(
            "mint(address,uint256)", ["address", "uint256"], [deployer, amount]),
            label=f"minting {symbol}")
        chain.transact(deployer, token["address"], encode_call(
            "approve(address,uint256)", ["address", "uint256"], [router, amount]),
            label=f"approving {symbol}")
        legs.append((symbol, token["address"], amount, False))
    (_, addr_a, amount_a, eth_a), (_, addr_b, amount_b, eth_b) = legs
    if eth_a or eth_b:
        (token, amount_token), amount_eth = ((addr_b, amount_b), amount_a) if eth_a \
            else ((addr_a, amount_a), amount_b)
        data = encode_call(
            "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
            ["address", "uint256", "uint256", "uint256", "address", "uint256"],
            [token, amount_token, amount_token, amount_eth, deployer, DEADLINE])
        chain.transact(deployer, router, data, value=amount_eth, label="addLiquidityETH")
    else:
        data = encode_call(
            "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
            ["address", "address", "uint256", "uint256", "uint256", "uint256", "address",
             "uint256"],
            [addr_a, addr_b, amount_a, amount_b, amount_a, amount_b, deployer, DEADLINE])
        chain.transact(deployer, router, data, label="addLiquidity")
    pair = chain.call(factory, encode_call("getPair(address,address)", ["address", "address"],
                                           [addr_a, addr_b]), ["address"])
    token0 = chain.call(pair, encode_call("token0()", [], []), ["address"])
    token1 = chain.call(pair, encode_call("token1()", [], []), ["address"])
    from eth_utils import to_checksum_address

    return {"symbols": [sym_a, sym_b], "pair": to_checksum_address(pair),
            "token0": to_checksum_address(token0), "token1": to_checksum_address(token1)}


def _slug(question: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", question.lower()).strip("-")[:80]


def create_market(chain: Chain, ctf_address: str, collateral: str, oracle: str, question: str,
                  *, sender: str) -> dict[str, Any]:
    """Prepare a YES/NO condition whose ``oracle`` reports the payouts (see
    :func:`resolve_market`). The question id is ``keccak256(question)``."""
    qid = ctf.question_id(question)
    cid = ctf.condition_id(oracle, qid, 2)
    slots = chain.call(ctf_address, encode_call("getOutcomeSlotCount(bytes32)", ["bytes32"],
                                                [cid]), ["uint256"])
    if slots == 0:
        chain.transact(sender, ctf_address, ctf.prepare_condition_calldata(oracle, qid, 2),
                       label="prepareCondition")
    ids = ctf.binary_position_ids(collateral, cid)
    return {
        "slug": _slug(question), "question": question, "questionId": "0x" + qid.hex(),
        "conditionId": "0x" + cid.hex(), "oracle": oracle, "collateral": collateral,
        "outcomes": ["Yes", "No"],
        "tokens": [{"outcome": "Yes", "tokenId": str(ids["YES"])},
                   {"outcome": "No", "tokenId": str(ids["NO"])}],
        "source": "devnet",
    }


def resolve_market(chain: Chain, ctf_address: str, market: dict[str, Any],
                   payouts: list[int]) -> dict[str, Any]:
    """The oracle reports ``payouts`` (``[1, 0]``: YES wins) for the market's question."""
    return chain.transact(market["oracle"], ctf_address,
                          ctf.report_payouts_calldata(market["questionId"], payouts),
                          label="reportPayouts")


def split_collateral(chain: Chain, ctf_address: str, collateral: str, holder: str,
                     condition: str | bytes, amount: int, *, mint: bool = True) -> None:
    """``holder`` (unlocked) turns ``amount`` collateral into ``amount`` YES + ``amount`` NO
    (minting the demo collateral first when ``mint``)."""
    if mint:
        chain.transact(holder, collateral, encode_call("mint(address,uint256)",
                                                       ["address", "uint256"], [holder, amount]))
    chain.transact(holder, collateral, encode_call("approve(address,uint256)",
                                                   ["address", "uint256"], [ctf_address, amount]))
    chain.transact(holder, ctf_address, ctf.split_position_calldata(collateral, condition, amount),
                   label="splitPosition")


def approve_for_trading(chain: Chain, holder: str, record: dict[str, Any]) -> None:
    """``holder`` (unlocked) lets the exchange move its collateral and outcome tokens."""
    exchange = record["contracts"]["CtfExchange"]
    chain.transact(holder, record["collateral"]["address"], encode_call(
        "approve(address,uint256)", ["address", "uint256"], [exchange, MAX_UINT]))
    chain.transact(holder, record["contracts"]["ConditionalTokens"],
                   ctf.set_approval_for_all_calldata(exchange, True))


def match_orders_calldata(condition: str | bytes, taker: tuple[Order, str],
                          makers: list[tuple[Order, str]], taker_fill: int,
                          maker_fills: list[int]) -> bytes:
    """Calldata of ``matchOrders`` (V2 signature) with zero fees; orders as (order, signature)."""
    cid = bytes.fromhex(condition.removeprefix("0x")) if isinstance(condition, str) else condition
    return encode_call(
        f"matchOrders(bytes32,{ORDER_ABI_TUPLE},{ORDER_ABI_TUPLE}[],uint256,uint256[],uint256,"
        "uint256[])",
        ["bytes32", ORDER_ABI_TUPLE, f"{ORDER_ABI_TUPLE}[]", "uint256", "uint256[]", "uint256",
         "uint256[]"],
        [cid, taker[0].as_tuple(taker[1]), [o.as_tuple(s) for o, s in makers], taker_fill,
         maker_fills, 0, [0] * len(makers)])


def pair_reserves(chain: Chain, pair: str, token_in: str) -> tuple[int, int]:
    """(reserve of ``token_in``, reserve of the other token) of a Uniswap V2 pair."""
    r0, r1, _ts = chain.call(pair, encode_call("getReserves()", [], []),
                             ["uint112", "uint112", "uint32"])
    token0 = chain.call(pair, encode_call("token0()", [], []), ["address"])
    return (r0, r1) if token0.lower() == token_in.lower() else (r1, r0)


def erc20_balance(chain: Chain, token: str, owner: str) -> int:
    return int(chain.call(token, encode_call("balanceOf(address)", ["address"], [owner]),
                          ["uint256"]))


def erc1155_balance(chain: Chain, ctf_address: str, owner: str, token_id: int | str) -> int:
    return int(chain.call(ctf_address, encode_call("balanceOf(address,uint256)",
                                                   ["address", "uint256"],
                                                   [owner, int(token_id)]), ["uint256"]))


def uniswap_init_code_hash() -> str:
    """keccak256 of the pair's creation code; UniswapV2Router02 has it built in."""
    from mm_agent.evm.signatures import keccak256

    code = load_artifact("UniswapV2Pair")["bytecode"]
    return "0x" + keccak256(bytes.fromhex(code[2:])).hex()
