"""`mm predict geoblock` and the geoblock gate: the devnet is never geoblocked; on the testnet
back end (a second anvil with chain id 80002, the local market service answering
``/api/geoblock`` over real HTTP) setup, approve, deposit and place are refused before anything
is signed when the service says blocked — except a sell of held outcome tokens in a close-only
jurisdiction — while cancel, withdraw and redeem stay possible; no answer fails closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from helpers import free_port

from mm_agent import Wallet
from mm_agent.errors import PredictGeoblocked, PredictGeoblockUnavailable
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain
from mm_agent.markets.devnet_deploy import resolve_market
from mm_agent.markets.predict import Predict, read_state
from mm_agent.markets.predict_geoblock import restriction
from mm_agent.operations.handlers.predict import verified_contracts

from .test_predict_networks import ACCOUNT0, amoy, amoy_service, testnet  # noqa: F401

OTHER = "0x70997970C51812dc3A010C7d01b50e0aa4d79C8C"  # anvil account 1


def _fresh(home: Home) -> Predict:
    """A new client (the geoblock answer is asked once per instance)."""
    from mm_agent.security.scan import reference_prices

    return Predict(Wallet.from_env(home=home), home=home, reference_prices=reference_prices,
                   contracts=verified_contracts)


def _refused(call: Callable[[], Any], country: str, region: str, kind: str) -> None:
    with pytest.raises(PredictGeoblocked) as err:
        call()
    assert err.value.code == "PREDICT_GEOBLOCKED"
    assert {k: err.value.details[k] for k in ("country", "region", "restriction")} == {
        "country": country, "region": region, "restriction": kind}


def test_restriction_reads_polymarket_lists() -> None:
    assert restriction({"blocked": False, "country": "US"}) == "none"
    assert restriction({"blocked": True, "country": "US", "region": "NY"}) == "close-only"
    assert restriction({"blocked": True, "country": "CA", "region": "ON"}) == "close-only"
    assert restriction({"blocked": True, "country": "IR", "region": ""}) == "blocked"
    assert restriction({"blocked": True, "country": "UA", "region": "43"}) == "blocked"
    # Blocked but on neither list (or no country at all): the stricter reading.
    assert restriction({"blocked": True, "country": "XX"}) == "blocked"
    assert restriction({"blocked": True}) == "blocked"


def test_the_devnet_is_never_geoblocked(predict_home: Home, mm_cli: Any) -> None:
    with Predict(None, home=predict_home) as p:
        g = p.geoblock()
    assert g["blocked"] is False and g["source"] == "devnet" and g["restriction"] == "none"
    rc, out, _ = mm_cli("predict", "geoblock")
    assert rc == 0 and out["data"]["source"] == "devnet" and out["data"]["blocked"] is False


def test_testnet_gate_close_only_and_blocked(testnet: Predict, amoy: str,  # noqa: F811
                                             amoy_service: Any,  # noqa: F811
                                             mm_cli: Any) -> None:
    home = testnet.home
    url = amoy_service.url + "/api/geoblock"
    assert testnet.geoblock() == {"blocked": False, "ip": "127.0.0.1", "country": "",
                                  "region": "", "restriction": "none", "url": url,
                                  "source": "testnet"}
    assert testnet.setup()["setupComplete"] is True
    market = amoy_service.markets[0]
    yes = market["tokens"][0]["tokenId"]
    assert testnet.place(yes, "buy", "20", "0.60")["status"] == "FILLED"
    resting = testnet.place(yes, "buy", "10", "0.30")
    assert resting["status"] == "OPEN"

    # Close-only (US-NY): nothing that opens or funds a position, and nothing is signed.
    amoy_service.geoblock = "US-NY"
    p = _fresh(home)
    g = p.geoblock()
    assert (g["blocked"], g["country"], g["region"], g["restriction"]) == (
        True, "US", "NY", "close-only")
    with Chain(amoy) as chain:
        nonce = chain.rpc.call("eth_getTransactionCount", [ACCOUNT0, "latest"])
        before = read_state(home)
        for call in (lambda: p.place(yes, "buy", "1", "0.60"), lambda: p.deposit("1"),
                     lambda: p.approve(), lambda: p.setup(),
                     lambda: p.place(yes, "sell", "21", "0.40")):  # more than it holds
            _refused(call, "US", "NY", "close-only")
        assert chain.rpc.call("eth_getTransactionCount", [ACCOUNT0, "latest"]) == nonce
    assert read_state(home) == before
    # Closing a position is allowed: a sell of held tokens (into the maker's 0.45 bid) …
    sold = p.place(yes, "sell", "5", "0.45")
    assert sold["status"] == "FILLED" and sold["proceeds"] == "2.25"
    # … and so are cancels and withdrawals.
    assert p.cancel(order_id=resting["orderId"])["canceled"] == [resting["orderId"]]
    assert p.withdraw("1", to=OTHER)["txHash"]
    p.close()

    # Blocked completely (an OFAC jurisdiction): not even a closing sell.
    amoy_service.geoblock = "IR"
    p = _fresh(home)
    _refused(lambda: p.place(yes, "sell", "5", "0.45"), "IR", "", "blocked")
    rc, out, _ = mm_cli("predict", "geoblock")
    assert rc == 0 and out["data"]["blocked"] is True and out["data"]["country"] == "IR"
    rc, out, _ = mm_cli("predict", "place", "--token-id", yes, "--side", "sell", "--size", "5",
                        "--price", "0.45")
    assert rc == 1 and out["error"]["code"] == "PREDICT_GEOBLOCKED"
    assert out["error"]["details"]["country"] == "IR"
    # Redeeming a resolved market stays possible.
    with Chain(amoy) as chain:
        resolve_market(chain, market_ctf(amoy_service), market, [1, 0])
    redeemed = p.redeem(market["conditionId"])["redemptions"]
    assert redeemed[0]["credited"] == "15"  # the 15 YES still held pay 1 each
    p.close()


def market_ctf(service: Any) -> str:
    return str(service.record["contracts"]["ConditionalTokens"])


def test_no_answer_fails_closed(testnet: Predict, amoy_service: Any,  # noqa: F811
                                mm_cli: Any) -> None:
    home = testnet.home
    config = home.read_json("config.json")
    dead = f"http://127.0.0.1:{free_port()}"
    home.write_json("config.json", {**config, "predict.testnet.geoblockUrl": dead})
    p = _fresh(home)
    with pytest.raises(PredictGeoblockUnavailable) as err:
        p.setup()
    assert err.value.code == "PREDICT_GEOBLOCK_UNAVAILABLE"
    with pytest.raises(PredictGeoblockUnavailable):
        p.geoblock()
    p.close()
    assert read_state(home)["accounts"] == {}  # no credentials, nothing signed
    for args in (("setup",), ("deposit", "--amount", "1"), ("approve",),
                 ("place", "--token-id", "1", "--side", "buy", "--size", "1", "--price", "0.5")):
        rc, out, _ = mm_cli("predict", *args)
        assert rc == 1 and out["error"]["code"] == "PREDICT_GEOBLOCK_UNAVAILABLE", (args, out)
    # Reading is not gated.
    rc, out, _ = mm_cli("predict", "markets", "list")
    assert rc == 0 and out["data"]["markets"]
    # An error answer (no `blocked` boolean) is no answer either.
    home.write_json("config.json", {**config,
                                    "predict.testnet.geoblockUrl": amoy_service.url + "/gamma"})
    rc, out, _ = mm_cli("predict", "geoblock")
    assert rc == 1 and out["error"]["code"] == "PREDICT_GEOBLOCK_UNAVAILABLE"
    # The environment overrides the config (MM_PREDICT_<MODE>_GEOBLOCK_URL).
    rc, out, _ = mm_cli("predict", "geoblock",
                        env={"MM_PREDICT_TESTNET_GEOBLOCK_URL": amoy_service.url})
    assert rc == 0 and out["data"]["blocked"] is False


def test_service_geoblock_settings(chain: Any, markets: dict[str, Any],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mm_agent.markets.service import MarketService, main, parse_location

    assert parse_location("us-ny") == ("US", "NY") and parse_location("SG") == ("SG", "")
    with pytest.raises(ValueError):
        parse_location("USA")
    service = MarketService(chain.url, markets, seed=False, geoblock="CA-ON")
    try:
        assert service.geoblock_json("10.0.0.1") == {"blocked": True, "ip": "10.0.0.1",
                                                     "country": "CA", "region": "ON"}
        service.geoblock = None
        assert service.geoblock_json("10.0.0.1")["blocked"] is False
    finally:
        service.close()
    # `python -m mm_agent.markets.service --geoblock`: a bad location is a usage error (exit 2),
    # checked before the devnet file is read; the default comes from the environment.
    monkeypatch.setenv("MM_PREDICT_SERVICE_GEOBLOCK", "nowhere")
    with pytest.raises(SystemExit) as exited:
        main(["--devnet-file", "/nonexistent"])
    assert exited.value.code == 2


@pytest.mark.parametrize("args", [
    ("predict", "geoblock", "extra"),
    ("devnet", "predict", "serve", "--geoblock", "USA-"),
    ("config", "set", "predict.testnet.geoblockUrl", "not a url"),
])
def test_bad_input_exits_2(predict_home: Home, mm_cli: Any, args: tuple[str, ...]) -> None:
    rc, out, _ = mm_cli(*args)
    assert rc == 2, out
    assert out["ok"] is False and out["error"]["code"]


def test_a_geoblock_url_with_credentials_is_never_echoed() -> None:
    from mm_agent.errors import PredictGeoblockUnavailable
    from mm_agent.markets.predict_geoblock import fetch_geoblock

    with pytest.raises(PredictGeoblockUnavailable) as caught:
        fetch_geoblock("http://user:s3cret-token@127.0.0.1:1", timeout=2)
    shown = f"{caught.value.message} {caught.value.details}"
    assert "s3cret-token" not in shown and "127.0.0.1:1" in shown
