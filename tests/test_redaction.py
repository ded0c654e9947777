"""One URL redactor (mm_agent.evm.rpc.redact_url) everywhere a URL is shown: scheme, host
and port kept; user info, query and key-like path segments gone."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import free_port

from mm_agent.errors import NetworkUnreachable, RpcChainMismatch
from mm_agent.evm import rpc_chain
from mm_agent.evm.rpc import RpcClient, redact_text, redact_url

SECRET_KEY = "abcdef0123456789abcdef"
URL = f"https://user:pw@host:8443/v3/{SECRET_KEY}?key=x"
SECRETS = ("user", "pw", SECRET_KEY, "key=x")


def assert_redacted(text: str, host_port: str) -> None:
    assert host_port in text, text  # the port is kept: it tells two endpoints apart
    for secret in SECRETS:
        assert secret not in text, (secret, text)


def test_redact_url_keeps_scheme_host_and_port() -> None:
    assert redact_url(URL) == "https://host:8443/v3/***?***"
    assert_redacted(redact_text(f"boom at {URL}, again {URL}"), "https://host:8443/")
    assert redact_url("http://[::1]:8545/rpc") == "http://[::1]:8545/rpc"


def test_unreachable_rpc_message_keeps_the_port() -> None:
    port = free_port()  # claimed, nobody listens there
    client = RpcClient(f"http://user:pw@127.0.0.1:{port}/v3/{SECRET_KEY}?key=x", timeout=2)
    with pytest.raises(NetworkUnreachable) as err:
        client.call("eth_chainId")
    assert_redacted(str(err.value) + repr(client), f"http://127.0.0.1:{port}/v3/***")


def test_chain_mismatch_message_keeps_the_port() -> None:
    class Node:
        url = URL

        def call(self, method: str, params: Any = None) -> str:
            return "0x1"

    rpc_chain.forget()
    with pytest.raises(RpcChainMismatch) as err:
        rpc_chain.verify_chain_id(Node(), 31337)
    assert_redacted(str(err.value), "https://host:8443/v3/***")


def test_doctor_rpc_row_keeps_the_port() -> None:
    from mm_agent.operations.handlers.status import _probe_rpc

    port = free_port()
    row = _probe_rpc(1, f"http://user:pw@127.0.0.1:{port}/v3/{SECRET_KEY}?key=x", "config")
    assert row["reachable"] is False
    assert_redacted(str(row), f"http://127.0.0.1:{port}/v3/***")


def test_the_old_redactors_are_gone() -> None:
    from mm_agent.operations.handlers import status

    assert status.redact_url(URL) == redact_url(URL)  # a lazy wrapper (no httpx at start-up)
    assert not hasattr(rpc_chain, "shown_url")
