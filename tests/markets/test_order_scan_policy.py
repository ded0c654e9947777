"""Guard-mode policy on CTF orders (no chain): a BUY's worst-case cost is outflow when signed, a
SELL's outcome tokens are valued at the better of its price and the reference (else $1 each),
the exchange must be allowlisted like any contract, a cancel releases the unfilled share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mm_agent.markets import orders
from mm_agent.security.pipeline import PolicyResult, Preview
from mm_agent.security.policy.document import parse_policy
from mm_agent.security.policy.evaluate import evaluate, outflow_assets, price_outflow
from mm_agent.security.policy.orders import release_on_cancel
from mm_agent.security.policy.prices import StaticPrices
from mm_agent.security.scan import ScanInput, scan
from mm_agent.security.scan.known_protocols import devnet_ctf_exchanges

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
EXCHANGE = "0x" + "ab" * 20
FAKE = "0x" + "11" * 20
MUSD = "0x" + "cd" * 20
TOKEN_ID = 424242
DEVNET = {"markets": {"operator": "0x" + "ef" * 20,
                      "collateral": {"symbol": "mUSD", "address": MUSD, "decimals": 6},
                      "contracts": {"CtfExchange": EXCHANGE}}}
PRICES = StaticPrices({"31337:mUSD": "1"})


def policy(allowlist: tuple[str, ...] = (EXCHANGE,), limit: int = 1000) -> Any:
    listed = ", ".join(f'"{a}"' for a in allowlist)
    return parse_policy(f"""\
schema_version: 1
addresses:
  allowlist: [{listed}]
  blocklist: []
evm:
  allowed_chains: [31337]
  token_recipients:
    allowlist: []
  outflow_limits_usd:
    rolling_24h: {limit}
""", wallet_address=WALLET)


def preview(*, side: str = "BUY", price: str = "0.55", size: str = "10",
            exchange: str = EXCHANGE, refs: dict[str, Any] | None = None,
            with_orders: bool = True) -> Preview:
    order = orders.build_order(maker=WALLET, token_id=TOKEN_ID, side=side, price=price,
                               size=size, salt=1, timestamp_ms=1)
    typed = orders.order_typed_data(order, chain_id=31337, exchange=exchange)
    result = scan(ScanInput(kind="typed-data", chain_id=31337, wallet=WALLET, typed_data=typed,
                            ctf_exchanges=devnet_ctf_exchanges(DEVNET),
                            reference_prices=refs or {})).to_dict()
    if not with_orders:
        result.pop("orders", None)
    return Preview("typed-data", 31337, WALLET, "Sign Order", None, None, result,
                   PolicyResult(), typed_data=typed)


def verdict(p: Preview, doc: Any = None, used: str = "0") -> Any:
    return evaluate(doc or policy(), "guard", p, outflow_usd=price_outflow(PRICES, p),
                    window_used_usd=Decimal(used))


def rules(result: Any) -> list[str]:
    return [v["rule"] for v in result.violations]


def test_buy_counts_its_worst_case_cost() -> None:
    p = preview(price="0.55", size="100")
    assert price_outflow(PRICES, p) == Decimal("55")
    assert verdict(p).decision == "allow"
    # $55 does not fit in $50, nor in what the window has left.
    assert rules(verdict(p, policy(limit=50))) == ["outflow_limit"]
    assert rules(verdict(p, used="950")) == ["outflow_limit"]


def test_exchange_must_be_allowlisted_in_guard_mode() -> None:
    result = verdict(preview(), policy(allowlist=()))
    assert rules(result) == ["address_allowlist"]
    assert "Verifying contract" in result.violations[0]["message"]
    beast = evaluate(policy(allowlist=()), "beast", preview(), outflow_usd=Decimal("5.5"),
                     window_used_usd=Decimal(0))
    assert beast.decision == "allow"


def test_sell_is_valued_at_the_better_of_its_price_and_the_reference() -> None:
    # No reference: each outcome token at its most, one mUSD.
    assert price_outflow(PRICES, preview(side="SELL", price="0.42", size="10")) == Decimal(10)
    book = {str(TOKEN_ID): {"bid": "0.60", "ask": "0.62"}}
    dumped = preview(side="SELL", price="0.42", size="10", refs=book)
    assert price_outflow(PRICES, dumped) == Decimal(6)  # the bid, not the dump price
    assert price_outflow(PRICES, preview(side="SELL", price="0.70", size="10",
                                         refs=book)) == Decimal(7)
    (asset, units), = outflow_assets(dumped)
    assert asset["address"] == MUSD and units == 6_000_000
    assert asset["valuedAs"] == f"outcome token {TOKEN_ID}"


def test_unknown_exchange_and_missing_entries_are_unpriced() -> None:
    unknown = preview(exchange=FAKE)
    assert price_outflow(PRICES, unknown) is None
    result = verdict(unknown, policy(allowlist=(FAKE,)))
    assert set(rules(result)) == {"threat_scan", "outflow_limit"}
    # A CTF order whose scan carries no `orders` entry fails closed.
    assert price_outflow(PRICES, preview(with_orders=False)) is None


def test_cancel_releases_the_unfilled_share() -> None:
    (entry,) = preview(price="0.50", size="20").scan["orders"]
    # BUY 20 at 0.50 = 10 mUSD; half the maker amount unfilled gives back 5 mUSD.
    assert release_on_cancel(entry, 5_000_000) == [(entry["collateral"], 5_000_000)]
    assert release_on_cancel(entry, 0) == [(entry["collateral"], 0)]
