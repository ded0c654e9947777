"""What an agent's CLI token can and cannot do (contract §7)."""

from __future__ import annotations

from typing import Any

from .test_jobs import Api, prepare_service
from .test_policy_service import policy_yaml


def test_no_endpoint_returns_key_material(service: Any, chain: Any) -> None:
    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("k@example.com")["token"])
    _, out = api.call("POST", "/v1/wallets", json={})
    wallet = out["data"]
    assert set(wallet) == {"address", "name", "tradingMode", "createdAt", "frozen"}
    _, listing = api.call("GET", "/v1/wallets")
    assert all(set(w) == set(wallet) for w in listing["data"]["wallets"])
    # No route of the service exports a key, whatever the credentials.
    spec = api.http.get("/openapi.json").json()
    for path in spec["paths"]:
        assert not any(word in path.lower() for word in ("key", "export", "private", "secret"))
    for suffix in ("key", "export", "private-key"):
        status, _ = api.call("GET", f"/v1/wallets/{wallet['address']}/{suffix}")
        assert status in (404, 405)
    # The stored key is ciphertext under a per-wallet data key.
    from sqlalchemy import select

    from mm_agent.server.db.store import wallets

    with service.state.store.read() as conn:
        row = conn.execute(select(wallets)).first()
    assert len(row.key_enc) > 32 and row.key_enc[:32] != row.key_enc[32:64]


def test_agent_token_cannot_broaden_but_can_tighten(service: Any, chain: Any) -> None:
    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("t@example.com")["token"])
    _, out = api.call("POST", "/v1/wallets", json={"tradingMode": "guard"})
    address = out["data"]["address"]
    _, before = api.call("GET", f"/v1/wallets/{address}/policy")
    _, out = api.call("PUT", f"/v1/wallets/{address}/policy",
                      json={"policy": policy_yaml(address, limit="5000")})
    assert out["data"]["status"] == "pending_approval"
    _, after = api.call("GET", f"/v1/wallets/{address}/policy")
    assert after == before
    _, out = api.call("PUT", f"/v1/wallets/{address}/trading-mode", json={"mode": "beast"})
    assert out["data"]["status"] == "pending_approval"
    _, mode = api.call("GET", f"/v1/wallets/{address}/trading-mode")
    assert mode["data"]["tradingMode"] == "guard"
    _, out = api.call("PUT", f"/v1/wallets/{address}/policy",
                      json={"policy": policy_yaml(address, limit="10")})
    assert out["data"]["status"] == "confirmed"


def test_requests_are_scoped_to_the_account(service: Any, chain: Any) -> None:
    prepare_service(service, chain)
    alice = Api(service.base_url, service.create_login("a@example.com")["token"])
    mallory = Api(service.base_url, service.create_login("m@example.com")["token"])
    _, out = alice.call("POST", "/v1/wallets", json={"tradingMode": "beast"})
    address = out["data"]["address"]
    req = alice.submit(address, {"kind": "message", "chainId": 31337, "message": "mine"})
    status, out = mallory.call("GET", f"/v1/requests/{req['pollingId']}")
    assert status == 404
    status, out = mallory.call("POST", f"/v1/wallets/{address}/requests",
                               json={"kind": "message", "chainId": 31337, "message": "x"})
    assert status == 404 and out["error"]["code"] == "WALLET_NOT_FOUND"
    status, out = mallory.call("GET", "/v1/wallets")
    assert out["data"]["wallets"] == []


def test_service_logs_are_json_lines_without_tracebacks_of_secrets() -> None:
    import json
    import logging

    from mm_agent.server.app import JsonLogFormatter

    record = logging.LogRecord("mm_agent.server", logging.ERROR, __file__, 1, "job %s failed",
                               ("abc",), None)
    try:
        raise ValueError("https://rpc.example/SECRET_API_KEY")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonLogFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "job abc failed" and entry["exception"] == "ValueError"
    assert "SECRET_API_KEY" not in line
