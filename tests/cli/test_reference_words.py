"""The reference CLI's words (issue 11): flags and codes its users type, our safer secret rules.

In-process through ``run_argv`` (what the REPL uses) and through the real ``mm`` executable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import run_mm
from mm_agent.cli.app import run_argv

from mm_agent.local.state import Home

Capsys = pytest.CaptureFixture[str]
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def call(capsys: Capsys, *argv: str) -> tuple[int, Any, str]:
    rc = run_argv([*argv, "--json"])
    out, err = capsys.readouterr()
    return rc, json.loads(out), err


def ok(capsys: Capsys, *argv: str) -> Any:
    rc, out, err = call(capsys, *argv)
    assert rc == 0 and out["ok"], (out, err)
    return out["data"]


def fail(capsys: Capsys, *argv: str) -> tuple[int, dict[str, Any]]:
    rc, out, _ = call(capsys, *argv)
    assert rc != 0 and out["ok"] is False, out
    return rc, out["error"]


# --- wallet requests watch --polling-id / list (--all) -------------------------------------
def test_requests_watch_flag_and_positional(byok_home: Home, capsys: Capsys) -> None:
    signed = ok(capsys, "wallet", "sign-message", "--message", "hi", "--chain-id", "31337")
    pid = signed["pollingId"]
    assert ok(capsys, "wallet", "requests", "watch", "--polling-id", pid)["status"] == "COMPLETED"
    assert ok(capsys, "wallet", "requests", "watch", pid)["pollingId"] == pid
    assert ok(capsys, "wallet", "requests", "watch", pid, "--polling-id", pid)["pollingId"] == pid
    rc, err = fail(capsys, "wallet", "requests", "watch", pid, "--polling-id", "other")
    assert rc == 2 and err["code"] == "USAGE_ERROR"
    rc, err = fail(capsys, "wallet", "requests", "watch")
    assert rc == 2 and err["code"] == "MISSING_FLAG" and "--polling-id" in err["message"]


def test_requests_list_pending_by_default_all_for_history(byok_home: Home,
                                                          capsys: Capsys) -> None:
    signed = ok(capsys, "wallet", "sign-message", "--message", "hi", "--chain-id", "31337")
    assert ok(capsys, "wallet", "requests", "list")["requests"] == []  # BYOK: all final
    history = ok(capsys, "wallet", "requests", "list", "--all")["requests"]
    assert [r["pollingId"] for r in history] == [signed["pollingId"]]


# --- wallet select --address / --name / positional ------------------------------------------
def test_wallet_select_by_address_name_and_positional(byok_home: Home, capsys: Capsys) -> None:
    second = ok(capsys, "wallet", "create", "--name", "Trading")["address"]
    assert ok(capsys, "wallet", "select", "--address", ACCOUNT0)["address"] == ACCOUNT0
    assert ok(capsys, "wallet", "address")["address"] == ACCOUNT0
    assert ok(capsys, "wallet", "select", "--name", "Trading")["address"] == second
    assert ok(capsys, "wallet", "address")["address"] == second
    assert ok(capsys, "wallet", "select", ACCOUNT0)["address"] == ACCOUNT0
    rc, err = fail(capsys, "wallet", "select")
    assert rc == 2 and err["code"] == "MISSING_FLAG"
    assert "--address" in err["message"] and "--name" in err["message"]
    assert fail(capsys, "wallet", "select", "--name", "nobody")[1]["code"] == "WALLET_NOT_FOUND"
    rc, err = fail(capsys, "wallet", "select", "--address", ACCOUNT0, "--name", "Trading")
    assert rc == 2


# --- wallet balance --chain / --address -------------------------------------------------------
def test_wallet_balance_chain_and_address(byok_home: Home, capsys: Capsys) -> None:
    mine = ok(capsys, "wallet", "balance", "--chain", "31337")
    assert mine["address"] == ACCOUNT0 and [c["chainId"] for c in mine["chains"]] == [31337]
    theirs = ok(capsys, "wallet", "balance", "--chain", "31337", "--address", BOB)
    assert theirs["address"] == BOB
    assert ok(capsys, "wallet", "balance", "--chain-ids", "31337")["address"] == ACCOUNT0
    assert fail(capsys, "wallet", "balance", "--address", "0x12")[1]["code"] == \
        "INVALID_EVM_ADDRESS"


# --- transfer --token is required; unknown tokens point at `mm token list` --------------------
def test_transfer_requires_token_subprocess(byok_home: Home) -> None:
    rc, out, _ = run_mm("transfer", "--to", BOB, "--amount", "0.1", "--chain-id", "31337",
                        "--json")
    assert rc == 2 and out["error"]["code"] == "MISSING_FLAG"
    assert "--token" in out["error"]["message"]


def test_unknown_token_hints_token_list(byok_home: Home, capsys: Capsys) -> None:
    _, err = fail(capsys, "transfer", "--to", BOB, "--amount", "1", "--chain-id", "31337",
                   "--token", "NOPE", "--dry-run")
    assert err["code"] == "UNKNOWN_TOKEN" and "`mm token list --chain" in err["hint"]
    listed = ok(capsys, "token", "list", "--chain", "31337")["tokens"]
    symbols = {t["symbol"] for t in listed}
    assert {"ETH", "mUSD", "mDAI"} <= symbols  # the devnet's demo tokens too
    musd = next(t for t in listed if t["symbol"] == "mUSD")
    assert musd["decimals"] == 6 and musd["address"].startswith("0x") and musd["chainId"] == 31337
    found = ok(capsys, "token", "list", "search", "--query", "usd", "--chain", "1")["tokens"]
    assert {t["symbol"] for t in found} >= {"USDC", "USDT"}
    assert all(t["chainId"] == 1 for t in found)
    assert fail(capsys, "token", "list", "--chain", "999")[1]["code"] == "UNSUPPORTED_CHAIN"


# --- passwords: env vars in --help, inline flags refused, minimum length ----------------------
@pytest.mark.parametrize(("action", "env"), [("set", "MM_NEW_PASSWORD"),
                                              ("change", "MM_NEW_PASSWORD"),
                                              ("remove", "MM_PASSWORD")])
def test_password_help_names_env_vars(mm_home: Home, action: str, env: str) -> None:
    rc, out, err = run_mm("wallet", "password", action, "--help")
    assert rc == 0, err
    assert env in " ".join(out.split()), out


SECRET = "Hunter2-Hunter2-Secret"


@pytest.mark.parametrize("argv", [
    ("wallet", "password", "set", "--new", SECRET),
    ("wallet", "password", "change", "--current", SECRET, "--new", SECRET),
    ("wallet", "password", "remove", "--current", SECRET),
    ("wallet", "password", "set", f"--password={SECRET}"),
    ("transfer", "--to", BOB, "--amount", "1", "--chain-id", "31337", "--token", "ETH",
     "--password", SECRET),
    ("wallet", "sign-message", "--message", "x", "--chain-id", "31337", "--password", SECRET),
    ("init", "--wallet", "byok", "--password", SECRET),
])
def test_inline_password_flags_refused(byok_home: Home, argv: tuple[str, ...]) -> None:
    before = byok_home.path("wallets.json").read_bytes()
    rc, out, err = run_mm(*argv, "--json")
    assert rc == 2, out
    assert out["error"]["code"] == "INLINE_SECRET_REFUSED"
    assert SECRET not in json.dumps(out) + err
    assert byok_home.path("wallets.json").read_bytes() == before


def test_new_password_minimum_length(byok_home: Home) -> None:
    before = byok_home.path("wallets.json").read_bytes()
    rc, out, _ = run_mm("wallet", "password", "set", "--json",
                        env={"MM_NEW_PASSWORD": "Zq9#", "MM_NEW_PASSWORD_CONFIRM": "Zq9#"})
    assert rc == 2 and out["error"]["code"] == "PASSWORD_TOO_SHORT", out
    assert "Zq9#" not in json.dumps(out)
    assert byok_home.path("wallets.json").read_bytes() == before
    rc, out, _ = run_mm("wallet", "password", "set", "--json",
                        env={"MM_NEW_PASSWORD": "long-enough", "MM_NEW_PASSWORD_CONFIRM":
                             "long-enough"})
    assert rc == 0 and out["data"]["encrypted"] is True, out


def test_init_refuses_a_short_password(mm_home: Home) -> None:
    from conftest import TEST_MNEMONIC

    rc, out, _ = run_mm("init", "--wallet", "byok", "--json",
                        env={"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": "1234"})
    assert rc == 2 and out["error"]["code"] == "PASSWORD_TOO_SHORT", out
    assert not mm_home.path("wallets.json").exists()


# --- config unset, file paths checked at `config set` -----------------------------------------
def test_config_unset(mm_home: Home, capsys: Capsys) -> None:
    ok(capsys, "config", "set", "walletTimeoutSeconds", "30")
    assert ok(capsys, "config", "get", "walletTimeoutSeconds")["value"] == 30
    out = ok(capsys, "config", "unset", "walletTimeoutSeconds")
    assert out == {"key": "walletTimeoutSeconds", "removed": True, "value": 120,
                   "source": "default"}
    assert "walletTimeoutSeconds" not in mm_home.read_json("config.json")
    assert ok(capsys, "config", "unset", "walletTimeoutSeconds")["removed"] is False
    rc, err = fail(capsys, "config", "unset", "nope")
    assert rc == 2 and err["code"] == "INVALID_CONFIG_KEY"
    ok(capsys, "config", "set", "rpc.1", "https://rpc.example.org/v1/KEY")
    assert ok(capsys, "config", "unset", "rpc.1")["removed"] is True


def test_config_set_refuses_non_regular_files(mm_home: Home, tmp_path: Path,
                                              capsys: Capsys) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    good = tmp_path / "deny.json"
    good.write_text("[]")
    ok(capsys, "config", "set", "security.denylist", str(good))
    before = mm_home.path("config.json").read_bytes()
    for bad in (str(fifo), "/dev/zero", str(tmp_path), str(tmp_path / "missing.json")):
        rc, err = fail(capsys, "config", "set", "security.denylist", bad)
        assert rc == 2 and err["code"] == "INVALID_CONFIG_VALUE", (bad, err)
    assert mm_home.path("config.json").read_bytes() == before
    rc, out, _ = run_mm("config", "set", "security.denylist", str(fifo), "--json")
    assert rc == 2 and out["error"]["code"] == "INVALID_CONFIG_VALUE"
