"""The plain-HTTP transport of RpcClient: kept-alive per thread, reconnects after the server
closes an idle connection, batch and error mapping as over httpx."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from mm_agent.errors import NetworkUnreachable, RpcError
from mm_agent.evm.rpc import RpcClient


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).connections.add(self.client_address[1])  # one per connection
        if self.path == "/html":
            out, status = b"<html>busy</html>", 200
        elif self.path == "/down":
            out, status = b"{}", 503
        else:
            items = body if isinstance(body, list) else [body]
            res = [{"jsonrpc": "2.0", "id": i["id"], "result": i["method"]} for i in items]
            out, status = json.dumps(res if isinstance(body, list) else res[0]).encode(), 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Any:
    _Handler.connections.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_kept_alive_and_batch(server: str) -> None:
    client = RpcClient(server + "/")
    assert client._plain is not None  # the fast path
    assert [client.call("eth_chainId") for _ in range(3)] == ["eth_chainId"] * 3
    assert client.batch([("a", []), ("b", [1])]) == ["a", "b"]
    assert len(_Handler.connections) == 1
    client.close()


def test_reconnects_after_the_server_closes(server: str) -> None:
    client = RpcClient(server + "/close")
    assert [client.call("eth_chainId") for _ in range(3)] == ["eth_chainId"] * 3
    assert len(_Handler.connections) == 3
    client.close()


def test_errors_map_as_before(server: str) -> None:
    with pytest.raises(RpcError, match="HTTP 503"):
        RpcClient(server + "/down").call("eth_chainId")
    with pytest.raises(RpcError, match="is not JSON"):
        RpcClient(server + "/html").call("eth_chainId")
    client = RpcClient(server.replace("127.0.0.1:", "127.0.0.1:1") + "9", timeout=1)
    with pytest.raises(NetworkUnreachable):
        client.call("eth_chainId")


def test_https_user_info_and_proxies_keep_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RpcClient("https://example.com/rpc")._plain is None
    assert RpcClient("http://u:p@127.0.0.1:8545")._plain is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert RpcClient("http://127.0.0.1:8545")._plain is None
