"""No secret (mnemonic, password, private key) in CLI output, verbose logs, files under MM_HOME
(except the vault ciphertext), reprs or exceptions (contract §1)."""

from __future__ import annotations

import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import run_mm

from mm_agent import MMError, Wallet
from mm_agent.local.state import Home
from mm_agent.wallets.byok import vault
from mm_agent.wallets.byok.keyring import ByokKeyring
from mm_agent.wallets.byok.mnemonic import derive_address, derive_private_key

# A BIP-39 test vector whose words appear in no message or path of ours, so a hit means a leak.
PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"
BAD_PHRASE = PHRASE.replace("yellow", "yellov")  # not in the word list: INVALID_MNEMONIC
PW1 = "Leak-Check-Pass-One-7f3a"
PW2 = "Leak-Check-Pass-Two-9c1e"
BOB = "0x00000000000000000000000000000000000B0b01"

MAIL_31337: dict[str, Any] = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"},
                         {"name": "chainId", "type": "uint256"}],
        "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "chainId": 31337},
    "message": {"to": BOB, "contents": "Hello, Bob!"},
}


def _word_patterns(phrase: str) -> list[re.Pattern[str]]:
    """The full phrase and every 3 consecutive words, with any separator between the words."""
    words = phrase.split()
    runs = [words] + [words[i:i + 3] for i in range(len(words) - 2)]
    return [re.compile(r"\b" + r"\W+".join(map(re.escape, run)) + r"\b", re.IGNORECASE)
            for run in runs]


def _secrets() -> list[tuple[str, re.Pattern[str]]]:
    key = derive_private_key(PHRASE, 0).hex()
    out = [(f"phrase-window-{i}", p) for i, p in enumerate(_word_patterns(PHRASE))]
    out += [(f"bad-phrase-window-{i}", p) for i, p in enumerate(_word_patterns(BAD_PHRASE))]
    out += [(name, re.compile(re.escape(value), re.IGNORECASE))
            for name, value in (("password-1", PW1), ("password-2", PW2), ("private-key", key))]
    return out


SECRETS = _secrets()


def assert_clean(text: str, where: str) -> None:
    for name, pattern in SECRETS:
        # Only the secret's label goes into the failure message, never the secret itself.
        assert not pattern.search(text), f"{name} found in {where}"


def test_patterns_catch_what_they_should() -> None:
    with pytest.raises(AssertionError):
        assert_clean("x " + PHRASE.upper() + " y", "self-check")
    with pytest.raises(AssertionError):
        assert_clean('["wave", "sausage", "worth"]', "self-check")
    with pytest.raises(AssertionError):
        assert_clean("pw=" + PW2, "self-check")
    assert_clean("legal winner; thanks for the wave", "self-check")


def test_cli_outputs_logs_and_files_hold_no_secret(devnet_home: Home, chain: Any,
                                                   tmp_path: Path) -> None:
    address = derive_address(PHRASE, 0)
    transcripts: list[tuple[str, str]] = []

    def mm_all(*calls: tuple[tuple[str, ...], dict[str, str] | None, str | None]) -> list[Any]:
        """Run `mm -v … --json` command lines concurrently (independent ones: saves wall time);
        check each one's outcome (None = success, else the expected error code)."""
        def one(call: tuple[tuple[str, ...], dict[str, str] | None, str | None]) -> Any:
            args, env, _code = call
            return run_mm("-v", *args, "--json", env=env)

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            results = list(pool.map(one, calls))
        outs = []
        for (args, _env, code), (rc, out, err) in zip(calls, results, strict=True):
            label = " ".join(a for a in args if not a.startswith("{"))[:60]
            transcripts.append((label, (out if isinstance(out, str) else json.dumps(out)) + err))
            if code is None:
                assert rc == 0, (label, out)
            else:
                assert rc != 0 and out["error"]["code"] == code, (label, out)
            outs.append(out)
        return outs

    pw1 = {"MM_PASSWORD": PW1}
    mm_all((("init", "--wallet", "byok"), {"MM_MNEMONIC": PHRASE, "MM_PASSWORD": PW1}, None))
    chain.rpc("anvil_setBalance", [address, hex(10**19)])
    sent, *_ = mm_all(
        (("transfer", "--token", "ETH",
          "--to", BOB, "--amount", "0.01", "--chain-id", "31337"), pw1, None),
        (("wallet", "sign-message", "--message", "hello", "--chain-id", "31337"), pw1, None),
        (("wallet", "sign-typed-data", "--chain-id", "31337", "--payload",
          json.dumps(MAIL_31337)), pw1, None),
        (("wallet", "balance", "--chain-ids", "31337"), None, None),
        # Secrets given inline are refused (and not echoed).
        (("init", "--wallet", "byok", "--mnemonic", PHRASE, "--password", PW2), None,
         "INLINE_SECRET_REFUSED"),
    )
    assert sent["data"]["status"] == "COMPLETED"
    assert chain.balance(BOB) == 10**16
    mm_all((("wallet", "password", "change"),
            {**pw1, "MM_NEW_PASSWORD": PW2, "MM_NEW_PASSWORD_CONFIRM": PW2}, None))
    # The old password no longer unlocks.
    mm_all((("wallet", "sign-message", "--message", "hi", "--chain-id", "31337"), pw1,
            "WRONG_PASSWORD"))

    # Verbose mode did log (so the scan covers logs, not just silence).
    assert any("DEBUG" in text or "INFO" in text for _label, text in transcripts)
    for label, text in transcripts:
        assert_clean(text, f"output of `mm {label}`")

    # Every file under MM_HOME, the vault ciphertext aside.
    files = [p for p in devnet_home.root.rglob("*") if p.is_file()]
    assert any(p.name == "wallets.json" for p in files)
    for path in files:
        raw = path.read_bytes().decode("utf-8", errors="replace")
        if path.name == "wallets.json":
            data = json.loads(raw)
            blob = data["byok"]["vault"]
            assert vault.is_encrypted(blob)
            data["byok"]["vault"] = {k: v for k, v in blob.items() if k != "ciphertext"}
            raw = json.dumps(data)
        assert_clean(raw, str(path.relative_to(tmp_path)))


def test_reprs_and_exceptions_hold_no_secret(devnet_home: Home) -> None:
    blob = vault.encrypt(PHRASE, PW1, params={"n": 2**14, "r": 8, "p": 1})
    address = derive_address(PHRASE, 0)
    devnet_home.write_json("wallets.json", {
        "mode": "byok", "active": address,
        "accounts": [{"address": address, "name": "Account 1", "index": 0}],
        "byok": {"vault": blob, "nextIndex": 1},
    })
    w = Wallet.from_env(home=devnet_home, password=lambda: PW1)
    req = w.sign_message(message="unlock", chain_id=31337)  # secrets now held in memory
    assert req.status == "COMPLETED"
    texts = {"repr(wallet)": repr(w), "str(wallet)": str(w), "repr(keyring)": repr(w.keyring),
             "str(keyring)": str(w.keyring), "repr(request)": repr(req),
             "request json": json.dumps(req.to_dict())}
    assert address in texts["repr(wallet)"]

    def capture(label: str, fn: Any) -> None:
        with pytest.raises(MMError) as exc:
            fn()
        err = exc.value
        texts[f"str({label})"] = str(err)
        texts[f"repr({label})"] = repr(err)
        texts[f"payload({label})"] = json.dumps(err.to_payload())
        texts[f"args({label})"] = repr(err.args)

    wrong = Wallet.from_env(home=devnet_home, password=lambda: PW2)
    capture("wrong password", lambda: wrong.sign_message(message="x", chain_id=31337))
    capture("invalid mnemonic", lambda: ByokKeyring.initial_state(BAD_PHRASE, PW1))
    capture("bad word count", lambda: ByokKeyring.initial_state(PHRASE + " legal", None))
    capture("change, wrong old", lambda: vault.change_password(blob, PW2, PW1, PW1))
    capture("change, mismatch", lambda: vault.change_password(blob, PW1, PW2, PW2 + "!"))
    capture("set on encrypted", lambda: vault.set_password(blob, PW2, PW2))
    tampered = copy.deepcopy(blob)
    tampered["kdfParams"]["n"] = 2**15
    capture("tampered vault", lambda: vault.decrypt(tampered, PW1))

    from mm_agent.operations.handlers.setup import InitArgs

    with pytest.raises(MMError) as inline:
        InitArgs(wallet="byok", mnemonic=PHRASE, password=PW1)
    texts["inline"] = str(inline.value) + repr(inline.value)

    for where, text in texts.items():
        assert_clean(text, where)
