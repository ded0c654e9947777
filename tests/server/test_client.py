"""The wallet-service client (``mm_agent.wallets.remote.client``) and the server-wallet Python API,
against the real service (``service`` fixture: uvicorn on a free port) and the session anvil.

Also: vcrpy cassettes of real client↔service exchanges (recorded once from the real service,
replayed without it) and a scan proving no token reached a cassette.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import vcr
from conftest import ACCOUNT0, ACCOUNT1, Anvil
from sqlalchemy import update

from mm_agent import AsyncWallet, Wallet
from mm_agent.errors import (
    AlreadyAuthenticated,
    JobTimeout,
    NetworkUnreachable,
    NotAuthenticated,
    RequestNotFound,
    WalletNotFound,
)
from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.session import Session, SessionStore
from mm_agent.local.state import Home
from mm_agent.operations.context import Context
from mm_agent.operations.registry import get
from mm_agent.wallets.remote.async_wallet import AsyncRemoteWallet
from mm_agent.wallets.remote.client import RemoteClient, approval_notice
from mm_agent.wallets.remote.wallet import RemoteWallet

from .test_jobs import approve_mode_changes

EMAIL = "agent@example.com"
CASSETTES = Path(__file__).parent / "cassettes"
# Recording is an explicit opt-in: MM_RECORD_CASSETTES=<dir outside the repo> records fresh
# cassettes from the real service into <dir>; copy them into tests/server/cassettes/ by hand
# after reading them. A normal run only replays (record mode "none") and never writes here.
RECORD_ENV = "MM_RECORD_CASSETTES"
REPO = Path(__file__).resolve().parents[2]
_TOKEN_RE = re.compile(r"mm[ard]_[A-Za-z0-9_\-]+")


# --- helpers shared with test_cli_server_wallet.py ----------------------------------------------
def attach_chain(service: Any, chain: Anvil) -> None:
    """Point the service's engine at the session anvil with the demo tokens registered."""
    data = Home(service.data_dir)
    data.write_json("config.json", {"rpc.31337": chain.url})
    data.write_json("devnet.json", {
        "pid": chain.proc.pid, "port": int(chain.url.rsplit(":", 1)[1]), "rpcUrl": chain.url,
        "chainId": 31337, "tokens": chain.deployed["tokens"],
        "contracts": chain.deployed["contracts"], "deployer": chain.deployed["deployer"],
    })
    service.state.config._stored = None  # re-read config.json if it was read at start-up


def fund(chain: Anvil, address: str, eth: int = 10, musd: int = 0) -> None:
    """A new server wallet has nothing: ETH by anvil cheat, mUSD from the deployer."""
    chain.rpc("anvil_setBalance", [address, hex(eth * 10**18)])
    if musd:
        tok = chain.token("mUSD")
        data = ("0xa9059cbb" + address[2:].lower().rjust(64, "0")
                + hex(musd * 10 ** tok["decimals"])[2:].rjust(64, "0"))
        chain.rpc("eth_sendTransaction", [{"from": ACCOUNT0, "to": tok["address"],
                                           "data": data}])


def sign_in(service: Any, home: Home, monkeypatch: pytest.MonkeyPatch,
            channel: str = "email", email: str = EMAIL) -> dict[str, Any]:
    """`mm login --token` through the operation (what the CLI runs); returns its result."""
    monkeypatch.setenv("MM_SERVICE_URL", service.base_url)
    pair = service.create_login(email, channel)["token"]
    return get("login").run(Context(home=home), {"token": pair})


def init_server_wallet(home: Home, mode: str = "beast") -> dict[str, Any]:
    return get("init").run(Context(home=home), {"wallet": "server-wallet", "mode": mode})


def expire_access_tokens(service: Any) -> None:
    """Make every access token of the service expired (as after 15 minutes)."""
    from mm_agent.server.db.store import tokens

    with service.state.store.tx() as conn:
        conn.execute(update(tokens).where(tokens.c.kind == "access")
                     .values(expires_at=time.time() - 1))


@pytest.fixture
def signed_in(service: Any, mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    sign_in(service, mm_home, monkeypatch)
    return mm_home


@pytest.fixture
def server_wallet(service: Any, chain: Anvil, signed_in: Home) -> RemoteWallet:
    """A beast-mode server wallet with 10 ETH and 1000 mUSD on the session anvil."""
    attach_chain(service, chain)
    init_server_wallet(signed_in, "beast")
    approve_mode_changes(service)  # an agent token's beast wallet waits for the human
    w = Wallet.from_env(home=signed_in)
    assert isinstance(w, RemoteWallet)
    fund(chain, w.address, musd=1000)
    return w


# --- session ----------------------------------------------------------------------------------
def test_session_repr_and_file_never_show_tokens_in_repr(mm_home: Home) -> None:
    s = Session(service_url="http://x", access_token="mma_secret", refresh_token="mmr_secret",
                method="token", email="a@b.c", channel="email")
    assert "mma_secret" not in repr(s) and "mmr_secret" not in repr(s)
    assert "mma_secret" not in json.dumps(s.public())
    store = SessionStore(mm_home)
    store.save(s)
    assert store.load() == s
    assert oct(mm_home.path("session.json").stat().st_mode & 0o777) == "0o600"
    assert set(json.loads(mm_home.path("session.json").read_text())) == {
        "serviceUrl", "accessToken", "refreshToken", "method", "email", "channel"}


def test_login_by_token_python_and_status(service: Any, mm_home: Home,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = sign_in(service, mm_home, monkeypatch)
    assert out["authenticated"] is True
    assert out["email"] == EMAIL and out["channel"] == "email" and out["method"] == "token"
    assert out["serviceUrl"] == service.base_url and out["expiresAt"]
    assert "mma_" not in json.dumps(out)
    session = SessionStore(mm_home).load()
    assert session is not None and session.method == "token" and session.email == EMAIL
    status = get("auth_status").run(Context(home=mm_home), {})
    assert status == {**out, "expiresAt": status["expiresAt"]}


def test_login_with_a_bad_token_keeps_the_previous_session(
        service: Any, mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(service, mm_home, monkeypatch)
    before = mm_home.read_json("session.json")
    # Issue 11: a valid session refuses a second sign-in (ALREADY_AUTHENTICATED, as the
    # reference CLI) before the new pair is even tried; the session stays as it was.
    with pytest.raises(AlreadyAuthenticated):
        get("login").run(Context(home=mm_home), {"token": "mma_nope:mmr_nope"})
    assert mm_home.read_json("session.json") == before
    # Once that session no longer works, a bad pair is tried, fails, and changes nothing.
    SessionStore(mm_home).update(access_token="mma_revoked", refresh_token="mmr_revoked")
    before = mm_home.read_json("session.json")
    with pytest.raises(NotAuthenticated):
        get("login").run(Context(home=mm_home), {"token": "mma_nope:mmr_nope"})
    assert mm_home.read_json("session.json") == before


def test_refresh_on_401_rotates_and_persists(service: Any, signed_in: Home) -> None:
    old = SessionStore(signed_in).require()
    expire_access_tokens(service)
    with RemoteClient(signed_in) as client:
        assert client.auth_status()["email"] == EMAIL
    new = SessionStore(signed_in).require()
    assert new.access_token != old.access_token
    assert new.refresh_token != old.refresh_token  # rotated on use
    # The new pair works; the old refresh token is spent.
    with RemoteClient(signed_in) as client:
        assert client.auth_status()["email"] == EMAIL
    with service.client() as http:
        spent = http.post("/v1/auth/refresh", json={"refreshToken": old.refresh_token})
    assert spent.status_code == 401


def test_a_stale_client_picks_up_the_rotated_pair(service: Any, signed_in: Home) -> None:
    """A client still holding the old pair (another process refreshed meanwhile) must not
    present the spent refresh token (that would revoke the family): it reloads session.json."""
    old = SessionStore(signed_in).require()
    expire_access_tokens(service)
    with RemoteClient(signed_in) as client:
        client.auth_status()
    with RemoteClient(signed_in, session=old) as stale:
        assert stale.refresh().access_token == SessionStore(signed_in).require().access_token
        assert stale.auth_status()["email"] == EMAIL


def test_proactive_refresh_when_the_stored_expiry_passed(service: Any, signed_in: Home) -> None:
    store = SessionStore(signed_in)
    old = store.update(expires_at="2000-01-01T00:00:00Z")
    assert old is not None
    with RemoteClient(signed_in) as client:
        client.auth_status()
    new = store.require()
    assert new.access_token != old.access_token and not new.access_expired()


def test_refresh_is_done_once_across_clients(service: Any, signed_in: Home) -> None:
    """Two clients (think: two processes) hit the expiry: only one refresh reaches the service,
    the other picks the rotated pair up from session.json (a second use would revoke all)."""
    expire_access_tokens(service)
    a, b = RemoteClient(signed_in), RemoteClient(signed_in)
    a.auth_status()
    b.auth_status()
    assert a.session == b.session
    a.close()
    b.close()


@pytest.mark.asyncio
async def test_async_refresh_on_401(service: Any, signed_in: Home) -> None:
    from mm_agent.wallets.remote.client import AsyncRemoteClient

    old = SessionStore(signed_in).require()
    expire_access_tokens(service)
    async with AsyncRemoteClient(signed_in) as client:
        assert (await client.auth_status())["email"] == EMAIL
    assert SessionStore(signed_in).require().access_token != old.access_token


def test_logout_revokes_on_the_service(service: Any, signed_in: Home) -> None:
    old = SessionStore(signed_in).require()
    out = get("logout").run(Context(home=signed_in), {"yes": True})
    assert out == {"loggedOut": True, "revoked": True, "serviceUrl": service.base_url}
    assert not signed_in.path("session.json").exists()
    with pytest.raises(NotAuthenticated):
        get("auth_status").run(Context(home=signed_in), {})
    # The old tokens are dead on the service, not just forgotten locally.
    with RemoteClient(signed_in, session=old) as client, pytest.raises(NotAuthenticated):
        client.auth_status()


def test_tokens_of_one_service_are_not_sent_to_another(service: Any, signed_in: Home,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_SERVICE_URL", "http://127.0.0.1:9")
    with RemoteClient(signed_in) as client, pytest.raises(NotAuthenticated) as err:
        client.auth_status()
    assert "mm login" in (err.value.hint or "")


def test_service_down_is_network_unreachable(mm_home: Home,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MM_SERVICE_URL", url)
    SessionStore(mm_home).save(Session(service_url=url, access_token="a", refresh_token="r"))
    with RemoteClient(mm_home) as client, pytest.raises(NetworkUnreachable) as err:
        client.auth_status()
    assert "mm server start" in (err.value.hint or "") and "serviceUrl" in err.value.hint


def test_from_env_needs_a_session(mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    mm_home.write_json("wallets.json", {"mode": "server-wallet", "active": ACCOUNT1,
                                        "accounts": []})
    with pytest.raises(NotAuthenticated):
        Wallet.from_env(home=mm_home)


# --- wallets ------------------------------------------------------------------------------------
def test_init_creates_a_wallet_then_reuses_it(service: Any, signed_in: Home) -> None:
    out = init_server_wallet(signed_in, "guard")
    assert out["walletMode"] == "server-wallet" and out["tradingMode"] == "guard"
    assert out["serviceUrl"] == service.base_url
    data = signed_in.read_json("wallets.json")
    assert data == {"mode": "server-wallet", "active": out["address"],
                    "accounts": [{"address": out["address"], "name": "Wallet 1",
                                  "tradingMode": "guard"}]}
    assert SessionStore(signed_in).require().active_wallet == out["address"]
    # Same account, new MM_HOME: init finds the wallet instead of creating another.
    signed_in.path("wallets.json").unlink()
    again = init_server_wallet(signed_in, "guard")
    assert again["address"] == out["address"]
    with RemoteClient(signed_in) as client:
        assert len(client.list_wallets()) == 1


def test_accounts_create_select_show(service: Any, signed_in: Home) -> None:
    first = init_server_wallet(signed_in, "guard")["address"]
    w = Wallet.from_env(home=signed_in)
    assert isinstance(w, RemoteWallet) and w.mode == "server-wallet"
    assert w.address == first and "mma_" not in repr(w)
    second = w.create_account("trading", trading_mode="beast")
    # An agent token's wallet starts in guard; beast waits for the human (contract §7).
    assert second["name"] == "trading" and second["tradingMode"] == "guard"
    assert second["tradingModeChange"]["status"] == "pending_approval"
    assert w.address == first  # creating does not switch (as in BYOK)
    accounts = w.accounts()
    assert [(a["address"], a["active"]) for a in accounts] == [(first, True),
                                                               (second["address"], False)]
    w.select(second["address"].lower())
    assert w.address == second["address"]
    assert signed_in.read_json("wallets.json")["active"] == second["address"]
    shown = w.show()
    assert shown["address"] == second["address"] and shown["active"] is True
    assert shown["mode"] == "server-wallet"
    assert w.show(name="Wallet 1")["address"] == first
    with pytest.raises(WalletNotFound):
        w.show(name="nope")
    with pytest.raises(WalletNotFound):
        w.select(ACCOUNT1)


def test_balance(server_wallet: RemoteWallet) -> None:
    bal = server_wallet.balance([31337])
    assert bal["address"] == server_wallet.address
    tokens = {t["symbol"]: t["amount"] for t in bal["chains"][0]["tokens"]}
    assert tokens["ETH"] == "10" and tokens["mUSD"] == "1000"
    only = server_wallet.balance([31337], token="mUSD")
    assert [t["symbol"] for t in only["chains"][0]["tokens"]] == ["mUSD"]


# --- requests -----------------------------------------------------------------------------------
def test_transfer_wait_false_then_wait(server_wallet: RemoteWallet, chain: Anvil) -> None:
    before = chain.balance(ACCOUNT1)
    req = server_wallet.transfer(to=ACCOUNT1, amount="0.5", chain_id=31337, wait=False)
    assert isinstance(req, WalletRequest) and req.polling_id
    assert req.status in ("PENDING", "SUBMITTED", "COMPLETED")
    done = server_wallet.requests.wait(req.polling_id, timeout=60)
    assert done.status == "COMPLETED", done
    assert done.tx_hash and done.intent.startswith("Transfer 0.5 ETH")
    assert chain.balance(ACCOUNT1) - before == 5 * 10**17
    assert server_wallet.requests.get(req.polling_id).status == "COMPLETED"
    listed = server_wallet.requests.list()
    assert listed[0].polling_id == req.polling_id
    # The cache holds what the last sync saw (besides the approved switch to beast that
    # creating this wallet with an agent token opened).
    assert [r.polling_id for r in server_wallet.requests.list(sync=False)
            if r.kind != "trading-mode"] == [req.polling_id]
    history = server_wallet.tx_history([31337])
    assert history[0]["txHash"] == done.tx_hash


def test_erc20_transfer_wait_true_and_idempotency(server_wallet: RemoteWallet,
                                                  chain: Anvil) -> None:
    token = chain.token("mUSD")["address"]
    before = chain.erc20_balance(token, ACCOUNT1)
    req = server_wallet.transfer(to=ACCOUNT1, amount="12.5", chain_id=31337, token="mUSD",
                                 wait=True, idempotency_key="k-1")
    assert isinstance(req, WalletRequest) and req.status == "COMPLETED" and req.tx_hash
    assert chain.erc20_balance(token, ACCOUNT1) - before == 125 * 10**5
    # Same key, same body: the same request, nothing sent twice.
    again = server_wallet.transfer(to=ACCOUNT1, amount="12.5", chain_id=31337, token="mUSD",
                                   wait=True, idempotency_key="k-1")
    assert isinstance(again, WalletRequest) and again.polling_id == req.polling_id
    assert chain.erc20_balance(token, ACCOUNT1) - before == 125 * 10**5


def test_dry_run_returns_the_preview(server_wallet: RemoteWallet) -> None:
    preview = server_wallet.transfer(to=ACCOUNT1, amount="1", chain_id=31337, dry_run=True)
    assert isinstance(preview, dict) and preview["simulation"]["success"] is True
    assert preview["scan"]["resultType"] == "Benign"
    # Nothing was submitted (only the fixture's approved switch to beast is listed).
    assert [r for r in server_wallet.requests.list() if r.kind != "trading-mode"] == []
    same = server_wallet.preview(kind="transaction", chain_id=31337,
                                 payload={"to": ACCOUNT1, "value": hex(10**18)})
    assert same["simulation"]["success"] is True


def test_sign_message_and_typed_data_recover_to_the_wallet(server_wallet: RemoteWallet) -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct, encode_typed_data

    req = server_wallet.sign_message(message="hello from the service", chain_id=31337)
    assert isinstance(req, WalletRequest) and req.status == "COMPLETED" and req.signature
    signer = Account.recover_message(encode_defunct(text="hello from the service"),
                                     signature=req.signature)
    assert signer == server_wallet.address

    typed = mail_typed_data(31337)
    req = server_wallet.sign_typed_data(chain_id=31337, payload=json.dumps(typed))
    assert isinstance(req, WalletRequest) and req.status == "COMPLETED" and req.signature
    signer = Account.recover_message(encode_typed_data(full_message=typed),
                                     signature=req.signature)
    assert signer == server_wallet.address


def mail_typed_data(chain_id: int) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}],
            "Mail": [{"name": "from", "type": "string"}, {"name": "contents", "type": "string"}],
        },
        "primaryType": "Mail",
        "domain": {"name": "Demo Mail", "version": "1", "chainId": chain_id},
        "message": {"from": "agent", "contents": "hello"},
    }


def denylist(service: Any, tmp_path: Path, *addresses: str) -> None:
    """A recipient on the service's denylist is `known_malicious`: approval in every mode."""
    path = tmp_path / "denylist.json"
    path.write_text(json.dumps([a.lower() for a in addresses]))
    data = Home(service.data_dir)
    data.write_json("config.json", {**data.read_json("config.json", {}),
                                    "security.denylist": str(path)})
    service.state.config._stored = None


def test_job_timeout_carries_the_request_and_the_job_goes_on(
        service: Any, chain: Anvil, signed_in: Home, tmp_path: Path) -> None:
    """A request waiting for the human (AWAITING_MFA) outlives the client's --wallet-timeout."""
    attach_chain(service, chain)
    denylist(service, tmp_path, ACCOUNT1)
    init_server_wallet(signed_in, "guard")
    notices: list[WalletRequest] = []
    w = RemoteWallet.from_env(home=signed_in, on_awaiting=notices.append)
    fund(chain, w.address)
    with pytest.raises(JobTimeout) as err:
        w.transfer(to=ACCOUNT1, amount="0.1", chain_id=31337, wait=True, wallet_timeout=2)
    request = err.value.details["request"]
    assert request["status"] == "AWAITING_MFA" and request["pollingId"]
    assert [n.polling_id for n in notices] == [request["pollingId"]]  # told once
    text = approval_notice(notices[0])
    assert "email" in text and "http" not in text and "t=" not in text
    # The job goes on: still waiting for the human, not failed.
    time.sleep(1)  # proving an absence: the job is not failed a moment after the timeout
    assert w.requests.get(request["pollingId"]).status == "AWAITING_MFA"


def test_unknown_request_is_request_not_found(server_wallet: RemoteWallet) -> None:
    with pytest.raises(RequestNotFound):
        server_wallet.requests.get("0" * 32)


@pytest.mark.asyncio
async def test_async_remote_wallet_transfer(server_wallet: RemoteWallet, chain: Anvil) -> None:
    home = server_wallet.home
    before = chain.balance(ACCOUNT1)
    async with AsyncWallet.from_env(home=home) as aw:
        assert isinstance(aw, AsyncRemoteWallet)
        assert aw.address == server_wallet.address
        assert [a["address"] for a in await aw.accounts()] == [server_wallet.address]
        bal = await aw.balance([31337], token="ETH")
        assert bal["chains"][0]["tokens"][0]["amount"] == "10"
        pending = await aw.transfer(to=ACCOUNT1, amount="0.25", chain_id=31337, wait=False)
        assert isinstance(pending, WalletRequest)
        done = await aw.requests.wait(pending.polling_id, timeout=60)
        assert done.status == "COMPLETED" and done.tx_hash
        req = await aw.transfer(to=ACCOUNT1, amount="0.25", chain_id=31337, wait=True)
        assert isinstance(req, WalletRequest) and req.status == "COMPLETED"
        assert [r.polling_id for r in await aw.requests.list()][:2] == [req.polling_id,
                                                                        pending.polling_id]
    assert chain.balance(ACCOUNT1) - before == 5 * 10**17


# --- vcrpy cassettes ----------------------------------------------------------------------------
def _scrub(text: str) -> str:
    # Replacements must not look like tokens themselves (the scan below looks for mma_/mmr_).
    return _TOKEN_RE.sub("REDACTED", text)


def _scrub_request(request: Any) -> Any:
    if request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        request.body = _scrub(body)
        for name in list(request.headers):
            if name.lower() == "content-length":
                request.headers[name] = str(len(request.body))
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        body = _scrub(body.decode()).encode()
    elif isinstance(body, str):
        body = _scrub(body).encode()
    else:
        return response
    response["body"]["string"] = body
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() == "content-length":  # keep the replayed response self-consistent
            headers[name] = [str(len(body))]
    return response


def _vcr(library: Path) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(library),
        filter_headers=["authorization", "idempotency-key"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        # The service listens on a free port each run: match on everything but the port.
        match_on=["method", "scheme", "host", "path", "query"],
        decode_compressed_response=True,
    )


def _replay_home(home: Home, base_url: str) -> None:
    # Replays never reach a service: the tokens only need to exist (headers are filtered).
    SessionStore(home).save(Session(service_url=base_url, access_token="replay-access",
                                    refresh_token="replay-refresh", method="token",
                                    email=EMAIL, channel="email"))


def _exchanges(home: Home, expire: Any, library: Path, record: bool) -> dict[str, Any]:
    """The client calls recorded into (``record``) or replayed from the cassettes."""
    out: dict[str, Any] = {}
    cassettes = _vcr(library)
    mode = {"record_mode": "all" if record else "none"}
    with cassettes.use_cassette("auth_status.yaml", **mode), RemoteClient(home) as client:
        out["status"] = client.auth_status()
    with cassettes.use_cassette("wallets.yaml", **mode), RemoteClient(home) as client:
        out["created"] = client.create_wallet("vcr", "guard")
        out["wallets"] = client.list_wallets()
        out["wallet"] = client.get_wallet(out["created"]["address"])
        with pytest.raises(RequestNotFound) as err:
            client.get_request("f" * 32)
        out["missing"] = err.value.code
    expire()
    with cassettes.use_cassette("refresh.yaml", **mode), RemoteClient(home) as client:
        out["after_refresh"] = client.auth_status()
    return out


def _record_dir() -> Path | None:
    """Where to record (the opt-in), refused inside the source tree."""
    value = os.environ.get(RECORD_ENV, "").strip()
    if not value:
        return None
    target = Path(value).expanduser().resolve()
    if target == REPO or REPO in target.parents:
        pytest.fail(f"{RECORD_ENV}={value} is inside the source tree: record into a temporary "
                    "directory and copy the cassettes into tests/server/cassettes/ by hand.",
                    pytrace=False)
    return target


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


_NAMES = ("auth_status.yaml", "wallets.yaml", "refresh.yaml")


def test_cassettes_replay(request: pytest.FixtureRequest, mm_home: Home,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Replayed (no service, no network, record mode "none") from the committed cassettes:
    the client's parsing and refresh logic on real wire data. With MM_RECORD_CASSETTES set,
    recorded from the real service into that directory instead (never into the repo)."""
    record_dir = _record_dir()
    if record_dir is None:
        missing = [n for n in _NAMES if not (CASSETTES / n).exists()]
        assert not missing, (f"cassettes missing: {missing}. Record them with "
                             f"{RECORD_ENV}=$(mktemp -d) and copy them in by hand.")
        library, before = CASSETTES, _snapshot(CASSETTES)
        base = "http://127.0.0.1:1"
        monkeypatch.setenv("MM_SERVICE_URL", base)
        _replay_home(mm_home, base)

        def expire() -> None:
            return None
    else:
        library, before = record_dir, None
        library.mkdir(parents=True, exist_ok=True)
        for name in _NAMES:
            (library / name).unlink(missing_ok=True)  # record a consistent set
        svc = request.getfixturevalue("service")
        sign_in(svc, mm_home, monkeypatch)

        def expire() -> None:
            expire_access_tokens(svc)
    t0 = time.monotonic()
    out = _exchanges(mm_home, expire, library, record=record_dir is not None)
    if before is not None:
        assert _snapshot(CASSETTES) == before, "a test run wrote into tests/server/cassettes/"
    assert out["status"]["email"] == EMAIL and out["status"]["scope"] == "agent"
    assert out["created"]["name"] == "vcr" and out["created"]["tradingMode"] == "guard"
    assert [w["address"] for w in out["wallets"]] == [out["created"]["address"]]
    assert out["wallet"] == out["created"]
    assert out["missing"] == "REQUEST_NOT_FOUND"
    assert out["after_refresh"]["email"] == EMAIL
    # The 401 → refresh → retry sequence was on the wire, and the rotated pair was stored.
    session = SessionStore(mm_home).require()
    assert session.access_token not in ("replay-access",)
    if record_dir is None:
        assert time.monotonic() - t0 < 5


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    record_dir = _record_dir()  # freshly recorded ones are checked before anyone copies them
    if record_dir is not None:
        files += sorted(record_dir.glob("*.yaml"))
    assert files, "no cassettes recorded yet"
    for path in files:
        text = path.read_text()
        for needle in ("mma_", "mmr_", "mmd_", "Bearer"):
            assert needle not in text, f"{needle} in {path.name}"
        assert re.search(r"(?i)^\s*(authorization|idempotency-key):", text, re.M) is None


def test_cassette_refresh_sequence_was_recorded() -> None:
    """refresh.yaml must show the real flow: 401, then /v1/auth/refresh, then the retry."""
    import yaml

    data = yaml.safe_load((CASSETTES / "refresh.yaml").read_text())
    seen = [(i["request"]["method"], i["request"]["uri"].split("/", 3)[-1],
             i["response"]["status"]["code"]) for i in data["interactions"]]
    assert seen == [("GET", "v1/auth/status", 401), ("POST", "v1/auth/refresh", 200),
                    ("GET", "v1/auth/status", 200)]


def test_config_default_service_url_is_used_without_a_session(mm_home: Home) -> None:
    with RemoteClient(mm_home) as client:
        assert client.base_url == Config(mm_home).service_url
