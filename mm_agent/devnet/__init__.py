"""The local devnet (`mm devnet`): an anvil chain (chain id 31337) with the demo contracts.

``mm devnet start [--port 8545] [--detach]``, ``mm devnet stop`` and ``mm devnet status`` are
thin wrappers over :func:`start` / :func:`run_foreground`, :func:`stop` and :func:`status`.

What is deployed (by anvil's unlocked account 0, over plain JSON-RPC; no web3):

- ``mUSD`` ("Mock USD", 6 decimals) and ``mDAI`` ("Mock DAI", 18 decimals): ``DemoERC20`` with
  EIP-2612 permit; 1,000,000 of each minted to account 0;
- ``mNFT`` (``DemoERC721``) and ``mITEM`` (``DemoERC1155``), nothing minted;
- ``Puller`` (pulls approved tokens/NFTs to itself) and ``Reverter`` (fails in every way).

On a fresh chain the deployer's nonces start at 0, so the addresses are the same every time.
Every token and contract has a public ``mint``: they exist only on this devnet.

The running devnet is recorded in ``MM_HOME/devnet.json``::

    {"pid", "port", "rpcUrl", "chainId": 31337, "startedAt", "deployer", "detached",
     "tokens": [{"symbol", "name", "address", "decimals", "standard"}],
     "contracts": {"Puller": "0x…", "Reverter": "0x…"}}

Starting while a recorded devnet is still alive raises :class:`DevnetError` (with the running
devnet's status in ``details``) rather than silently returning it: the caller may have asked
for another port, and a foreground start must not end up waiting on a process it does not own.
A record whose process is gone is stale and simply replaced.

The package: :mod:`.process` (the anvil binary, start/stop/status, the foreground run, pid
checks), :mod:`.deploy` (the demo contracts and tokens from ``mm_agent/contracts/``),
:mod:`.record` (``devnet.json`` and ``devnet.log`` under MM_HOME), :mod:`.rpc` (plain JSON-RPC
over httpx, no web3).

anvil runs with ``--silent`` (its banner lists the well-known dev keys; keep them out of logs);
its stderr (bind errors, crashes) goes to ``MM_HOME/devnet.log``.
"""

from __future__ import annotations

from .deploy import CONTRACTS_DIR, deploy_demo_contracts, load_artifact
from .process import DEFAULT_PORT, find_anvil, run_foreground, start, status, stop
from .record import CHAIN_ID, DEVNET_FILE, LOG_FILE

__all__ = [
    "CHAIN_ID",
    "CONTRACTS_DIR",
    "DEFAULT_PORT",
    "DEVNET_FILE",
    "LOG_FILE",
    "deploy_demo_contracts",
    "find_anvil",
    "load_artifact",
    "run_foreground",
    "start",
    "status",
    "stop",
]
