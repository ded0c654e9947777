"""Smart submission on real anvil nodes: reverting transactions are never broadcast, gas and
EIP-1559 fees, the nonce manager under concurrency, stuck-transaction replacement (same nonce,
both fees +12.5 %, bounded, capped), and the private (MEV-protected) endpoint with and without
public fallback."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT1, TEST_MNEMONIC, start_anvil
from helpers import wait_until
from sec_helpers import FRESH, RpcProxy, calldata, make_wallet, nonce, tx_payload

from mm_agent.evm.fees import BUMP_DENOMINATOR, BUMP_NUMERATOR, bump
from mm_agent.evm.rpc import RpcClient
from mm_agent.local.state import Home
from mm_agent.security.submit import SubmitResult, Submitter

CHAIN = 31337
GWEI = 10**9


def _tx(chain: Any, tx_hash: str) -> dict[str, Any]:
    tx = chain.rpc("eth_getTransactionByHash", [tx_hash])
    assert tx is not None
    return tx


def _int(value: str) -> int:
    return int(value, 16)


# --- (a) never broadcast a reverting transaction -------------------------------------------------
def test_reverting_transaction_is_never_broadcast(chain: Any, wallet: Any) -> None:
    me, reverter = wallet.address, chain.contract("Reverter")
    block = chain.rpc("eth_blockNumber")
    n = nonce(chain.rpc, me)
    for fn in ("fail()", "panic()", "custom()"):
        req = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(reverter, calldata(fn)))
        assert req.status == "FAILED"
        assert req.error["code"] == "TX_REVERTED"
        assert req.tx_hash is None and req.nonce is None
    assert "always fails" in wallet.requests.list()[-1].error["message"]
    assert chain.rpc("eth_blockNumber") == block  # no block, so no transaction in one
    assert chain.rpc("txpool_content")["pending"] == {}
    assert nonce(chain.rpc, me, "latest") == nonce(chain.rpc, me) == n
    # No nonce was used up: the next transaction takes the same one.
    ok = wallet.transfer(to=FRESH, amount="0.01", chain_id=CHAIN)
    assert ok.status == "COMPLETED", ok.error
    assert _int(_tx(chain, ok.tx_hash)["nonce"]) == n


def test_token_transfer_beyond_balance_is_not_sent(chain: Any, wallet: Any) -> None:
    musd = chain.token("mUSD")["address"]
    n = nonce(chain.rpc, wallet.address)
    too_much = calldata("transfer(address,uint256)", ACCOUNT1, 10**30)
    req = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(musd, too_much))
    assert req.status == "FAILED" and req.error["code"] == "TX_REVERTED"
    assert "ERC20InsufficientBalance" in req.error["message"]
    assert nonce(chain.rpc, wallet.address) == n


# --- (b) gas limit and fees ----------------------------------------------------------------------
def test_gas_limit_from_simulation_and_fees_from_fee_history(chain: Any, byok_home: Home) -> None:
    proxy = RpcProxy(chain.url)
    try:
        w = make_wallet(byok_home, env={"MM_RPC_31337": proxy.url})
        history = chain.rpc("eth_feeHistory", ["0xa", "latest", [50]])
        next_base = _int(history["baseFeePerGas"][-1])
        req = w.transfer(to=ACCOUNT1, amount="2", token="mUSD", chain_id=CHAIN)
        assert req.status == "COMPLETED", req.error
        assert proxy.count("eth_feeHistory") >= 1
        native = w.transfer(to=FRESH, amount="0.01", chain_id=CHAIN)
    finally:
        proxy.stop()
    sim_gas = int(req.preview["simulation"]["gasUsed"])
    tx = _tx(chain, req.tx_hash)
    receipt = chain.rpc("eth_getTransactionReceipt", [req.tx_hash])
    gas = _int(tx["gas"])
    assert sim_gas <= gas <= sim_gas * 13 // 10 + 5000
    assert _int(receipt["gasUsed"]) <= gas
    assert tx["type"] == "0x2"
    block = chain.rpc("eth_getBlockByNumber", [receipt["blockNumber"], False])
    max_fee, tip = _int(tx["maxFeePerGas"]), _int(tx["maxPriorityFeePerGas"])
    assert max_fee >= _int(block["baseFeePerGas"])
    assert max_fee >= next_base + tip  # room for the next block's base fee plus the tip
    assert 0 < tip <= max_fee

    # A plain native transfer needs exactly 21000.
    assert native.status == "COMPLETED", native.error
    assert _int(_tx(chain, native.tx_hash)["gas"]) == 21_000


def test_caller_fees_and_gas_are_kept(chain: Any, byok_home: Home) -> None:
    # 50 gwei is far above the devnet's estimate: allowed here by a wide fee-cap multiple
    # (without it the request needs approval, `fee_cap`: tests/security/test_fee_caps.py).
    wallet = make_wallet(byok_home, settings={"security.feeCapMultiple": "1000"})
    payload = {**tx_payload(FRESH, value=1), "gas": hex(30_000),
               "maxFeePerGas": hex(50 * GWEI), "maxPriorityFeePerGas": hex(2 * GWEI)}
    req = wallet.send_transaction(chain_id=CHAIN, payload=payload)
    assert req.status == "COMPLETED", req.error
    tx = _tx(chain, req.tx_hash)
    assert (_int(tx["gas"]), _int(tx["maxFeePerGas"]), _int(tx["maxPriorityFeePerGas"])) == (
        30_000, 50 * GWEI, 2 * GWEI)


# --- (c) nonce manager under concurrency ---------------------------------------------------------
def test_concurrent_transfers_get_contiguous_nonces(chain: Any, wallet: Any) -> None:
    me = wallet.address
    start = nonce(chain.rpc, me)
    recipients = [f"0x{i:040x}" for i in range(0x1000, 0x100A)]

    def one(to: str) -> Any:
        return wallet.transfer(to=to, amount="0.001", chain_id=CHAIN)

    with ThreadPoolExecutor(max_workers=10) as pool:
        reqs = list(pool.map(one, recipients))
    assert [r.status for r in reqs] == ["COMPLETED"] * 10, [r.error for r in reqs]
    nonces = sorted(_int(_tx(chain, r.tx_hash)["nonce"]) for r in reqs)
    assert nonces == list(range(start, start + 10))
    assert sorted(r.nonce for r in reqs) == nonces
    for r in reqs:
        assert _int(chain.rpc("eth_getTransactionReceipt", [r.tx_hash])["status"]) == 1
    for to in recipients:
        assert chain.balance(to) == 10**15
    assert nonce(chain.rpc, me, "latest") == start + 10


def test_concurrent_wallets_in_separate_processes(chain: Any, byok_home: Home) -> None:
    """Two `mm` processes on one MM_HOME share the reservation file: no nonce reused."""
    me = chain.deployed["deployer"]
    start = nonce(chain.rpc, me)
    exe = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mm")
    procs = [subprocess.Popen([exe, "transfer", "--token", "ETH",
                               "--to", f"0x{i:040x}", "--amount", "0.001",
                               "--chain-id", str(CHAIN), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in (0x2001, 0x2002, 0x2003)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert nonce(chain.rpc, me, "latest") == start + 3


# --- (d) stuck-transaction replacement -----------------------------------------------------------
@pytest.fixture
def paused_chain() -> Iterator[RpcClient]:
    """A fresh anvil that mines only on ``evm_mine``."""
    url, proc = start_anvil("--no-mining")
    rpc = RpcClient(url)
    yield rpc
    rpc.close()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def signer(mm_home: Home) -> tuple[str, Callable[[dict[str, Any]], tuple[str, str]]]:
    from mm_agent.wallets.byok.keyring import ByokKeyring

    mm_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    keyring = ByokKeyring(mm_home, lambda: None)
    address = str(keyring.active)
    return address, lambda tx: keyring.sign_transaction(address, tx)


def _original(n: int, max_fee: int = 2 * GWEI, tip: int = GWEI) -> dict[str, Any]:
    return {"type": 2, "chainId": CHAIN, "to": FRESH, "value": 1, "data": "0x", "gas": 21_000,
            "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip, "nonce": n}


def _start_confirm(sub: Submitter, result: SubmitResult, tx: dict[str, Any], sign: Any,
                   timeout: float) -> threading.Thread:
    t = threading.Thread(target=sub.confirm, args=(result, tx, sign), kwargs={"timeout": timeout},
                         daemon=True)
    t.start()
    return t


def _wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    wait_until(cond, timeout=timeout, interval=0.01, what="the submitter's next step")


def test_stuck_transaction_is_replaced(paused_chain: RpcClient, signer: Any) -> None:
    rpc, (me, sign) = paused_chain, signer
    tx = _original(0)
    raw, first = sign(tx)
    rpc.call("eth_sendRawTransaction", [raw])
    # The base fee jumps above the tx's fee cap: a block is mined without it.
    high = 21 * GWEI // 10
    rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(high)])
    rpc.call("evm_mine")
    assert rpc.call("eth_getTransactionReceipt", [first]) is None
    rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(high)])

    sub = Submitter(rpc, stuck_after=0.3, poll_interval=0.02)
    result = SubmitResult(tx_hash=first, receipt=None, hashes=[first])
    worker = _start_confirm(sub, result, tx, sign, timeout=10)
    _wait_for(lambda: len(result.hashes) >= 2)
    rpc.call("evm_mine")
    worker.join(timeout=10)
    assert result.mined
    assert result.tx_hash != first and result.tx_hash in result.hashes[1:]
    mined = rpc.call("eth_getTransactionByHash", [result.tx_hash])
    assert _int(mined["nonce"]) == 0
    for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert _int(mined[key]) * BUMP_DENOMINATOR >= tx[key] * BUMP_NUMERATOR
    assert _int(mined["maxFeePerGas"]) >= high  # the replacement clears the new base fee
    assert _int(result.receipt["status"]) == 1
    assert rpc.call("eth_getTransactionReceipt", [first]) is None
    assert rpc.call("eth_getTransactionByHash", [first]) is None
    assert int(rpc.call("eth_getTransactionCount", [me, "latest"]), 16) == 1


def test_replacements_are_bounded(paused_chain: RpcClient, signer: Any) -> None:
    rpc, (_me, sign) = paused_chain, signer
    tx = _original(0)
    raw, first = sign(tx)
    rpc.call("eth_sendRawTransaction", [raw])
    sub = Submitter(rpc, stuck_after=0.05, max_replacements=2, poll_interval=0.01)
    result = sub.confirm(SubmitResult(first, None, [first]), tx, sign, timeout=0.6)
    assert not result.mined  # the caller reports SUBMITTED
    assert len(result.hashes) == 3 and result.replacements == 2
    latest = rpc.call("eth_getTransactionByHash", [result.hashes[-1]])
    assert _int(latest["nonce"]) == 0
    assert _int(latest["maxFeePerGas"]) == bump(bump(tx["maxFeePerGas"]))
    assert _int(latest["maxPriorityFeePerGas"]) == bump(bump(tx["maxPriorityFeePerGas"]))


def test_fee_cap_stops_replacements(paused_chain: RpcClient, signer: Any) -> None:
    rpc, (_me, sign) = paused_chain, signer
    tx = _original(0)
    raw, first = sign(tx)
    rpc.call("eth_sendRawTransaction", [raw])
    cap = 23 * GWEI // 10  # room for one bump (2.25 gwei), not two (2.53 gwei)
    sub = Submitter(rpc, stuck_after=0.05, max_replacements=5, fee_cap=cap, poll_interval=0.01)
    result = sub.confirm(SubmitResult(first, None, [first]), tx, sign, timeout=0.6)
    assert not result.mined
    assert len(result.hashes) == 2
    assert result.replacements == 1  # counts replacements actually sent
    pending = rpc.call("eth_getTransactionByHash", [result.hashes[-1]])
    assert _int(pending["maxFeePerGas"]) <= cap


def test_wallet_replaces_its_stuck_transfer(paused_chain: RpcClient, mm_home: Home) -> None:
    """End to end: `Wallet.transfer` on a chain where its tx does not get mined."""
    from mm_agent.wallets.byok.keyring import ByokKeyring

    mm_home.write_json("devnet.json", {"rpcUrl": paused_chain.url, "chainId": CHAIN,
                                       "tokens": [], "contracts": {}})
    mm_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    w = make_wallet(mm_home, settings={"smartTransactions.stuckAfterSeconds": "1"})
    out: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: out.update(req=w.transfer(to=FRESH, amount="0.5", chain_id=CHAIN,
                                                 wallet_timeout=20)), daemon=True)
    worker.start()

    def pool() -> list[dict[str, Any]]:
        content = paused_chain.call("txpool_content")["pending"]
        return [tx for by_nonce in content.values() for tx in by_nonce.values()]

    _wait_for(lambda: len(pool()) == 1)
    first = pool()[0]
    _wait_for(lambda: pool()[0]["hash"] != first["hash"], timeout=10)
    paused_chain.call("evm_mine")
    worker.join(timeout=20)
    req = out["req"]
    assert req.status == "COMPLETED", req.error
    assert req.result["replacements"] >= 1
    mined = paused_chain.call("eth_getTransactionByHash", [req.tx_hash])
    assert mined["nonce"] == first["nonce"] == "0x0"
    for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert _int(mined[key]) * BUMP_DENOMINATOR >= _int(first[key]) * BUMP_NUMERATOR
    assert paused_chain.call("eth_getTransactionReceipt", [first["hash"]]) is None


# --- (e) private submission endpoint -------------------------------------------------------------
@pytest.fixture
def proxies(chain: Any) -> Iterator[tuple[RpcProxy, RpcProxy]]:
    public, private = RpcProxy(chain.url), RpcProxy(chain.url)
    yield public, private
    public.stop()
    try:
        private.stop()
    except OSError:
        pass


def test_private_endpoint_routing(chain: Any, byok_home: Home,
                                  proxies: tuple[RpcProxy, RpcProxy]) -> None:
    public, private = proxies
    w = make_wallet(byok_home, settings={"rpc.31337": public.url,
                                         "privateRpc.31337": private.url})
    me = w.address
    n = nonce(chain.rpc, me)
    req = w.transfer(to=FRESH, amount="0.01", chain_id=CHAIN)
    assert req.status == "COMPLETED", req.error
    assert private.count("eth_sendRawTransaction") == 1
    assert public.count("eth_sendRawTransaction") == 0
    assert public.count("eth_simulateV1") == 1  # everything else goes to the public RPC
    assert _int(_tx(chain, req.tx_hash)["nonce"]) == n

    # The private endpoint goes down; no fallback configured: nothing is sent anywhere.
    private.stop()
    req = w.transfer(to=FRESH, amount="0.01", chain_id=CHAIN)
    assert req.status == "FAILED"
    assert req.error["code"] == "NETWORK_UNREACHABLE"
    assert req.tx_hash is None
    assert public.count("eth_sendRawTransaction") == 0
    assert nonce(chain.rpc, me) == n + 1
    assert w.engine.nonces.home.read_json("nonces.json")[f"31337:{me.lower()}"]["next"] == n + 1

    # With public fallback allowed, the same nonce goes out through the public RPC.
    w.config.set("smartTransactions.publicFallback", "true")
    req = w.transfer(to=FRESH, amount="0.01", chain_id=CHAIN)
    assert req.status == "COMPLETED", req.error
    assert public.count("eth_sendRawTransaction") == 1
    assert _int(_tx(chain, req.tx_hash)["nonce"]) == n + 1


def test_smart_transactions_off_uses_public_rpc(chain: Any, byok_home: Home,
                                                proxies: tuple[RpcProxy, RpcProxy]) -> None:
    public, private = proxies
    w = make_wallet(byok_home, settings={"rpc.31337": public.url,
                                         "privateRpc.31337": private.url,
                                         "smartTransactions": "false"})
    req = w.transfer(to=FRESH, amount="0.01", chain_id=CHAIN)
    assert req.status == "COMPLETED", req.error
    assert private.methods == []
    assert public.count("eth_sendRawTransaction") == 1
