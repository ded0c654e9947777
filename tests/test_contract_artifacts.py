"""Compiled artifacts must match their sources (recompile: scripts/compile_contracts.sh)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parent.parent / "mm_agent" / "contracts"
SOURCES = sorted(CONTRACTS.glob("*.sol"))


def test_sources_exist() -> None:
    names = {p.stem for p in SOURCES}
    assert {"DemoERC20", "DemoERC721", "DemoERC1155", "Puller", "Reverter"} <= names


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_artifact_matches_source(source: Path) -> None:
    artifact_path = source.with_suffix(".json")
    assert artifact_path.exists(), f"{artifact_path.name} missing: run scripts/compile_contracts.sh"
    artifact = json.loads(artifact_path.read_text())
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    # A source edited without recompiling leaves a stale artifact behind: fail loudly.
    assert artifact["sourceHash"] == digest, (
        f"{source.name} changed since it was compiled: run scripts/compile_contracts.sh"
    )
    assert artifact["contractName"] == source.stem
    assert artifact["compiler"] == "solc 0.8.28"
    assert isinstance(artifact["abi"], list) and artifact["abi"]
    for key in ("bytecode", "deployedBytecode"):
        code = artifact[key]
        assert code.startswith("0x") and len(code) > 2
        bytes.fromhex(code[2:])


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_source_header(source: Path) -> None:
    text = source.read_text()
    assert text.startswith("// SPDX-License-Identifier: MIT\n")
    assert "pragma solidity ^0.8.24;" in text
    assert "import " not in text  # self-contained


def test_no_orphan_artifacts() -> None:
    stems = {p.stem for p in SOURCES}
    assert {p.stem for p in CONTRACTS.glob("*.json")} <= stems
