"""Vendored artifacts (npm bytecode, scripts/fetch_market_artifacts.sh) are intact."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "mm_agent" / "contracts" / "vendor"
EXPECTED = {
    "ConditionalTokens": "@gnosis.pm/conditional-tokens-contracts",
    "UniswapV2Factory": "@uniswap/v2-core",
    "UniswapV2Pair": "@uniswap/v2-core",
    "UniswapV2Router02": "@uniswap/v2-periphery",
    "WETH9": "@uniswap/v2-periphery",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vendor_artifact(name: str) -> None:
    artifact = json.loads((VENDOR / f"{name}.json").read_text())
    assert artifact["contractName"] == name
    assert artifact["package"] == EXPECTED[name] and artifact["version"]
    assert isinstance(artifact["abi"], list) and artifact["abi"]
    code = bytes.fromhex(artifact["bytecode"][2:])
    assert hashlib.sha256(code).hexdigest() == artifact["bytecodeSha256"]


def test_no_unexpected_vendor_files() -> None:
    assert {p.stem for p in VENDOR.glob("*.json")} == set(EXPECTED)
