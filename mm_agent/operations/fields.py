"""Annotated field types shared by every args model.

Each type validates with the engine's own parser, so a bad value raises the contract's error
(``INVALID_EVM_ADDRESS``, ``INVALID_CHAIN_ID``, ...) whether it came from the CLI, a LangChain
tool, a function call or MCP. Pydantic lets non-``ValueError`` exceptions through unchanged,
which is what carries our codes out of validators.

Each type also states its constraints as JSON Schema (``WithJsonSchema`` only changes the
rendering; the validators stay the one source of errors), so agent schemas carry the address
pattern, the chain-id range and the amount syntax (``mm_agent.operations.agent_schema``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from mm_agent.evm.addresses import validate_address
from mm_agent.evm.amounts import validate_decimal
from mm_agent.evm.chains import parse_chain_id, parse_chain_ids
from mm_agent.local.config import parse_timeout

__all__ = [
    "ADDRESS_PATTERN",
    "AMOUNT_PATTERN",
    "HASH_PATTERN",
    "Address",
    "Amount",
    "ChainId",
    "ChainIds",
    "OptionalTimeout",
]

ADDRESS_PATTERN = "^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = "^0x[0-9a-fA-F]{64}$"
# What validate_decimal accepts, written for a model: a plain positive decimal, no sign/exponent.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"
MAX_CHAIN_ID = 2**53 - 1  # parse_chain_id's bound (JSON-safe integers)

ADDRESS_SCHEMA = {"type": "string", "pattern": ADDRESS_PATTERN}
CHAIN_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_CHAIN_ID}


def _address(value: object) -> str:
    return validate_address(value if isinstance(value, str) else repr(value))


def _amount(value: object) -> str:
    # Syntax only here: how many decimals are allowed depends on the token.
    return validate_decimal(value)


def _timeout(value: object) -> int | None:
    return None if value is None or value == "" else parse_timeout(value, field="walletTimeout")


def _chain_ids(value: object) -> list[int] | None:
    return parse_chain_ids(value)  # type: ignore[arg-type]


Address = Annotated[str, BeforeValidator(_address), WithJsonSchema(dict(ADDRESS_SCHEMA))]
ChainId = Annotated[int, BeforeValidator(lambda v: parse_chain_id(v, field="chainId")),
                    WithJsonSchema(dict(CHAIN_ID_SCHEMA))]
# The CLI gives "1,8453"; agents give a list of integers. Both validate the same way.
ChainIds = Annotated[
    list[int] | None,
    BeforeValidator(_chain_ids),
    WithJsonSchema({"anyOf": [{"type": "array", "items": dict(CHAIN_ID_SCHEMA), "minItems": 1},
                              {"type": "null"}]}),
]
Amount = Annotated[str, BeforeValidator(_amount),
                   WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN})]
OptionalTimeout = Annotated[
    int | None,
    BeforeValidator(_timeout),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 600},
                              {"type": "null"}]}),
    Field(description="Seconds to wait (1-600) before returning JOB_TIMEOUT; the job goes on."),
]
