"""`mm init --wallet byok` and `mm wallet password …` through the real CLI, with secrets only in
the environment (MM_MNEMONIC, MM_PASSWORD, MM_NEW_PASSWORD[_CONFIRM])."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT0, TEST_MNEMONIC
from helpers import CliRunner, run_mm

from mm_agent import Wallet
from mm_agent.local.state import Home
from mm_agent.wallets.byok import vault

PW1 = "first-Pass-phrase-1"
PW2 = "second-Pass-phrase-2"
WORDS = sorted(set(TEST_MNEMONIC.split()))
WEAK = {"n": 2**14, "r": 8, "p": 1}
MESSY = "  TEST test\ttest  Test test test\n test test test test TEST   JUNK  "



@pytest.fixture(autouse=True)
def _no_inherited_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MM_MNEMONIC", "MM_PASSWORD", "MM_NEW_PASSWORD", "MM_NEW_PASSWORD_CONFIRM"):
        monkeypatch.delenv(var, raising=False)



def _wallets(home: Home) -> dict[str, Any]:
    return json.loads((home.root / "wallets.json").read_text())


def _code(out: Any) -> str:
    assert isinstance(out, dict) and out.get("ok") is False, out
    return str(out["error"]["code"])


# --- init ------------------------------------------------------------------------------------
def test_init_plain_show_and_second_init(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, err = run_mm("init", "--wallet", "byok", "--json",
                          env={"MM_MNEMONIC": TEST_MNEMONIC}, input="")
    assert rc == 0, (out, err)
    assert out["ok"] is True
    assert out["data"]["address"] == ACCOUNT0
    assert out["data"]["walletMode"] == "byok"
    assert out["data"]["encrypted"] is False
    # Headless without MM_PASSWORD: stored in plain, with a warning on stderr (the CLI's
    # console) and in the result (the library never prints).
    assert "warning" in err.lower() and "unencrypted" in err.lower()
    assert any("unencrypted" in w for w in out["data"]["warnings"])
    data = _wallets(mm_home)
    assert data["mode"] == "byok"
    assert data["active"] == ACCOUNT0
    assert data["accounts"] == [{"address": ACCOUNT0, "name": "Account 1", "index": 0}]
    assert vault.is_encrypted(data["byok"]["vault"]) is False
    assert data["byok"]["vault"]["plaintext"] == TEST_MNEMONIC
    assert stat.S_IMODE(mm_home.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((mm_home.root / "wallets.json").stat().st_mode) == 0o600

    rc, out, err = mm_cli("init", "show")
    assert rc == 0, (out, err)
    assert out["data"]["walletMode"] == "byok"
    assert out["data"]["address"] == ACCOUNT0
    assert out["data"]["serviceUrl"] is None

    before = (mm_home.root / "wallets.json").read_bytes()
    rc, out, _ = mm_cli("init", "--wallet", "byok",
                        env={"MM_MNEMONIC": "abandon " * 11 + "about"})
    assert rc != 0
    assert _code(out) == "WALLET_EXISTS"  # issue 11: an existing vault is never overwritten
    assert (mm_home.root / "wallets.json").read_bytes() == before


def test_init_messy_mnemonic_normalised(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("init", "--wallet", "byok", env={"MM_MNEMONIC": MESSY})
    assert rc == 0, out
    assert out["data"]["address"] == ACCOUNT0
    # Stored in the canonical form, so later derivations agree.
    assert _wallets(mm_home)["byok"]["vault"]["plaintext"] == TEST_MNEMONIC


@pytest.mark.parametrize("phrase", [
    " ".join(["test"] * 12),  # all words valid, checksum wrong
    TEST_MNEMONIC.replace("junk", "junkk"),  # a word not in the list
    " ".join(TEST_MNEMONIC.split()[:11]),  # 11 words
    "0x" + "ab" * 32,  # a private key is not a mnemonic
])
def test_init_invalid_mnemonic_stores_nothing(mm_home: Home, mm_cli: CliRunner,
                                              phrase: str) -> None:
    rc, out, err = mm_cli("init", "--wallet", "byok", env={"MM_MNEMONIC": phrase})
    assert rc == 2
    assert _code(out) == "INVALID_MNEMONIC"
    assert not (mm_home.root / "wallets.json").exists()
    for word in ("junkk", "ab" * 32):
        assert word not in json.dumps(out) + err


@pytest.mark.parametrize("flag", ["--mnemonic", "--password"])
def test_init_inline_secret_refused(mm_home: Home, flag: str) -> None:
    secret = TEST_MNEMONIC if flag == "--mnemonic" else "inline-Secret-9876"
    rc, out, err = run_mm("init", "--wallet", "byok", flag, secret, "--json",
                          env={"MM_MNEMONIC": TEST_MNEMONIC})
    assert rc == 2
    assert _code(out) == "INLINE_SECRET_REFUSED"
    assert not (mm_home.root / "wallets.json").exists()
    assert secret not in json.dumps(out) + err
    assert "test test test" not in json.dumps(out) + err


def test_init_headless_missing_inputs(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("init", "--wallet", "byok")
    assert rc == 2
    assert _code(out) == "MISSING_FLAG"
    rc, out, _ = mm_cli("init", env={"MM_MNEMONIC": TEST_MNEMONIC})
    assert rc == 2
    assert _code(out) == "MISSING_FLAG"
    rc, out, _ = mm_cli("init", "show")
    assert _code(out) == "NOT_INITIALIZED"
    assert not (mm_home.root / "wallets.json").exists()


def test_init_encrypted_then_password_required(devnet_home: Home, mm_cli: CliRunner) -> None:
    rc, out, err = run_mm("init", "--wallet", "byok", "--json",
                          env={"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": PW1})
    assert rc == 0, (out, err)
    assert out["data"]["encrypted"] is True
    assert out["data"]["address"] == ACCOUNT0
    assert "unencrypted" not in err and "warnings" not in out["data"]
    text = (devnet_home.root / "wallets.json").read_text()
    for word in WORDS:
        assert word not in text.lower()
    assert PW1 not in text
    blob = json.loads(text)["byok"]["vault"]
    assert vault.is_encrypted(blob)
    assert blob["kdfParams"]["n"] == vault.CURRENT_KDF_PARAMS["n"]

    # Reads need no password.
    rc, out, _ = mm_cli("wallet", "address")
    assert rc == 0 and out["data"]["address"] == ACCOUNT0
    # Signing without MM_PASSWORD, headless.
    rc, out, _ = mm_cli("wallet", "sign-message", "--message", "hi", "--chain-id", "31337")
    assert rc != 0
    assert _code(out) == "PASSWORD_REQUIRED"
    # With the password it signs.
    rc, out, _ = mm_cli("wallet", "sign-message", "--message", "hi", "--chain-id", "31337",
                        env={"MM_PASSWORD": PW1})
    assert rc == 0, out
    assert out["data"]["status"] == "COMPLETED"
    assert out["data"]["signature"].startswith("0x")


def test_wrong_password_transfer_sends_nothing(devnet_home: Home, chain: Any,
                                               mm_cli: CliRunner) -> None:
    blob = vault.encrypt(TEST_MNEMONIC, PW1, params=WEAK)
    data = {"mode": "byok", "active": ACCOUNT0,
            "accounts": [{"address": ACCOUNT0, "name": "Account 1", "index": 0}],
            "byok": {"vault": blob, "nextIndex": 1}}
    devnet_home.write_json("wallets.json", data)
    nonce = chain.rpc("eth_getTransactionCount", [ACCOUNT0, "latest"])
    to = "0x00000000000000000000000000000000000B0b01"
    rc, out, _ = mm_cli("transfer", "--token", "ETH",
                        "--to", to, "--amount", "0.1", "--chain-id", "31337",
                        env={"MM_PASSWORD": "not-it"})
    assert rc != 0
    assert _code(out) == "WRONG_PASSWORD"
    rc, out, _ = mm_cli("transfer", "--token", "ETH",
                        "--to", to, "--amount", "0.1", "--chain-id", "31337")
    assert _code(out) == "PASSWORD_REQUIRED"
    assert chain.rpc("eth_getTransactionCount", [ACCOUNT0, "latest"]) == nonce
    assert chain.balance(to) == 0
    # A failed unlock does not rewrite (upgrade) the vault.
    assert _wallets(devnet_home)["byok"]["vault"] == blob


# --- mm wallet password set|change|remove ---------------------------------------------------------
def test_password_lifecycle(byok_home: Home, mm_cli: CliRunner,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Each scrypt at full strength costs ~0.5-1 s and this walks through nine of them; run the
    # matrix in-process at a cheaper cost (full strength is covered by the init and upgrade
    # tests here and by the real `password change` in test_no_secret_leaks). Everything else is
    # the real code.
    monkeypatch.setattr(vault, "CURRENT_KDF_PARAMS", WEAK)

    def vault_blob() -> dict[str, Any]:
        return dict(_wallets(byok_home)["byok"]["vault"])

    plain = vault_blob()
    assert not vault.is_encrypted(plain)

    # On a plain vault: change/remove are refused, set validates its input.
    rc, out, _ = mm_cli("wallet", "password", "remove", env={"MM_PASSWORD": "x"})
    assert _code(out) == "NOT_ENCRYPTED"
    rc, out, _ = mm_cli("wallet", "password", "remove")  # refused before asking for anything
    assert _code(out) == "NOT_ENCRYPTED"
    rc, out, _ = mm_cli("wallet", "password", "change",
                        env={"MM_PASSWORD": "x", "MM_NEW_PASSWORD": PW1})
    assert _code(out) == "NOT_ENCRYPTED"
    for empty in ("", "   "):
        rc, out, _ = mm_cli("wallet", "password", "set", env={"MM_NEW_PASSWORD": empty})
        assert _code(out) == "EMPTY_PASSWORD"
    rc, out, _ = mm_cli("wallet", "password", "set",
                        env={"MM_NEW_PASSWORD": PW1, "MM_NEW_PASSWORD_CONFIRM": PW1 + "x"})
    assert _code(out) == "PASSWORD_MISMATCH"
    rc, out, _ = mm_cli("wallet", "password", "set")
    assert _code(out) == "PASSWORD_REQUIRED"
    assert vault_blob() == plain

    rc, out, _ = mm_cli("wallet", "password", "set",
                        env={"MM_NEW_PASSWORD": PW1, "MM_NEW_PASSWORD_CONFIRM": PW1})
    assert rc == 0, out
    assert out["data"] == {"action": "set", "encrypted": True}
    text = (byok_home.root / "wallets.json").read_text()
    assert all(word not in text for word in WORDS)
    assert PW1 not in text
    encrypted = vault_blob()
    assert vault.is_encrypted(encrypted)
    assert encrypted["kdfParams"]["n"] == WEAK["n"]

    rc, out, _ = mm_cli("wallet", "password", "set", env={"MM_NEW_PASSWORD": PW2})
    assert _code(out) == "ALREADY_ENCRYPTED"
    rc, out, _ = mm_cli("wallet", "password", "set")  # refused before asking for anything
    assert _code(out) == "ALREADY_ENCRYPTED"

    # change: wrong current password, mismatched confirmation, then for real.
    rc, out, _ = mm_cli("wallet", "password", "change",
                        env={"MM_PASSWORD": PW2, "MM_NEW_PASSWORD": PW2})
    assert _code(out) == "WRONG_PASSWORD"
    rc, out, _ = mm_cli("wallet", "password", "change",
                        env={"MM_PASSWORD": PW1, "MM_NEW_PASSWORD": PW2,
                             "MM_NEW_PASSWORD_CONFIRM": PW1})
    assert _code(out) == "PASSWORD_MISMATCH"
    assert vault_blob() == encrypted
    rc, out, _ = mm_cli("wallet", "password", "change",
                        env={"MM_PASSWORD": PW1, "MM_NEW_PASSWORD": PW2})
    assert rc == 0, out
    assert out["data"] == {"action": "change", "encrypted": True}
    changed = vault_blob()
    assert changed != encrypted
    assert changed["kdfParams"]["salt"] != encrypted["kdfParams"]["salt"]

    # remove: old password refused, missing password refused, the new one works.
    rc, out, _ = mm_cli("wallet", "password", "remove", env={"MM_PASSWORD": PW1})
    assert _code(out) == "WRONG_PASSWORD"
    rc, out, _ = mm_cli("wallet", "password", "remove")
    assert _code(out) == "PASSWORD_REQUIRED"
    assert vault_blob() == changed
    rc, out, _ = mm_cli("wallet", "password", "remove", env={"MM_PASSWORD": PW2})
    assert rc == 0, out
    assert out["data"] == {"action": "remove", "encrypted": False}
    assert vault_blob() == plain

    # Signing works again with no password at all.
    rc, out, _ = mm_cli("wallet", "sign-message", "--message", "back", "--chain-id", "31337")
    assert rc == 0, out
    assert out["data"]["address"] == ACCOUNT0


def test_password_commands_need_a_wallet(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("wallet", "password", "set", env={"MM_NEW_PASSWORD": PW1})
    assert rc != 0
    assert _code(out) == "NOT_INITIALIZED"
    assert not (mm_home.root / "wallets.json").exists()


# --- KDF parameter upgrade on unlock ---------------------------------------------------------
def test_vault_upgraded_to_current_params_on_unlock(byok_home: Home, chain: Any) -> None:
    old_blob = vault.encrypt(TEST_MNEMONIC, PW1, params=WEAK)
    data = _wallets(byok_home)
    data["byok"]["vault"] = old_blob
    byok_home.write_json("wallets.json", data)
    assert vault.needs_upgrade(old_blob)

    w = Wallet.from_env(home=byok_home, password=lambda: PW1)
    req = w.sign_message(message="upgrade me", chain_id=31337)
    assert req.status == "COMPLETED"

    stored = _wallets(byok_home)["byok"]["vault"]
    assert stored["kdfParams"]["n"] == 2**17
    assert {k: stored["kdfParams"][k] for k in ("r", "p")} == {"r": 8, "p": 1}
    assert stored["kdfParams"]["salt"] != old_blob["kdfParams"]["salt"]
    assert not vault.needs_upgrade(stored)
    # The rest of wallets.json is untouched.
    after = _wallets(byok_home)
    assert after["accounts"] == data["accounts"] and after["active"] == ACCOUNT0
    assert stat.S_IMODE(Path(byok_home.root / "wallets.json").stat().st_mode) == 0o600
    # The upgraded vault holds the same secret under the same password: same signature.
    w2 = Wallet.from_env(home=byok_home, password=lambda: PW1)
    again = w2.sign_message(message="upgrade me", chain_id=31337)
    assert again.signature == req.signature
