"""Guard/beast, policy documents, the rolling outflow window, on the real service and anvil."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
from helpers import wait_until

from .test_jobs import BOB, Api, prepare_service

CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
EVE = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def policy_yaml(address: str, *, allow: list[str] = (), block: list[str] = (),  # type: ignore[assignment]
                chains: list[int] = (1, 8453, 31337), recipients: list[str] = (),  # type: ignore[assignment]
                limit: str = "1000") -> str:
    def items(xs: Any) -> str:
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

    return (f'schema_version: 1\nwallet_address: "{address}"\naddresses:\n'
            f"  allowlist: {items(allow)}\n  blocklist: {items(block)}\nevm:\n"
            f"  allowed_chains: [{', '.join(str(c) for c in chains)}]\n"
            f"  token_recipients:\n    allowlist: {items(recipients)}\n"
            f"  outflow_limits_usd:\n    rolling_24h: {limit}\n")


@pytest.fixture
def guard(service: Any, chain: Any) -> tuple[Api, str, Any, Any]:
    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("guard@example.com")["token"])
    _, out = api.call("POST", "/v1/wallets", json={"tradingMode": "guard"})
    address = out["data"]["address"]
    chain.rpc("anvil_setBalance", [address, hex(100 * 10**18)])
    # Give the wallet mUSD from the deployer (anvil's unlocked account 0).
    musd = chain.token("mUSD")["address"]
    amount = hex(10_000 * 10**6)[2:].rjust(64, "0")
    data = "0xa9059cbb" + address[2:].lower().rjust(64, "0") + amount
    tx = chain.rpc("eth_sendTransaction", [{"from": chain.deployed["deployer"], "to": musd,
                                            "data": data}])
    wait_until(lambda: chain.rpc("eth_getTransactionReceipt", [tx]), timeout=10, interval=0.01,
               what=f"setup tx {tx} to be mined")
    return api, address, chain, service


def set_policy(api: Api, svc: Any, address: str, text: str) -> dict[str, Any]:
    """Set a policy; a broadening one is approved as the human would (the approval's effect)."""
    status, out = api.call("PUT", f"/v1/wallets/{address}/policy", json={"policy": text})
    assert status == 200, out
    data = out["data"]
    if data["status"] == "pending_approval":
        svc.state.jobs.approve(data["pollingId"])
        assert api.wait(data["pollingId"])["status"] == "COMPLETED"
    return data


def transfer(api: Api, address: str, to: str, amount: str, token: str = "ETH") -> dict[str, Any]:
    return api.wait(api.submit(address, {"kind": "transfer", "chainId": 31337, "to": to,
                                         "amount": amount, "token": token})["pollingId"])


def rules(req: dict[str, Any]) -> set[str]:
    return {v["rule"] for v in req["preview"]["policy"]["violations"]}


def test_inside_every_allowlist_completes_without_approval(guard: Any) -> None:
    api, address, chain, svc = guard
    musd = chain.token("mUSD")["address"]
    set_policy(api, svc, address, policy_yaml(address, allow=[musd], recipients=[BOB]))
    assert transfer(api, address, BOB, "0.1")["status"] == "COMPLETED"
    assert transfer(api, address, BOB, "25", "mUSD")["status"] == "COMPLETED"


@pytest.mark.parametrize("broken", ["recipient", "network", "address", "outflow", "scan"])
def test_each_guardrail_broken_alone_awaits_approval(guard: Any, broken: str) -> None:
    api, address, chain, svc = guard
    musd = chain.token("mUSD")["address"]
    kwargs: dict[str, Any] = {"allow": [musd], "recipients": [BOB]}
    if broken == "network":
        kwargs["chains"] = [1, 8453]
    if broken == "address":
        kwargs["allow"] = []
    set_policy(api, svc, address, policy_yaml(address, **kwargs))
    if broken == "recipient":
        req, expected = transfer(api, address, CAROL, "0.1"), "token_recipient"
    elif broken == "network":
        req, expected = transfer(api, address, BOB, "0.1"), "network"
    elif broken == "address":
        req, expected = transfer(api, address, BOB, "5", "mUSD"), "address_allowlist"
    elif broken == "outflow":
        req, expected = transfer(api, address, BOB, "0.6"), "outflow_limit"  # $1200 > $1000
    else:
        data = "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64
        req = api.wait(api.submit(address, {"kind": "transaction", "chainId": 31337,
                                            "payload": {"to": musd, "value": "0x0",
                                                        "data": data}})["pollingId"])
        expected = "threat_scan"
    assert req["status"] == "AWAITING_MFA", req
    assert expected in rules(req), rules(req)
    if broken != "scan":
        assert rules(req) == {expected}


def test_blocklisted_recipient_is_denied_in_both_modes(guard: Any) -> None:
    api, address, _chain, svc = guard
    set_policy(api, svc, address, policy_yaml(address, block=[EVE], recipients=[BOB]))
    req = transfer(api, address, EVE, "0.1")
    assert req["status"] == "FAILED" and req["error"]["code"] == "POLICY_DENIED"
    _, out = api.call("PUT", f"/v1/wallets/{address}/trading-mode", json={"mode": "beast"})
    svc.state.jobs.approve(out["data"]["pollingId"])
    api.wait(out["data"]["pollingId"])
    req = transfer(api, address, EVE, "0.1")
    assert req["status"] == "FAILED" and req["error"]["code"] == "POLICY_DENIED"


def test_concurrent_transfers_cannot_overrun_the_window(guard: Any) -> None:
    api, address, _chain, svc = guard
    set_policy(api, svc, address, policy_yaml(address, recipients=[BOB]))
    # 0.0499 ETH at the devnet's $2000 = $99.80 plus a worst-case fee of a few cents (fees
    # count as outflow): ten fit in the $1000 limit, the eleventh does not.
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        done = list(pool.map(lambda _i: transfer(api, address, BOB, "0.0499"), range(20)))
    statuses = [d["status"] for d in done]
    assert statuses.count("COMPLETED") == 10, statuses
    assert statuses.count("AWAITING_MFA") == 10
    assert all(rules(d) == {"outflow_limit"} for d in done if d["status"] == "AWAITING_MFA")


def test_failed_or_denied_requests_release_their_reservation(guard: Any) -> None:
    api, address, _chain, svc = guard
    set_policy(api, svc, address, policy_yaml(address, recipients=[BOB], limit="150"))
    first = transfer(api, address, BOB, "0.05")  # $100 of $150
    assert first["status"] == "COMPLETED"
    held = transfer(api, address, BOB, "0.05")  # would make $200: held
    assert held["status"] == "AWAITING_MFA"
    svc.state.jobs.deny(held["pollingId"])
    assert api.wait(held["pollingId"])["status"] == "DENIED"
    # The denied one reserved nothing; a $40 transfer still fits.
    assert transfer(api, address, BOB, "0.02")["status"] == "COMPLETED"


def test_mode_changes_guard_to_beast_waits_beast_to_guard_is_immediate(guard: Any) -> None:
    api, address, _chain, svc = guard
    status, out = api.call("PUT", f"/v1/wallets/{address}/trading-mode", json={"mode": "beast"})
    assert status == 200 and out["data"]["status"] == "pending_approval"
    _, now = api.call("GET", f"/v1/wallets/{address}/trading-mode")
    assert now["data"]["tradingMode"] == "guard"
    _, listing = api.call("GET", "/v1/requests")
    assert any(r["pollingId"] == out["data"]["pollingId"] and r["kind"] == "trading-mode"
               and r["status"] == "AWAITING_MFA" for r in listing["data"]["requests"])
    svc.state.jobs.approve(out["data"]["pollingId"])
    assert api.wait(out["data"]["pollingId"])["status"] == "COMPLETED"
    _, now = api.call("GET", f"/v1/wallets/{address}/trading-mode")
    assert now["data"]["tradingMode"] == "beast"
    _, out = api.call("PUT", f"/v1/wallets/{address}/trading-mode", json={"mode": "guard"})
    assert out["data"]["status"] == "confirmed"
    _, now = api.call("GET", f"/v1/wallets/{address}/trading-mode")
    assert now["data"]["tradingMode"] == "guard"


def test_policy_changes_broadening_waits_tightening_applies(guard: Any) -> None:
    api, address, _chain, svc = guard
    _, out = api.call("PUT", f"/v1/wallets/{address}/policy",
                           json={"policy": policy_yaml(address, recipients=[BOB])})
    assert out["data"]["status"] == "pending_approval"
    assert any("token_recipients" in c for c in out["data"]["changes"])
    _, current = api.call("GET", f"/v1/wallets/{address}/policy")
    assert BOB not in current["data"]["policy"]  # not applied before approval
    svc.state.jobs.approve(out["data"]["pollingId"])
    api.wait(out["data"]["pollingId"])
    _, current = api.call("GET", f"/v1/wallets/{address}/policy")
    assert BOB in current["data"]["policy"]
    _, out = api.call("PUT", f"/v1/wallets/{address}/policy",
                           json={"policy": policy_yaml(address, recipients=[], limit="10")})
    assert out["data"]["status"] == "confirmed"
    _, current = api.call("GET", f"/v1/wallets/{address}/policy")
    assert "rolling_24h: 10" in current["data"]["policy"] and BOB not in current["data"]["policy"]


@pytest.mark.parametrize("doc", ["- a\n- b\n", "just a string\n", "", "addresses: {}\n"])
def test_invalid_policy_documents(guard: Any, doc: str) -> None:
    api, address, _chain, _svc = guard
    status, out = api.call("PUT", f"/v1/wallets/{address}/policy", json={"policy": doc})
    assert status == 400 and out["error"]["code"] == "INVALID_POLICY_YAML"
