"""Sign-in to the wallet service: `mm login`, `mm auth status`, `mm logout` (human-facing).

Secrets handled here (CLI tokens, the device code) are stored only in ``session.json`` and are
never printed, logged or returned: results carry the email, channel and expiry only.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mm_agent.errors import (
    AlreadyAuthenticated,
    AuthError,
    ConfirmationRequired,
    JobTimeout,
    MMError,
    NetworkUnreachable,
    NotAuthenticated,
    ValidationError,
)
from mm_agent.local import env as env_vars
from mm_agent.local.config import parse_timeout
from mm_agent.local.session import Session, SessionStore, iso_in, parse_time

from ..context import Context

__all__ = ["LoginArgs", "LogoutArgs", "auth_status", "login", "logout"]

_STRICT = ConfigDict(extra="forbid")

Timeout = Annotated[
    int | None,
    BeforeValidator(lambda v: None if v is None or v == "" else parse_timeout(v, field="timeout")),
]


class LoginArgs(BaseModel):
    model_config = _STRICT
    method: Literal["browser", "qr"] | None = Field(
        None, description="browser (email magic link; approvals by email) or qr (pair an "
        "authenticator app; approvals by code). Default: browser.",
        json_schema_extra={"cli_argument": True})
    token: str | None = Field(
        None, description="Headless sign-in with a cliToken:cliRefreshToken pair from "
        "`mm server admin create-login` (or set MM_CLI_TOKEN).",
        json_schema_extra={"cli_metavar": "ACCESS:REFRESH"})
    timeout: Timeout = Field(None, description="Seconds to wait for the sign-in (1-600).")
    no_wait: bool = Field(False, description="Print the sign-in page and return at once; a "
                          "later `mm login` picks the pending sign-in up.")


class LogoutArgs(BaseModel):
    model_config = _STRICT
    yes: bool = Field(False, description="Do not ask for confirmation.",
                      json_schema_extra={"cli_flags": ["--yes", "-y"]})


def _client(ctx: Context, session: Session | None = None) -> Any:
    from mm_agent.wallets.remote.client import RemoteClient

    return RemoteClient(ctx.home, ctx.config, session=session)


def _status(session: Session, server: dict[str, Any] | None = None) -> dict[str, Any]:
    server = server or {}
    return {
        "authenticated": True,
        "email": server.get("email") or session.email,
        "channel": server.get("channel") or session.channel,
        "method": session.method,
        "serviceUrl": session.service_url,
        "expiresAt": server.get("expiresAt") or session.expires_at,
    }


# --- mm login -------------------------------------------------------------------------------
def login(ctx: Context, args: LoginArgs) -> dict[str, Any]:
    _refuse_if_signed_in(ctx)
    token = args.token or env_vars.get(env_vars.CLI_TOKEN)
    if args.token:
        # argv is readable by every local user (ps, /proc/<pid>/cmdline) and lands in shell
        # history; the environment variable is not.
        ctx.notice("Warning: --token is visible to other users of this machine (process list, "
                   "shell history). Prefer MM_CLI_TOKEN=… mm login.")
    if token:
        return _login_token(ctx, token)
    return _login_device(ctx, args.method or "browser", args.timeout, args.no_wait)


def _refuse_if_signed_in(ctx: Context) -> None:
    """ALREADY_AUTHENTICATED, as the reference CLI, when a session the service still accepts
    exists for this service: signing in again would silently drop it (and its active wallet).
    An expired or revoked session, or one for another service URL, does not block."""
    session = SessionStore(ctx.home).load()
    if session is None or not session.authenticated:
        return
    if session.service_url != ctx.config.service_url:
        return
    try:
        with _client(ctx) as client:
            server = client.auth_status()
    except (AuthError, NetworkUnreachable):
        return  # not valid any more, or cannot tell: let the sign-in go ahead
    who = server.get("email") or session.email
    raise AlreadyAuthenticated(
        f"Already signed in to {session.service_url}" + (f" as {who}" if who else "") + ".")


def _login_token(ctx: Context, token: str) -> dict[str, Any]:
    access, sep, refresh = token.strip().partition(":")
    if not sep or not access or not refresh:
        # Never echo the value: it is a credential.
        raise ValidationError("The token must be a cliToken:cliRefreshToken pair.",
                              hint="`mm server admin create-login --email E` prints one.")
    store = SessionStore(ctx.home)
    previous = ctx.home.read_json("session.json")
    session = Session(service_url=ctx.config.service_url, access_token=access,
                      refresh_token=refresh, method="token")
    store.save(session)  # a refresh during the check below rotates and persists this pair
    try:
        with _client(ctx) as client:
            server = client.auth_status()
            session = client.session or session
    except MMError:
        # A pair that does not work must not replace a working session.
        if isinstance(previous, dict):
            ctx.home.write_json("session.json", previous)
        else:
            store.delete()
        raise
    session = Session.from_json({**session.to_json(), "email": server.get("email"),
                                 "channel": server.get("channel")})
    store.save(session)
    return _status(session, server)


def _show_page(ctx: Context, method: str, url: str) -> None:
    # In every format (``always``): the person needs the page even when stdout is JSON.
    if method == "qr":
        ctx.qr(url, caption="Scan this code with your phone to pair an authenticator app:")
        ctx.notice(f"or open {url}", always=True)
    else:
        ctx.notice(f"Open this page to sign in by email: {url}", always=True)


def _login_device(ctx: Context, method: str, timeout: int | None,
                  no_wait: bool) -> dict[str, Any]:
    store = SessionStore(ctx.home)
    current = store.load()
    pending = current.pending_device if current else None
    fresh = bool(
        pending and pending.get("method") == method
        and current is not None and current.service_url == ctx.config.service_url
        and (parse_time(pending.get("expiresAt")) or 0) > time.time() + 5)
    with _client(ctx) as client:
        if not fresh:
            started = client.device_start(method)
            pending = {"method": method, "deviceCode": started["deviceCode"],
                       "verificationUrl": started["verificationUrl"],
                       "interval": started.get("interval") or 2,
                       "expiresAt": iso_in(float(started.get("expiresIn") or 600))}
            base = current if current and current.service_url == ctx.config.service_url else None
            keep = base.to_json() if base else {"serviceUrl": ctx.config.service_url}
            store.save(Session.from_json({**keep, "pendingDevice": pending}))
        assert pending is not None
        url = str(pending["verificationUrl"])
        if no_wait:
            if ctx.text_mode and method == "qr":
                _show_page(ctx, method, url)
            return {"method": method, "status": "pending", "verificationUrl": url,
                    "expiresAt": pending["expiresAt"], "interval": pending["interval"]}
        _show_page(ctx, method, url)
        tokens = _poll_device(ctx, client, pending, timeout)
    session = Session(service_url=ctx.config.service_url, method=method,
                      active_wallet=current.active_wallet if current else None).with_tokens(tokens)
    store.save(session)
    return _status(session)


def _poll_device(ctx: Context, client: Any, pending: dict[str, Any],
                 timeout: int | None) -> dict[str, Any]:
    expires = parse_time(pending.get("expiresAt")) or time.time() + 600
    deadline = min(expires, time.time() + timeout) if timeout else expires
    interval = max(1.0, float(pending.get("interval") or 2))
    with ctx.progress("Waiting for sign-in"):
        while True:
            try:
                return dict(client.device_token(pending["deviceCode"]))
            except MMError as err:
                code = getattr(err, "remote_code", err.code)
                if code == "EXPIRED" or code.endswith("_EXPIRED"):
                    SessionStore(ctx.home).update(pending_device=None)
                    raise NotAuthenticated("The sign-in request expired before it was "
                                           "completed.", hint="Run `mm login` again.") from None
                if code not in ("AUTHORIZATION_PENDING", "SLOW_DOWN"):
                    raise
                if code == "SLOW_DOWN":
                    interval += 1
            if time.time() + interval > deadline:
                raise JobTimeout("Sign-in was not completed in time.",
                                 hint=f"Finish it on the page, then run `mm login "
                                      f"{pending['method']}` again to pick it up.")
            time.sleep(interval)


# --- mm auth status / mm logout -------------------------------------------------------------
def auth_status(ctx: Context, _args: None = None) -> dict[str, Any]:
    store = SessionStore(ctx.home)
    store.require()
    with _client(ctx) as client:
        server = client.auth_status()
        session = client.session
    assert session is not None
    if server.get("email") != session.email or server.get("channel") != session.channel:
        session = store.update(email=server.get("email"), channel=server.get("channel")) \
            or session
    return _status(session, server)


def logout(ctx: Context, args: LogoutArgs) -> dict[str, Any]:
    store = SessionStore(ctx.home)
    session = store.load()
    if session is None:
        return {"loggedOut": False, "revoked": False, "serviceUrl": None}
    if not args.yes:
        answer = ctx.confirm(f"Sign out of {session.service_url}?")
        if answer is None:
            raise ConfirmationRequired("`mm logout` signs you out; pass --yes to confirm.")
        if not answer:
            return {"loggedOut": False, "revoked": False, "serviceUrl": session.service_url}
    revoked = False
    if session.authenticated:
        try:
            with _client(ctx) as client:
                client.logout()
            revoked = True
        except NotAuthenticated:
            revoked = True  # already expired or revoked on the service: nothing left to revoke
        except NetworkUnreachable:
            # The only copy of the tokens is deleted below, so they cannot be used anyway.
            ctx.notice("The wallet service is unreachable; signed out locally only.")
    store.delete()
    return {"loggedOut": True, "revoked": revoked, "serviceUrl": session.service_url}
