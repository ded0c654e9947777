"""Operational hygiene: RPC URLs (API keys) never reach logs or errors, and `mm login --token`
warns that argv is visible."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import Anvil
from helpers import CliRunner, free_port
from mm_agent.cli.app import run_argv

from mm_agent.errors import NetworkUnreachable
from mm_agent.evm.rpc import RpcClient, redact_text, redact_url
from mm_agent.local.state import Home

KEY = "f00dfacecafe0123456789abcdef0123"


@pytest.mark.parametrize(("url", "expected"), [
    (f"https://mainnet.infura.io/v3/{KEY}", "https://mainnet.infura.io/v3/***"),
    (f"https://u:pw@eth.example.com:8443/rpc?apikey={KEY}",
     "https://eth.example.com:8443/rpc?***"),
    ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    (f"wss://x.quiknode.pro/{KEY}/", "wss://x.quiknode.pro/***"),
    ("not a url", "<invalid url>"),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert KEY not in redact_text(f"failed: {url} (retrying {url})")


def test_http_client_logs_never_carry_the_key(anvil: Anvil, caplog: Any) -> None:
    # An operator turns on INFO logs everywhere (as `mm server start` does).
    url = f"{anvil.url}/?apikey={KEY}"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.DEBUG)
        try:
            client = RpcClient(url)
            assert client.call("eth_chainId") == "0x7a69"
            client.close()
        finally:
            logging.getLogger("httpx").setLevel(logging.WARNING)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request" in text  # it did log, redacted
    assert KEY not in text and "apikey" not in text


def test_unreachable_rpc_error_is_redacted() -> None:
    client = RpcClient(f"http://127.0.0.1:{free_port()}/v3/{KEY}")
    with pytest.raises(NetworkUnreachable) as info:
        client.call("eth_chainId")
    assert KEY not in info.value.message and "127.0.0.1" in info.value.message


def test_login_token_flag_warns_argv_is_visible(service: Any, mm_home: Home,
                                                capsys: pytest.CaptureFixture[str],
                                                mm_cli: CliRunner,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_SERVICE_URL", service.base_url)
    monkeypatch.delenv("MM_CLI_TOKEN", raising=False)
    token = service.create_login("argv@example.com")["token"]
    assert run_argv(["login", "--token", token, "--format", "text"]) == 0
    err = capsys.readouterr().err
    assert "MM_CLI_TOKEN" in err and "visible" in err and token not in err
    # The environment variable is the quiet way.
    assert mm_cli("logout", "--yes")[0] == 0
    monkeypatch.setenv("MM_CLI_TOKEN", service.create_login("argv@example.com")["token"])
    assert run_argv(["login", "--format", "text"]) == 0
    assert "visible" not in capsys.readouterr().err
