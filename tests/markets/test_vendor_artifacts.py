"""Vendored artifacts (npm bytecode, scripts/fetch_market_artifacts.sh) are intact: each is the
pinned package version, its bytecode hashes to the pinned sha256, and none carries an unlinked
library placeholder. The Uniswap V3 set is test-only (tests/markets/test_swap_v3.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "mm_agent" / "contracts" / "vendor"
UNISWAP_V3 = ROOT / "tests" / "markets" / "contracts" / "uniswap_v3"
# name -> (directory, package, version, sha256 of the creation bytecode)
EXPECTED = {
    "ConditionalTokens": (VENDOR, "@gnosis.pm/conditional-tokens-contracts", "1.0.3",
                          "a3d890ef3fcd04dc43402c26baf625338d94f01cb11a35d88e0b4ce6ef949070"),
    "UniswapV2Factory": (VENDOR, "@uniswap/v2-core", "1.0.1",
                         "3708cb3b10f129c91c22ae6b6c129e60d2e6484055799e7d9986d7c83284ceff"),
    "UniswapV2Pair": (VENDOR, "@uniswap/v2-core", "1.0.1",
                      "c884817b0b634ee7a9c3daf1017f64b00f5574df06ee1ff27ca6f8fe7726e1d5"),
    "UniswapV2Router02": (VENDOR, "@uniswap/v2-periphery", "1.1.0-beta.0",
                          "b6437c1c7f6e761aaee6d4c19e8c993f7c91a5c5580ce3bd0d255ca059107f65"),
    "WETH9": (VENDOR, "@uniswap/v2-periphery", "1.1.0-beta.0",
              "64521151e2b9603fb7273cd157a1540b82501f7514e1b9c1348663cac3512b14"),
    "UniswapV3Factory": (UNISWAP_V3, "@uniswap/v3-core", "1.0.1",
                         "62013628a11b8fa975d023551100c633363a6380a820476e86f6ceb1aeb08b1e"),
    "QuoterV2": (UNISWAP_V3, "@uniswap/v3-periphery", "1.4.4",
                 "fb92a70bd2439642d17c69cf7bc0a532f0d19aa2fc9773da7c3764c8bf4e6e16"),
    "NonfungiblePositionManager": (
        UNISWAP_V3, "@uniswap/v3-periphery", "1.4.4",
        "f803985e92b60a4a49c6cf0628a10ef8105bc812ff98cf13aa5af4a133a72052"),
    "SwapRouter02": (UNISWAP_V3, "@uniswap/swap-router-contracts", "1.3.1",
                     "31a31fd0fd58214139a9dbf53b9c5b55013472843d5adbfa37c4820a2d865f4c"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vendor_artifact(name: str) -> None:
    directory, package, version, sha256 = EXPECTED[name]
    artifact = json.loads((directory / f"{name}.json").read_text())
    assert artifact["contractName"] == name
    assert (artifact["package"], artifact["version"]) == (package, version)
    assert artifact["file"] and isinstance(artifact["abi"], list) and artifact["abi"]
    assert "__" not in artifact["bytecode"]  # no unlinked library placeholder
    code = bytes.fromhex(artifact["bytecode"][2:])
    assert hashlib.sha256(code).hexdigest() == artifact["bytecodeSha256"] == sha256


def test_no_unexpected_vendor_files() -> None:
    for directory in (VENDOR, UNISWAP_V3):
        assert {p.stem for p in directory.glob("*.json")} == {
            n for n, spec in EXPECTED.items() if spec[0] == directory}
