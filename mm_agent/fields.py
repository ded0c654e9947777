"""Annotated field types shared by every args model.

Each type validates with the engine's own parser, so a bad value raises the contract's error
(``INVALID_EVM_ADDRESS``, ``INVALID_CHAIN_ID``, ...) whether it came from the CLI, a LangChain
tool, a function call or MCP. Pydantic lets non-``ValueError`` exceptions through unchanged,
which is what carries our codes out of validators.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from .addresses import validate_address
from .amounts import validate_decimal
from .chains import parse_chain_id, parse_chain_ids
from .config import parse_timeout

__all__ = ["Address", "Amount", "ChainId", "ChainIds", "OptionalTimeout"]


def _address(value: object) -> str:
    return validate_address(value if isinstance(value, str) else repr(value))


def _amount(value: object) -> str:
    # Syntax only here: how many decimals are allowed depends on the token.
    return validate_decimal(value)


def _timeout(value: object) -> int | None:
    return None if value is None or value == "" else parse_timeout(value, field="walletTimeout")


def _chain_ids(value: object) -> list[int] | None:
    return parse_chain_ids(value)  # type: ignore[arg-type]


Address = Annotated[str, BeforeValidator(_address)]
ChainId = Annotated[int, BeforeValidator(lambda v: parse_chain_id(v, field="chainId"))]
ChainIds = Annotated[list[int] | None, BeforeValidator(_chain_ids)]
Amount = Annotated[str, BeforeValidator(_amount)]
OptionalTimeout = Annotated[
    int | None,
    BeforeValidator(_timeout),
    Field(description="Seconds to wait (1-600) before returning JOB_TIMEOUT; the job goes on."),
]
