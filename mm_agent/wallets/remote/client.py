"""The wallet-service client (the server-wallet ``Wallet`` is in ``remote/wallet.py``).

``RemoteClient`` (sync, ``httpx.Client``) and ``AsyncRemoteClient`` (``httpx.AsyncClient``) speak
exactly the HTTP API documented in ``mm_agent/server/__init__.py``. Everything but the I/O lives
in ``_Shared`` (URLs, headers, envelope parsing, the token-refresh decision) and in the endpoint
table ``_Endpoints``, so the two clients cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mm_agent.errors import (
    JobTimeout,
    MMError,
    NetworkUnreachable,
    NotAuthenticated,
    ServiceError,
)
from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.session import Session, SessionStore
from mm_agent.local.state import Home
from mm_agent.version import __version__

from ..base import AwaitingHook

__all__ = [
    "AsyncRemoteClient",
    "AwaitingHook",
    "RemoteClient",
    "approval_notice",
    "log_awaiting",
]

log = logging.getLogger("mm_agent.wallets.remote")

MAX_POLL_SECONDS = 25  # one long poll; the service caps it too
_CONNECT_TIMEOUT = 10.0
_READ_TIMEOUT = 30.0
_SERVICE_HINT = ("Check serviceUrl (`mm config get serviceUrl`, MM_SERVICE_URL) and that the "
                 "wallet service runs (`mm server start`).")

def approval_notice(req: WalletRequest, channel: str | None = None) -> str:
    """How the human approves ``req``. Never contains a link or code: the agent has none."""
    approval = req.approval or {}
    channel = approval.get("channel") or channel
    reason = approval.get("reason")
    head = f"Approval needed: {req.intent}" + (f" ({reason})" if reason else "") + "."
    if channel == "authenticator":
        how = ("Open the approval page from your notification and enter a current code from "
               "your authenticator app to approve or reject it.")
    else:
        how = "Check your email for the approval link and approve or reject the request there."
    expires = approval.get("expiresAt")
    tail = f" It expires at {expires}." if expires else ""
    return f"{head} {how}{tail} Waiting… (pollingId {req.polling_id})"


def log_awaiting(req: WalletRequest) -> None:
    """The library's default ``on_awaiting``: a log record, never terminal output (the CLI
    passes its own hook, which tells the person on stderr)."""
    log.info("%s", approval_notice(req))


def _to_request(data: dict[str, Any]) -> WalletRequest:
    return WalletRequest.from_dict({"intent": "", "kind": "transaction", "status": "PENDING",
                                    **data})


# --- shared request building / parsing ------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """One HTTP exchange with the service, before any I/O."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Any = None
    auth: bool = True
    idempotency_key: str | None = None
    poll_seconds: float | None = None  # long poll: the read timeout must outlast it


class _Shared:
    """URL building, headers, envelope parsing and the refresh decision (no I/O)."""

    def __init__(self, home: Home, config: Config, service_url: str | None = None,
                 session: Session | None = None) -> None:
        self.home = home
        self.config = config
        self.sessions = SessionStore(home)
        self.base_url = (service_url or config.service_url).rstrip("/")
        self._session = session

    @property
    def session(self) -> Session | None:
        if self._session is None:
            self._session = self.sessions.load()
        return self._session

    @session.setter
    def session(self, value: Session | None) -> None:
        self._session = value

    def url(self, path: str) -> str:
        return self.base_url + path

    def timeout(self, call: Call) -> httpx.Timeout:
        read = _READ_TIMEOUT + (call.poll_seconds or 0)
        return httpx.Timeout(read, connect=_CONNECT_TIMEOUT)

    def auth_session(self) -> Session:
        session = self.session
        if session is None or not session.authenticated:
            raise NotAuthenticated("Not signed in to the wallet service.")
        if session.service_url and session.service_url.rstrip("/") != self.base_url:
            # Never send tokens of one service to another host.
            raise NotAuthenticated(
                f"The session belongs to {session.service_url}, but serviceUrl is "
                f"{self.base_url}.",
                hint="Run `mm login` again, or set serviceUrl back.")
        return session

    def headers(self, call: Call) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"mm-agent/{__version__}"}
        if call.auth:
            session = self.auth_session()
            if session.access_token:
                headers["Authorization"] = f"Bearer {session.access_token}"
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        return headers

    def build(self, call: Call) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request`` / ``AsyncClient.request``."""
        params = {k: v for k, v in (call.params or {}).items() if v is not None and v != ""}
        kwargs: dict[str, Any] = {"method": call.method, "url": self.url(call.path),
                                  "headers": self.headers(call), "params": params or None,
                                  "timeout": self.timeout(call)}
        if call.body is not None:
            kwargs["json"] = call.body
        return kwargs

    def wants_refresh_first(self, call: Call) -> bool:
        """Refresh before sending when the stored access token is known to have expired."""
        if not call.auth:
            return False
        session = self.auth_session()
        return bool(session.refresh_token) and (not session.access_token
                                                or session.access_expired())

    def wants_refresh_after(self, call: Call, response: httpx.Response, refreshed: bool) -> bool:
        """A 401 on an authenticated call: the access token expired (or was revoked) on the
        service. One refresh, then one retry; a second 401 is final."""
        if not call.auth or refreshed or response.status_code != 401:
            return False
        session = self.session
        return bool(session and session.refresh_token)

    def refresh_call(self, session: Session) -> Call:
        return Call("POST", "/v1/auth/refresh", body={"refreshToken": session.refresh_token},
                    auth=False)

    def parse(self, response: httpx.Response) -> Any:
        """The envelope's ``data``; an error envelope raises the matching ``MMError``."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "ok" in body:
            if body["ok"]:
                return body.get("data")
            error = body.get("error")
            raise MMError.from_payload(error if isinstance(error, dict) else {})
        if response.is_success:
            return body
        raise ServiceError(f"The wallet service answered HTTP {response.status_code} without "
                           "an mm envelope.", hint=_SERVICE_HINT)

    def unreachable(self, exc: httpx.HTTPError) -> NetworkUnreachable:
        # The exception text may hold the URL only; still, name the class, not the message.
        return NetworkUnreachable(
            f"Cannot reach the wallet service at {self.base_url} ({type(exc).__name__}).",
            hint=_SERVICE_HINT)

    def stale(self, used: Session, current: Session | None) -> bool:
        """Did another process rotate the pair since ``used`` was read?"""
        return bool(current and current.access_token
                    and current.access_token != used.access_token)

    def refresh_failed(self) -> NotAuthenticated:
        return NotAuthenticated("The sign-in session has expired or was revoked.",
                                hint="Run `mm login` again.")

    def store_tokens(self, session: Session, data: dict[str, Any]) -> Session:
        new = session.with_tokens(data)
        self.sessions.save(new)
        self.session = new
        return new


class _Endpoints:
    """Every endpoint of the API, once. ``_do`` returns the value (sync) or an awaitable of it
    (async), so each method here returns ``T`` or ``Awaitable[T]`` depending on the client."""

    def _do(self, call: Call, post: Callable[[Any], Any] | None = None) -> Any:
        raise NotImplementedError

    def health(self) -> Any:
        return self._do(Call("GET", "/healthz", auth=False))

    def auth_status(self) -> Any:
        return self._do(Call("GET", "/v1/auth/status"))

    def logout(self) -> Any:
        return self._do(Call("POST", "/v1/auth/logout"))

    def device_start(self, method: str) -> Any:
        return self._do(Call("POST", "/v1/auth/device", body={"method": method}, auth=False))

    def device_token(self, device_code: str) -> Any:
        return self._do(Call("POST", "/v1/auth/device/token", body={"deviceCode": device_code},
                             auth=False))

    def list_wallets(self) -> Any:
        return self._do(Call("GET", "/v1/wallets"), lambda d: list(d.get("wallets") or []))

    def create_wallet(self, name: str | None = None, trading_mode: str | None = None, *,
                      idempotency_key: str | None = None) -> Any:
        body = {k: v for k, v in (("name", name), ("tradingMode", trading_mode)) if v}
        return self._do(Call("POST", "/v1/wallets", body=body,
                             idempotency_key=idempotency_key or str(uuid.uuid4())))

    def get_wallet(self, address: str) -> Any:
        return self._do(Call("GET", f"/v1/wallets/{address}"))

    def balance(self, address: str, chain_ids: list[int] | None = None,
                token: str | None = None, token_contracts: list[str] | None = None) -> Any:
        params = {"chainIds": ",".join(str(c) for c in chain_ids or []),
                  "token": token, "tokenContracts": ",".join(token_contracts or [])}
        return self._do(Call("GET", f"/v1/wallets/{address}/balance", params=params))

    def submit(self, address: str, body: dict[str, Any], *,
               idempotency_key: str | None = None) -> Any:
        return self._do(Call("POST", f"/v1/wallets/{address}/requests", body=body,
                             idempotency_key=idempotency_key or str(uuid.uuid4())))

    def get_policy(self, address: str) -> Any:
        return self._do(Call("GET", f"/v1/wallets/{address}/policy"))

    def set_policy(self, address: str, policy: str) -> Any:
        return self._do(Call("PUT", f"/v1/wallets/{address}/policy", body={"policy": policy}))

    def get_trading_mode(self, address: str) -> Any:
        return self._do(Call("GET", f"/v1/wallets/{address}/trading-mode"))

    def set_trading_mode(self, address: str, mode: str) -> Any:
        return self._do(Call("PUT", f"/v1/wallets/{address}/trading-mode", body={"mode": mode}))

    def list_requests(self, limit: int = 50) -> Any:
        return self._do(Call("GET", "/v1/requests", params={"limit": limit}),
                        lambda d: list(d.get("requests") or []))

    def get_request(self, polling_id: str) -> Any:
        return self._do(Call("GET", f"/v1/requests/{polling_id}"))

    def cancel_request(self, polling_id: str) -> Any:
        """Cancel a PENDING/AWAITING_MFA request, or replace a SUBMITTED one (cancel.py)."""
        return self._do(Call("POST", f"/v1/requests/{polling_id}/cancel", body={}))

    def release_order(self, polling_id: str, cancel_tx_hash: str) -> Any:
        """A cancelled order's reservation back to its filled share (order_release.py)."""
        return self._do(Call("POST", f"/v1/requests/{polling_id}/release",
                             body={"cancelTxHash": cancel_tx_hash}))

    def chains(self) -> Any:
        """The chains, RPC hosts and tokens the service serves (``GET /v1/chains``)."""
        return self._do(Call("GET", "/v1/chains"))

    def wait_request(self, polling_id: str, version: int, timeout: int) -> Any:
        return self._do(Call("GET", f"/v1/requests/{polling_id}/wait",
                             params={"version": version, "timeout": timeout,
                                     "until": "final"},
                             poll_seconds=timeout))


class _WaitLoop:
    """The long-poll decisions shared by the sync and async ``wait``."""

    def __init__(self, timeout: float, on_awaiting: AwaitingHook | None) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.on_awaiting = on_awaiting
        self.notified = False
        self.current: dict[str, Any] | None = None

    def observe(self, data: dict[str, Any]) -> WalletRequest | None:
        """Record the latest state; the request when it is final, else ``None``."""
        self.current = data
        req = _to_request(data)
        if req.status == "AWAITING_MFA" and not self.notified:
            self.notified = True  # once, however long the human takes
            if self.on_awaiting:
                self.on_awaiting(req)
        return req if req.done else None

    @property
    def version(self) -> int:
        return int((self.current or {}).get("version") or 0)

    def next_poll(self) -> int | None:
        """Seconds for the next long poll, or ``None`` at the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        return max(1, min(MAX_POLL_SECONDS, math.ceil(left)))

    def expired(self) -> JobTimeout:
        req = _to_request(self.current or {})
        return JobTimeout(
            f"Request {req.polling_id} is still {req.status} after {self.timeout:g}s.",
            details={"request": req.to_dict()})


# --- the clients --------------------------------------------------------------------------
class RemoteClient(_Endpoints):
    """Synchronous client of the wallet service."""

    def __init__(self, home: Home | None = None, config: Config | None = None, *,
                 service_url: str | None = None, session: Session | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        home = home or Home.from_env()
        self._s = _Shared(home, config or Config(home), service_url, session)
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"RemoteClient({self._s.base_url!r})"

    @property
    def base_url(self) -> str:
        return self._s.base_url

    @property
    def session(self) -> Session | None:
        return self._s.session

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> httpx.Response:
        try:
            return self._http.request(**self._s.build(call))
        except httpx.HTTPError as exc:
            raise self._s.unreachable(exc) from None

    def _do(self, call: Call, post: Callable[[Any], Any] | None = None) -> Any:
        refreshed = False
        if self._s.wants_refresh_first(call):
            self.refresh()
            refreshed = True
        response = self._send(call)
        if self._s.wants_refresh_after(call, response, refreshed):
            self.refresh()
            response = self._send(call)
        data = self._s.parse(response)
        return post(data) if post else data

    def refresh(self) -> Session:
        """Rotate the token pair (once across processes) and persist it to session.json."""
        used = self._s.auth_session()
        with self._s.sessions.lock():
            current = self._s.sessions.load()
            if current is not None and self._s.stale(used, current):
                self._s.session = current
                return current
            response = self._send(self._s.refresh_call(used))
            try:
                data = self._s.parse(response)
            except NotAuthenticated:
                raise self._s.refresh_failed() from None
            return self._s.store_tokens(current or used, data)

    def wait(self, polling_id: str, timeout: float, *,
             on_awaiting: AwaitingHook | None = None,
             current: dict[str, Any] | None = None) -> WalletRequest:
        """Long-poll until the request is final; ``JobTimeout`` (with it) at the deadline."""
        loop = _WaitLoop(timeout, on_awaiting)
        done = loop.observe(current or self.get_request(polling_id))
        while done is None:
            poll = loop.next_poll()
            if poll is None:
                raise loop.expired()
            done = loop.observe(self.wait_request(polling_id, loop.version, poll))
        return done


class AsyncRemoteClient(_Endpoints):
    """Asynchronous client of the wallet service (same endpoints, same rules)."""

    def __init__(self, home: Home | None = None, config: Config | None = None, *,
                 service_url: str | None = None, session: Session | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        home = home or Home.from_env()
        self._s = _Shared(home, config or Config(home), service_url, session)
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"AsyncRemoteClient({self._s.base_url!r})"

    @property
    def base_url(self) -> str:
        return self._s.base_url

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRemoteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        try:
            return await self._http.request(**self._s.build(call))
        except httpx.HTTPError as exc:
            raise self._s.unreachable(exc) from None

    async def _do(self, call: Call, post: Callable[[Any], Any] | None = None) -> Any:
        refreshed = False
        if self._s.wants_refresh_first(call):
            await self.refresh()
            refreshed = True
        response = await self._send(call)
        if self._s.wants_refresh_after(call, response, refreshed):
            await self.refresh()
            response = await self._send(call)
        data = self._s.parse(response)
        return post(data) if post else data

    async def refresh(self) -> Session:
        used = self._s.auth_session()
        lock = self._s.sessions.lock()
        # flock blocks: take it in a worker thread so the event loop keeps running.
        await asyncio.to_thread(lock.__enter__)
        try:
            current = self._s.sessions.load()
            if current is not None and self._s.stale(used, current):
                self._s.session = current
                return current
            response = await self._send(self._s.refresh_call(used))
            try:
                data = self._s.parse(response)
            except NotAuthenticated:
                raise self._s.refresh_failed() from None
            return self._s.store_tokens(current or used, data)
        finally:
            lock.__exit__(None, None, None)

    async def wait(self, polling_id: str, timeout: float, *,
                   on_awaiting: AwaitingHook | None = None,
                   current: dict[str, Any] | None = None) -> WalletRequest:
        loop = _WaitLoop(timeout, on_awaiting)
        done = loop.observe(current or await self.get_request(polling_id))
        while done is None:
            poll = loop.next_poll()
            if poll is None:
                raise loop.expired()
            done = loop.observe(await self.wait_request(polling_id, loop.version, poll))
        return done
