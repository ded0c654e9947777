"""Hand-made hostile inputs against a real service (uvicorn on loopback): each once crashed the
process, stalled it or answered 500. Every answer must be the JSON error envelope with a code,
and the service must still answer afterwards."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Service

WALLET_PATH = "/v1/wallets"


def _token(service: Service, email: str = "eve@example.com") -> str:
    return str(service.create_login(email)["token"].split(":")[0])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _envelope(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["ok"] is False and body["error"]["code"], body
    if code:
        assert body["error"]["code"] == code, body
    return dict(body["error"])


def _alive(service: Service) -> None:
    assert httpx.get(f"{service.base_url}/healthz", timeout=5).status_code == 200


def _wallet(c: httpx.Client, token: str) -> str:
    r = c.post(WALLET_PATH, json={}, headers=_auth(token))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["address"])


def test_recursion_limit_stays_sane_after_the_signing_stack() -> None:
    code = ("import sys, mm_agent, eth_account, mm_agent.evm.signing, py_ecc; "
            "print(sys.getrecursionlimit())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert int(out.stdout.strip()) <= 10_000
    # Even when py_ecc comes in first, through eth-account, before mm_agent.
    code = "import eth_account, sys, mm_agent; print(sys.getrecursionlimit())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert int(out.stdout.strip()) <= 10_000


@pytest.mark.parametrize("with_token", [False, True])
def test_deeply_nested_body_does_not_crash_the_service(service: Service,
                                                       with_token: bool) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    headers = {"content-type": "application/json"}
    if with_token:
        headers |= _auth(_token(service))
    with service.client() as c:
        r = c.post(WALLET_PATH, content=body, headers=headers)
        _envelope(r, 400 if with_token else 401,
                  "INVALID_JSON" if with_token else "NOT_AUTHENTICATED")
        # Public sign-in route: no token needed, still refused before parsing.
        r = c.post("/v1/auth/device", content=b'{"method":' + b"[" * 100_000, headers=headers)
        _envelope(r, 400, "INVALID_JSON")
    _alive(service)


def test_body_size_cap_and_no_body_read_without_token(service: Service) -> None:
    big = b'{"name":"' + b"a" * (300 * 1024) + b'"}'
    token = _token(service)
    with service.client() as c:
        _envelope(c.post(WALLET_PATH, content=big, headers=_auth(token)), 413,
                  "REQUEST_TOO_LARGE")
        _envelope(c.post(WALLET_PATH, content=big), 401, "NOT_AUTHENTICATED")
        _envelope(c.post(WALLET_PATH, content=b"{}", headers={"Authorization": "Bearer nope"}),
                  401, "NOT_AUTHENTICATED")
        # The approval page's form is capped too (16 KiB), though it needs no bearer.
        r = c.post("/approvals/x", content=b"t=" + b"a" * 20_000,
                   headers={"content-type": "application/x-www-form-urlencoded"})
        _envelope(r, 413, "REQUEST_TOO_LARGE")
    _alive(service)


def test_streamed_body_is_cut_at_the_cap(service: Service) -> None:
    token = _token(service)
    host, port = service.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"POST {WALLET_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                  .encode())
        chunk = b"a" * 65536
        try:
            for _ in range(8):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass  # the service may close early; the answer is what counts
        # The head and the JSON body may come in separate segments: read until the body is in.
        data = b""
        while b"REQUEST_TOO_LARGE" not in data:
            try:
                part = s.recv(65536)
            except OSError:
                break
            if not part:
                break
            data += part
        reply = data.decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert "REQUEST_TOO_LARGE" in reply
    _alive(service)


def test_invalid_utf8_bad_json_and_lone_surrogates(service: Service) -> None:
    token = _token(service)
    with service.client() as c:
        address = _wallet(c, token)
        path = f"/v1/wallets/{address}/requests"
        h = _auth(token) | {"content-type": "application/json"}
        _envelope(c.post(path, content=b'{"kind":"message","message":"\xff\xfe"}', headers=h),
                  400, "INVALID_JSON")
        _envelope(c.post(path, content=b'{"kind": "message",', headers=h), 400, "INVALID_JSON")
        lone = b'{"kind":"message","chainId":31337,"message":"hi \\ud800 there"}'
        _envelope(c.post(path, content=lone, headers=h), 400, "INVALID_ARGUMENT")
        lone_key = b'{"kind":"message","chainId":31337,"\\udfff":1}'
        _envelope(c.post(path, content=lone_key, headers=h), 400, "INVALID_ARGUMENT")
        # A proper pair is text (an emoji) and passes the check.
        pair = b'{"kind":"message","chainId":31337,"message":"\\ud83d\\ude00","dryRun":true}'
        assert c.post(path, content=pair, headers=h).status_code != 400
        # An escaped backslash before "ud800" is not an escape.
        text = b'{"kind":"message","chainId":31337,"message":"\\\\ud800","dryRun":true}'
        assert c.post(path, content=text, headers=h).status_code != 400
    _alive(service)


def test_huge_numbers_are_refused_quickly(service: Service) -> None:
    token = _token(service)
    with service.client() as c:
        address = _wallet(c, token)
        path = f"/v1/wallets/{address}/requests"
        h = _auth(token)
        for amount in ("9" * 5000, "1" + "0" * 200 + ".5", "0." + "1" * 5000, "1e999999999",
                       "1E+99999"):
            r = c.post(path, json={"kind": "transfer", "chainId": 31337, "amount": amount,
                                   "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                                   "dryRun": True}, headers=h)
            _envelope(r, 400)
        r = c.post(path, content=b'{"kind":"message","chainId":' + b"9" * 5000 + b"}",
                   headers=h | {"content-type": "application/json"})
        _envelope(r, 400, "INVALID_JSON")
        policy = ("schema_version: 1\nwallet_address: \"" + address + "\"\naddresses:\n"
                  "  allowlist: []\n  blocklist: []\nevm:\n  allowed_chains: [31337]\n"
                  "  token_recipients:\n    allowlist: []\n  outflow_limits_usd:\n"
                  "    rolling_24h: {limit}\n")
        for limit in ("1e999999999", "1.0e+999999999", "9" * 5000, "-1"):
            r = c.put(f"/v1/wallets/{address}/policy",
                      json={"policy": policy.format(limit=limit)}, headers=h)
            _envelope(r, 400, "INVALID_POLICY_YAML")
    _alive(service)


def test_yaml_alias_bomb_is_refused_small(service: Service) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9))
    token = _token(service)
    with service.client() as c:
        address = _wallet(c, token)
        r = c.put(f"/v1/wallets/{address}/policy", json={"policy": bomb}, headers=_auth(token))
        err = _envelope(r, 400, "INVALID_POLICY_YAML")
        assert len(r.content) < 2000 and "anchors" in err["message"]
    _alive(service)


def test_scalar_where_a_list_is_expected(service: Service) -> None:
    token = _token(service)
    with service.client() as c:
        address = _wallet(c, token)
        h = _auth(token)
        policy = (f"schema_version: 1\nwallet_address: \"{address}\"\naddresses:\n"
                  "  allowlist: 5\n  blocklist: []\nevm:\n  allowed_chains: 31337\n"
                  "  token_recipients:\n    allowlist: 7\n  outflow_limits_usd:\n"
                  "    rolling_24h: 10\n")
        r = c.put(f"/v1/wallets/{address}/policy", json={"policy": policy}, headers=h)
        _envelope(r, 400, "INVALID_POLICY_YAML")
        r = c.post(f"/v1/wallets/{address}/requests", headers=h, json={
            "kind": "transaction", "chainId": 31337, "dryRun": True,
            "payload": {"to": address, "value": "0x0", "data": "0x", "accessList": 5}})
        assert r.status_code < 500, r.text
        _envelope(r, r.status_code)
    _alive(service)


def test_every_framework_error_is_an_envelope(service: Service) -> None:
    token = _token(service)
    with service.client() as c:
        _envelope(c.get("/nope"), 404, "NOT_FOUND")
        _envelope(c.get("/v1/nope", headers=_auth(token)), 404, "NOT_FOUND")
        r = c.delete("/healthz")
        _envelope(r, 405, "METHOD_NOT_ALLOWED")
        assert "GET" in r.headers.get("allow", "")
        _envelope(c.post(WALLET_PATH, json={"tradingMode": "yolo"}, headers=_auth(token)), 400,
                  "INVALID_ARGUMENT")
        _envelope(c.post(WALLET_PATH, json=[1, 2], headers=_auth(token)), 400)
        _envelope(c.post("/v1/auth/device", json={}), 400, "MISSING_FLAG")
        _envelope(c.post("/v1/auth/device", content=b"\x00\x01",
                         headers={"content-type": "application/json"}), 400, "INVALID_JSON")


def test_openapi_declares_bearer_and_real_statuses(service: Service) -> None:
    doc = httpx.get(f"{service.base_url}/openapi.json", timeout=5).json()
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    submit = doc["paths"]["/v1/wallets/{address}/requests"]["post"]
    assert submit["security"] == [{"bearerAuth": []}]
    assert {"202", "400", "401", "413", "429"} <= set(submit["responses"])
    assert "422" in submit["responses"]  # engine refusals; FastAPI's own 422 is replaced
    assert "Retry-After" in submit["responses"]["429"]["headers"]
    device = doc["paths"]["/v1/auth/device"]["post"]
    assert device["security"] == []


def test_database_files_are_private_whatever_the_umask(service_factory: Any,
                                                      tmp_path: Path) -> None:
    import os

    data = tmp_path / "open"
    data.mkdir(mode=0o777)
    os.chmod(data, 0o777)
    old = os.umask(0)
    try:
        svc = service_factory(data_dir=data)
        token = _token(svc)
        with svc.client() as c:
            _wallet(c, token)  # writes: the WAL and shared-memory files exist now
    finally:
        os.umask(old)
    files = [p for p in data.iterdir() if p.name.startswith("mm.sqlite")]
    assert {p.name for p in files} >= {"mm.sqlite", "mm.sqlite-wal", "mm.sqlite-shm"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
