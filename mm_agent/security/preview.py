"""The section-5 preview the pipeline builds (``Preview``) and the policy's verdict on it
(``PolicyResult``): plain data, shared by the engine (``pipeline.py``), its batch path
(``batch_preview.py``) and every caller; ``pipeline`` re-exports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Policy", "PolicyResult", "Preview"]


@dataclass
class PolicyResult:
    decision: str = "allow"  # allow | approval_required | deny
    violations: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "violations": self.violations}


# Server wallets plug their policy document in here; BYOK has none (the scan decides).
Policy = Callable[["Preview"], PolicyResult]


@dataclass
class Preview:
    kind: str
    chain_id: int
    sender: str
    intent: str
    decoded: dict[str, Any] | None
    simulation: dict[str, Any] | None
    scan: dict[str, Any]
    policy: PolicyResult
    effective_recipient: str | None = None
    # What was previewed, for policy checks (not part of the JSON preview).
    tx: dict[str, Any] | None = None
    typed_data: dict[str, Any] | None = None
    # Transactions: the gas limit and fees simulated with, exactly what will be signed
    # (``TxFees.to_dict()``: the preview's ``fees`` object). Execution signs these, never a
    # second estimate.
    fees: dict[str, str] | None = None
    # False when the wallet could not pay for gas at preview time, so the simulation ran
    # without the real fees: execution refuses it (INSUFFICIENT_FUNDS).
    executable: bool = True
    # The engine's own findings (``fee_cap``), merged into whatever policy decides.
    engine_violations: list[dict[str, str]] = field(default_factory=list)
    # Messages: the text previewed (the intent shows at most 80 characters of it), so an
    # approval can be bound to exactly it (``mm_agent.security.confirmation``).
    message: str | None = None

    @property
    def requires_approval(self) -> bool:
        return self.policy.decision == "approval_required"

    @property
    def denied(self) -> bool:
        return self.policy.decision == "deny"

    @property
    def reason(self) -> str:
        """Why a human must look, in one line."""
        parts = []
        named = any(v.get("rule") == "threat_scan" for v in self.policy.violations)
        if self.scan.get("resultType") not in (None, "Benign") and not named:
            parts.append(f"scan {self.scan['resultType']}: "
                         f"{self.scan.get('description') or self.scan.get('reason')}")
        parts += [v["message"] for v in self.policy.violations]
        return "; ".join(parts) or "approval required"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "intent": self.intent,
            "decoded": self.decoded,
            "simulation": self.simulation,
            "scan": self.scan,
            "policy": self.policy.to_dict(),
            "requiresApproval": self.requires_approval,
        }
        if self.fees is not None:
            out["fees"] = dict(self.fees)
        return out
