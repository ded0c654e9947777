"""Rule family 2: off-chain permits in EIP-712 typed data, judged like on-chain approvals.

EIP-2612 ``Permit`` (and DAI's ``allowed``/``expiry`` variant), Permit2 ``PermitSingle`` /
``PermitBatch`` (allowances) and ``PermitTransferFrom`` / ``PermitBatchTransferFrom`` /
``Permit[Batch]WitnessTransferFrom`` (one-shot transfers), Safe ``SafeTx`` calls that approve,
and any other struct with a ``spender`` / ``operator`` / ``delegate`` address (grants.py). The
verdicts come from the shared judge in rules_approvals.py with ``PERMIT_*`` feature ids.
"""

from __future__ import annotations

from ._base import FAR_EXPIRY_SECONDS, Feature, ScanInput
from .grants import Grant, typed_grants
from .rules_approvals import judge_grant

__all__ = ["FAR_EXPIRY_SECONDS", "permit_grants", "rule_permits"]


def permit_grants(inp: ScanInput) -> list[Grant]:
    return typed_grants(inp)


def rule_permits(inp: ScanInput) -> list[Feature]:
    if inp.kind != "typed-data" or not isinstance(inp.typed_data, dict):
        return []
    features = [judge_grant(inp, g) for g in typed_grants(inp)]
    return [f for f in features if f is not None]
