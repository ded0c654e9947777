"""The OpenAPI document describes what the service really answers.

Every JSON route declares a ``response_model`` (``mm_agent/server/routes/models.py``); the routes
answer with the dicts the services build, so here real responses from a real service are
validated against the declared models, and the declared statuses are checked against the error
classes' ``http_status``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from mm_agent import errors
from mm_agent.server.routes import models

from .conftest import Service


def _data(resp: Any, status: int, model: type[BaseModel]) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:300]
    body = resp.json()
    assert body["ok"] is True
    model.model_validate(body["data"])
    return body["data"]


def test_live_responses_match_their_models(service: Service) -> None:
    token = service.create_login("models@example.com")["token"]
    auth = {"Authorization": f"Bearer {token.split(':')[0]}"}
    with service.client(headers=auth) as c:
        _data(c.get("/healthz"), 200, models.Health)
        _data(c.get("/v1/auth/status"), 200, models.AuthStatus)
        wallet = _data(c.post("/v1/wallets", json={"name": "m"}), 201, models.Wallet)
        address = wallet["address"]
        _data(c.get("/v1/wallets"), 200, models.WalletList)
        _data(c.get(f"/v1/wallets/{address}"), 200, models.Wallet)
        _data(c.get(f"/v1/wallets/{address}/policy"), 200, models.PolicyDocument)
        _data(c.get(f"/v1/wallets/{address}/trading-mode"), 200, models.TradingMode)
        _data(c.get("/v1/chains"), 200, models.ChainsServed)
        # A message needs no chain state: it is recorded and runs without an RPC.
        req = _data(c.post(f"/v1/wallets/{address}/requests",
                           json={"kind": "message", "chainId": 1, "message": "hi"}),
                    202, models.ServiceRequest)
        pid = req["pollingId"]
        _data(c.get(f"/v1/requests/{pid}"), 200, models.ServiceRequest)
        _data(c.get(f"/v1/requests/{pid}/wait", params={"timeout": 5, "until": "final"}), 200,
              models.ServiceRequest)
        _data(c.get("/v1/requests"), 200, models.RequestList)
        _data(c.put(f"/v1/wallets/{address}/trading-mode", json={"mode": "beast"}), 200,
              models.TradingModeChange)
        _data(c.post("/v1/auth/logout"), 200, models.LoggedOut)


def test_openapi_declares_success_models_and_real_statuses(service: Service) -> None:
    with service.client() as c:
        doc = c.get("/openapi.json").json()
    paths = doc["paths"]
    created = paths["/v1/wallets"]["post"]["responses"]
    assert "201" in created and "200" not in created
    assert "Envelope_Wallet_" in created["201"]["content"]["application/json"]["schema"]["$ref"]
    submit = paths["/v1/wallets/{address}/requests"]["post"]["responses"]
    assert {"200", "202"} <= set(submit)
    for path, ops in paths.items():
        for method, op in ops.items():
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert ok, (method, path)
            for status in ok:
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema.get("$ref", "").split("/")[-1].startswith("Envelope_"), (
                    method, path, status)
            assert "502" not in op["responses"], "the service never answers 502"
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize(("cls", "status"), [
    (errors.MissingFlag, 400), (errors.InvalidAddress, 400), (errors.RequestTooLarge, 413),
    (errors.NotAuthenticated, 401), (errors.InvalidOtp, 401), (errors.Forbidden, 403),
    (errors.WalletNotFound, 404), (errors.RequestNotFound, 404), (errors.LoginNotFound, 404),
    (errors.RouteNotFound, 404), (errors.MethodNotAllowed, 405),
    (errors.IdempotencyConflict, 409), (errors.ApprovalClosed, 409), (errors.LinkUsed, 409),
    (errors.AlreadySetTradingMode, 409), (errors.PolicyApprovalInProgress, 409),
    (errors.LoginExpired, 410), (errors.TxExpired, 410), (errors.AuthorizationPending, 428),
    (errors.RateLimited, 429), (errors.RpcError, 422), (errors.InsufficientFunds, 422),
    (errors.PolicyDenied, 422), (errors.DatabaseCorrupt, 500), (errors.MMError, 500),
    (errors.ServiceError, 500), (errors.ServiceStopping, 503),
])
def test_http_status_is_the_class_tree(cls: type[errors.MMError], status: int) -> None:
    assert cls.http_status == status
