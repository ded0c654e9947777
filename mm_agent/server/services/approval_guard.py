"""What the human approved, and whether it still holds when the service comes to sign it.

When a request goes to a human, ``shown_snapshot`` records exactly what the approval page and
mail showed: the transaction (to, value, data, chain) with its gas limit and fee caps, and the
preview (simulation, scan verdict, policy violations), with a digest over the signable part.

On approval the service simulates again with today's chain state. ``material_changes`` lists
what differs materially from what the human saw (the wallet losing more or receiving less,
someone new receiving its assets or getting an allowance, a different scan verdict, a revert,
more gas than the shown limit, a new kind of policy violation). Any of those sends the request
back to the human with a fresh approval; otherwise the service signs with the SHOWN gas limit
and fee caps (never above them), and ``signable_digest`` of what it is about to sign must equal
the shown digest. The snapshot also keeps the replacement ceiling the human saw
(``maxReplacementFeePerGas``): a stuck transaction is never re-sent above it
(``replacement_ceiling``).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from mm_agent.evm.fees import FEE_CAP_MULTIPLIER, TxFees

__all__ = [
    "TOLERANCE",
    "material_changes",
    "replacement_ceiling",
    "shown_fees",
    "shown_snapshot",
    "signable_digest",
]

# A balance change that moves by at most this fraction (rounding, a swap's price tick in the
# wallet's favour excluded) is not material; anything worse for the wallet beyond it is.
TOLERANCE = Decimal("0.005")


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def _signable(chain_id: int, tx: dict[str, Any] | None, fees: dict[str, Any] | None
              ) -> dict[str, Any]:
    tx = tx or {}
    fees = fees or {}
    return {"chainId": int(chain_id), "to": str(tx.get("to") or "").lower() or None,
            "value": str(int(tx.get("value") or 0)),
            "data": str(tx.get("data") or "0x").lower(),
            "gasLimit": str(fees.get("gasLimit") or fees.get("gas") or ""),
            "maxFeePerGas": str(fees.get("maxFeePerGas") or ""),
            "maxPriorityFeePerGas": str(fees.get("maxPriorityFeePerGas") or "")}


def shown_snapshot(chain_id: int | None, preview: dict[str, Any],
                   tx: dict[str, Any] | None) -> dict[str, Any]:
    """What the human is shown, to hold the service to it after approval."""
    out: dict[str, Any] = {"preview": preview}
    if tx is not None and chain_id is not None:
        fees = preview.get("fees") or {}
        signable = _signable(chain_id, tx, fees)
        shown_tx = dict(signable)
        if fees.get("maxFeePerGas"):
            # Outside the digest (it is not signed) but held to: see ``replacement_ceiling``.
            shown_tx["maxReplacementFeePerGas"] = str(
                TxFees.from_dict(fees).replacement_ceiling)
        out.update(tx=shown_tx, digest=_digest(signable))
    return out


def shown_fees(fresh: dict[str, Any] | None, shown_tx: dict[str, Any]) -> dict[str, str]:
    """A fresh preview's ``fees`` with the gas limit, fee caps and replacement ceiling the
    human saw (never fresher, higher ones); ``worstCaseFeeWei`` follows from them."""
    fees = dict(fresh or {})
    fees.update(gasLimit=shown_tx["gasLimit"], maxFeePerGas=shown_tx["maxFeePerGas"],
                maxPriorityFeePerGas=shown_tx["maxPriorityFeePerGas"])
    fees["maxReplacementFeePerGas"] = shown_tx.get("maxReplacementFeePerGas")
    fees.setdefault("baseFee", "0")
    return TxFees.from_dict(fees).to_dict()


def replacement_ceiling(prepared: dict[str, Any], *previews_fees: dict[str, Any] | None
                        ) -> int:
    """The highest ``maxFeePerGas`` a replacement of ``prepared`` may carry: the lowest
    ceiling any of the given disclosures (the shown snapshot's tx, the stored preview's
    ``fees``) states; the default rule (``FEE_CAP_MULTIPLIER`` x the signed max fee) when
    none does. Never below the signed max fee (then nothing is replaced)."""
    signed = int(prepared["maxFeePerGas"])
    stated = [_int(f.get("maxReplacementFeePerGas")) for f in previews_fees if f]
    stated = [c for c in stated if c > 0]
    ceiling = min(stated) if stated else signed * FEE_CAP_MULTIPLIER
    return max(ceiling, signed)


def signable_digest(prepared: dict[str, Any]) -> str:
    """Digest of the unsigned transaction about to be signed (``prepare_transaction``)."""
    fees = {"gasLimit": prepared.get("gas"), "maxFeePerGas": prepared.get("maxFeePerGas"),
            "maxPriorityFeePerGas": prepared.get("maxPriorityFeePerGas")}
    return _digest(_signable(int(prepared["chainId"]), prepared, fees))


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _asset_key(asset: dict[str, Any] | None) -> str:
    asset = asset or {}
    return (f"{asset.get('type') or '?'}:{str(asset.get('address') or 'native').lower()}"
            f":{asset.get('tokenId')}")


def _label(asset: dict[str, Any] | None) -> str:
    asset = asset or {}
    label = str(asset.get("symbol") or asset.get("address") or asset.get("type") or "asset")
    return f"{label} #{asset['tokenId']}" if asset.get("tokenId") is not None else label


def _changes(preview: dict[str, Any]) -> dict[tuple[str, str], tuple[int, str]]:
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for ch in (preview.get("simulation") or {}).get("balanceChanges") or []:
        key = (str(ch.get("address") or "").lower(), _asset_key(ch.get("asset")))
        out[key] = (_int(ch.get("delta")), _label(ch.get("asset")))
    return out


def _worse(shown: int, fresh: int) -> bool:
    """``fresh`` is worse for the wallet than ``shown`` beyond the tolerance."""
    if fresh >= shown:
        return False
    return Decimal(shown - fresh) > TOLERANCE * Decimal(abs(shown))


def _grew(shown: int, fresh: int) -> bool:
    if fresh <= shown:
        return False
    return Decimal(fresh - shown) > TOLERANCE * Decimal(abs(shown))


def material_changes(shown: dict[str, Any], fresh: dict[str, Any], wallet: str) -> list[str]:
    """How the fresh preview differs materially from the one the human approved."""
    out: list[str] = []
    me = wallet.lower()
    s_sim, f_sim = shown.get("simulation") or {}, fresh.get("simulation") or {}
    if bool(s_sim.get("success", True)) != bool(f_sim.get("success", True)):
        out.append("the simulation now " + ("reverts" if not f_sim.get("success", True)
                                            else "succeeds"))
    s_scan = (shown.get("scan") or {}).get("resultType")
    f_scan = (fresh.get("scan") or {}).get("resultType")
    if s_scan != f_scan:
        out.append(f"the threat scan now says {f_scan} (you saw {s_scan})")
    before, after = _changes(shown), _changes(fresh)
    for (address, asset), (delta, label) in after.items():
        old = before.get((address, asset), (0, label))[0]
        if address == me:
            if _worse(old, delta):
                out.append(f"the wallet's {label} change is now {delta} base units "
                           f"(you saw {old})")
        elif delta > 0 and _grew(old, delta):
            out.append(f"{address} now receives {delta} base units of {label} (you saw {old})")
    for (address, asset), (delta, label) in before.items():
        if address == me and (address, asset) not in after and _worse(delta, 0):
            out.append(f"the wallet's {label} change is now 0 (you saw {delta})")
    s_exp = {(str(e.get("spender") or "").lower(), _asset_key(e.get("asset"))): e
             for e in s_sim.get("exposures") or []}
    for e in f_sim.get("exposures") or []:
        key = (str(e.get("spender") or "").lower(), _asset_key(e.get("asset")))
        old_e = s_exp.get(key)
        if old_e is None:
            out.append(f"{e.get('spender')} now gets an allowance over {_label(e.get('asset'))}")
        elif (e.get("unlimited") and not old_e.get("unlimited")) or _grew(
                _int(old_e.get("amount")), _int(e.get("amount"))):
            out.append(f"the allowance of {e.get('spender')} over {_label(e.get('asset'))} "
                       "grew")
    shown_gas = _int((shown.get("fees") or {}).get("gasLimit"))
    if shown_gas and _int(f_sim.get("gasUsed")) > shown_gas:
        out.append(f"it now needs {f_sim.get('gasUsed')} gas, more than the {shown_gas} limit "
                   "you saw")
    s_rules = {v.get("rule") for v in (shown.get("policy") or {}).get("violations") or []}
    f_rules = {v.get("rule") for v in (fresh.get("policy") or {}).get("violations") or []}
    for rule in sorted(r for r in f_rules - s_rules if r):
        out.append(f"a new policy violation: {rule}")
    return out
