"""Plain JSON-RPC to the devnet's anvil over httpx (no web3: ``mm devnet`` stays light)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mm_agent.errors import NetworkUnreachable, RpcError

if TYPE_CHECKING:
    import httpx

__all__ = ["rpc", "rpc_client"]


def rpc(client: httpx.Client, url: str, method: str, params: list[Any] | None = None) -> Any:
    import httpx

    try:
        resp = client.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        )
        resp.raise_for_status()
        body = resp.json()
    except httpx.TransportError as exc:
        raise NetworkUnreachable(f"{url} unreachable ({exc.__class__.__name__}).") from exc
    except (httpx.HTTPStatusError, ValueError) as exc:
        raise RpcError(f"{method} on {url} failed: {exc}") from exc
    if body.get("error"):
        err = body["error"]
        raise RpcError(
            f"{method} failed: {err.get('message', err)}",
            details={"rpcCode": err.get("code"), "data": err.get("data")},
        )
    return body.get("result")


@contextlib.contextmanager
def rpc_client() -> Iterator[httpx.Client]:
    import httpx

    # trust_env=False: a proxy from the environment must not intercept 127.0.0.1 traffic.
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client

