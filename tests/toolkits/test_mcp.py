"""`mm mcp` end to end: a real MCP client session (the official SDK) with the real `mm mcp`
subprocess, over stdio and over streamable HTTP, against the devnet (real anvil) with a BYOK
wallet and with a server wallet in guard mode (real uvicorn service, approval by the mailed
link)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from conftest import ACCOUNT1, Anvil
from helpers import approve_by_mail, free_port, mm_exe, outbox_links, wait_until
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from server.test_client import attach_chain, fund, init_server_wallet, sign_in

from mm_agent import Wallet
from mm_agent.local.state import Home
from mm_agent.operations.agent_schema import agent_ops, annotations, output_schema
from mm_agent.operations.registry import OPERATIONS

MM = mm_exe()
PYTHON = sys.executable  # the project venv's interpreter (the one running the tests)
Elicit = Callable[[Any, types.ElicitRequestParams], Awaitable[types.ElicitResult]]


def env_for(home: Home, **extra: str) -> dict[str, str]:
    """What the server process gets: MM_HOME and, for a server wallet, the service URL (the
    SDK's stdio client passes only a few safe variables of ours on)."""
    env = {"MM_HOME": str(home.root)}
    if os.environ.get("MM_SERVICE_URL"):
        env["MM_SERVICE_URL"] = os.environ["MM_SERVICE_URL"]
    return {**env, **extra}


@asynccontextmanager
async def stdio_session(home: Home, *args: str, elicit: Elicit | None = None,
                        **env: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=MM, args=["mcp", *args], env=env_for(home, **env))
    async with stdio_client(params) as (read, write), \
            ClientSession(read, write, elicitation_callback=elicit) as session:
        await session.initialize()
        yield session


def text_envelope(result: types.CallToolResult) -> dict[str, Any]:
    assert result.content and result.content[0].type == "text"
    return dict(json.loads(result.content[0].text))


async def ok(session: ClientSession, name: str, args: dict[str, Any] | None = None,
             **kwargs: Any) -> dict[str, Any]:
    result = await session.call_tool(name, args or {}, **kwargs)
    env = text_envelope(result)
    assert not result.is_error and env["ok"], (name, env)
    # The SDK client already checked structuredContent against the tool's outputSchema.
    assert result.structured_content == env["data"]
    return env


async def failed(session: ClientSession, name: str, args: dict[str, Any] | None = None,
                 **kwargs: Any) -> dict[str, Any]:
    result = await session.call_tool(name, args or {}, **kwargs)
    env = text_envelope(result)
    assert result.is_error and not env["ok"], (name, env)
    return env


def outbox_count(data_dir: Path) -> int:
    """Approval mails so far (``approve_by_mail``'s ``seen``)."""
    return len(outbox_links(data_dir))


# --- tool declarations (no server process) ------------------------------------------------
def test_tools_follow_the_registry() -> None:
    from mm_agent.toolkits.mcp_server import mcp_tools

    tools = {t.name: t for t in mcp_tools()}
    assert set(tools) == {op.name for op in agent_ops()}
    assert "init" not in tools and "mcp" not in tools and "server_start" not in tools
    for op in agent_ops():
        tool = tools[op.name]
        hints = tool.annotations
        assert hints is not None
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint,
                hints.open_world_hint) == tuple(annotations(op).values())
        assert tool.output_schema == output_schema(op) and tool.output_schema is not None
        assert tool.input_schema["type"] == "object"
    # Truthful hints where it matters most.
    assert tools["transfer"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["wallet_balance"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert {t.name for t in mcp_tools("byok")} == {op.name for op in agent_ops("byok")}
    assert all(not t.name.startswith("wallet_policy_set") for t in mcp_tools("byok"))
    assert all(t.name.startswith("mm_") for t in mcp_tools(prefix="mm_"))


def test_mcp_is_an_operator_command() -> None:
    op = next(o for o in OPERATIONS if o.name == "mcp")
    assert op.path == ("mcp",) and not op.agent_facing


def test_port_is_an_integer_in_range(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MM_")},
           "MM_HOME": str(tmp_path / "home")}
    helped = subprocess.run([MM, "mcp", "--help"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert "--port INTEGER" in helped.stdout, helped.stdout
    for bad in ("abc", "0", "70000"):
        proc = subprocess.run([MM, "mcp", "--http", "--port", bad, "--json"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 2 and proc.stdout == "", (proc.stdout, proc.stderr)
        assert _stderr_error(proc)["code"] == "INVALID_ARGUMENT"


def test_http_token_from_env_or_a_0600_file_made_once(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import stat

    from mm_agent.toolkits.mcp_server import TOKEN_FILE, http_token

    from mm_agent.errors import StatePermissions, UsageError

    monkeypatch.delenv("MM_MCP_TOKEN", raising=False)
    home = Home(tmp_path / "home")
    token, source = http_token(home)
    assert source == "generated" and len(token) >= 24
    path = home.path(TOKEN_FILE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert http_token(home) == (token, "file")  # reused: client configs keep working
    assert "mcp" not in json.dumps(home.read_json("config.json", {}))  # never a config key
    monkeypatch.setenv("MM_MCP_TOKEN", "e" * 30)
    assert http_token(home) == ("e" * 30, "env")  # the environment wins, nothing stored
    assert home.read_json(TOKEN_FILE)["token"] == token
    monkeypatch.setenv("MM_MCP_TOKEN", "short")
    with pytest.raises(UsageError):
        http_token(home)
    monkeypatch.delenv("MM_MCP_TOKEN")
    path.chmod(0o644)  # readable by others: refused, like every state file
    with pytest.raises(StatePermissions):
        http_token(home)
    path.unlink()  # rotate: the next start makes a new one
    assert http_token(home)[1] == "generated" and http_token(home)[0] != token
    assert TOKEN_FILE in home.reset()


@pytest.mark.parametrize("code", [
    "import mm_agent, mm_agent.operations.agent_calls, mm_agent.toolkits.function_calling",
    "from mm_agent.cli import main; main(['--version'])",
    "from mm_agent.cli import main; main(['chains', 'list'])",
])
def test_mcp_not_imported_on_fast_paths(code: str, tmp_path: Path) -> None:
    probe = f"""
import sys
try:
    {code}
except SystemExit:
    pass
sys.stderr.write("MCP_LOADED=" + str(any(m == "mcp" or m.startswith("mcp.") for m in sys.modules)))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env["MM_HOME"] = str(tmp_path / "home")
    proc = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, env=env,
                          timeout=60)
    assert "MCP_LOADED=False" in proc.stderr, proc.stderr


# --- BYOK over stdio ------------------------------------------------------------------------
async def test_stdio_byok_read_write_and_flagged_preview(byok_home: Home, chain: Anvil) -> None:
    me = Wallet.from_env(home=byok_home).address
    async with stdio_session(byok_home) as s:
        listed = {t.name: t for t in (await s.list_tools()).tools}
        assert "transfer" in listed and "wallet_policy_get" not in listed  # BYOK tools only
        bal = await ok(s, "wallet_balance", {"chain_ids": [31337]})
        assert bal["data"]["address"] == me
        before = chain.balance(ACCOUNT1)
        sent = await ok(s, "transfer", {"to": ACCOUNT1, "amount": "0.25", "chain_id": 31337,
                                        "token": "ETH"})
        assert sent["data"]["status"] == "COMPLETED" and sent["data"]["txHash"]
        assert chain.balance(ACCOUNT1) - before == 25 * 10**16

        bad = await failed(s, "transfer", {"to": "0x123", "amount": "1", "chain_id": 31337,
                                           "token": "ETH"})
        assert bad["error"]["code"] == "INVALID_EVM_ADDRESS"

        # A raw 32-byte hash is Malicious: without elicitation nothing is signed and the
        # preview comes back with the digest a human's yes would be bound to.
        flagged = await failed(s, "wallet_sign_message", {"message": "0x" + "ab" * 32,
                                                          "chain_id": 31337})
        assert flagged["error"]["code"] == "APPROVAL_REQUIRED"
        details = flagged["error"]["details"]
        assert details["preview"]["scan"]["resultType"] == "Malicious" and details["digest"]
        assert "human" in flagged["next"]["message"]


async def test_stdio_byok_elicitation_confirms_that_exact_preview(byok_home: Home,
                                                                  chain: Anvil) -> None:
    asked: list[str] = []

    async def yes(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    async def no(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    message = {"message": "0x" + "cd" * 32, "chain_id": 31337}
    async with stdio_session(byok_home, elicit=no) as s:
        refused = await failed(s, "wallet_sign_message", message)
        assert refused["error"]["code"] == "APPROVAL_REQUIRED"
        assert "did not confirm" in refused["next"]["message"]
    async with stdio_session(byok_home, elicit=yes) as s:
        signed = await ok(s, "wallet_sign_message", message)
        assert signed["data"]["status"] == "COMPLETED" and signed["data"]["signature"]
    assert len(asked) == 1 and "Malicious" in asked[0] and "Digest:" in asked[0]


# --- server wallet (guard mode) ---------------------------------------------------------------
@pytest.fixture
def guarded(service: Any, chain: Anvil, devnet_home: Home,
            monkeypatch: pytest.MonkeyPatch) -> Home:
    """A server wallet in guard mode with empty allowlists: every write asks the human."""
    sign_in(service, devnet_home, monkeypatch)
    attach_chain(service, chain)
    init_server_wallet(devnet_home, "guard")
    fund(chain, Wallet.from_env(home=devnet_home).address, musd=10)
    return devnet_home


async def pending_transfer(s: ClientSession) -> dict[str, Any]:
    held = await ok(s, "transfer", {"to": ACCOUNT1, "amount": "0.1", "chain_id": 31337,
                                    "token": "ETH"})
    data = held["data"]
    assert data["status"] == "AWAITING_MFA" and data["approval"]["channel"] == "email"
    assert held["next"]["tool"] == "wallet_requests_watch"
    assert held["next"]["arguments"] == {"polling_id": data["pollingId"]}
    assert "(email)" in held["next"]["message"]
    return held


async def test_stdio_server_wallet_pending_progress_and_elicited_approval(
        guarded: Home, service: Any, chain: Anvil) -> None:
    async with stdio_session(guarded) as s:
        listed = {t.name for t in (await s.list_tools()).tools}
        assert {"wallet_policy_get", "wallet_trading_mode_set"} <= listed
        assert (await ok(s, "wallet_trading_mode_get"))["data"]["tradingMode"] == "guard"
        await ok(s, "wallet_balance", {"chain_ids": [31337]})
        held = await pending_transfer(s)

        # Following it reports progress while it waits, then times out (still pending).
        progress: list[tuple[float, str | None]] = []

        async def on_progress(value: float, _total: float | None, msg: str | None) -> None:
            progress.append((value, msg))

        timeout = await failed(s, "wallet_requests_watch",
                               {"polling_id": held["data"]["pollingId"], "wallet_timeout": 3},
                               progress_callback=on_progress)
        assert timeout["error"]["code"] == "JOB_TIMEOUT"
        assert timeout["next"]["pollingId"] == held["data"]["pollingId"]
        assert progress and all(msg for _, msg in progress)
        assert [v for v, _ in progress] == sorted(v for v, _ in progress)

    # A client with elicitation: the user is asked to approve by the mail, does so, and the
    # same call returns the final state.
    asked: list[str] = []

    async def human(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        await anyio.to_thread.run_sync(approve_by_mail, service.data_dir, service.base_url,
                                       seen)
        return types.ElicitResult(action="accept", content={"done": True})

    seen = outbox_count(service.data_dir)
    before = chain.balance(ACCOUNT1)
    async with stdio_session(guarded, elicit=human) as s:
        done = await ok(s, "transfer", {"to": ACCOUNT1, "amount": "0.2", "chain_id": 31337,
                                        "token": "ETH"})
    assert done["data"]["status"] == "COMPLETED" and done["data"]["txHash"]
    assert chain.balance(ACCOUNT1) - before == 2 * 10**17
    assert len(asked) == 1 and "mailed" in asked[0]


# --- streamable HTTP ----------------------------------------------------------------------
@pytest.fixture
def http_server(guarded: Home) -> Any:
    """`mm mcp --http` on a free loopback port; yields (url, token) read from its stderr."""
    port = free_port()
    env = {**os.environ, **env_for(guarded)}
    env.pop("MM_MCP_TOKEN", None)
    proc = subprocess.Popen([MM, "mcp", "--http", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stderr.readline() if proc.stderr else ""  # the one line with the token
        assert "Authorization: Bearer " in line, line
        token = line.rsplit("Bearer ", 1)[1].strip()
        url = f"http://127.0.0.1:{port}/mcp"
        wait_until(lambda: httpx.get(url, timeout=1) is not None, timeout=15,
                   what="`mm mcp --http` to answer", ignore=(httpx.HTTPError,),
                   alive=lambda: proc.poll() is None)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        assert proc.stdout is not None and proc.stdout.read() == ""  # stdout stays silent


def _init_body() -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"}}}


def test_http_requires_bearer_and_a_good_origin(http_server: Any) -> None:
    url, token = http_server
    headers = {"accept": "application/json, text/event-stream"}
    assert httpx.post(url, json=_init_body(), headers=headers).status_code == 401
    wrong = httpx.post(url, json=_init_body(), headers={**headers,
                                                        "authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    good = {**headers, "authorization": f"Bearer {token}"}
    evil = httpx.post(url, json=_init_body(), headers={**good, "origin": "http://evil.example"})
    assert evil.status_code == 403
    rebound = httpx.post(url.replace("127.0.0.1", "localhost"), json=_init_body(),
                         headers={**good, "origin": "http://attacker.test:1234"})
    assert rebound.status_code == 403
    port = url.rsplit(":", 1)[1].split("/")[0]
    fine = httpx.post(url, json=_init_body(), headers={**good,
                                                       "origin": f"http://127.0.0.1:{port}"})
    assert fine.status_code == 200, fine.text


async def test_http_session_lists_reads_writes_and_sees_pending(http_server: Any) -> None:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    url, token = http_server
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http, \
            streamable_http_client(url, http_client=http) as (read, write), \
            ClientSession(read, write) as s:
        await s.initialize()
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert tools["transfer"].annotations.destructive_hint is True  # type: ignore[union-attr]
        assert tools["wallet_balance"].output_schema is not None
        assert (await ok(s, "wallet_balance", {"chain_ids": [31337]}))["data"]["chains"]
        await pending_transfer(s)


def test_http_refuses_a_non_loopback_host(guarded: Home) -> None:
    proc = subprocess.run([MM, "mcp", "--http", "--host", "0.0.0.0", "--port",
                           str(free_port()), "--json"], capture_output=True, text=True,
                          env={**os.environ, **env_for(guarded)}, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""  # start-up errors never go to stdout (see _stderr_error)
    err = _stderr_error(proc)
    assert err["code"] == "USAGE_ERROR" and "loopback" in err["message"]


def _stderr_error(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The error envelope `mm mcp` printed on stderr (its last line)."""
    return dict(json.loads(proc.stderr.strip().splitlines()[-1])["error"])


if sys.platform == "win32":  # pragma: no cover
    pytest.skip("stdio subprocess tests are POSIX-only here", allow_module_level=True)


async def test_stdio_byok_encrypted_vault_unlocks_from_mm_password(devnet_home: Home) -> None:
    from conftest import TEST_MNEMONIC

    from mm_agent.wallets.byok.keyring import ByokKeyring

    devnet_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC,
                                                                     "correct horse 1"))
    async with stdio_session(devnet_home, MM_PASSWORD="correct horse 1") as s:
        signed = await ok(s, "wallet_sign_message", {"message": "hi", "chain_id": 31337})
        assert signed["data"]["signature"]
    # Without it the server refuses to start, before speaking any protocol.
    # The error goes to stderr: on stdio, stdout is the protocol and an MCP client would parse
    # an envelope there as a (broken) JSON-RPC message. Without -f too (json off a TTY).
    env = {k: v for k, v in os.environ.items() if k not in ("MM_PASSWORD", "MM_FORMAT")}
    for fmt in (["--json"], []):
        proc = subprocess.run([MM, "mcp", *fmt], capture_output=True, text=True, input="",
                              env={**env, **env_for(devnet_home)}, timeout=60)
        assert proc.returncode != 0
        assert proc.stdout == "", proc.stdout
        assert _stderr_error(proc)["code"] == "PASSWORD_REQUIRED"
    # A text format is text on stderr, still nothing on stdout.
    proc = subprocess.run([MM, "mcp", "-f", "text"], capture_output=True, text=True, input="",
                          env={**env, **env_for(devnet_home)}, timeout=60)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "Error [PASSWORD_REQUIRED]" in proc.stderr
