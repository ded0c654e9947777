"""Issue 11 (data safety): a damaged or existing wallets.json is reported, never replaced;
`mm init --force` moves it aside (0600); hints never suggest deleting key files; `mm reset`
stops the devnet it would orphan and warns about an unencrypted mnemonic."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT0, TEST_MNEMONIC
from helpers import free_port, run_mm

from mm_agent import devnet
from mm_agent.local.state import Home

OTHER = "abandon " * 11 + "about"
DAMAGED = ["[]", "null", '{"accounts": []}', '{"mode": "byok"}', '{"mode": "bogus"}',
           '{"mode": "byok", "byok": {"vault": {}}, "accounts": "x"}', "{not json"]


def _err(out: Any) -> dict[str, Any]:
    assert isinstance(out, dict) and out["ok"] is False, out
    return dict(out["error"])


def _no_delete_advice(error: dict[str, Any]) -> None:
    text = (error["message"] + " " + error.get("hint", "")).lower()
    for word in ("delete", "remove", "rm ", "mm reset"):
        assert word not in text, error


@pytest.mark.parametrize("content", DAMAGED)
def test_damaged_wallets_file_is_reported_and_kept(mm_home: Home, content: str) -> None:
    mm_home.ensure()
    path = mm_home.path("wallets.json")
    path.write_text(content)
    path.chmod(0o600)
    for argv in (("wallet", "address"), ("init", "--wallet", "byok")):
        rc, out, _ = run_mm(*argv, "--json", env={"MM_MNEMONIC": OTHER, "MM_PASSWORD": ""})
        error = _err(out)
        assert rc == 1 and error["code"] == "STATE_CORRUPT", out
        assert "wallets.json" in error["message"] and "--force" in error["hint"]
        _no_delete_advice(error)
    assert path.read_text() == content  # never replaced


def test_init_refuses_existing_vault_then_force_moves_it_aside(mm_home: Home) -> None:
    env = {"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": ""}
    assert run_mm("init", "--wallet", "byok", "--json", env=env)[0] == 0
    original = mm_home.path("wallets.json").read_bytes()

    rc, out, _ = run_mm("init", "--wallet", "byok", "--json",
                        env={"MM_MNEMONIC": OTHER, "MM_PASSWORD": ""})
    error = _err(out)
    assert error["code"] == "WALLET_EXISTS" and "--force" in error["hint"]
    _no_delete_advice(error)
    assert mm_home.path("wallets.json").read_bytes() == original

    rc, out, err = run_mm("init", "--wallet", "byok", "--force", "--json",
                          env={"MM_MNEMONIC": OTHER, "MM_PASSWORD": ""})
    assert rc == 0, (out, err)
    backup = Path(out["data"]["previousWalletFile"])
    assert backup.parent == mm_home.root and backup.name.startswith("wallets.json.bak-")
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert out["data"]["address"] != ACCOUNT0
    # A second --force keeps both old files.
    rc, out, _ = run_mm("init", "--wallet", "byok", "--force", "--json", env=env)
    assert rc == 0 and out["data"]["address"] == ACCOUNT0
    assert len(list(mm_home.root.glob("wallets.json.bak-*"))) == 2


def test_force_moves_a_damaged_file_aside(mm_home: Home) -> None:
    mm_home.ensure()
    mm_home.path("wallets.json").write_text("[]")
    mm_home.path("wallets.json").chmod(0o600)
    rc, out, _ = run_mm("init", "--wallet", "byok", "--force", "--json",
                        env={"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": ""})
    assert rc == 0, out
    assert Path(out["data"]["previousWalletFile"]).read_text() == "[]"


def test_bad_mnemonic_with_force_moves_nothing(mm_home: Home) -> None:
    env = {"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": ""}
    assert run_mm("init", "--wallet", "byok", "--json", env=env)[0] == 0
    _rc, out, _ = run_mm("init", "--wallet", "byok", "--force", "--json",
                        env={"MM_MNEMONIC": "not a mnemonic", "MM_PASSWORD": ""})
    assert _err(out)["code"] == "INVALID_MNEMONIC"
    assert not list(mm_home.root.glob("wallets.json.bak-*"))
    assert json.loads(mm_home.path("wallets.json").read_text())["active"] == ACCOUNT0


def test_reset_warns_about_unencrypted_mnemonic_and_stops_devnet(mm_home: Home) -> None:
    assert run_mm("init", "--wallet", "byok", "--json",
                  env={"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": ""})[0] == 0
    info = devnet.start(free_port(), detach=True, home=mm_home)
    try:
        rc, out, _ = run_mm("reset", "--json")
        error = _err(out)
        assert error["code"] == "CONFIRMATION_REQUIRED"
        warnings = " ".join(error["details"]["warnings"])
        assert "UNENCRYPTED" in warnings and "devnet" in warnings

        rc, out, err = run_mm("reset", "--yes", "--json")
        assert rc == 0, (out, err)
        assert out["data"]["devnetStopped"]["pid"] == info["pid"]
        assert any("UNENCRYPTED" in w for w in out["data"]["warnings"])
        assert not devnet.process._is_our_anvil(int(info["pid"]), int(info["port"]))
        assert not mm_home.path("devnet.json").exists()
    finally:
        if devnet.process._is_our_anvil(int(info["pid"]), int(info["port"])):
            devnet.process._terminate(int(info["pid"]))
