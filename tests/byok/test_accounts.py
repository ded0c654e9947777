"""BYOK accounts: create (next HD index), list, select, show, address, add-fund."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1, TEST_MNEMONIC
from eth_account import Account
from eth_account.messages import encode_defunct
from helpers import CliRunner, run_mm

from mm_agent import MMError, Wallet
from mm_agent.local.state import Home
from mm_agent.wallets.byok import vault

ACCOUNT2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # index 2 of the test mnemonic




def _code(out: Any) -> str:
    assert isinstance(out, dict) and out.get("ok") is False, out
    return str(out["error"]["code"])


def test_create_list_select_show_address(byok_home: Home, mm_cli: CliRunner) -> None:
    rc, out, err = run_mm("wallet", "create", "--json")
    assert rc == 0, (out, err)
    assert out["data"] == {"address": ACCOUNT1, "name": "Account 2", "index": 1}

    rc, out, _ = mm_cli("wallet", "list")
    assert rc == 0, out
    assert out["data"]["accounts"] == [
        {"address": ACCOUNT0, "name": "Account 1", "index": 0, "active": True},
        {"address": ACCOUNT1, "name": "Account 2", "index": 1, "active": False},
    ]
    # Creating does not switch the active account.
    rc, out, _ = mm_cli("wallet", "address")
    assert out["data"] == {"address": ACCOUNT0}

    # Select by an all-lowercase address; the stored form is checksummed.
    rc, out, _ = mm_cli("wallet", "select", ACCOUNT1.lower())
    assert rc == 0, out
    assert out["data"]["address"] == ACCOUNT1
    rc, out, _ = mm_cli("wallet", "address")
    assert rc == 0, out
    assert out["data"] == {"address": ACCOUNT1}
    rc, out, _ = mm_cli("init", "show")
    assert out["data"]["address"] == ACCOUNT1

    rc, out, _ = mm_cli("wallet", "show")
    assert out["data"]["address"] == ACCOUNT1 and out["data"]["active"] is True
    assert out["data"]["mode"] == "byok"
    rc, out, _ = mm_cli("wallet", "show", "--name", "Account 1")
    assert rc == 0, out
    assert out["data"]["address"] == ACCOUNT0
    assert out["data"]["active"] is False
    assert out["data"]["index"] == 0
    rc, out, _ = mm_cli("wallet", "show", "--address", ACCOUNT1)
    assert out["data"]["name"] == "Account 2" and out["data"]["active"] is True

    rc, out, _ = mm_cli("wallet", "list")
    assert [a["active"] for a in out["data"]["accounts"]] == [False, True]
    # No secret material in any of these listings.
    assert "test test" not in json.dumps(out)


def test_account_errors(byok_home: Home, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("wallet", "select", ACCOUNT1)  # valid address, not in this wallet
    assert rc != 0
    assert _code(out) == "WALLET_NOT_FOUND"
    bad = ACCOUNT1.replace("C", "c", 1)
    rc, out, _ = mm_cli("wallet", "select", bad)
    assert rc == 2
    assert _code(out) == "INVALID_EVM_ADDRESS"
    rc, out, _ = mm_cli("wallet", "show", "--name", "Nobody")
    assert _code(out) == "WALLET_NOT_FOUND"
    rc, out, _ = mm_cli("wallet", "create", "--name", "Account 1")
    assert rc == 2
    assert _code(out) == "INVALID_ARGUMENT"
    data = json.loads((byok_home.root / "wallets.json").read_text())
    assert [a["address"] for a in data["accounts"]] == [ACCOUNT0]
    assert data["active"] == ACCOUNT0


def test_named_accounts_and_signing_from_the_selected_one(byok_home: Home, chain: Any) -> None:
    w = Wallet.from_env(home=byok_home)
    first = w.create_account()
    named = w.create_account("Trading")
    assert first == {"address": ACCOUNT1, "name": "Account 2", "index": 1}
    assert named == {"address": ACCOUNT2, "name": "Trading", "index": 2}
    assert w.show(name="Trading")["address"] == ACCOUNT2

    w.select(ACCOUNT2)
    assert w.address == ACCOUNT2
    req = w.sign_message(message="from account 2", chain_id=31337)
    recovered = Account.recover_message(encode_defunct(text="from account 2"),
                                        signature=req.signature)
    assert recovered == ACCOUNT2
    assert req.address == ACCOUNT2

    # A transfer goes out from the selected account.
    bob = "0x00000000000000000000000000000000000B0b01"
    before = chain.balance(ACCOUNT2)
    nonce0 = chain.rpc("eth_getTransactionCount", [ACCOUNT0, "latest"])
    tx = w.transfer(to=bob, amount="1", chain_id=31337)
    assert tx.status == "COMPLETED", tx.error
    receipt = chain.rpc("eth_getTransactionReceipt", [tx.tx_hash])
    assert receipt["from"].lower() == ACCOUNT2.lower()
    gas = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert before - chain.balance(ACCOUNT2) == 10**18 + gas
    assert chain.rpc("eth_getTransactionCount", [ACCOUNT0, "latest"]) == nonce0

    # A fresh Wallet sees the same state.
    again = Wallet.from_env(home=byok_home)
    assert again.address == ACCOUNT2
    assert [a["address"] for a in again.accounts()] == [ACCOUNT0, ACCOUNT1, ACCOUNT2]


def test_create_on_encrypted_wallet_needs_password(devnet_home: Home, mm_cli: CliRunner) -> None:
    blob = vault.encrypt(TEST_MNEMONIC, "pw-for-create", params={"n": 2**14, "r": 8, "p": 1})
    devnet_home.write_json("wallets.json", {
        "mode": "byok", "active": ACCOUNT0,
        "accounts": [{"address": ACCOUNT0, "name": "Account 1", "index": 0}],
        "byok": {"vault": blob, "nextIndex": 1},
    })
    rc, out, _ = mm_cli("wallet", "address")
    assert rc == 0 and out["data"]["address"] == ACCOUNT0
    rc, out, _ = mm_cli("wallet", "list")
    assert rc == 0 and len(out["data"]["accounts"]) == 1
    rc, out, _ = mm_cli("wallet", "create")
    assert _code(out) == "PASSWORD_REQUIRED"
    with pytest.raises(MMError) as exc:
        Wallet.from_env(home=devnet_home, password=lambda: "nope").create_account()
    assert exc.value.code == "WRONG_PASSWORD"


def test_add_fund_json_is_address_only(byok_home: Home, mm_cli: CliRunner) -> None:
    rc, out, err = mm_cli("wallet", "add-fund")
    assert rc == 0, (out, err)
    assert out == {"ok": True, "data": {"address": ACCOUNT0}}
    assert err == ""


def test_not_initialized(mm_home: Home, mm_cli: CliRunner) -> None:
    for args in (("wallet", "address"), ("wallet", "list"), ("wallet", "add-fund")):
        rc, out, _ = mm_cli(*args)
        assert rc != 0
        assert _code(out) == "NOT_INITIALIZED", args


def test_wallet_address_does_not_import_eth_account(byok_home: Home) -> None:
    driver = (
        "import json, sys\n"
        "from mm_agent.cli.app import run_argv\n"
        "rc = run_argv(['wallet', 'address', '--json'])\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('eth_account', 'eth_keys', 'eth_abi', 'web3'))\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"ok": True, "data": {"address": ACCOUNT0}}
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "heavy": []}
