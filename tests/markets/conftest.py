"""A markets deployment (CTF, exchange, Uniswap V2 pools, two YES/NO markets) on the session
anvil, inside the per-test snapshot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from mm_agent.markets.chain import Chain
from mm_agent.markets.devnet_deploy import deploy_markets

# anvil's well-known dev key for account 1 (the taker in these tests).
KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


@pytest.fixture
def markets(chain: Any) -> dict[str, Any]:
    return deploy_markets(chain.url, tokens=chain.deployed["tokens"])


@pytest.fixture
def rpc(chain: Any) -> Iterator[Chain]:
    with Chain(chain.url) as c:
        yield c


@contextlib.contextmanager
def serving(rpc_url: str, record: dict[str, Any]) -> Iterator[Any]:
    """The market service over ``record`` (market maker seeded), served on a free port
    (``service.url``); shut down and closed on exit."""
    import threading

    from mm_agent.markets.service import MarketService, make_server

    service = MarketService(rpc_url, record)
    server = make_server(service)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        service.close()


@pytest.fixture
def market_service(chain: Any, markets: dict[str, Any]) -> Iterator[Any]:
    """The devnet market service over ``markets`` (market maker seeded), on a free port."""
    with serving(chain.url, markets) as service:
        yield service


@pytest.fixture
def predict_home(byok_home: Any, markets: dict[str, Any], market_service: Any) -> Any:
    """A BYOK MM_HOME whose devnet record carries the markets and the running service."""
    record = byok_home.read_json("devnet.json")
    record["markets"] = {**markets, "service": {"url": market_service.url,
                                                "gammaUrl": market_service.url + "/gamma"}}
    byok_home.write_json("devnet.json", record)
    return byok_home
