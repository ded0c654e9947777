"""The local devnet: anvil lifecycle, devnet.json, and the demo contracts on a real chain."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from helpers import free_port, skip_or_fail, wait_rpc, wait_until

from mm_agent import devnet
from mm_agent.errors import AnvilNotFound, DevnetError, DevnetNotRunning
from mm_agent.local.state import Home

try:
    devnet.find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False



@pytest.fixture
def _anvil_required() -> None:
    """No anvil skips on a developer's machine and fails in CI (like the browser tests)."""
    if not HAVE_ANVIL:
        skip_or_fail("anvil not installed")


needs_anvil = pytest.mark.usefixtures("_anvil_required")


# --- helpers ----------------------------------------------------------------------------------
def rpc_raw(url: str, method: str, params: list[Any] | None = None) -> dict[str, Any]:
    """The whole JSON-RPC response (so tests can look at error.data)."""
    resp = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
        timeout=10,
        trust_env=False,
    )
    return resp.json()


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    body = rpc_raw(url, method, params)
    assert "error" not in body, body
    return body["result"]


def arg_types(signature: str) -> list[str]:
    """["address", "uint256"] from "f(address,uint256)" (flat signatures only)."""
    inner = signature[signature.index("(") + 1 : -1]
    return inner.split(",") if inner else []


def calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + encode(types, args)).hex()


def call(url: str, to: str, signature: str, args: list[Any], out: list[str]) -> tuple[Any, ...]:
    types = arg_types(signature)
    result = rpc(url, "eth_call", [{"to": to, "data": calldata(signature, types, args)}, "latest"])
    return decode(out, bytes.fromhex(result[2:]))


def call_revert(url: str, to: str, signature: str, args: list[Any]) -> bytes:
    """Revert data of an eth_call that must fail."""
    types = arg_types(signature)
    body = rpc_raw(
        url, "eth_call", [{"to": to, "data": calldata(signature, types, args)}, "latest"]
    )
    assert "error" in body, f"{signature} did not revert: {body}"
    data = body["error"].get("data") or "0x"
    return bytes.fromhex(data[2:])


def send(url: str, sender: str, to: str, signature: str, args: list[Any]) -> dict[str, Any]:
    types = arg_types(signature)
    tx = {"from": sender, "to": to, "data": calldata(signature, types, args)}
    tx_hash = rpc(url, "eth_sendTransaction", [tx])
    receipt = wait_until(lambda: rpc(url, "eth_getTransactionReceipt", [tx_hash]), timeout=5,
                         what=f"a receipt for {tx_hash}")
    assert int(receipt["status"], 16) == 1, receipt
    return receipt


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie has an empty cmdline: it no longer runs either.
    cmdline = Path(f"/proc/{pid}/cmdline")
    return cmdline.exists() and cmdline.read_bytes() == b""


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    monkeypatch.setenv("MM_HOME", str(tmp_path / "mmhome"))
    h = Home.from_env()
    yield h
    # Never leak an anvil from a failed test.
    with contextlib.suppress(DevnetNotRunning):
        devnet.stop(h)


@pytest.fixture(scope="module")
def chain() -> Iterator[dict[str, Any]]:
    """An anvil started by the test itself, with the demo set deployed by deploy_demo_contracts."""
    if not HAVE_ANVIL:
        skip_or_fail("anvil not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [devnet.find_anvil(), "--port", str(port), "--host", "127.0.0.1", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_rpc(url, timeout=10, proc=proc)
        deployed = devnet.deploy_demo_contracts(url)
        accounts = [to_checksum_address(a) for a in rpc(url, "eth_accounts")]
        yield {"url": url, "accounts": accounts, **deployed}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def token(chain: dict[str, Any], symbol: str) -> str:
    return next(t["address"] for t in chain["tokens"] if t["symbol"] == symbol)


# --- find_anvil -------------------------------------------------------------------------------
def test_find_anvil_explicit_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MM_ANVIL", str(tmp_path / "no-such-anvil"))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AnvilNotFound) as exc:
        devnet.find_anvil()
    assert exc.value.code == "ANVIL_NOT_FOUND"
    assert exc.value.hint


def test_find_anvil_nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MM_ANVIL", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(devnet.process, "_bundled_anvil", lambda: tmp_path / "missing" / "anvil")
    with pytest.raises(AnvilNotFound):
        devnet.find_anvil()


def test_find_anvil_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "anvil"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    bundled = tmp_path / "tools" / "anvil"
    bundled.parent.mkdir()
    bundled.write_text("#!/bin/sh\n")
    bundled.chmod(0o755)
    monkeypatch.setattr(devnet.process, "_bundled_anvil", lambda: bundled)
    # MM_ANVIL wins over everything.
    monkeypatch.setenv("MM_ANVIL", str(bundled))
    monkeypatch.setenv("PATH", str(fake.parent))
    assert devnet.find_anvil() == str(bundled)
    # Then PATH.
    monkeypatch.delenv("MM_ANVIL")
    assert devnet.find_anvil() == str(fake)
    # Then <repo>/.tools/bin/anvil.
    monkeypatch.setenv("PATH", "")
    assert devnet.find_anvil() == str(bundled)


def test_bundled_anvil_location() -> None:
    repo = Path(devnet.__file__).resolve().parents[2]  # mm_agent/devnet/__init__.py
    assert devnet.process._bundled_anvil() == repo / ".tools" / "bin" / "anvil"


def test_load_artifact() -> None:
    art = devnet.load_artifact("DemoERC20")
    assert art["contractName"] == "DemoERC20" and art["bytecode"].startswith("0x")
    with pytest.raises(DevnetError):
        devnet.load_artifact("NoSuchContract")


# --- lifecycle --------------------------------------------------------------------------------
def test_status_when_nothing_recorded(home: Home) -> None:
    st = devnet.status(home)
    assert st["running"] is False and st["stale"] is False and st["tokens"] == []
    with pytest.raises(DevnetNotRunning):
        devnet.stop(home)


@needs_anvil
def test_start_status_stop_detached(home: Home) -> None:
    port = free_port()
    st = devnet.start(port, detach=True)  # home from MM_HOME
    pid = st["pid"]
    try:
        assert st["running"] is True
        assert st["chainId"] == 31337 and st["port"] == port
        assert st["rpcUrl"] == f"http://127.0.0.1:{port}"
        assert isinstance(st["blockNumber"], int) and st["blockNumber"] >= 6

        record = json.loads(home.path("devnet.json").read_text())
        assert oct(home.path("devnet.json").stat().st_mode & 0o777) == "0o600"
        assert record["pid"] == pid and record["chainId"] == 31337
        assert set(record) >= {
            "pid",
            "port",
            "rpcUrl",
            "chainId",
            "startedAt",
            "deployer",
            "tokens",
            "contracts",
        }
        assert set(record["contracts"]) == {"Puller", "Reverter"}
        by_symbol = {t["symbol"]: t for t in record["tokens"]}
        assert {s: (t["decimals"], t["standard"]) for s, t in by_symbol.items()} == {
            "mUSD": (6, "erc20"),
            "mDAI": (18, "erc20"),
            "mNFT": (0, "erc721"),
            "mITEM": (0, "erc1155"),
        }

        url = st["rpcUrl"]
        assert int(rpc(url, "eth_chainId"), 16) == 31337
        deployer = record["deployer"]
        for symbol, name, decimals in (("mUSD", "Mock USD", 6), ("mDAI", "Mock DAI", 18)):
            addr = by_symbol[symbol]["address"]
            assert by_symbol[symbol]["name"] == name
            assert call(url, addr, "decimals()", [], ["uint8"]) == (decimals,)
            assert call(url, addr, "symbol()", [], ["string"]) == (symbol,)
            assert call(url, addr, "name()", [], ["string"]) == (name,)
            # The initial supply is account 0's; the markets deployment mints more (open
            # mint) into the Uniswap pools and for the market maker, not to account 0.
            supply = 1_000_000 * 10**decimals
            assert call(url, addr, "totalSupply()", [], ["uint256"])[0] > supply
            assert call(url, addr, "balanceOf(address)", [deployer], ["uint256"]) == (supply,)
        assert call(url, by_symbol["mNFT"]["address"], "symbol()", [], ["string"]) == ("mNFT",)

        # The predict markets and their service (the market maker's book is seeded).
        markets = record["markets"]
        assert [m["source"] for m in markets["markets"]] == ["devnet", "devnet"]
        service = markets["service"]
        token = markets["markets"][0]["tokens"][0]["tokenId"]
        book = httpx.get(f"{service['url']}/book", params={"token_id": token},
                         trust_env=False).json()
        assert book["asks"] and book["bids"] and book["source"] == "devnet"

        status = devnet.status(home)
        assert status["running"] is True and status["pid"] == pid

        # A second start is refused while the first is alive, and says which one runs.
        with pytest.raises(DevnetError) as exc:
            devnet.start(free_port(), detach=True, home=home)
        assert exc.value.details["pid"] == pid
    finally:
        stopped = devnet.stop(home)
    assert stopped["stopped"] is True and stopped["pid"] == pid
    assert pid_gone(pid)
    assert pid_gone(service["pid"])
    assert not home.path("devnet.json").exists()
    assert devnet.status(home)["running"] is False
    with pytest.raises(DevnetNotRunning):
        devnet.stop(home)


@needs_anvil
def test_start_on_busy_port(home: Home) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DevnetError, match="in use"):
            devnet.start(port, detach=True, home=home)
    assert not home.path("devnet.json").exists()


def test_stale_record(home: Home) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    home.write_json(
        "devnet.json",
        {
            "pid": dead.pid,
            "port": 1,
            "rpcUrl": "http://127.0.0.1:1",
            "chainId": 31337,
            "tokens": [],
            "contracts": {},
        },
    )
    st = devnet.status(home)
    assert st["running"] is False and st["stale"] is True and st["pid"] == dead.pid
    with pytest.raises(DevnetNotRunning, match="stale"):
        devnet.stop(home)
    assert not home.path("devnet.json").exists()


def test_stop_refuses_a_process_that_is_not_our_anvil(home: Home) -> None:
    # pid reuse: the recorded pid is alive but is not an anvil on that port; never signal it.
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        home.write_json("devnet.json", {"pid": sleeper.pid, "port": 8545, "rpcUrl": "x"})
        with pytest.raises(DevnetNotRunning):
            devnet.stop(home)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


# --- the demo contracts -----------------------------------------------------------------------
@needs_anvil
def test_deploy_demo_contracts(chain: dict[str, Any]) -> None:
    url = chain["url"]
    assert chain["deployer"] == chain["accounts"][0]
    assert [t["symbol"] for t in chain["tokens"]] == ["mUSD", "mDAI", "mNFT", "mITEM"]
    for addr in [t["address"] for t in chain["tokens"]] + list(chain["contracts"].values()):
        assert addr == to_checksum_address(addr)
        assert rpc(url, "eth_getCode", [addr, "latest"]) not in ("0x", "0x0")
    assert call(url, token(chain, "mUSD"), "decimals()", [], ["uint8"]) == (6,)


@needs_anvil
def test_puller_pulls_approved_musd(chain: dict[str, Any]) -> None:
    url = chain["url"]
    deployer, victim = chain["accounts"][0], chain["accounts"][1]
    musd, puller = token(chain, "mUSD"), chain["contracts"]["Puller"]
    amount = 250 * 10**6

    send(url, deployer, musd, "transfer(address,uint256)", [victim, 1_000 * 10**6])
    receipt = send(url, victim, musd, "approve(address,uint256)", [puller, amount])
    assert receipt["logs"][0]["topics"][0].startswith("0x8c5be1e5")  # Approval

    # Pulling more than approved fails with OZ5's ERC20InsufficientAllowance.
    data = call_revert(url, puller, "pull(address,address,uint256)", [musd, victim, amount + 1])
    assert data[:4] == selector("ERC20InsufficientAllowance(address,uint256,uint256)")
    assert decode(["address", "uint256", "uint256"], data[4:]) == (
        puller.lower(),
        amount,
        amount + 1,
    )

    # Anyone may trigger the pull; the funds land in the Puller.
    send(url, deployer, puller, "pull(address,address,uint256)", [musd, victim, amount])
    assert call(url, musd, "balanceOf(address)", [puller], ["uint256"]) == (amount,)
    assert call(url, musd, "balanceOf(address)", [victim], ["uint256"]) == (750 * 10**6,)
    assert call(url, musd, "allowance(address,address)", [victim, puller], ["uint256"]) == (0,)


@needs_anvil
def test_puller_pulls_approved_nft(chain: dict[str, Any]) -> None:
    url = chain["url"]
    owner = chain["accounts"][2]
    nft, puller = token(chain, "mNFT"), chain["contracts"]["Puller"]
    receipt = send(url, owner, nft, "mint(address)", [owner])
    token_id = int(receipt["logs"][0]["topics"][3], 16)
    assert call(url, nft, "ownerOf(uint256)", [token_id], ["address"]) == (owner.lower(),)

    data = call_revert(url, puller, "pullNft(address,address,uint256)", [nft, owner, token_id])
    assert data[:4] == selector("ERC721InsufficientApproval(address,uint256)")

    send(url, owner, nft, "approve(address,uint256)", [puller, token_id])
    send(url, owner, puller, "pullNft(address,address,uint256)", [nft, owner, token_id])
    assert call(url, nft, "ownerOf(uint256)", [token_id], ["address"]) == (puller.lower(),)
    # The single-token approval does not survive the transfer.
    zero = "0x" + "0" * 40
    assert call(url, nft, "getApproved(uint256)", [token_id], ["address"]) == (zero,)


@needs_anvil
def test_safe_transfers_check_the_receiver(chain: dict[str, Any]) -> None:
    url = chain["url"]
    owner = chain["accounts"][3]
    nft, items = token(chain, "mNFT"), token(chain, "mITEM")
    puller = chain["contracts"]["Puller"]  # a contract without receiver hooks

    receipt = send(url, owner, nft, "mint(address)", [owner])
    token_id = int(receipt["logs"][0]["topics"][3], 16)
    # Simulated from the owner (eth_call's default sender is not approved).
    tx = {
        "from": owner,
        "to": nft,
        "data": calldata(
            "safeTransferFrom(address,address,uint256)",
            ["address", "address", "uint256"],
            [owner, puller, token_id],
        ),
    }
    body = rpc_raw(url, "eth_call", [tx, "latest"])
    data = bytes.fromhex(body["error"]["data"][2:])
    assert data[:4] == selector("ERC721InvalidReceiver(address)")

    receipt = send(url, owner, items, "mint(address,uint256,uint256)", [owner, 7, 5])
    single = (
        "0x"
        + function_signature_to_4byte_selector(
            "TransferSingle(address,address,address,uint256,uint256)"
        ).hex()
    )
    assert receipt["logs"][0]["topics"][0][:10] == single
    assert call(url, items, "balanceOf(address,uint256)", [owner, 7], ["uint256"]) == (5,)
    assert call(
        url, items, "balanceOfBatch(address[],uint256[])", [[owner, owner], [7, 8]], ["uint256[]"]
    ) == ((5, 0),)
    tx = {
        "from": owner,
        "to": items,
        "data": calldata(
            "safeTransferFrom(address,address,uint256,uint256,bytes)",
            ["address", "address", "uint256", "uint256", "bytes"],
            [owner, puller, 7, 1, b""],
        ),
    }
    body = rpc_raw(url, "eth_call", [tx, "latest"])
    assert bytes.fromhex(body["error"]["data"][2:])[:4] == selector(
        "ERC1155InvalidReceiver(address)"
    )
    # To an EOA the batch transfer works and emits TransferBatch.
    other = chain["accounts"][4]
    receipt = send(
        url,
        owner,
        items,
        "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
        [owner, other, [7], [2], b""],
    )
    batch = "0x" + selector("TransferBatch(address,address,address,uint256[],uint256[])").hex()
    assert receipt["logs"][0]["topics"][0][:10] == batch
    assert call(url, items, "balanceOf(address,uint256)", [other, 7], ["uint256"]) == (2,)


@needs_anvil
def test_reverter(chain: dict[str, Any]) -> None:
    url = chain["url"]
    reverter = chain["contracts"]["Reverter"]

    data = call_revert(url, reverter, "fail()", [])
    assert data == selector("Error(string)") + encode(["string"], ["always fails"])

    data = call_revert(url, reverter, "panic()", [])
    assert data == selector("Panic(uint256)") + encode(["uint256"], [0x12])

    data = call_revert(url, reverter, "custom()", [])
    assert data == selector("Nope(uint256)") + encode(["uint256"], [42])

    # sink() accepts ETH.
    sender = chain["accounts"][5]
    tx_hash = rpc(
        url,
        "eth_sendTransaction",
        [
            {
                "from": sender,
                "to": reverter,
                "value": hex(10**18),
                "data": calldata("sink()", [], []),
            }
        ],
    )
    wait_until(lambda: rpc(url, "eth_getTransactionReceipt", [tx_hash]), timeout=5,
               what=f"a receipt for {tx_hash}")
    assert int(rpc(url, "eth_getBalance", [reverter, "latest"]), 16) == 10**18


@needs_anvil
def test_permit(chain: dict[str, Any]) -> None:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    url = chain["url"]
    mdai = token(chain, "mDAI")
    spender = chain["accounts"][6]
    owner = Account.create()  # a throwaway key: permit needs no gas from the owner
    value, deadline = 10**18, 2**40
    chain_id = int(rpc(url, "eth_chainId"), 16)

    domain = {"name": "Mock DAI", "version": "1", "chainId": chain_id, "verifyingContract": mdai}
    types = {
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }
    message = {
        "owner": owner.address,
        "spender": spender,
        "value": value,
        "nonce": 0,
        "deadline": deadline,
    }
    signable = encode_typed_data(domain_data=domain, message_types=types, message_data=message)
    signed = owner.sign_message(signable)
    # The contract's domain separator is the standard EIP-712 one.
    (separator,) = call(url, mdai, "DOMAIN_SEPARATOR()", [], ["bytes32"])
    assert separator == signable.header

    sig = "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"
    args = [
        owner.address,
        spender,
        value,
        deadline,
        signed.v,
        signed.r.to_bytes(32, "big"),
        signed.s.to_bytes(32, "big"),
    ]
    # A wrong owner is rejected with ERC2612InvalidSigner.
    bad = call_revert(url, mdai, sig, [spender, *args[1:]])
    assert bad[:4] == selector("ERC2612InvalidSigner(address,address)")
    # A high-s (malleable) twin of the signature is rejected.
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    twin = [*args[:4], 55 - signed.v, args[5], (n - signed.s).to_bytes(32, "big")]
    assert call_revert(url, mdai, sig, twin)[:4] == selector("ECDSAInvalidSignatureS(bytes32)")
    # An expired deadline is rejected.
    expired = call_revert(url, mdai, sig, [*args[:3], 1, *args[4:]])
    assert expired[:4] == selector("ERC2612ExpiredSignature(uint256)")

    send(url, spender, mdai, sig, args)
    assert call(url, mdai, "allowance(address,address)", [owner.address, spender], ["uint256"]) == (
        value,
    )
    assert call(url, mdai, "nonces(address)", [owner.address], ["uint256"]) == (1,)
    # The same signature cannot be replayed (the nonce moved on).
    replay = call_revert(url, mdai, sig, args)
    assert replay[:4] == selector("ERC2612InvalidSigner(address,address)")
