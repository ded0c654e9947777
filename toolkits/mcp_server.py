"""MCP server: the agent tools of the registry over the official ``mcp`` SDK (``mm mcp``).

```python
from mm_agent import Wallet
from mm_agent.toolkits.mcp_server import McpOptions, build_server, serve_stdio

serve_stdio(Wallet.from_env(), McpOptions(prefix="mm_"))     # what `mm mcp` runs
```

The tools are the agent-facing operations of the wallet's mode
(``mm_agent.operations.agent_schema``): input schema, ``outputSchema`` from the result model, and
annotations set from the registry (``readOnlyHint``, ``destructiveHint``, ``idempotentHint``,
``openWorldHint``). Arguments are validated and results shaped by the shared core
(``mm_agent.operations.agent_calls.ToolSet``) and run like the function-calling dispatcher runs
them, so every surface answers alike:

- success: ``structuredContent`` is the operation's ``data`` (valid against ``outputSchema``);
  the text content is the CLI envelope ``{"ok": true, "data": …}`` plus ``next`` when a request
  still runs or waits for a human (its ``pollingId`` and the watch tool);
- failure: ``isError`` with the envelope ``{"ok": false, "error": {code, message, hint}}``.

While a call runs (a write waiting for its receipt, ``wait``, the watch tool) the server sends
progress notifications to clients that asked for them. A human step, when the client supports
form elicitation:

- server wallet, ``AWAITING_MFA`` / ``pending_approval``: the user is asked to approve through
  the channel (email link or authenticator); once they say done, the call waits for the final
  state (with progress) and returns it. Otherwise the pending request comes back at once.
- BYOK, a Warning/Malicious verdict (``APPROVAL_REQUIRED``): the user is shown that preview and
  asked to confirm it; a yes re-runs the call with ``wallet.bound(confirm=digest)``, which signs
  only a request whose fresh preview has the same digest (``mm_agent.security.confirmation``).
  Without elicitation nothing is signed and the preview comes back.

Logging only ever goes to stderr: on stdio, stdout is the protocol.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from mm_agent import __version__
from mm_agent.errors import MMError
from mm_agent.local import env as env_vars
from mm_agent.local.config import Config
from mm_agent.local.state import Home
from mm_agent.operations.agent_calls import Call
from mm_agent.operations.agent_schema import (
    agent_ops,
    annotations,
    input_schema,
    output_schema,
    tool_name,
)
from mm_agent.operations.context import Context
from mm_agent.operations.registry import Operation

from .runner import ToolRunner

__all__ = ["MIN_TOKEN", "TOKEN_FILE", "McpOptions", "WalletTools", "build_server", "http_app",
           "http_token", "load_wallet", "mcp_tools", "serve_http", "serve_stdio"]

log = logging.getLogger("mm_agent.mcp")

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_HUMAN_STATUSES = ("AWAITING_MFA", "pending_approval")
INSTRUCTIONS = (
    "Tools of a self-custodial agent wallet (mm-agent). Every signing request runs a security "
    "pipeline (decode, simulate, threat scan, policy). A write may need a human: the result "
    "then says so and carries a pollingId; follow it with wallet_requests_watch and never "
    "submit the same thing twice. Amounts are decimal strings ('0.5').")


@dataclass(frozen=True)
class McpOptions:
    """Which tools to serve and how to pace progress notifications."""

    prefix: str = ""
    read_only: bool = False
    include: tuple[str, ...] | None = None
    progress_seconds: float = 1.0  # interval of progress notifications during a long call
    settle_seconds: float = 5.0  # how long a new server-wallet request may stay PENDING


def load_wallet(home: Home | None = None, config: Config | None = None) -> Any:
    """The wallet of MM_HOME, ready before the first tool call: a BYOK vault is unlocked now
    (from ``MM_PASSWORD``, or unencrypted), so a wrong or missing password stops the server at
    start with a clear error instead of failing the agent's first write."""
    from mm_agent import Wallet

    wallet = Wallet.from_env(home=home, config=config)  # headless: never prompts
    if wallet.mode == "byok":
        # Unlock once (scrypt is slow by design); PASSWORD_REQUIRED/WRONG_PASSWORD surface here.
        wallet.unlock()
    return wallet


def mcp_tools(mode: str | None = None, *, prefix: str = "", read_only: bool = False,
              include: Iterable[str] | None = None) -> list[types.Tool]:
    """The MCP tools of the agent-facing operations (of one wallet mode, when given)."""
    return [types.Tool(name=tool_name(op, prefix), title=op.summary,
                       description=_description(op), input_schema=input_schema(op),
                       output_schema=output_schema(op),
                       annotations=types.ToolAnnotations(title=op.summary,
                                                         **_snake(annotations(op))))
            for op in agent_ops(mode, read_only=read_only, include=include)]


# --- running calls ----------------------------------------------------------------------------
@dataclass
class _Extras:
    """Per-call settings for ``_McpRunner._context``, set in the worker thread that runs it."""

    confirm: str | None = None
    on_awaiting: Callable[[Any], None] | None = None


class _McpRunner(ToolRunner):
    """The function-calling runner (tool set, wallet binding, envelopes), plus what MCP adds per
    call: a BYOK confirmation digest and a hook that sees a request reach ``AWAITING_MFA``."""

    def __init__(self, wallet: Any, options: McpOptions) -> None:
        super().__init__(wallet, options.prefix, options.include, options.read_only)
        self._local = threading.local()

    def run_with(self, call: Call, extras: _Extras) -> dict[str, Any]:
        self._local.extras = extras  # read by _context, in this same worker thread
        try:
            return self.run(call)
        finally:
            self._local.extras = None

    def _context(self, call: Call) -> Context:
        ctx = super()._context(call)
        extras: _Extras | None = getattr(self._local, "extras", None)
        if extras is None:
            return ctx
        wallet = ctx.wallet
        if extras.confirm is not None and wallet.mode == "byok":
            wallet = wallet.bound(confirm=extras.confirm)
        if extras.on_awaiting is not None and wallet.mode == "server-wallet":
            wallet.on_awaiting = extras.on_awaiting  # a bound copy: nobody else sees it
        return Context(home=ctx.home, config=ctx.config, wallet=wallet)


    def settle(self, data: dict[str, Any], seconds: float) -> dict[str, Any]:
        """A server-wallet request just submitted is PENDING for a moment, until the service
        has judged it: follow it briefly, so the answer says whether a human must approve
        (``AWAITING_MFA`` with its channel) or it went through."""
        from mm_agent.errors import JobTimeout

        if self.wallet.mode != "server-wallet" or data.get("status") != "PENDING":
            return data

        class Paused(Exception):
            def __init__(self, req: Any) -> None:
                self.req = req

        def stop(req: Any) -> None:
            raise Paused(req)

        try:
            req = self.wallet.client.wait(data["pollingId"], seconds, on_awaiting=stop,
                                          current=data)
            return dict(req.to_dict())
        except Paused as paused:
            return dict(paused.req.to_dict())
        except JobTimeout as err:
            return dict(err.details.get("request") or data)
        except MMError:
            return data  # the request stands; the agent can follow it with the watch tool


class WalletTools:
    """The MCP tool list and ``tools/call`` handler of one wallet (transport independent)."""

    def __init__(self, wallet: Any, options: McpOptions | None = None) -> None:
        self.options = options or McpOptions()
        self.runner = _McpRunner(wallet, self.options)
        self.toolset = self.runner.tools
        self._tools = mcp_tools(self.runner.wallet.mode, prefix=self.options.prefix,
                                read_only=self.options.read_only, include=self.options.include)

    @property
    def names(self) -> list[str]:
        return list(self.toolset.ops)

    def tools(self) -> list[types.Tool]:
        return list(self._tools)

    async def call(self, ctx: ServerRequestContext[Any, Any],
                   params: types.CallToolRequestParams) -> types.CallToolResult:
        prepared = self.runner.prepare(params.name, dict(params.arguments or {}), None)
        if isinstance(prepared, dict):  # bad name or arguments: the envelope says which
            return _result(None, prepared)
        call = prepared
        envelope = await self._run(ctx, call, _Extras())
        data = envelope.get("data")
        if envelope.get("ok") and isinstance(data, dict) and data.get("status") == "PENDING":
            data = await anyio.to_thread.run_sync(self.runner.settle, data,
                                                  self.options.settle_seconds)
            envelope = self.toolset.success(data)
        if _can_elicit(ctx):
            if _byok_flagged(envelope):
                envelope = await self._confirm_preview(ctx, call, envelope)
            elif _awaits_human(envelope):
                envelope = await self._await_human(ctx, envelope)
        return _result(call.op, envelope)

    async def _run(self, ctx: ServerRequestContext[Any, Any], call: Call,
                   extras: _Extras) -> dict[str, Any]:
        """Run the (blocking) call in a worker thread; meanwhile report progress every few
        seconds to a client that sent a progress token (a no-op otherwise)."""
        started = time.monotonic()
        state: dict[str, str] = {"message": f"{call.op.name}: running"}

        def awaiting(req: Any) -> None:  # worker thread: only record, the ticker reports
            channel = (req.approval or {}).get("channel") if isinstance(req.approval, dict) \
                else getattr(req.approval, "channel", None)
            where = f" ({channel})" if channel else ""
            state["message"] = (f"{call.op.name}: waiting for a human to approve "
                                f"{req.polling_id}{where}")

        if extras.on_awaiting is None:
            extras.on_awaiting = awaiting
        done = anyio.Event()

        async def ticker() -> None:
            while not done.is_set():
                with anyio.move_on_after(self.options.progress_seconds):
                    await done.wait()
                if done.is_set():
                    return
                elapsed = time.monotonic() - started
                with contextlib.suppress(Exception):  # a gone client must not fail the call
                    await ctx.session.report_progress(
                        round(elapsed, 1), None, f"{state['message']} ({elapsed:.0f}s)")

        long_call = call.op.writes or call.op.waits
        async with anyio.create_task_group() as tg:
            if long_call:
                tg.start_soon(ticker)
            try:
                return await anyio.to_thread.run_sync(self.runner.run_with, call, extras)
            finally:
                done.set()

    async def _confirm_preview(self, ctx: ServerRequestContext[Any, Any], call: Call,
                               envelope: dict[str, Any]) -> dict[str, Any]:
        """BYOK, flagged: show the user this exact preview; sign only on an explicit yes, and
        only a request with the same digest (a re-run previews again)."""
        details = envelope["error"].get("details") or {}
        digest = details.get("digest")
        preview = details.get("preview") or {}
        if not isinstance(digest, str):
            return envelope
        schema = {"type": "object", "properties": {"confirm": {
            "type": "boolean", "title": "Sign exactly this request",
            "description": f"Request digest {digest[:16]}…: nothing else can be signed with "
                           "this answer.", "default": False}}, "required": ["confirm"]}
        answer = await _elicit(ctx, _preview_text(preview, envelope["error"]["message"],
                                                  digest), schema)
        if answer is None or answer.action != "accept" or not (answer.content or {}).get(
                "confirm"):
            envelope = dict(envelope)
            envelope["next"] = {"message": "The user did not confirm this request; nothing was "
                                           "signed. Do not retry it unchanged."}
            return envelope
        return await self._run(ctx, call, _Extras(confirm=digest))

    async def _await_human(self, ctx: ServerRequestContext[Any, Any],
                           envelope: dict[str, Any]) -> dict[str, Any]:
        """Server wallet, AWAITING_MFA / pending_approval: ask the user to approve through the
        channel, then wait for the final state (the watch tool, with progress)."""
        data = envelope["data"]
        watch = self.toolset.watch_name()
        if watch is None:  # a narrowed tool set without the watch tool: hand it back
            return envelope
        channel = (data.get("approval") or {}).get("channel") or "the approval channel"
        how = {"email": "Open the approval link mailed to you",
               "authenticator": "Open the approval page and enter your authenticator code"}
        action = how.get(channel, f"Approve it through {channel}")
        message = (f"The wallet needs your approval for: {data.get('intent') or data['status']}"
                   f" (request {data['pollingId']}). {action}, then choose Accept to let the "
                   "agent continue; Decline leaves the request "
                   "pending.")
        schema = {"type": "object", "properties": {"done": {
            "type": "boolean", "title": "I have approved or rejected it", "default": True}}}
        answer = await _elicit(ctx, message, schema)
        if answer is None or answer.action != "accept":
            return envelope
        follow = self.runner.prepare(watch, {"polling_id": data["pollingId"]}, None)
        if isinstance(follow, dict):
            return follow
        return await self._run(ctx, follow, _Extras())


def _can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    caps = ctx.session.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    if elicitation is None or not ctx.session.can_send_request:
        return False
    # `elicitation: {}` (older clients) means form mode.
    return elicitation.form is not None or elicitation.url is None


async def _elicit(ctx: ServerRequestContext[Any, Any], message: str,
                  schema: dict[str, Any]) -> types.ElicitResult | None:
    try:
        return await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
    except Exception as exc:  # the client failed or went away: behave as without elicitation
        log.warning("elicitation failed: %s", type(exc).__name__)
        return None


def _byok_flagged(envelope: dict[str, Any]) -> bool:
    return not envelope.get("ok") and envelope["error"].get("code") == "APPROVAL_REQUIRED" \
        and "digest" in (envelope["error"].get("details") or {})


def _awaits_human(envelope: dict[str, Any]) -> bool:
    data = envelope.get("data")
    return bool(envelope.get("ok") and isinstance(data, dict) and data.get("pollingId")
                and data.get("status") in _HUMAN_STATUSES)


def _preview_text(preview: dict[str, Any], reason: str, digest: str) -> str:
    """What the user confirms: the preview's substance, compact."""
    sim = preview.get("simulation") or {}
    scan = preview.get("scan") or {}
    lines = [f"The security checks flagged this request. {reason}",
             f"Intent: {preview.get('intent')}",
             f"Scan: {scan.get('resultType')} — {scan.get('reason')}: "
             f"{scan.get('description') or ''}".rstrip(": ")]
    violations = (preview.get("policy") or {}).get("violations") or []
    if violations:
        lines.append("Policy: " + "; ".join(str(v.get("message") or v.get("rule"))
                                             for v in violations))
    for change in sim.get("balanceChanges") or []:
        lines.append(f"Balance change: {json.dumps(change, default=str)}")
    for exposure in sim.get("exposures") or []:
        lines.append(f"Exposure: {json.dumps(exposure, default=str)}")
    lines.append(f"Digest: {digest}. Confirm only if you want exactly this signed.")
    return "\n".join(lines)


def _description(op: Operation) -> str:
    text = op.description
    if op.may_pause:
        text += (" If a human must approve, the result says so and carries a pollingId to "
                 "follow with wallet_requests_watch; never submit the same thing twice.")
    return text


def _snake(hints: dict[str, bool]) -> dict[str, bool]:
    return {"read_only_hint": hints["readOnlyHint"],
            "destructive_hint": hints["destructiveHint"],
            "idempotent_hint": hints["idempotentHint"],
            "open_world_hint": hints["openWorldHint"]}


def _result(op: Operation | None, envelope: dict[str, Any]) -> types.CallToolResult:
    # One JSON round trip: the structured content is plain JSON (Decimals, bytes… as strings).
    envelope = json.loads(json.dumps(envelope, default=str))
    text = types.TextContent(type="text", text=json.dumps(envelope))
    data = envelope.get("data")
    if envelope.get("ok"):
        structured = data if isinstance(data, dict) and op is not None and op.result else None
        return types.CallToolResult(content=[text], structured_content=structured)
    return types.CallToolResult(content=[text], is_error=True)


# --- the server and its transports --------------------------------------------------------
def build_server(wallet: Any, options: McpOptions | None = None) -> Server[Any]:
    """A low-level MCP server with the wallet's tools (our schemas, not introspected ones)."""
    tools = WalletTools(wallet, options)

    async def list_tools(ctx: ServerRequestContext[Any, Any],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools.tools())

    async def call_tool(ctx: ServerRequestContext[Any, Any],
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        return await tools.call(ctx, params)

    return Server("mm-agent", version=__version__, title="mm-agent wallet",
                  instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool)


def serve_stdio(wallet: Any, options: McpOptions | None = None) -> None:
    """Serve over stdin/stdout until the client closes stdin. The SDK points fd 1 at stderr
    while serving, so a stray print cannot corrupt the protocol."""
    from mcp.server.stdio import stdio_server

    server = build_server(wallet, options)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def http_app(wallet: Any, options: McpOptions | None = None, *, port: int, token: str,
             extra_origins: Iterable[str] = ()) -> Any:
    """The streamable-HTTP ASGI app at ``/mcp``, behind the bearer token and Origin/Host
    checks (``_Guard``)."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
    origins = [f"http://{h}" for h in hosts] + [o.rstrip("/") for o in extra_origins]
    server = build_server(wallet, options)
    app = server.streamable_http_app(
        host="127.0.0.1",
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins))
    return _Guard(app, token=token, hosts=frozenset(hosts), origins=frozenset(origins))


TOKEN_FILE = "mcp-token.json"  # under MM_HOME, 0600: the `--http` bearer token, reused
MIN_TOKEN = 24


def http_token(home: Home | None = None) -> tuple[str, str]:
    """The bearer token of ``mm mcp --http`` and where it came from: ``MM_MCP_TOKEN`` when set
    (never stored); else the token in ``MM_HOME/mcp-token.json`` (0600, checked like every
    state file); else one generated now and saved there, so client configs keep working
    across restarts (delete the file to rotate it). Never a config key: config.json is not
    a place for secrets. Returns ``(token, source)``, source ``env`` | ``file`` |
    ``generated``."""
    from mm_agent.errors import UsageError

    token = env_vars.get(env_vars.MCP_TOKEN)
    if token is not None:
        if len(token) < MIN_TOKEN:
            raise UsageError(f"MM_MCP_TOKEN is too short (at least {MIN_TOKEN} characters).")
        return token, "env"
    home = home or Home.from_env()
    with home.locked():
        stored = home.read_json(TOKEN_FILE, None)
        saved = stored.get("token") if isinstance(stored, dict) else None
        if isinstance(saved, str) and len(saved) >= MIN_TOKEN:
            return saved, "file"
        token = secrets.token_urlsafe(32)
        home.write_json(TOKEN_FILE, {"token": token})  # 0600, atomically
    return token, "generated"


def serve_http(wallet: Any, options: McpOptions | None = None, *, host: str = "127.0.0.1",
               port: int = 8766, token: str | None = None,
               extra_origins: Iterable[str] = (), home: Home | None = None) -> None:
    """Serve streamable HTTP on loopback until interrupted. The bearer token: ``token``, else
    ``http_token(home)`` (``MM_MCP_TOKEN``, or the 0600 token file under MM_HOME, generated
    on the first start); a newly generated one is shown once on stderr."""

    import uvicorn

    from mm_agent.errors import UsageError

    if host not in LOOPBACK_HOSTS:
        raise UsageError(f"--host {host} is not a loopback address; `mm mcp --http` listens "
                         "on 127.0.0.1, ::1 or localhost only.",
                         hint="Put a TLS proxy with its own authentication in front to expose "
                              "it.")
    source = "argument"
    if token is None:
        token, source = http_token(home)
    elif len(token) < MIN_TOKEN:
        raise UsageError(f"The bearer token is too short (at least {MIN_TOKEN} characters).")
    from mm_agent.server.datadir import check_port

    check_port(host, port)  # PORT_IN_USE before anything starts
    app = http_app(wallet, options, port=port, token=token, extra_origins=extra_origins)
    url = f"http://{'[::1]' if host == '::1' else host}:{port}/mcp"
    where = (home or Home.from_env()).path(TOKEN_FILE)
    note = {"generated": f"new token saved in {where} (0600), reused on the next start",
            "file": f"token from {where}", "env": "token from MM_MCP_TOKEN",
            "argument": "token given"}[source]
    shown = token if source == "generated" else "<token>"
    # stderr, once: the token is a secret and stdout may be captured by a supervisor.
    sys.stderr.write(f"mm-agent MCP server on {url} (streamable HTTP; {note}); "
                     f"Authorization: Bearer {shown}\n")
    sys.stderr.flush()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="on")
    uvicorn.Server(config).run()


class _Guard:
    """ASGI front door: a browser page on another origin (DNS rebinding) gets 403 before
    anything else; every request needs ``Authorization: Bearer <token>`` (401 otherwise)."""

    def __init__(self, app: Any, *, token: str, hosts: frozenset[str],
                 origins: frozenset[str]) -> None:
        self.app = app
        self.token = token.encode()
        self.hosts = hosts
        self.origins = origins

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.origins:
            await _deny(send, 403, "FORBIDDEN_ORIGIN", "This origin may not use the server.")
            return
        if headers.get("host") not in self.hosts:
            await _deny(send, 403, "FORBIDDEN_HOST", "Unexpected Host header.")
            return
        auth = headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 self.token):
            await _deny(send, 401, "UNAUTHORIZED", "A bearer token is required.",
                        extra=[(b"www-authenticate", b'Bearer realm="mm-agent"')])
            return
        await self.app(scope, receive, send)


async def _deny(send: Any, status: int, code: str, message: str,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"ok": False, "error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
