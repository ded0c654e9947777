"""A throw-away sandbox for the notebooks and `make demo`: devnet, service, wallets, approvals.

Everything goes through the public surfaces only (the `mm` command and ``mm_agent.Wallet``), so
it works the way a user's shell would:

- :class:`Sandbox` makes a temporary folder with two MM_HOMEs — ``home`` holds the devnet, the
  BYOK wallet (the well-known test mnemonic, whose account 0 owns the demo tokens) and the
  service's data dir; ``agent_home`` is the server-wallet user's, signed in to the service —
  picks free ports, and :meth:`Sandbox.stop` ends what it started and removes the folder.
- :meth:`Sandbox.approve_by_mail` plays the human: it reads the approval link from the dev
  outbox (``<data-dir>/outbox/*.eml``) and posts the approval page's form, as a browser would.
- :func:`chat_model` is a real chat model when ``OPENAI_API_KEY`` is set and
  ``langchain-openai`` is installed, otherwise :class:`ScriptedChatModel`, which stands in for
  the LLM offline by emitting predetermined (real) tool calls.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

TEST_MNEMONIC = "test test test test test test test test test test test junk"
DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # account 0: the demo tokens' owner
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"       # account 1: a known payee
CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"     # account 2
DAVE = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"      # account 3
CHAIN = 31337
LINK_RE = re.compile(r"(https?://[^\s\"'<>]+/approvals/([0-9a-f]+)\?t=([A-Za-z0-9_\-]+))")
# The caller's settings that would point the sandbox elsewhere (MM_ANVIL and the like stay).
_VARS = ("MM_HOME", "MM_MNEMONIC", "MM_PASSWORD", "MM_FORMAT", "MM_SERVICE_URL", "MM_DENYLIST",
         "MM_NEW_PASSWORD", "MM_CLI_TOKEN", "MM_WALLET_TIMEOUT", "MM_DATABASE_URL",
         "MM_SMART_TRANSACTIONS", "MM_FEE_CAP_MULTIPLE")
_PREFIXES = ("MM_SMTP_", "MM_SERVER_", "MM_RPC_", "MM_PRIVATE_RPC_", "MM_RATE_LIMIT")


def _foreign(name: str) -> bool:
    return name in _VARS or name.startswith(_PREFIXES)


def mm_exe() -> str:
    """The `mm` of this interpreter's environment (the repo's .venv under `make`)."""
    here = Path(sys.executable).parent / "mm"
    if here.exists():
        return str(here)
    return shutil.which("mm") or str(Path(__file__).resolve().parents[1] / ".venv/bin/mm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MMCommandError(RuntimeError):
    def __init__(self, args: Sequence[str], envelope: dict[str, Any], stderr: str) -> None:
        self.error = envelope.get("error") or {}
        self.code = self.error.get("code")
        super().__init__(f"mm {' '.join(args)} → {self.code}: {self.error.get('message')} "
                         f"{stderr.strip()[-400:]}")


class Sandbox:
    """Temp MM_HOMEs, a devnet, a local service; :meth:`stop` leaves nothing behind."""

    def __init__(self, prefix: str = "mm-sandbox-", *, echo: bool = False) -> None:
        self.echo = echo                        # print each `mm` command before running it
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.home = self.root / "home"          # devnet + BYOK wallet + the service's data dir
        self.agent_home = self.root / "agent"   # the server-wallet user's MM_HOME
        self.data_dir = self.home / "server"
        tmp = self.root / "tmp"                 # whatever the children write to TMPDIR
        for d in (self.home, self.agent_home, tmp):
            d.mkdir(mode=0o700)
        base = {k: v for k, v in os.environ.items() if not _foreign(k)}
        self.base_env = {**base, "TMPDIR": str(tmp), "MM_FORMAT": "json"}
        self.devnet: dict[str, Any] | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.service_url: str | None = None
        self.pids: dict[str, int] = {}
        self._mails_seen: set[str] = set()
        self.timings: list[tuple[str, float]] = []  # (command, seconds) of every `mm` run
        self.report: dict[str, Any] | None = None
        atexit.register(self.stop)  # a notebook that failed half-way still cleans up on exit

    # --- the `mm` command ----------------------------------------------------------------------
    def env(self, home: Path | None = None, **extra: str) -> dict[str, str]:
        env = {**self.base_env, "MM_HOME": str(home or self.home), **extra}
        if home == self.agent_home and self.service_url:
            env["MM_SERVICE_URL"] = self.service_url
        return env

    def mm(self, *args: str, home: Path | None = None, check: bool = True,
           **extra: str) -> dict[str, Any]:
        """Run `mm ARGS --json` in ``home`` (default: the devnet/BYOK home) → ``data``."""
        if self.echo:
            secrets = "".join(f"{k}=… " for k in extra)
            print(f"      $ MM_HOME=…/{(home or self.home).name} {secrets}mm {_shell(args)}",
                  flush=True)
        started = time.monotonic()
        proc = subprocess.run([mm_exe(), *args, "--json"], capture_output=True, text=True,
                              env=self.env(home, **extra), timeout=180)
        self.timings.append((" ".join(args[:3]), round(time.monotonic() - started, 2)))
        try:
            envelope = json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            envelope = {"ok": False, "error": {"code": "NOT_JSON", "message": proc.stdout}}
        if not envelope.get("ok"):
            if check:
                raise MMCommandError(args, envelope, proc.stderr)
            return envelope
        return dict(envelope.get("data") or {})

    def agent(self, *args: str, check: bool = True) -> dict[str, Any]:
        """`mm` as the signed-in server-wallet user."""
        return self.mm(*args, home=self.agent_home, check=check)

    def use(self, home: Path) -> None:
        """Point this process's ``Wallet.from_env()`` at ``home``."""
        for var in [k for k in os.environ if _foreign(k)]:
            os.environ.pop(var, None)
        os.environ["MM_HOME"] = str(home)
        if home == self.agent_home and self.service_url:
            os.environ["MM_SERVICE_URL"] = self.service_url

    # --- devnet, BYOK ----------------------------------------------------------------------------
    def start_devnet(self) -> dict[str, Any]:
        self.devnet = self.mm("devnet", "start", "--detach", "--port", str(free_port()))
        self.pids["anvil"] = int(self.devnet["pid"])
        return self.devnet

    def token(self, symbol: str) -> str:
        assert self.devnet, "start_devnet() first"
        return str(next(t for t in self.devnet["tokens"] if t["symbol"] == symbol)["address"])

    def init_byok(self) -> dict[str, Any]:
        """A BYOK wallet from the test mnemonic (unencrypted: a throw-away devnet key)."""
        return self.mm("init", "--wallet", "byok", MM_MNEMONIC=TEST_MNEMONIC, MM_PASSWORD="")

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        assert self.devnet, "start_devnet() first"
        r = httpx.post(self.devnet["rpcUrl"], json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                    "params": params or []}, timeout=10)
        return r.json()["result"]

    def nonce(self, address: str) -> int:
        return int(self.rpc("eth_getTransactionCount", [address, "latest"]), 16)

    def eth_balance(self, address: str) -> float:
        return int(self.rpc("eth_getBalance", [address, "latest"]), 16) / 10**18

    # --- the service, sign-in, server wallet ---------------------------------------------------
    def start_service(self, timeout: float = 30) -> str:
        """`mm server start --dev` from the devnet's MM_HOME: it serves that devnet."""
        port = free_port()
        if self.echo:
            print(f"      $ MM_HOME=…/{self.home.name} mm server start --port {port} --dev &",
                  flush=True)
        log = open(self.root / "service.log", "wb")
        self.service = subprocess.Popen([mm_exe(), "server", "start", "--port", str(port),
                                         "--dev"], env=self.env(), stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        self.pids["service"] = self.service.pid
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if self.service.poll() is not None:
                raise RuntimeError("mm server start ended: "
                                   + (self.root / "service.log").read_text()[-2000:])
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the service did not answer /healthz")
            time.sleep(0.1)
        self.service_url = url
        return url

    def sign_in(self, email_address: str = "me@example.com") -> dict[str, Any]:
        """The operator mints a login (headless sign-in); the user logs in with it."""
        token = self.mm("server", "admin", "create-login", "--email", email_address)["token"]
        return self.mm("login", home=self.agent_home, MM_CLI_TOKEN=token)

    def init_server_wallet(self, mode: str = "guard") -> str:
        return str(self.agent("init", "--wallet", "server-wallet", "--mode", mode)["address"])

    def faucet(self, address: str, eth: str = "2", musd: str = "0") -> None:
        """Fund ``address`` straight from the devnet (anvil's `anvil_setBalance`, and an mUSD
        `transfer` sent from the unlocked deployer account): no wallet needed."""
        from decimal import Decimal

        self.rpc("anvil_setBalance", [address, hex(int(Decimal(eth) * 10**18))])
        if Decimal(musd) > 0:
            data = ("0xa9059cbb" + address[2:].lower().rjust(64, "0")
                    + format(int(Decimal(musd) * 10**6), "064x"))
            tx_hash = self.rpc("eth_sendTransaction", [{"from": DEPLOYER,
                                                        "to": self.token("mUSD"), "data": data}])
            deadline = time.monotonic() + 20
            while not self.rpc("eth_getTransactionReceipt", [tx_hash]):
                if time.monotonic() > deadline:
                    raise TimeoutError("the faucet transfer was not mined")
                time.sleep(0.05)

    def fund(self, address: str, eth: str = "2", musd: str = "500") -> None:
        """Pay ``address`` from the BYOK wallet (account 0 holds the demo tokens)."""
        for amount, token in ((eth, "ETH"), (musd, "mUSD")):
            if amount:
                done = self.mm("transfer", "--to", address, "--amount", amount, "--token", token,
                               "--chain-id", str(CHAIN))
                assert done["status"] == "COMPLETED", done

    def request(self, polling_id: str) -> dict[str, Any]:
        """The server wallet's request as the service has it now (no waiting)."""
        listed = self.agent("wallet", "requests", "list", "--all")["requests"]
        return dict(next(r for r in listed if r["pollingId"] == polling_id))

    # --- the human: approval mails ------------------------------------------------------------
    def mails(self) -> list[tuple[str, email.message.EmailMessage]]:
        out = []
        for path in sorted((self.data_dir / "outbox").glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            out.append((path.name, msg))  # type: ignore[arg-type]
        return out

    def next_approval_mail(self, timeout: float = 20) -> dict[str, str]:
        """The next approval mail not seen yet: subject, link, approval id, link secret."""
        deadline = time.monotonic() + timeout
        while True:
            for name, msg in self.mails():
                if name in self._mails_seen:
                    continue
                self._mails_seen.add(name)
                text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
                match = LINK_RE.search(text)
                if match:
                    link, approval_id, secret = match.groups()
                    return {"subject": str(msg["Subject"]), "link": link, "id": approval_id,
                            "secret": secret, "file": name}
            if time.monotonic() > deadline:
                raise TimeoutError("no approval mail arrived")
            time.sleep(0.05)

    def approve_by_mail(self, decision: str = "approve", timeout: float = 20) -> dict[str, str]:
        """Open the next approval mail's link and press Approve (or Reject) on the page."""
        return self.decide(self.next_approval_mail(timeout), decision)

    def decide(self, mail: dict[str, str], decision: str = "approve") -> dict[str, str]:
        """Open an approval mail's link and press Approve (or Reject) on the page."""
        page = httpx.get(mail["link"], timeout=30)
        assert page.status_code == 200, page.text[:500]
        r = httpx.post(f"{self.service_url}/approvals/{mail['id']}",
                       data={"t": mail["secret"], "decision": decision}, timeout=60)
        assert r.status_code == 200, r.text[:500]
        return {**mail, "decision": decision}

    # --- the end ------------------------------------------------------------------------------
    def stop(self) -> dict[str, Any]:
        """Stop the service and the devnet, remove the folder, and check nothing is left."""
        if self.report is not None:
            return self.report
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(signal.SIGINT)
            try:
                self.service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait()
        if self.devnet is not None and self.home.exists():
            self.mm("devnet", "stop", check=False)
        leftovers = stragglers(self.root)
        self.straggler_commands = {pid: _cmdline(pid) for pid in leftovers}
        kill_and_remove(self.root)
        self.report = {"processesLeft": leftovers,
                  "pidsAlive": [n for n, p in self.pids.items() if _alive(p)],
                  "tempDirRemoved": not self.root.exists(), "tempDir": str(self.root)}
        return self.report

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stragglers(root: Path) -> list[int]:
    """Live processes (not this one) whose command line or environment names ``root``."""
    mine = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mine in (entry / "cmdline").read_bytes() or mine in (
                    entry / "environ").read_bytes():
                if _alive(int(entry.name)):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_and_remove(root: Path) -> None:
    """Kill what still runs from ``root`` (only processes naming it) and remove it."""
    for pid in stragglers(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(root, ignore_errors=True)


def _shell(args: Sequence[str]) -> str:
    """A short, copy-pasteable rendering of a command's arguments (long values elided)."""
    shown = []
    for arg in args:
        if "\n" in arg:
            arg = f"<{arg.count(chr(10)) + 1}-line document>"
        elif len(arg) > 64:
            arg = arg[:44] + "…"
        shown.append(f"'{arg}'" if any(c in arg for c in " {}\"<>") else arg)
    return " ".join(shown)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:300]
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


# --- the chat model ----------------------------------------------------------------------------
def chat_model(turns: Sequence[Any]) -> Any:
    """A real model with ``OPENAI_API_KEY`` (and ``langchain-openai``), else a scripted one."""
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            pass
        else:
            return ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
    return _scripted_model_class()(turns=list(turns))


def tool_call(name: str, args: dict[str, Any], call_id: str) -> Any:
    """An AI turn that asks for one tool, as a model's tool-calling reply does."""
    from langchain_core.messages import AIMessage

    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id,
                                              "type": "tool_call"}])


def _scripted_model_class() -> type:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from pydantic import Field

    class ScriptedChatModel(BaseChatModel):
        """Stands in for an LLM: ``turns[i]`` answers a conversation holding ``i`` AI turns.

        Picking the turn by the conversation (not a counter) makes LangGraph's replays on
        resume get the same answer a real model would be asked for again.
        """

        turns: list[Any] = Field(default_factory=list)
        bound_tools: list[dict[str, Any]] = Field(default_factory=list)

        @property
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
            # As a provider integration does: every tool's schema must render.
            self.bound_tools[:] = [convert_to_openai_tool(t) for t in tools]
            return self

        def _generate(self, messages: list[BaseMessage], stop: Any = None,
                      run_manager: Any = None, **kwargs: Any) -> ChatResult:
            index = sum(isinstance(m, AIMessage) for m in messages)
            turn = self.turns[index] if index < len(self.turns) else "Done."
            if callable(turn):
                turn = turn(messages)
            message = turn if isinstance(turn, AIMessage) else AIMessage(content=str(turn))
            return ChatResult(generations=[ChatGeneration(message=message)])

    return ScriptedChatModel


def __getattr__(name: str) -> Any:  # ScriptedChatModel imports langchain only when used
    if name == "ScriptedChatModel":
        cls = _scripted_model_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def last_tool_result(state: dict[str, Any]) -> Any:
    from langchain_core.messages import ToolMessage

    return [m for m in state["messages"] if isinstance(m, ToolMessage)][-1]

