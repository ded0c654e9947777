"""Checks a submission passes before it is recorded as a job.

What the job would otherwise fail minutes later (after an approval mail, perhaps) is refused
at submission with the same code, and nothing is recorded: the chain is served and its RPC
is that chain (``UNSUPPORTED_CHAIN``, ``RPC_CHAIN_MISMATCH``), the token resolves on that
chain (``UNKNOWN_TOKEN``, ``TOKEN_NO_ADDRESS``: tokens are resolved here, in one place, with
the service's devnet record), the wallet holds what leaves it (``INSUFFICIENT_FUNDS``; gas is
checked again when the job prepares the transaction), and a payload nonce is not already
used (``NONCE_TOO_LOW``).
"""

from __future__ import annotations

from typing import Any

from mm_agent.errors import InsufficientFunds, NonceTooLow
from mm_agent.evm.amounts import format_units
from mm_agent.evm.chains import get_chain
from mm_agent.evm.rpc import hex_to_int
from mm_agent.security.pipeline import Engine

__all__ = ["precheck_submission"]


def precheck_submission(engine: Engine, sender: str, body: dict[str, Any]) -> None:
    chain_id = int(body["chainId"])
    chain = get_chain(chain_id)
    kind = body["kind"]
    if kind == "transfer":
        # Resolves the token and checks an ERC-20 balance; the RPC's chain id is checked first.
        tx, _intent = engine.build_transfer(sender, body["to"], body["amount"],
                                            body.get("token") or "ETH", chain_id)
        value, nonce = int(tx.get("value") or 0), None
    elif kind == "transaction":
        payload = body.get("payload") or {}
        value = hex_to_int(payload.get("value") or 0)
        nonce = payload.get("nonce")
    else:
        return  # messages and typed data need no chain state
    rpc = engine.rpc(chain_id)
    if nonce is not None:
        used = hex_to_int(rpc.call("eth_getTransactionCount", [sender, "latest"]))
        if hex_to_int(nonce) < used:
            raise NonceTooLow(f"Nonce {hex_to_int(nonce)} is already used on chain {chain_id} "
                              f"(next is {used}). Nothing was recorded.",
                              hint="Leave out `nonce`: the service picks the next one.")
    if value:
        have = hex_to_int(rpc.call("eth_getBalance", [sender, "latest"]))
        if have < value:
            raise InsufficientFunds(
                f"Needs {format_units(value, chain.native_decimals)} {chain.native_symbol} "
                f"plus gas, has {format_units(have, chain.native_decimals)}. Nothing was "
                "recorded.")
