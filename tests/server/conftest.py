"""Wallet-service fixtures: a real uvicorn server on a free loopback port, and an SMTP sink."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import free_port

from mm_agent.server import admin
from mm_agent.server.app import ServiceState, create_app
from mm_agent.server.settings import ServerSettings


@dataclass
class Service:
    base_url: str
    data_dir: Path
    settings: ServerSettings
    state: ServiceState
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
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the test service failed to start")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    else:
        server.should_exit = True
        raise RuntimeError("the test service did not answer /healthz")
    return Service(base_url=base, data_dir=settings.data_dir, settings=settings,
                   state=app.state.mm, app=app, server=server, thread=thread)


@pytest.fixture
def service_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[Callable[..., Service]]:
    """Start services with custom settings (``dev``, ``smtp``, lifetimes...)."""
    monkeypatch.delenv("MM_SERVER_MASTER_KEY", raising=False)
    started: list[Service] = []

    def start(**overrides: Any) -> Service:
        values: dict[str, Any] = {"data_dir": tmp_path / f"server{len(started)}", "dev": True,
                                  "host": "127.0.0.1", "port": free_port()}
        values.update(overrides)
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
