"""`mm wallet allowances list|revoke`: the approvals this wallet granted, read from the chain,
and their revoke through the pipeline (Python API and CLI)."""

from __future__ import annotations

from typing import Any

from conftest import ACCOUNT0, Anvil

from mm_agent.local.state import Home
from mm_agent.wallets.allowances import list_allowances, revoke_allowance

CHAIN = 31337


def _approve(wallet: Any, token: str, spender: str, amount: int) -> None:
    data = ("0x095ea7b3" + spender.lower()[2:].rjust(64, "0") + hex(amount)[2:].rjust(64, "0"))
    req = wallet.send_transaction(chain_id=CHAIN, payload={"to": token, "value": "0x0",
                                                           "data": data})
    assert req.status == "COMPLETED", req.error


def test_list_and_revoke(wallet: Any, chain: Anvil) -> None:
    # A contract spender (an approval to a plain account is refused by the scan).
    musd, SPENDER = chain.token("mUSD")["address"], chain.contract("Puller")
    assert list_allowances(wallet, [CHAIN])["allowances"] == []
    _approve(wallet, musd, SPENDER, 5 * 10**6)
    rows = list_allowances(wallet, [CHAIN])["allowances"]
    assert rows == [{"chainId": CHAIN, "token": musd, "symbol": "mUSD", "decimals": 6,
                     "spender": SPENDER, "spenderName": None, "allowance": "5000000",
                     "amount": "5", "unlimited": False}]
    assert list_allowances(wallet, [CHAIN], token="mDAI")["allowances"] == []
    preview = revoke_allowance(wallet, chain_id=CHAIN, token="mUSD", spender=SPENDER,
                               dry_run=True)
    assert isinstance(preview, dict) and "scan" in preview  # the pipeline's preview
    req = revoke_allowance(wallet, chain_id=CHAIN, token="mUSD", spender=SPENDER)
    assert req.status == "COMPLETED"
    assert list_allowances(wallet, [CHAIN])["allowances"] == []
    zero = list_allowances(wallet, [CHAIN], include_zero=True)["allowances"]
    assert [r["allowance"] for r in zero] == ["0"]
    again = revoke_allowance(wallet, chain_id=CHAIN, token="mUSD", spender=SPENDER)
    assert again["revoked"] is False


def test_allowances_from_the_cli(wallet: Any, chain: Anvil, mm_cli: Any,
                                 byok_home: Home) -> None:
    mdai, spender = chain.token("mDAI")["address"], chain.contract("Puller")
    _approve(wallet, mdai, spender, 3 * 10**18)
    rc, out, _ = mm_cli("wallet", "allowances", "list", "--chain-ids", str(CHAIN))
    assert rc == 0, out
    assert out["data"]["owner"] == ACCOUNT0
    (row,) = out["data"]["allowances"]
    assert row["amount"] == "3" and row["symbol"] == "mDAI" and not row["unlimited"]
    rc, out, _ = mm_cli("wallet", "allowances", "revoke", "--chain-id", str(CHAIN),
                        "--token", "mDAI", "--spender", spender)
    assert rc == 0, out
    assert out["data"]["status"] == "COMPLETED"
    rc, out, _ = mm_cli("wallet", "allowances", "list")
    assert out["data"]["allowances"] == []
