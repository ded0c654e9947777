"""One wallet interface (issue 10 item 3): BYOK and server wallets implement ``WalletBase`` and
``AsyncWalletBase`` with the same typed, documented methods; no inheritance between the two
implementations, no ``__getattr__`` forwarding; ``from_env`` picks the implementation by the
mode stored in MM_HOME without importing the other one."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from typing import Any

import pytest
from conftest import ACCOUNT0

from mm_agent import AsyncWallet, Wallet
from mm_agent.errors import NotInitialized, StateCorrupt, UnsupportedInMode
from mm_agent.local.session import Session, SessionStore
from mm_agent.local.state import Home
from mm_agent.wallets.async_base import AsyncRequestsBase, AsyncWalletBase
from mm_agent.wallets.base import RequestsBase, WalletBase
from mm_agent.wallets.byok.async_wallet import AsyncByokRequestsAPI, AsyncByokWallet
from mm_agent.wallets.byok.wallet import ByokRequestsAPI, ByokWallet
from mm_agent.wallets.remote.async_wallet import AsyncRemoteRequestsAPI, AsyncRemoteWallet
from mm_agent.wallets.remote.wallet import RemoteRequestsAPI, RemoteWallet

SYNC = (ByokWallet, RemoteWallet)
ASYNC = (AsyncByokWallet, AsyncRemoteWallet)
PAIRS = ((ByokWallet, AsyncByokWallet), (RemoteWallet, AsyncRemoteWallet))
REQUESTS = ((ByokRequestsAPI, AsyncByokRequestsAPI), (RemoteRequestsAPI, AsyncRemoteRequestsAPI))
# Members that differ between the blocking and the async face by design.
SYNC_ONLY = {"close", "__enter__", "__exit__"}
ASYNC_ONLY = {"aclose", "sync", "of", "__aenter__", "__aexit__"}
LOCAL = {"mode", "address", "bound", "from_env", "sync", "of"}  # no I/O: not coroutines


def public(cls: type) -> dict[str, Any]:
    """Public members declared on ``cls`` or its bases (``object``'s aside)."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        for name, value in vars(klass).items():
            if not name.startswith("_"):
                out[name] = value
    return out


def methods(cls: type) -> dict[str, Any]:
    return {name: getattr(cls, name) for name, value in public(cls).items()
            if callable(value) or isinstance(value, classmethod | staticmethod)}


def signature(fn: Any) -> inspect.Signature:
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return sig.replace(parameters=params, return_annotation=inspect.Signature.empty)


def _same_params(a: Any, b: Any) -> None:
    sa, sb = signature(a), signature(b)
    assert list(sa.parameters) == list(sb.parameters), (a, sa, sb)
    for name, pa in sa.parameters.items():
        pb = sb.parameters[name]
        assert (pa.kind, pa.default) == (pb.kind, pb.default), (a, name, pa, pb)


# --- the classes ---------------------------------------------------------------------------
def test_public_names_are_the_interface() -> None:
    assert Wallet is WalletBase and AsyncWallet is AsyncWalletBase
    for cls in SYNC:
        assert issubclass(cls, Wallet) and not issubclass(cls, AsyncWallet)
    for cls in ASYNC:
        assert issubclass(cls, AsyncWallet) and not issubclass(cls, Wallet)
    # No implementation inherits from the other mode's.
    assert not issubclass(RemoteWallet, ByokWallet) and not issubclass(ByokWallet, RemoteWallet)
    assert not issubclass(AsyncRemoteWallet, AsyncByokWallet)
    assert not issubclass(AsyncByokWallet, AsyncRemoteWallet)
    for cls in (*SYNC, *ASYNC):
        assert not inspect.isabstract(cls), (cls, cls.__abstractmethods__)


@pytest.mark.parametrize("cls", [*SYNC, *ASYNC, *[r for pair in REQUESTS for r in pair]])
def test_no_dynamic_forwarding(cls: type) -> None:
    for klass in cls.__mro__:
        assert "__getattr__" not in vars(klass), klass
        assert "__getattribute__" not in vars(klass) or klass is object, klass


@pytest.mark.parametrize("impl", SYNC)
def test_sync_implementations_match_the_base(impl: type) -> None:
    for name, base_fn in methods(WalletBase).items():
        fn = getattr(impl, name)
        _same_params(base_fn, fn)
        assert not inspect.iscoroutinefunction(fn), name
    for name, prop in public(WalletBase).items():
        if isinstance(prop, property):
            assert isinstance(inspect.getattr_static(impl, name), property), (impl, name)


@pytest.mark.parametrize("impl", ASYNC)
def test_async_implementations_match_the_base(impl: type) -> None:
    for name, base_fn in methods(AsyncWalletBase).items():
        fn = getattr(impl, name)
        _same_params(base_fn, fn)
        if name not in LOCAL:
            assert inspect.iscoroutinefunction(fn), (impl, name)


def test_sync_and_async_bases_have_the_same_methods() -> None:
    sync = set(public(WalletBase)) - SYNC_ONLY
    async_ = set(public(AsyncWalletBase)) - ASYNC_ONLY
    assert sync == async_, sync ^ async_
    sync_methods, async_methods = methods(WalletBase), methods(AsyncWalletBase)
    for name in sync & async_:
        if name in sync_methods:
            _same_params(sync_methods[name], async_methods[name])
            assert inspect.iscoroutinefunction(async_methods[name]) == (name not in LOCAL), name


@pytest.mark.parametrize(("sync_cls", "async_cls"), REQUESTS)
def test_requests_apis(sync_cls: type, async_cls: type) -> None:
    assert issubclass(sync_cls, RequestsBase) and issubclass(async_cls, AsyncRequestsBase)
    names = {"list", "get", "wait", "cancel"}
    assert set(methods(RequestsBase)) == set(methods(AsyncRequestsBase)) == names
    for name in names:
        base = getattr(RequestsBase, name)
        _same_params(base, getattr(sync_cls, name))
        _same_params(base, getattr(async_cls, name))
        _same_params(base, getattr(AsyncRequestsBase, name))
        assert not inspect.iscoroutinefunction(getattr(sync_cls, name))
        assert inspect.iscoroutinefunction(getattr(async_cls, name)), (async_cls, name)


@pytest.mark.parametrize("cls", [WalletBase, AsyncWalletBase, RequestsBase, AsyncRequestsBase,
                                 *SYNC, *ASYNC])
def test_every_public_method_is_typed_and_documented(cls: type) -> None:
    for name, member in public(cls).items():
        fn = member.fget if isinstance(member, property) else getattr(cls, name)
        if not callable(fn):
            continue
        assert inspect.getdoc(fn), f"{cls.__name__}.{name} has no docstring"
        hints = inspect.signature(fn)
        assert hints.return_annotation is not inspect.Signature.empty, (cls, name)
        for param in hints.parameters.values():
            if param.name not in ("self", "cls"):
                assert param.annotation is not inspect.Parameter.empty, (cls, name, param)


def test_interface_docstrings_give_errors_and_an_example() -> None:
    for name in ("transfer", "send_transaction", "sign_message", "sign_typed_data", "preview",
                 "balance", "bound", "from_env"):
        doc = inspect.getdoc(getattr(WalletBase, name)) or ""
        assert "Example" in doc and ("Raises" in doc or "Returns" in doc), name


# --- from_env ------------------------------------------------------------------------------
def _server_home(home: Home) -> Home:
    home.write_json("wallets.json", {"mode": "server-wallet", "active": ACCOUNT0,
                                     "accounts": [{"address": ACCOUNT0, "name": "Wallet 1",
                                                   "tradingMode": "guard"}]})
    SessionStore(home).save(Session(service_url="http://127.0.0.1:9", access_token="mma_x",
                                    refresh_token="mmr_x"))
    return home


def test_from_env_picks_by_mode(byok_home: Home, tmp_path: Any) -> None:
    w = Wallet.from_env(home=byok_home)
    assert type(w) is ByokWallet and isinstance(w, Wallet) and w.mode == "byok"
    assert w.address == ACCOUNT0
    aw = AsyncWallet.from_env(home=byok_home)
    assert type(aw) is AsyncByokWallet and isinstance(aw, AsyncWallet)
    assert aw.sync.address == aw.address == ACCOUNT0
    assert type(AsyncWallet.of(w)) is AsyncByokWallet

    server = _server_home(Home(tmp_path / "server"))
    with Wallet.from_env(home=server) as rw:
        assert type(rw) is RemoteWallet and isinstance(rw, Wallet)
        assert rw.mode == "server-wallet" and rw.address == ACCOUNT0
        bound = rw.bound(account=ACCOUNT0.lower(), idempotency_key="k1")
        assert bound.address == ACCOUNT0 and bound.requests is not rw.requests

    async def run() -> None:
        async with AsyncWallet.from_env(home=server) as arw:
            assert type(arw) is AsyncRemoteWallet and isinstance(arw, AsyncWallet)
            assert arw.address == ACCOUNT0 and type(arw.sync) is RemoteWallet

    asyncio.run(run())


def test_from_env_without_a_wallet_and_with_an_unknown_mode(mm_home: Home) -> None:
    with pytest.raises(NotInitialized):
        Wallet.from_env(home=mm_home)
    mm_home.write_json("wallets.json", {"mode": "hardware", "accounts": []})
    with pytest.raises(StateCorrupt):  # a mode this version does not know: never replaced
        AsyncWallet.from_env(home=mm_home)


def test_byok_has_no_policy(wallet: Any) -> None:
    for call in (wallet.policy, wallet.trading_mode, lambda: wallet.set_policy("{}"),
                 lambda: wallet.set_trading_mode("beast")):
        with pytest.raises(UnsupportedInMode):
            call()


def test_importing_the_api_loads_no_implementation() -> None:
    """``from mm_agent import Wallet`` stays cheap: the implementations load by mode."""
    code = ("import sys; from mm_agent import Wallet, AsyncWallet; Wallet.from_env; "
            "loaded = [m for m in sys.modules if m.startswith(('mm_agent.wallets.byok', "
            "'mm_agent.wallets.remote', 'httpx', 'eth_account'))]; print(loaded)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out


async def test_async_byok_requests_are_coroutines(byok_home: Home) -> None:
    async with AsyncWallet.from_env(home=byok_home) as aw:
        req = await aw.sign_message(message="hello", chain_id=31337)
        assert req.status == "COMPLETED" and req.signature
        for call in (aw.requests.list(), aw.requests.get(req.polling_id),
                     aw.requests.wait(req.polling_id)):
            assert inspect.iscoroutine(call)
            await call
        assert (await aw.requests.get(req.polling_id)).polling_id == req.polling_id
        assert [r.polling_id for r in await aw.requests.list(limit=1)] == [req.polling_id]
