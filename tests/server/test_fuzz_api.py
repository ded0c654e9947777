"""Property-based fuzzing of the wallet service through its own OpenAPI document (schemathesis,
hypothesis): valid and invalid requests against a real uvicorn on loopback, authenticated with
a real token. Properties: never a 5xx, and every error body is the JSON envelope with a code.

Kept small for `make test` (a few examples per operation); raise ``MM_FUZZ_EXAMPLES`` for a
long run, e.g. ``MM_FUZZ_EXAMPLES=500 pytest tests/server/test_fuzz_api.py``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from helpers import free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from mm_agent.evm.chains import CHAINS
from mm_agent.server.settings import Limit, RateLimits

EXAMPLES = int(os.environ.get("MM_FUZZ_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One service for the module; every chain's RPC points at a closed local port, so
    previews and jobs fail fast instead of reaching the internet."""
    from .conftest import _start

    dead = f"http://127.0.0.1:{free_port()}"
    saved = {k: os.environ.get(k) for k in ("MM_SERVER_MASTER_KEY",
                                            *(f"MM_RPC_{c}" for c in CHAINS))}
    os.environ.pop("MM_SERVER_MASTER_KEY", None)
    for cid in CHAINS:
        os.environ[f"MM_RPC_{cid}"] = dead
    from mm_agent.server.settings import ServerSettings

    svc = _start(ServerSettings(
        data_dir=tmp_path_factory.mktemp("fuzz"), dev=True, host="127.0.0.1",
        port=free_port(),
        # Limits stay on (their answers are part of the contract) but high enough to fuzz.
        rate_limits=RateLimits(wallet_create=Limit(10_000, 3600), signin_ip=Limit(10_000, 60))))
    token = svc.create_login("fuzz@example.com")["token"].split(":")[0]
    headers = {"Authorization": f"Bearer {token}"}
    address = httpx.post(f"{svc.base_url}/v1/wallets", json={}, headers=headers,
                         timeout=10).json()["data"]["address"]
    try:
        yield svc, headers, address
    finally:
        svc.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_envelope(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert body["ok"] is False, body
        assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
        assert isinstance(body["error"]["message"], str), body


PUBLIC = ("/v1/auth/device", "/v1/auth/device/token", "/v1/auth/refresh")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_5xx_and_always_envelopes(fuzz_target: Any, mode: GenerationMode) -> None:
    svc, headers, address = fuzz_target
    api = schemathesis.openapi.from_url(f"{svc.base_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10

    strategy = st.one_of(*(op.as_strategy(generation_mode=mode) for op in operations))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES * len(operations), deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        params = case.path_parameters or {}
        if "address" in params and len(repr(case.body)) % 2 == 0:
            params["address"] = address  # half the cases reach a real wallet
        response = case.call(headers=headers)
        _check_envelope(response)
        # Without credentials: refused before the body is read (unless public).
        path = case.operation.path
        if path.startswith("/v1/") and path not in PUBLIC:
            bare = case.call(headers={"Authorization": ""})
            assert bare.status_code == 401, bare.text[:300]
            _check_envelope(bare)

    run()
