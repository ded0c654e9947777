"""The examples run offline against the devnet: the tool-calling loop with its scripted model
(never a real one here), and the MCP client session with the real `mm mcp`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT1, Anvil

from mm_agent import Wallet
from mm_agent.local.state import Home
from toolkits.test_mcp import guarded  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_function_calling_loop_with_the_scripted_model(wallet: Wallet, chain: Anvil,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    example = _load("function_calling_loop")
    before = chain.balance(ACCOUNT1)
    messages = example.run(wallet, example.ScriptedModel(ACCOUNT1), "pay 0.01 ETH")
    results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
    assert [r["ok"] for r in results] == [True, True]
    assert results[1]["data"]["status"] == "COMPLETED"
    assert messages[-1]["content"] == "Sent 0.01 ETH: COMPLETED."
    assert chain.balance(ACCOUNT1) - before == 10**16


def _run_client(home: Home) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY",)}
    env["MM_HOME"] = str(home.root)
    proc = subprocess.run([PYTHON, str(ROOT / "examples" / "mcp_client.py"), ACCOUNT1],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_mcp_client_example_byok(byok_home: Home, chain: Anvil) -> None:
    steps = {s["step"]: s for s in _run_client(byok_home)}
    assert any(t["name"] == "transfer" and t["destructive"] for t in steps["tools"]["tools"])
    assert steps["balance"]["envelope"]["ok"]
    assert steps["transfer"]["envelope"]["data"]["status"] == "COMPLETED"


def test_mcp_client_example_server_wallet_pending(guarded: Home) -> None:  # noqa: F811
    steps = _run_client(guarded)
    by_step = {s["step"]: s for s in steps}
    assert "approval" in by_step["elicitation"]["message"]  # asked; the example declines
    transfer = by_step["transfer"]["envelope"]
    assert transfer["data"]["status"] == "AWAITING_MFA"
    assert transfer["data"]["approval"]["channel"] == "email"
    assert transfer["next"]["tool"] == "wallet_requests_watch"
