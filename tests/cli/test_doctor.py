"""`mm doctor` checks instead of trusting cached flags (issue 11): RPCs answer (short timeout,
URLs redacted), an unencrypted vault is warned about. Service and token checks: in
tests/server/test_doctor_service.py (they need the real service)."""

from __future__ import annotations

import json
import time

from helpers import free_port, run_mm

from mm_agent.local.state import Home


def test_doctor_probes_devnet_and_configured_rpcs(byok_home: Home) -> None:
    dead = free_port()
    rc, out, err = run_mm("config", "set", "rpc.1",
                          f"http://127.0.0.1:{dead}/v3/SECRETKEY123?apikey=SECRETQ", "--json")
    assert rc == 0, (out, err)
    t0 = time.monotonic()
    rc, out, err = run_mm("doctor", "--json")
    assert rc == 0, err
    assert time.monotonic() - t0 < 10  # short timeouts, not the RPC client's 15 s
    data = out["data"]
    rows = {(r["chainId"], r["kind"]): r for r in data["rpcs"]}
    devnet = rows[(31337, "devnet")]
    assert devnet["reachable"] is True and devnet["chainIdMatches"] is True
    broken = rows[(1, "rpc")]
    # The one redactor (evm.rpc.redact_url): port kept, key-like path segment and query hidden.
    assert broken["reachable"] is False and broken["url"] == f"http://127.0.0.1:{dead}/v3/***?***"
    assert "SECRET" not in json.dumps(out) + err  # the key in the path/query is never shown
    assert any("RPC of chain 1" in h for h in data["hints"])
    assert not any("chain 31337" in h for h in data["hints"])


def test_doctor_warns_about_an_unencrypted_vault(byok_home: Home) -> None:
    rc, out, err = run_mm("doctor", "--json")
    assert rc == 0, err
    data = out["data"]
    assert data["initialized"] is True and data["walletMode"] == "byok"
    assert data["serviceReachable"] is None  # BYOK without a sign-in: no service to check
    assert any("unencrypted" in h and "mm wallet password set" in h for h in data["hints"])

    rc, out, err = run_mm("wallet", "password", "set", "--json",
                          env={"MM_NEW_PASSWORD": "long-enough-pw",
                               "MM_NEW_PASSWORD_CONFIRM": "long-enough-pw"})
    assert rc == 0, (out, err)
    rc, out, err = run_mm("doctor", "--json")
    assert not any("unencrypted" in h for h in out["data"]["hints"])
