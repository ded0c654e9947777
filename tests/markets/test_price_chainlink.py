"""`mm price spot|history` from Chainlink's own contracts on a real anvil.

The bytecode is Chainlink's (``tests/markets/contracts/chainlink``, from ``npm pack
@chainlink/contracts@0.1.9``: ``scripts/fetch_chainlink_artifacts.sh``): the EACAggregatorProxy
real USD feeds sit behind, placed at mainnet's ETH/USD feed address (``CHAINLINK_FEEDS[1]``) on
an anvil with chain id 1 so the product's own feed table is used; phase 1 is an
AggregatorFacade over a MockV2Aggregator (a round never written reverts "No data present"),
phase 2 a MockV3Aggregator (a round never written reads as zeros). Every round is written with
a known timestamp, and the history must be exactly those rounds.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT0
from helpers import free_port, wait_rpc

from mm_agent import MMError, devnet
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.price import PriceBook, price_history
from mm_agent.security.policy.prices import CHAINLINK_FEEDS

ARTIFACTS = Path(__file__).parent / "contracts" / "chainlink"
PINNED = {  # sha256 of the creation bytecode @chainlink/contracts@0.1.9 ships (solc 0.6.6)
    "EACAggregatorProxy": "70f7d3a85a1021d77555882a70e9ac84dbe0c27ac6e6ae413d277e0ae0bd84d1",
    "MockV3Aggregator": "accc199ce52d9ff92d6b86282c53029c16d054e9346d17073cfd8fc188648a4f",
    "AggregatorFacade": "84f901413f5afec4578109e388ccb20177e6d17de1b91516c459afd4307b8a99",
    "MockV2Aggregator": "b2c91b2af62b6754cb887635b476242a8a20c774c410abe9a81931d66f46899a",
}
FEED = CHAINLINK_FEEDS[1]["native"]  # mainnet ETH/USD
HOUR = 3600
P1, P2 = 1 << 64, 2 << 64  # proxy round ids: phaseId << 64 | aggregatorRoundId


def _artifact(name: str) -> dict[str, Any]:
    return dict(json.loads((ARTIFACTS / f"{name}.json").read_text()))


def test_artifacts_are_chainlinks_pinned_bytecode() -> None:
    assert sorted(p.stem for p in ARTIFACTS.glob("*.json")) == sorted(PINNED)
    for name, digest in PINNED.items():
        art = _artifact(name)
        assert (art["package"], art["version"]) == ("@chainlink/contracts", "0.1.9")
        assert art["file"] == f"abi/v0.6/{name}.json"
        assert art["compiler"].startswith("soljson-v0.6.6")
        code = bytes.fromhex(art["bytecode"][2:])
        assert hashlib.sha256(code).hexdigest() == art["bytecodeSha256"] == digest


class Feed:
    """The deployment: rounds as (proxy round id, answer, updatedAt, decimals)."""

    def __init__(self, url: str, c: Chain) -> None:
        self.url, self.c = url, c
        self.t_last = int(time.time())
        a = (self.t_last // HOUR) * HOUR - HOUR  # start of the previous hour: bucket-aligned
        self.phase1 = [(1, 3000_00000000, a - 30 * HOUR), (2, 3010_50000000, a - 26 * HOUR),
                       (3, 2990_12345678, a - 20 * HOUR),  # round 4: never written
                       (5, 3020_00000000, a - 12 * HOUR), (6, 3025_00000000, a - 12 * HOUR + 1800)]
        e18 = 10**18
        self.phase2 = [(1, 3030 * e18, a - 10 * HOUR), (2, -5, a - 9 * HOUR),  # round 3: none
                       (4, 304025 * e18 // 100, a - 8 * HOUR + 600),
                       (5, 3041 * e18, a - 8 * HOUR + 3000), (6, 3050 * e18, a - 2 * HOUR),
                       (7, 30555 * e18 // 10, self.t_last)]
        self.v2 = self.deploy("MockV2Aggregator", ["int256"], [1])
        self.facade = self.deploy("AggregatorFacade", ["address", "uint8", "string"],
                                  [self.v2, 8, "ETH / USD"])
        self.proxy1 = self.deploy("EACAggregatorProxy", ["address", "address"],
                                  [self.facade, "0x" + "0" * 40])
        self.place_at_feed_address(self.proxy1)
        for rid, answer, ts in self.phase1:
            self.send(self.v2, "updateRoundData(uint256,int256,uint256,uint256)",
                      ["uint256", "int256", "uint256", "uint256"], [rid, answer, ts, ts - 30])
        self.v3 = self.deploy("MockV3Aggregator", ["uint8", "int256"], [18, 1])
        for rid, answer, ts in self.phase2:
            self.send(self.v3, "updateRoundData(uint80,int256,uint256,uint256)",
                      ["uint80", "int256", "uint256", "uint256"], [rid, answer, ts, ts - 30])
        self.change_phase(self.v3)

    def deploy(self, name: str, types: list[str], args: list[Any]) -> str:
        from eth_abi import encode

        data = _artifact(name)["bytecode"] + encode(types, args).hex()
        receipt = self.c.wait(self.c.send(ACCOUNT0, None, data), f"deploying {name}")
        return str(receipt["contractAddress"])

    def send(self, to: str, sig: str, types: list[str], args: list[Any]) -> None:
        self.c.transact(ACCOUNT0, to, encode_call(sig, types, args), label=sig)

    def rpc(self, method: str, params: list[Any]) -> Any:
        return self.c.rpc.call(method, params)

    def place_at_feed_address(self, proxy: str) -> None:
        """The deployed proxy's runtime code and storage, copied to the real feed address.
        EACAggregatorProxy's layout: owner, pendingOwner, currentPhase, proposedAggregator,
        phaseAggregators (mapping, slot 4), accessController."""
        from eth_abi import encode

        from mm_agent.evm.signatures import keccak256

        self.rpc("anvil_setCode", [FEED, self.rpc("eth_getCode", [proxy, "latest"])])
        phase1_slot = "0x" + keccak256(encode(["uint16", "uint256"], [1, 4])).hex()
        for slot in [*(hex(i) for i in range(6)), phase1_slot]:
            value = self.rpc("eth_getStorageAt", [proxy, slot, "latest"])
            self.rpc("anvil_setStorageAt", [FEED, slot, "0x" + value[2:].rjust(64, "0")])
        assert self.c.call(FEED, encode_call("owner()", [], []), ["address"]) == ACCOUNT0.lower()
        assert self.c.call(FEED, encode_call("phaseAggregators(uint16)", ["uint16"], [1]),
                           ["address"]) == self.facade.lower()

    def change_phase(self, aggregator: str) -> None:
        self.send(FEED, "proposeAggregator(address)", ["address"], [aggregator])
        self.send(FEED, "confirmAggregator(address)", ["address"], [aggregator])

    def round(self, round_id: int, feed: str = FEED) -> tuple[Any, ...]:
        return tuple(self.c.call(feed, encode_call("getRoundData(uint80)", ["uint80"],
                                                   [round_id]),
                                 ["uint80", "int256", "uint256", "uint256", "uint80"]))

    def points(self) -> list[tuple[int, Decimal]]:
        """Every priced round, oldest first: (updatedAt, answer scaled by its phase)."""
        out = [(ts, Decimal(ans).scaleb(-8)) for _, ans, ts in self.phase1]
        out += [(ts, Decimal(ans).scaleb(-18)) for _, ans, ts in self.phase2 if ans > 0]
        return out


@pytest.fixture(scope="module")
def mainnet() -> Iterator[Feed]:
    """An anvil with chain id 1 and the feed deployed; tests revert to this state."""
    port = free_port()
    proc = subprocess.Popen([devnet.find_anvil(), "--port", str(port), "--chain-id", "1",
                             "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_rpc(url, timeout=15, proc=proc)
        with Chain(url) as c:
            yield Feed(url, c)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def feed(mainnet: Feed) -> Iterator[Feed]:
    snap = mainnet.rpc("evm_snapshot", [])
    yield mainnet
    mainnet.rpc("evm_revert", [snap])


@pytest.fixture
def home(mm_home: Home, feed: Feed, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("MM_RPC_1", feed.url)
    return mm_home


def _book(home: Home, now: float, **kw: Any) -> PriceBook:
    from mm_agent.local.config import Config
    from mm_agent.security.pipeline import Engine

    return PriceBook(Engine(home, Config(home)), now=lambda: now, **kw)


def _history(book: PriceBook, now: float, **kw: Any) -> dict[str, Any]:
    return price_history(book, book.asset(1, None), now=now, **kw)


def _expect(points: list[tuple[int, Decimal]]) -> list[list[Any]]:
    return [[ts * 1000, Decimal(p)] for ts, p in points]


def _got(out: dict[str, Any]) -> list[list[Any]]:
    return [[ms, Decimal(p)] for ms, p in out["prices"]]


def test_the_real_contracts_behave_as_the_walk_assumes(feed: Feed) -> None:
    """Evidence for the walk: round ids carry the phase, a missing round reverts (facade) or
    reads as zeros (MockV3, and round 0), and a phase without an aggregator reverts."""
    latest = feed.c.call(FEED, encode_call("latestRoundData()", [], []),
                         ["uint80", "int256", "uint256", "uint256", "uint80"])
    assert latest[0] == P2 | 7 and latest[4] == P2 | 7 and latest[3] == feed.t_last
    assert feed.c.call(FEED, encode_call("decimals()", [], []), ["uint8"]) == 18
    assert feed.c.call(FEED, encode_call("phaseId()", [], []), ["uint16"]) == 2
    ts = feed.phase1[2][2]  # the facade reports startedAt = updatedAt
    assert feed.round(P1 | 3) == (P1 | 3, 2990_12345678, ts, ts, P1 | 3)
    for missing in (P1 | 4, P1 | 0, 3 << 64 | 1, 1):  # facade gap, facade round 0, no phase
        with pytest.raises(MMError) as exc:
            feed.round(missing)
        assert "revert" in exc.value.message.lower()
    assert feed.round(P2 | 3) == (P2 | 3, 0, 0, 0, P2 | 3)  # MockV3 gap: zeros, no revert
    assert feed.round(P2 | 0) == (P2 | 0, 0, 0, 0, P2 | 0)


def test_history_is_exactly_the_rounds_written_across_the_phase_change(home: Home,
                                                                        feed: Feed) -> None:
    now = feed.t_last + 60
    book = _book(home, now)
    spot = book.spot(book.asset(1, None))
    assert spot is not None and spot.source == "chainlink" and spot.price == Decimal("3055.5")
    assert spot.to_dict()["feed"] == FEED

    week = _history(book, now, time_period="7d")
    assert week["source"] == "chainlink" and week["feed"] == FEED
    assert week["chainId"] == "eip155:1" and week["assetType"] == "slip44:60"
    # Phase 1 (8 decimals; round 4 reverts) then phase 2 (18 decimals; round 3 zeros, round 2
    # negative): exactly the priced rounds, oldest first.
    assert _got(week) == _expect(feed.points())
    assert week["truncated"] is False and (week["from"], week["to"]) == (now - 7 * 86400, now)
    assert len(week["prices"]) == 10

    day = _history(book, now)  # default 1d: the rounds from 26 h ago and before fall out
    assert day["timePeriod"] is None and (day["from"], day["to"]) == (now - 86400, now)
    assert _got(day) == _expect([p for p in feed.points() if p[0] >= now - 86400])
    assert len(day["prices"]) == 8

    hourly = _history(book, now, time_period="1d", interval="hourly")
    inside = [p for p in feed.points() if p[0] >= now - 86400]
    # Two rounds share an hour twice (12 h and 8 h ago): the later one stands for it.
    assert _got(hourly) == _expect([inside[i] for i in (0, 2, 3, 5, 6, 7)])
    daily = _history(book, now, time_period="7d", interval="daily")
    by_day: dict[int, tuple[int, Decimal]] = {}
    for ts, p in feed.points():
        by_day[ts // 86400] = (ts, p)
    assert _got(daily) == _expect([by_day[d] for d in sorted(by_day)])

    lo, hi = feed.phase1[3][2], feed.phase2[2][2]  # inclusive bounds, across the phase change
    ranged = _history(book, now, start=lo, end=hi)
    assert (ranged["from"], ranged["to"]) == (lo, hi)
    assert _got(ranged) == _expect([p for p in feed.points() if lo <= p[0] <= hi])
    assert [Decimal(p) for _, p in ranged["prices"]] == [
        Decimal("3020"), Decimal("3025"), Decimal("3030"), Decimal("3040.25")]


def test_budget_truncation_is_said(home: Home, feed: Feed,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import mm_agent.markets.price as price

    now = feed.t_last + 60
    monkeypatch.setattr(price, "MAX_ROUNDS", 3)
    out = _history(_book(home, now), now, time_period="7d")
    assert out["truncated"] is True and _got(out) == _expect(feed.points()[-3:])
    # Rounds 8..499 never written: the reads budget, not the points one, ends the walk.
    monkeypatch.setattr(price, "MAX_READS", 100)
    feed.send(feed.v3, "updateRoundData(uint80,int256,uint256,uint256)",
              ["uint80", "int256", "uint256", "uint256"], [500, 3060 * 10**18, now, now])
    out = _history(_book(home, now), now, time_period="7d")
    assert out["truncated"] is True and _got(out) == _expect([(now, Decimal(3060))])


def test_an_unreadable_earlier_phase_truncates(home: Home, feed: Feed) -> None:
    """Phase 1's aggregator has no code left: phase 2 is complete, and the answer says the
    rest is missing instead of passing it off as the whole week."""
    feed.rpc("anvil_setCode", [feed.facade, "0x"])
    now = feed.t_last + 60
    out = _history(_book(home, now), now, time_period="7d")
    assert out["truncated"] is True and _got(out) == _expect(feed.points()[5:])


def test_a_bare_aggregator_has_one_phase(home: Home, feed: Feed) -> None:
    """No proxy: round ids without a phase; the walk ends at round 1."""
    now = feed.t_last + 60
    book = _book(home, now, feeds={1: {"native": feed.v3}})
    out = _history(book, now, time_period="7d")
    assert out["feed"].lower() == feed.v3.lower()
    assert _got(out) == _expect(feed.points()[5:])


def test_a_reverting_gap_costs_only_that_round(home: Home, feed: Feed) -> None:
    """The facade alone (phase 0): its round 4 reverts inside a batch of reads; the rounds
    around it are still there."""
    now = feed.phase1[-1][2] + 60
    book = _book(home, now, feeds={1: {"native": feed.facade}})
    out = _history(book, now, time_period="7d")
    assert _got(out) == _expect(feed.points()[:5])


@pytest.mark.parametrize("case", ["stale", "stale-phase-1-proxy", "zero", "negative",
                                  "no-code", "reverts"])
def test_a_refused_or_broken_feed_has_no_history(home: Home, feed: Feed, case: str) -> None:
    now = feed.t_last + 60
    feeds = None
    if case == "stale":
        now = feed.t_last + HOUR + 1  # max age: one hour
    elif case == "stale-phase-1-proxy":  # the original proxy: last round 11.5 h old
        feeds = {1: {"native": feed.proxy1}}
    elif case in ("zero", "negative"):
        feed.send(feed.v3, "updateRoundData(uint80,int256,uint256,uint256)",
                  ["uint80", "int256", "uint256", "uint256"],
                  [8, 0 if case == "zero" else -1, feed.t_last, feed.t_last])
    elif case == "no-code":
        feed.rpc("anvil_setCode", [FEED, "0x"])
    else:  # a phase 3 aggregator without latestRoundData: the proxy's read reverts
        feed.change_phase(feed.v2)
    book = _book(home, now, feeds=feeds)
    assert book.spot(book.asset(1, None)) is None  # spot refuses the same feed
    with pytest.raises(MMError) as exc:
        _history(book, now)
    assert exc.value.code == "PRICE_UNAVAILABLE"
    reason = {"stale": "answer is stale", "stale-phase-1-proxy": "answer is stale",
              "zero": "non-positive answer", "negative": "non-positive answer"}.get(case,
                                                                                  "unreadable")
    assert exc.value.details["reason"] == reason


def test_cli_history_at_the_real_feed_address(mm_home: Home, feed: Feed, mm_cli: Any) -> None:
    """The user's path: point ``rpc.1`` at a node (a fork, here anvil with Chainlink's proxy at
    mainnet's ETH/USD address) and ask; the feed comes from the product's own table."""
    rc, out, _ = mm_cli("config", "set", "rpc.1", feed.url)
    assert rc == 0, out
    rc, out, _ = mm_cli("price", "history", "--chain-id", "eip155:1", "--asset-type",
                        "slip44:60", "--time-period", "7d")
    assert rc == 0, out
    data = out["data"]
    assert data["source"] == "chainlink" and data["feed"] == FEED
    assert _got(data) == _expect(feed.points())
    rc, out, _ = mm_cli("price", "history", "--chain-id", "1", "--asset-type", "slip44:60",
                        "--from", str(feed.phase1[0][2]), "--to", str(feed.phase1[2][2]),
                        "--interval", "daily")
    assert rc == 0, out
    by_day: dict[int, tuple[int, Decimal]] = {}
    for ts, p in feed.points()[:3]:
        by_day[ts // 86400] = (ts, p)
    assert _got(out["data"]) == _expect([by_day[d] for d in sorted(by_day)])
    rc, out, _ = mm_cli("price", "spot", "--asset-ids", "eip155:1/slip44:60")
    assert out["data"]["prices"][0]["source"] == "chainlink"
    assert out["data"]["prices"][0]["price"] == "3055.5"
    feed.rpc("anvil_setCode", [FEED, "0x"])
    rc, out, _ = mm_cli("price", "history", "--chain-id", "1", "--asset-type", "slip44:60")
    assert rc == 1 and out["error"]["code"] == "PRICE_UNAVAILABLE"
