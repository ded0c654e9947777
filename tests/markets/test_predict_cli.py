"""`mm predict` from the CLI on the devnet (BYOK): the reference's commands and flags."""

from __future__ import annotations

from typing import Any

import pytest

from mm_agent.markets.chain import Chain
from mm_agent.markets.devnet_deploy import erc1155_balance

ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_predict_cli_end_to_end(predict_home: Any, mm_cli: Any, rpc: Chain,
                                markets: dict[str, Any]) -> None:
    market = markets["markets"][0]
    slug, cid = market["slug"], market["conditionId"]

    rc, out, _ = mm_cli("predict", "mode")
    assert rc == 0 and out["data"]["mode"] == "devnet"
    rc, out, _ = mm_cli("predict", "positions")
    assert rc == 1 and out["error"]["code"] == "PREDICT_SETUP_REQUIRED"

    rc, out, _ = mm_cli("predict", "setup", "--wait")
    assert rc == 0 and out["data"]["setupComplete"] is True
    rc, out, _ = mm_cli("predict", "status")
    assert out["data"]["account"]["setupComplete"] is True and out["data"]["clob"] == "ok"

    rc, out, _ = mm_cli("predict", "markets", "list")
    assert rc == 0 and {m["slug"] for m in out["data"]["markets"]} >= {slug}
    assert all(m["source"] == "devnet" for m in out["data"]["markets"])
    rc, out, _ = mm_cli("predict", "markets", "search", "block")
    assert [m["slug"] for m in out["data"]["markets"]] == [markets["markets"][1]["slug"]]
    rc, out, _ = mm_cli("predict", "markets", "get", slug)
    yes = out["data"]["tokens"][0]["tokenId"]
    assert out["data"]["conditionId"] == cid

    rc, out, _ = mm_cli("predict", "book", "--token-id", yes)
    assert rc == 0 and out["data"]["asks"][-1] == {"price": "0.55", "size": "100"}
    rc, out, _ = mm_cli("predict", "quote", "--token-id", yes, "--side", "buy", "--size", "10")
    assert out["data"]["estimatedCost"] == "5.5"

    rc, out, _ = mm_cli("predict", "place", "--token-id", yes, "--side", "buy", "--size", "10",
                        "--price", "0.55", "--order-type", "FOK")
    assert rc == 0, out
    assert out["data"]["status"] == "FILLED" and out["data"]["txHashes"]
    rc, out, _ = mm_cli("predict", "positions", "--market", cid)
    (pos,) = out["data"]["positions"]
    assert pos["size"] == "10"
    ctf = markets["contracts"]["ConditionalTokens"]
    assert erc1155_balance(rpc, ctf, ACCOUNT0, yes) == 10_000_000

    rc, out, _ = mm_cli("predict", "place", yes, "--side", "buy", "--size", "5",
                        "--price", "0.2")
    assert out["data"]["status"] == "OPEN"
    order_id = out["data"]["orderId"]
    rc, out, _ = mm_cli("predict", "orders")
    assert [o["orderId"] for o in out["data"]["orders"]] == [order_id]
    rc, out, _ = mm_cli("predict", "cancel", "--order-id", order_id)
    assert rc == 0 and out["data"]["canceled"] == [order_id]
    rc, out, _ = mm_cli("predict", "orders")
    assert out["data"]["orders"] == []

    rc, out, _ = mm_cli("devnet", "predict", "resolve", slug, "--outcome", "yes")
    assert rc == 0 and out["data"]["payouts"] == [1, 0]
    rc, out, _ = mm_cli("predict", "redeem", "list")
    assert out["data"]["redeemable"][0]["payout"] == "10"
    rc, out, _ = mm_cli("predict", "redeem", cid, "--wait")
    assert rc == 0 and out["data"]["redemptions"][0]["credited"] == "10"
    rc, out, _ = mm_cli("predict", "history")
    assert out["data"]["history"][0]["kind"] == "redeem"
    state = predict_home.read_json("predict.json")
    assert oct(predict_home.path("predict.json").stat().st_mode & 0o777) == "0o600"
    assert "secret" not in str(state) and "passphrase" not in str(state)


@pytest.mark.parametrize("args", [
    ("place", "--token-id", "1", "--side", "buy", "--size", "1", "--price", "1.5"),
    ("place", "--token-id", "1", "--side", "buy", "--size", "1", "--price", "0"),
    ("place", "--token-id", "1", "--side", "buy", "--size", "1", "--price", "0.5",
     "--order-type", "FAK", "--post-only"),
    ("place", "--token-id", "1", "--side", "buy", "--size", "1", "--price", "0.5",
     "--expiration", "2000000000"),
    ("cancel",),
    ("cancel", "--all", "--order-id", "0x01"),
    ("redeem",),
])
def test_validation_exits_2(predict_home: Any, mm_cli: Any, args: tuple[str, ...]) -> None:
    rc, out, _ = mm_cli("predict", *args)
    assert rc == 2, out
    assert out["ok"] is False


def test_real_modes_read_their_hosts_from_config(predict_home: Any, mm_cli: Any,
                                                market_service: Any) -> None:
    """testnet/mainnet are real back ends whose CLOB and Gamma hosts come from the config
    (here the local market service; nothing reaches the internet)."""
    from helpers import free_port

    rc, out, _ = mm_cli("predict", "mode", "mainnet")
    assert rc == 0 and out["data"] == {"mode": "mainnet", "available": True, "chainId": 137,
                                       "network": "Polygon"}
    dead = f"http://127.0.0.1:{free_port()}"
    for key in ("clobUrl", "gammaUrl"):
        assert mm_cli("config", "set", f"predict.mainnet.{key}", dead)[0] == 0
    rc, out, _ = mm_cli("predict", "markets", "list")
    assert rc != 0 and out["error"]["code"] == "NETWORK_UNREACHABLE"
    env = {"MM_PREDICT_MAINNET_GAMMA_URL": market_service.url + "/gamma"}
    rc, out, _ = mm_cli("predict", "markets", "list", env=env)
    assert rc == 0 and out["data"]["source"] == "mainnet" and out["data"]["markets"]
    rc, out, _ = mm_cli("predict", "mode", "moon")
    assert rc == 2


def test_cancel_reads_the_unfilled_remainder_before_cancelling(predict_home: Any, mm_cli: Any,
                                                               markets: dict[str, Any]) -> None:
    """`cancel` reads each BUY's remainder from the exchange before the cancel (afterwards a
    cancelled and a filled order look alike); it is reported, not released into a window."""
    yes = markets["markets"][0]["tokens"][0]["tokenId"]
    assert mm_cli("predict", "setup")[0] == 0
    # 120 at 0.55: 100 fill against the maker's ask, 20 rest (66 mUSD signed, 55 spent).
    rc, out, _ = mm_cli("predict", "place", "--token-id", yes, "--side", "buy", "--size", "120",
                        "--price", "0.55")
    assert rc == 0 and out["data"]["status"] == "PARTIALLY_FILLED", out
    partial = out["data"]["orderId"]
    rc, out, _ = mm_cli("predict", "place", "--token-id", yes, "--side", "buy", "--size", "10",
                        "--price", "0.30")
    untouched = out["data"]["orderId"]
    rc, out, _ = mm_cli("predict", "cancel", "--asset", yes)
    assert rc == 0 and set(out["data"]["canceled"]) == {partial, untouched}
    remainders = {r["orderId"]: r for r in out["data"]["remainders"]}
    assert remainders[partial]["unfilledCollateral"] == "11"
    assert remainders[untouched]["unfilledCollateral"] == "3"
    assert not any(r["windowReleased"] for r in remainders.values())
