"""The CLI frame (contract §1–§3): envelopes, exit codes, formats, env overrides, local state.

Most checks run twice: in-process through ``run_argv`` (fast, and what the REPL uses) and
through the real ``mm`` executable (what users and agents run).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pexpect
import pytest
from helpers import CliRunner, mm_exe, run_mm
from mm_agent.cli.app import run_argv

from mm_agent import __version__
from mm_agent.evm.chains import CHAINS
from mm_agent.local.state import Home
from mm_agent.operations.registry import OPERATIONS

MM = mm_exe()
CHAIN_IDS = {1, 11155111, 8453, 84532, 59144, 42161, 10, 137, 80002, 56, 31337}

Capsys = pytest.CaptureFixture[str]


def call(capsys: Capsys, *argv: str) -> tuple[int, Any, str]:
    """Run in-process; returns (exit code, parsed JSON or raw stdout, stderr)."""
    rc = run_argv(list(argv))
    out, err = capsys.readouterr()
    try:
        return rc, json.loads(out), err
    except json.JSONDecodeError:
        return rc, out, err


def assert_error(rc: int, out: Any, code: str, exit_code: int) -> dict[str, Any]:
    assert rc == exit_code, out
    assert isinstance(out, dict), out
    assert set(out) == {"ok", "error"}
    assert out["ok"] is False
    error = out["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


# --- version and help ---------------------------------------------------------------------------


def test_version_subprocess(mm_home: Home) -> None:
    # Issue 11: the version names the package, as the reference's `@metamask/agentic-cli/4.0.1 …`.
    rc, out, err = run_mm("--version")
    assert rc == 0, err
    assert out.startswith(f"mm-agent/{__version__} ") and out.endswith("\n")
    assert " python-" in out


def test_version_in_process(mm_home: Home, capsys: Capsys) -> None:
    rc, out, _ = call(capsys, "--version")
    assert rc == 0
    assert out.startswith(f"mm-agent/{__version__} ")


def test_help_lists_every_top_level_command(mm_home: Home) -> None:
    rc, out, err = run_mm("--help")
    assert rc == 0, err
    assert "Usage: mm" in out
    for word in {op.path[0] for op in OPERATIONS}:
        assert f"  {word} " in out, word
    for flag in ("--format", "--json", "--toon", "--verbose", "--version"):
        assert flag in out


def test_group_help_in_process(mm_home: Home, capsys: Capsys) -> None:
    rc, out, _ = call(capsys, "wallet", "--help")
    assert rc == 0
    assert "balance" in out and "sign-typed-data" in out
    rc, out, _ = call(capsys, "transfer", "--help")
    assert rc == 0
    assert "--to" in out and "--chain-id" in out
    assert "--mnemonic" not in call(capsys, "init", "--help")[1]  # hidden, refused flag


# --- JSON envelopes -----------------------------------------------------------------------------


def _check_chains(out: Any) -> None:
    assert set(out) == {"ok", "data"}
    assert out["ok"] is True
    chains = out["data"]["chains"]
    assert len(chains) == 11 == len(CHAINS)
    assert {c["chainId"] for c in chains} == CHAIN_IDS == set(CHAINS)
    for c in chains:
        assert set(c) >= {"chainId", "caip2", "name", "nativeSymbol", "testnet", "selected"}
        assert c["caip2"] == f"eip155:{c['chainId']}"
    base = next(c for c in chains if c["chainId"] == 8453)
    assert base["caip2"] == "eip155:8453"
    assert base["testnet"] is False
    assert next(c for c in chains if c["chainId"] == 1)["name"] == "Ethereum"


def test_chains_list_envelope_subprocess(mm_home: Home) -> None:
    # No flag and stdout a pipe: JSON is the default.
    rc, out, err = run_mm("chains", "list")
    assert rc == 0, err
    assert isinstance(out, dict), out
    _check_chains(out)


def test_chains_list_envelope_in_process(mm_home: Home, capsys: Capsys) -> None:
    rc, out, _ = call(capsys, "chains", "list")
    assert rc == 0
    _check_chains(out)


@pytest.mark.parametrize(("argv", "code"), [
    (("config", "set", "walletTimeoutSeconds", "0"), "INVALID_TIMEOUT"),
    (("config", "set", "walletTimeoutSeconds", "601"), "INVALID_TIMEOUT"),
    (("config", "set", "walletTimeoutSeconds", "ten"), "INVALID_TIMEOUT"),
    (("config", "set", "format", "xml"), "INVALID_FORMAT"),
    (("config", "set", "serviceUrl", "notaurl"), "INVALID_URL"),
    (("config", "set", "rpc.1", "ftp://x"), "INVALID_URL"),
    (("config", "set", "smartTransactions", "maybe"), "INVALID_CONFIG_VALUE"),
    (("config", "set", "noSuchKey", "1"), "INVALID_CONFIG_KEY"),
    (("config", "get", "noSuchKey"), "INVALID_CONFIG_KEY"),
    (("-f", "xml", "chains", "list"), "INVALID_FORMAT"),
    (("nosuchcommand",), "USAGE_ERROR"),
    (("chains", "list", "--bogus"), "UNKNOWN_FLAG"),
    (("transfer", "--amount", "1", "--chain-id", "1", "--json"), "MISSING_FLAG"),
    (("reset",), "CONFIRMATION_REQUIRED"),
])
def test_usage_and_validation_errors_exit_2(mm_home: Home, capsys: Capsys,
                                            argv: tuple[str, ...], code: str) -> None:
    error = assert_error(*call(capsys, *argv)[:2], code, 2)
    if code not in ("USAGE_ERROR", "INVALID_CONFIG_VALUE"):  # hint is optional in §2
        assert error.get("hint"), error  # every contract code comes with a way out
    assert not (mm_home.root / "config.json").exists()


@pytest.mark.parametrize(("argv", "code"), [
    (("config", "set", "walletTimeoutSeconds", "0"), "INVALID_TIMEOUT"),
    (("config", "set", "format", "xml"), "INVALID_FORMAT"),
    (("config", "set", "serviceUrl", "notaurl"), "INVALID_URL"),
    (("config", "set", "rpc.1", "ftp://x"), "INVALID_URL"),
    (("config", "set", "nope", "1"), "INVALID_CONFIG_KEY"),
    (("chains", "list", "--bogus", "--json"), "UNKNOWN_FLAG"),
    (("transfer", "--amount", "1", "--chain-id", "1", "--json"), "MISSING_FLAG"),
])
def test_errors_subprocess(mm_home: Home, argv: tuple[str, ...], code: str) -> None:
    rc, out, _err = run_mm(*argv)
    error = assert_error(rc, out, code, 2)
    assert error["hint"]


def test_missing_flag_names_the_flag(mm_home: Home, mm_cli: CliRunner) -> None:
    error = assert_error(*mm_cli("transfer", "--amount", "1", "--chain-id", "1")[:2],
                         "MISSING_FLAG", 2)
    assert "--to" in error["message"]


def test_text_mode_errors_go_to_stderr(mm_home: Home) -> None:
    rc, out, err = run_mm("-f", "text", "config", "set", "walletTimeoutSeconds", "0")
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("Error [INVALID_TIMEOUT]: ")
    assert lines[1].startswith("Hint: ")
    rc, out, err = run_mm("chains", "list", "--bogus", "-f", "text")
    assert rc == 2 and out == ""
    assert err.startswith("Error [UNKNOWN_FLAG]: ") and "\nHint: " in err


def test_json_errors_keep_stderr_clean(mm_home: Home) -> None:
    rc, out, err = run_mm("config", "set", "walletTimeoutSeconds", "0")
    assert_error(rc, out, "INVALID_TIMEOUT", 2)
    assert err == ""


# --- formats ------------------------------------------------------------------------------------


POSITIONS = [
    ("{f}", "chains", "list"),
    ("chains", "{f}", "list"),
    ("chains", "list", "{f}"),
]


def _place(template: tuple[str, ...], flag: list[str]) -> list[str]:
    out: list[str] = []
    for word in template:
        out.extend(flag if word == "{f}" else [word])
    return out


@pytest.mark.parametrize("template", POSITIONS)
def test_text_flag_in_every_position(mm_home: Home, capsys: Capsys,
                                     template: tuple[str, ...]) -> None:
    for flag in (["-f", "text"], ["--format", "text"], ["--format=text"]):
        rc, out, _ = call(capsys, *_place(template, flag))
        assert rc == 0
        assert isinstance(out, str) and not out.lstrip().startswith("{"), out
        assert "Ethereum" in out and "eip155:8453" in out


@pytest.mark.parametrize("template", POSITIONS)
def test_json_and_toon_flags_in_every_position(mm_home: Home, capsys: Capsys,
                                               monkeypatch: pytest.MonkeyPatch,
                                               template: tuple[str, ...]) -> None:
    monkeypatch.setenv("MM_FORMAT", "text")  # the flag must win over the environment
    rc, out, _ = call(capsys, *_place(template, ["--json"]))
    assert rc == 0
    _check_chains(out)
    rc, out, _ = call(capsys, *_place(template, ["--toon"]))
    assert rc == 0
    assert out.startswith("ok: true")
    assert "eip155:8453" in out
    rc, out, _ = call(capsys, *_place(template, ["-f", "json"]))
    _check_chains(out)


def test_format_flags_subprocess(mm_home: Home) -> None:
    rc, out, _ = run_mm("--toon", "chains", "list")
    assert rc == 0 and out.startswith("ok: true")
    rc, out, _ = run_mm("config", "get", "walletTimeoutSeconds", "-f", "text")
    assert rc == 0 and "120" in out and not out.startswith("{")
    rc, out, _ = run_mm("config", "set", "nope", "1", "--toon")
    assert rc == 2 and out.startswith("ok: false") and "INVALID_CONFIG_KEY" in out
    rc, out, _ = run_mm("-f", "text", "chains", "list", env={"MM_FORMAT": "json"})
    assert rc == 0 and "Ethereum" in out and not out.startswith("{")


def test_env_format_applies_and_is_validated(mm_home: Home) -> None:
    rc, out, _ = run_mm("chains", "list", env={"MM_FORMAT": "toon"})
    assert rc == 0 and out.startswith("ok: true")
    rc, out, _ = run_mm("chains", "list", env={"MM_FORMAT": "xml"})
    assert_error(rc, out, "INVALID_FORMAT", 2)


def test_stored_format_applies(mm_home: Home) -> None:
    assert run_mm("config", "set", "format", "text")[0] == 0
    rc, out, _ = run_mm("chains", "list")
    assert rc == 0 and "Ethereum" in out and not out.startswith("{")
    rc, out, _ = run_mm("chains", "list", "--json")  # a flag still wins
    _check_chains(out)


def test_text_is_the_default_on_a_tty(mm_home: Home) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MM_FORMAT"}
    env.update({"MM_HOME": str(mm_home.root), "TERM": "dumb"})
    child = pexpect.spawn(MM, ["chains", "list"], env=env, encoding="utf-8",
                          timeout=20, dimensions=(50, 160))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Ethereum" in child.before
    assert '"ok"' not in child.before


# --- config and environment overrides ---------------------------------------------------------


def test_config_set_get_roundtrip(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("config", "set", "walletTimeoutSeconds", "300")
    assert rc == 0 and out == {"ok": True, "data": {"key": "walletTimeoutSeconds", "value": 300}}
    rc, out, _ = mm_cli("config", "get", "walletTimeoutSeconds")
    assert rc == 0
    assert out["data"] == {"key": "walletTimeoutSeconds", "value": 300, "source": "config"}
    rc, out, _ = mm_cli("config", "set", "rpc.8453", "https://base.example/")
    assert rc == 0
    rc, out, _ = mm_cli("config", "get")
    assert out["data"]["config"]["rpc.8453"] == "https://base.example"
    assert out["data"]["config"]["walletTimeoutSeconds"] == 300


def test_env_overrides(mm_home: Home) -> None:
    rc, out, err = run_mm("config", "get", "walletTimeoutSeconds",
                          env={"MM_WALLET_TIMEOUT": "5"})
    assert rc == 0, err
    assert out["data"]["value"] == 5
    assert out["data"]["source"].startswith("env")
    assert "MM_WALLET_TIMEOUT" in out["data"]["source"]

    rc, out, err = run_mm("config", "get", env={"MM_RPC_1": "https://x.example"})
    assert rc == 0, err
    assert out["data"]["config"]["rpc.1"] == "https://x.example"
    rc, out, _ = run_mm("config", "get", "rpc.1", env={"MM_RPC_1": "https://x.example"})
    assert out["data"] == {"key": "rpc.1", "value": "https://x.example", "source": "env:MM_RPC_1"}

    rc, out, _ = run_mm("config", "get", "serviceUrl",
                        env={"MM_SERVICE_URL": "https://wallet.example"})
    assert out["data"]["value"] == "https://wallet.example"


def test_env_beats_config_file(mm_home: Home, mm_cli: CliRunner,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert mm_cli("config", "set", "walletTimeoutSeconds", "300")[0] == 0
    monkeypatch.setenv("MM_WALLET_TIMEOUT", "7")
    rc, out, _ = mm_cli("config", "get", "walletTimeoutSeconds")
    assert rc == 0
    assert out["data"]["value"] == 7
    assert out["data"]["source"] == "env:MM_WALLET_TIMEOUT"


def test_bad_env_values_fail_loudly(mm_home: Home) -> None:
    rc, out, _ = run_mm("config", "get", "walletTimeoutSeconds", env={"MM_WALLET_TIMEOUT": "0"})
    assert_error(rc, out, "INVALID_TIMEOUT", 2)
    rc, out, _ = run_mm("config", "get", "rpc.1", env={"MM_RPC_1": "ftp://x"})
    assert_error(rc, out, "INVALID_URL", 2)


# --- local state: modes, atomicity, refusal to touch bad files ---------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_modes(mm_home: Home) -> None:
    rc, _, err = run_mm("config", "set", "walletTimeoutSeconds", "30")
    assert rc == 0, err
    assert _mode(mm_home.root) == 0o700
    assert _mode(mm_home.root / "config.json") == 0o600
    # No temp files left behind by the atomic write.
    assert [p.name for p in mm_home.root.iterdir() if p.name.endswith(".tmp")] == []


def test_loose_home_folder_is_tightened(mm_home: Home) -> None:
    mm_home.root.mkdir(mode=0o755)
    os.chmod(mm_home.root, 0o755)
    assert run_mm("config", "set", "verbose", "false")[0] == 0
    assert _mode(mm_home.root) == 0o700


@pytest.mark.parametrize(("key", "value"), [
    ("walletTimeoutSeconds", "0"),
    ("format", "xml"),
    ("serviceUrl", "notaurl"),
    ("rpc.1", "ftp://x"),
    ("nope", "1"),
])
def test_failing_set_leaves_config_untouched(mm_home: Home, key: str, value: str) -> None:
    assert run_mm("config", "set", "walletTimeoutSeconds", "42")[0] == 0
    path = mm_home.root / "config.json"
    before, st = path.read_bytes(), path.stat()
    rc, out, _ = run_mm("config", "set", key, value)
    assert rc == 2 and out["ok"] is False
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == st.st_mtime_ns
    assert path.stat().st_ino == st.st_ino  # not even rewritten with the same bytes


def test_reset_requires_confirmation_headless(mm_home: Home) -> None:
    assert run_mm("config", "set", "walletTimeoutSeconds", "42")[0] == 0
    path = mm_home.root / "config.json"
    before = path.read_bytes()
    rc, out, _ = run_mm("reset")
    error = assert_error(rc, out, "CONFIRMATION_REQUIRED", 2)
    assert "--yes" in error["message"] + error.get("hint", "")
    assert path.read_bytes() == before

    rc, out, err = run_mm("reset", "--yes")
    assert rc == 0, err
    assert out["ok"] is True and out["data"]["reset"] is True
    assert "config.json" in out["data"]["removed"]
    assert not path.exists()


def test_reset_short_flag_in_process(mm_home: Home, mm_cli: CliRunner) -> None:
    mm_home.write_json("session.json", {"serviceUrl": "http://127.0.0.1:1"})
    mm_home.write_json("wallets.json", {"mode": "byok"})
    rc, out, _ = mm_cli("reset", "-y")
    assert rc == 0
    assert set(out["data"]["removed"]) >= {"session.json", "wallets.json"}
    assert not (mm_home.root / "wallets.json").exists()


@pytest.mark.parametrize("argv", [
    ("config", "get"),
    ("config", "get", "walletTimeoutSeconds"),
    ("config", "set", "walletTimeoutSeconds", "30"),
])
def test_corrupt_config_is_reported_and_kept(mm_home: Home, argv: tuple[str, ...]) -> None:
    mm_home.ensure()
    path = mm_home.root / "config.json"
    path.write_bytes(b'{"walletTimeoutSeconds": 3')  # truncated JSON
    os.chmod(path, 0o600)
    rc, out, _ = run_mm(*argv)
    assert_error(rc, out, "STATE_CORRUPT", 1)
    assert path.read_bytes() == b'{"walletTimeoutSeconds": 3'
    assert _mode(path) == 0o600


@pytest.mark.parametrize("argv", [
    ("config", "get"),
    ("config", "set", "walletTimeoutSeconds", "30"),
])
def test_world_readable_config_is_refused_and_kept(mm_home: Home,
                                                   argv: tuple[str, ...]) -> None:
    mm_home.ensure()
    path = mm_home.root / "config.json"
    path.write_bytes(b'{"walletTimeoutSeconds": 30}\n')
    os.chmod(path, 0o644)
    rc, out, _ = run_mm(*argv)
    error = assert_error(rc, out, "STATE_PERMISSIONS", 1)
    assert "chmod 600" in error["hint"]
    assert path.read_bytes() == b'{"walletTimeoutSeconds": 30}\n'
    assert _mode(path) == 0o644  # reported, not silently "fixed"


# --- init ---------------------------------------------------------------------------------------


def test_init_show_before_init(mm_home: Home) -> None:
    rc, out, _ = run_mm("init", "show")
    assert_error(rc, out, "NOT_INITIALIZED", 1)
    rc, out, err = run_mm("init", "show", "-f", "text")
    assert rc == 1 and out == ""
    assert err.startswith("Error [NOT_INITIALIZED]")


SECRET_WORDS = "zebra quokka"
SECRET_PASSWORD = "pw-Hunter2-do-not-echo"


@pytest.mark.parametrize("argv", [
    ("init", "--wallet", "byok", "--mnemonic", SECRET_WORDS),
    ("init", "--mnemonic", SECRET_WORDS, "--wallet", "byok", "-f", "text"),
    ("init", "--wallet", "byok", f"--mnemonic={SECRET_WORDS}"),
    ("init", "--wallet", "byok", "--password", SECRET_PASSWORD),
])
def test_inline_secrets_are_refused(mm_home: Home, argv: tuple[str, ...]) -> None:
    rc, out, err = run_mm(*argv, env={"MM_PASSWORD": ""})
    assert rc == 2
    if isinstance(out, dict):
        assert out["error"]["code"] == "INLINE_SECRET_REFUSED"
    else:
        assert "Error [INLINE_SECRET_REFUSED]" in err
    for secret in (SECRET_WORDS, "quokka", SECRET_PASSWORD):
        assert secret not in json.dumps(out)
        assert secret not in err
    assert not (mm_home.root / "wallets.json").exists()


# --- verbose and doctor -------------------------------------------------------------------------


def test_verbose_never_touches_stdout(mm_home: Home) -> None:
    rc, out, err = run_mm("-v", "chains", "list")
    assert rc == 0, err
    _check_chains(out)  # stdout is still exactly one JSON document
    rc, out, err = run_mm("config", "set", "nope", "1", "--verbose")
    assert_error(rc, out, "INVALID_CONFIG_KEY", 2)


def test_verbose_logs_go_to_stderr(byok_home: Home) -> None:
    rc, out, err = run_mm("-v", "wallet", "balance", "--chain-ids", "31337")
    assert rc == 0, err
    assert out["ok"] is True  # parsed as one JSON document: no log line on stdout
    assert " DEBUG " in err  # the HTTP calls to the node, logged
    rc, out, err = run_mm("wallet", "balance", "--chain-ids", "31337")
    assert rc == 0 and out["ok"] is True
    assert " DEBUG " not in err


def test_doctor(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, err = run_mm("doctor")
    assert rc == 0, err
    data = out["data"]
    assert set(data) >= {"cli", "serviceUrl", "authenticated", "initialized", "walletMode",
                         "tradingMode", "hints"}
    assert data["cli"] == __version__
    assert data["authenticated"] is False and data["initialized"] is False
    assert data["walletMode"] is None and data["tradingMode"] is None
    assert isinstance(data["hints"], list) and any("mm init" in h for h in data["hints"])

    rc, out, _ = mm_cli("doctor")
    assert rc == 0 and out["data"]["serviceUrl"] == "http://127.0.0.1:8765"
