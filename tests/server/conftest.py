"""Wallet-service fixtures: a real uvicorn server on a free loopback port, and an SMTP sink."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from helpers import free_port, skip_or_fail, wait_until

from mm_agent.server import admin
from mm_agent.server.app import create_app
from mm_agent.server.deps import Services
from mm_agent.server.settings import ServerSettings

from . import pg


@dataclass
class Service:
    base_url: str
    data_dir: Path
    settings: ServerSettings
    state: Services
    app: Any
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def create_login(self, email_address: str, channel: str = "email") -> dict[str, Any]:
        return admin.create_login(self.data_dir, email_address, channel, settings=self.settings)

    def outbox_messages(self) -> list[email.message.Message]:
        """Mails written to the dev outbox, oldest first."""
        if not self.settings.outbox.exists():
            return []
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(self.settings.outbox.glob("*.eml"))]

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.state.store.dispose()


def _start(settings: ServerSettings) -> Service:
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="mm-test-service", daemon=True)
    thread.start()
    base = f"http://{settings.host}:{settings.port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200,
                   timeout=15, interval=0.02, what="the test service's /healthz",
                   ignore=(httpx.HTTPError,), alive=thread.is_alive)
    except BaseException:
        server.should_exit = True
        raise
    return Service(base_url=base, data_dir=settings.data_dir, settings=settings,
                   state=app.state.mm, app=app, server=server, thread=thread)


# --- database backends (pg.py): SQLite always, PostgreSQL for the store-heavy modules --------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        backends = pg.backends_for(module)
        if backends != ["sqlite"]:
            metafunc.parametrize("db_backend", backends, ids=backends)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.PgCluster]:
    """The session's throwaway PostgreSQL (skips the PostgreSQL tests if there is none)."""
    import os

    if os.environ.get("MM_TEST_DB", "").lower() == "sqlite":
        pytest.skip("MM_TEST_DB=sqlite")
    cluster = pg.start_cluster()
    if isinstance(cluster, str):
        if os.environ.get("MM_TEST_PG_REQUIRED") == "1":
            pytest.fail(f"PostgreSQL tests required: {cluster}")
        skip_or_fail(cluster)  # fails with CI=true, where `make setup` installs PostgreSQL
    yield cluster
    cluster.stop()


@pytest.fixture
def database_urls(db_backend: str, request: pytest.FixtureRequest
                  ) -> Iterator[Callable[[Path], str | None]]:
    """data dir → database URL: None on SQLite (the data dir's mm.sqlite); on PostgreSQL a
    fresh database per data dir (a restart on the same data dir finds its data again)."""
    if db_backend != "postgres":
        yield lambda _data_dir: None
        return
    cluster: pg.PgCluster = request.getfixturevalue("pg_cluster")
    made: dict[Path, str] = {}

    def url_for(data_dir: Path) -> str:
        if data_dir not in made:
            made[data_dir] = cluster.create_database()
        return cluster.url(made[data_dir])

    yield url_for
    for name in made.values():
        cluster.drop_database(name)


@pytest.fixture
def service_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    database_urls: Callable[[Path], str | None]
                    ) -> Iterator[Callable[..., Service]]:
    """Start services with custom settings (``dev``, ``smtp``, lifetimes...), on the test's
    database backend (``db_backend``)."""
    monkeypatch.delenv("MM_SERVER_MASTER_KEY", raising=False)
    started: list[Service] = []

    def start(**overrides: Any) -> Service:
        values: dict[str, Any] = {"data_dir": tmp_path / f"server{len(started)}", "dev": True,
                                  "host": "127.0.0.1", "port": free_port()}
        values.update(overrides)
        if "database_url" not in values:
            values["database_url"] = database_urls(Path(values["data_dir"]))
        svc = _start(ServerSettings(**values))
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


@pytest.fixture
def service(service_factory: Callable[..., Service]) -> Service:
    return service_factory()


class SmtpSink:
    """An aiosmtpd server collecting messages; ``fail_next`` makes the next DATA fail 451."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_next = 0
        self.host = "127.0.0.1"
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def beast_wallet(service: Service, chain: Any) -> tuple[Any, str, Any]:
    """(api, address, chain): a beast-mode server wallet with 100 ETH on the test service."""
    from .test_jobs import Api, approve_mode_changes, prepare_service

    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("beast@example.com")["token"])
    status, out = api.call("POST", "/v1/wallets", json={"tradingMode": "beast"})
    assert status == 201, out
    approve_mode_changes(service)
    chain.rpc("anvil_setBalance", [out["data"]["address"], hex(100 * 10**18)])
    return api, out["data"]["address"], chain
