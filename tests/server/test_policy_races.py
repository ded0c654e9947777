"""Policy and trading-mode changes under concurrency (issue classes 7 and 9a), real service:
one broadening change at a time, tightening never waits, an approved diff is applied to the
current document and loosens nothing else, the human sees every changed field, and an agent
cannot create itself a beast wallet."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx

from .test_approvals import post, wait_for_links
from .test_jobs import BOB, Api, prepare_service
from .test_policy_service import CAROL, EVE, guard, policy_yaml  # noqa: F401

DAVE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


def put_policy(api: Api, address: str, text: str) -> tuple[int, dict[str, Any]]:
    return api.call("PUT", f"/v1/wallets/{address}/policy", json={"policy": text})


def current(api: Api, address: str) -> str:
    return str(api.call("GET", f"/v1/wallets/{address}/policy")[1]["data"]["policy"])


def approve_by_link(svc: Any, count: int) -> None:
    """Approve the ``count``-th approval mail as the human does (the link in the mail)."""
    _link, approval_id, secret = wait_for_links(svc.outbox_messages, count)[count - 1]
    resp = post(svc, approval_id, t=secret, decision="approve")
    assert resp.status_code == 200, resp.text


def test_second_broadening_is_refused_tightening_applies_and_diff_lands_on_current(
        guard: Any) -> None:  # noqa: F811
    api, address, _chain, svc = guard
    status, first = put_policy(api, address, policy_yaml(address, recipients=[BOB],
                                                         limit="5000"))
    assert status == 200 and first["data"]["status"] == "pending_approval"
    # Another broadening change while that one waits: refused with the reference CLI's code.
    status, second = put_policy(api, address, policy_yaml(address, recipients=[CAROL]))
    assert second["error"]["code"] == "WALLET_POLICY_APPROVAL_IN_PROGRESS", second
    assert CAROL not in current(api, address)
    # An emergency blocklist entry never waits, pending approval or not.
    status, tight = put_policy(api, address, policy_yaml(address, block=[EVE]))
    assert tight["data"]["status"] == "confirmed", tight
    assert EVE in current(api, address)
    # A mixed document: its tightening half applies now, its broadening half is refused.
    status, mixed = put_policy(api, address, policy_yaml(address, block=[EVE, DAVE],
                                                         recipients=[CAROL]))
    assert mixed["error"]["code"] == "WALLET_POLICY_APPROVAL_IN_PROGRESS"
    assert DAVE in current(api, address) and CAROL not in current(api, address)

    # The human approves the first request: its diff (BOB, limit 1000 → 5000) lands on the
    # CURRENT document; the blocklist entries added since stay.
    approve_by_link(svc, 1)
    done = api.wait(first["data"]["pollingId"])
    assert done["status"] == "COMPLETED", done
    doc = current(api, address)
    assert BOB in doc and EVE in doc and DAVE in doc and "rolling_24h: 5000" in doc
    assert CAROL not in doc


def test_limit_tightened_while_pending_is_not_loosened_by_the_approval(
        guard: Any) -> None:  # noqa: F811
    api, address, _chain, svc = guard
    _, first = put_policy(api, address, policy_yaml(address, recipients=[BOB], limit="5000"))
    _, tight = put_policy(api, address, policy_yaml(address, limit="10"))
    assert tight["data"]["status"] == "confirmed"
    approve_by_link(svc, 1)
    done = api.wait(first["data"]["pollingId"])
    assert done["status"] == "COMPLETED"
    doc = current(api, address)
    # The human approved 1000 → 5000; the limit is 10 now: kept, and said so.
    assert "rolling_24h: 10" in doc and BOB in doc
    assert any("rolling_24h" in s for s in done["result"]["skipped"])


def test_approval_mail_and_page_list_every_changed_field(guard: Any) -> None:  # noqa: F811
    api, address, _chain, svc = guard
    _, out = put_policy(api, address, policy_yaml(address, allow=[DAVE], recipients=[BOB],
                                                  chains=[1, 8453, 31337, 10], limit="2500"))
    assert out["data"]["status"] == "pending_approval"
    ((link, _aid, _secret),) = wait_for_links(svc.outbox_messages, 1)
    text = svc.outbox_messages()[-1].get_body(preferencelist=("plain",)).get_content()
    page = httpx.get(link, timeout=10).text
    for needle in (f"addresses.allowlist: [] → [{DAVE}]",
                   f"evm.token_recipients.allowlist: [] → [{BOB}]",
                   "evm.allowed_chains: [1, 8453, 31337] → [1, 8453, 31337, 10]",
                   "evm.outflow_limits_usd.rolling_24h: 1000 → 2500"):
        assert needle in text, text
        assert needle.replace("→", "&rarr;") in page or needle in page


def test_concurrent_broadening_requests_open_one_approval(guard: Any) -> None:  # noqa: F811
    api, address, _chain, _svc = guard
    docs = [policy_yaml(address, recipients=[r]) for r in (BOB, CAROL, EVE, DAVE)] * 2
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda d: put_policy(api, address, d)[1], docs))
    pending = [o for o in outs if o.get("ok") and o["data"]["status"] == "pending_approval"]
    refused = [o for o in outs if not o.get("ok")]
    assert len(pending) == 1, outs
    assert {o["error"]["code"] for o in refused} == {"WALLET_POLICY_APPROVAL_IN_PROGRESS"}


def test_trading_mode_codes(guard: Any) -> None:  # noqa: F811
    api, address, _chain, svc = guard
    path = f"/v1/wallets/{address}/trading-mode"
    _, same = api.call("PUT", path, json={"mode": "guard"})
    assert same["error"]["code"] == "ALREADY_SET_TRADING_MODE"
    _, first = api.call("PUT", path, json={"mode": "beast"})
    assert first["data"]["status"] == "pending_approval"
    _, again = api.call("PUT", path, json={"mode": "beast"})
    assert again["error"]["code"] == "TRADING_MODE_APPROVAL_IN_PROGRESS"
    text = svc.outbox_messages()[-1].get_body(preferencelist=("plain",)).get_content()
    assert "tradingMode: guard → beast" in text
    approve_by_link(svc, 1)
    assert api.wait(first["data"]["pollingId"])["status"] == "COMPLETED"
    _, mode = api.call("GET", path)
    assert mode["data"]["tradingMode"] == "beast"
    _, back = api.call("PUT", path, json={"mode": "guard"})  # tightening: at once
    assert back["data"]["status"] == "confirmed"


def test_agent_created_beast_wallet_starts_in_guard_until_approved(service: Any,
                                                                   chain: Any) -> None:
    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("agent@example.com")["token"])
    status, out = api.call("POST", "/v1/wallets", json={"name": "fast", "tradingMode": "beast"})
    assert status == 201, out
    wallet = out["data"]
    assert wallet["tradingMode"] == "guard"
    change = wallet["tradingModeChange"]
    assert change["status"] == "pending_approval" and change["requestedMode"] == "beast"
    _, mode = api.call("GET", f"/v1/wallets/{wallet['address']}/trading-mode")
    assert mode["data"]["tradingMode"] == "guard"
    # Until the human approves, the wallet is guarded: an unlisted recipient asks.
    chain.rpc("anvil_setBalance", [wallet["address"], hex(10**18)])
    req = api.wait(api.submit(wallet["address"], {"kind": "transfer", "chainId": 31337,
                                                  "to": BOB, "amount": "0.01"})["pollingId"])
    assert req["status"] == "AWAITING_MFA"
    approve_by_link(service, 1)  # the first mail asked for beast
    assert api.wait(change["pollingId"])["status"] == "COMPLETED"
    _, mode = api.call("GET", f"/v1/wallets/{wallet['address']}/trading-mode")
    assert mode["data"]["tradingMode"] == "beast"
