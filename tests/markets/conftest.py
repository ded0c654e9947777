"""A markets deployment (CTF, exchange, Uniswap V2 pools, two YES/NO markets) on the session
anvil, inside the per-test snapshot."""

from __future__ import annotations

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
