"""Policy evaluation: a section-5 preview + the wallet's document → ``PolicyResult``.

Rules (``violations[].rule``):

- ``blocklist`` (every mode, decision ``deny``): the called address, the decoded effective
  recipient, any decoded address parameter, anyone the simulation pays with the wallet's assets,
  any exposure spender, or any address in a typed-data domain/message is blocklisted.
- ``threat_scan`` (every mode): the scan verdict is not ``Benign``.
- guard only: ``network`` (chain not in ``evm.allowed_chains``); ``address_allowlist`` (the
  contract called, the spender/operator of any grant — simulated, decoded from the calldata and
  its inner calls, or in a typed-data permit — or a typed-data ``verifyingContract`` not in
  ``addresses.allowlist``; the wallet itself is always allowed); ``token_recipient`` (EVERY
  decoded recipient, inner calls included, not in ``evm.token_recipients.allowlist``; every
  address the simulation shows receiving an asset the wallet loses — native, ERC-20/721/1155 —
  that is in neither list; every other address in a typed-data message that is in neither list);
  ``outflow_limit`` (the outflow over the rolling window, or a grant worth more than what is left
  of it — an unlimited, collection-wide or unpriced grant counts as more).

A plain native transfer (empty calldata) calls nobody: its ``to`` is a recipient, so it passes
if that address is in either allowlist ("addresses the wallet may call or pay", or token
recipients) and otherwise breaks ``token_recipient``. A contract call checks ``to`` against
``addresses.allowlist`` and a third-party effective recipient against the token recipients.

Outflow = what leaves the wallet in the simulation (balanceChanges with a negative delta for
the sender) plus the worst-case network fee (``preview.fees.worstCaseFeeWei``); approvals and
permits are exposures, not outflows. A signed prediction-market order counts when signed (a
BUY's worst-case cost, a SELL's outcome tokens: ``orders.py``); its exchange, the typed data's
``verifyingContract``, must be in ``addresses.allowlist`` in guard mode like any contract. An
outflow that cannot be priced counts as over the limit.
Engine violations carried by the preview (``fee_cap``: agent fees or gas above the configured
multiple of the estimate) are added in every mode and need approval.

The preview built by the pipeline does not carry the raw transaction or typed-data payload;
``evaluate`` takes them as ``tx=``/``typed_data=`` or reads ``preview.tx``/``preview.typed_data``
(or ``decoded["to"]``) when present. When guard mode cannot tell what is called, it fails closed
(``address_allowlist``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.chains import CHAINS

from .document import _HEX40, DENY_RULES, PolicyDocument
from .grants import PolicyGrant, decoded_tree, grants_of, typed_data_addresses

if TYPE_CHECKING:
    from ..pipeline import PolicyResult, Preview
    from .prices import PriceSource

__all__ = ["evaluate", "outflow_assets", "policy_hook", "price_outflow"]


# --- evaluation -------------------------------------------------------------------------------
def _low(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and _HEX40.match(value) else None


def _walk_addresses(value: Any) -> Iterator[str]:
    """Every 0x-address string nested in decoded params or a typed-data message."""
    if isinstance(value, str):
        if _HEX40.match(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_addresses(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_addresses(item)


def _int(value: object) -> int:
    if isinstance(value, int):
        return value
    text = str(value or "0")
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def outflow_assets(preview: Preview, *, tx: dict[str, Any] | None = None
                   ) -> list[tuple[dict[str, Any], int]]:
    """What leaves the wallet per the simulation: ``[(asset, units)]`` for negative deltas of
    ``preview.sender``, plus the worst-case network fee (``fees.worstCaseFeeWei``: gas limit x
    the replacement ceiling ``maxReplacementFeePerGas`` a stuck-tx bump may reach, contract
    §6) in the native asset. Approvals/permits are exposures, not outflows. For typed data:
    the prediction-market orders it signs (a BUY's worst-case cost, a SELL's outcome tokens;
    ``policy/orders.py``), counted when signed."""
    sim = preview.simulation
    if preview.kind == "typed-data":
        from .orders import order_entries, order_outflow

        return [item for entry in order_entries(preview) for item in order_outflow(entry)]
    if preview.kind != "transaction":
        return []
    fee = _int((getattr(preview, "fees", None) or {}).get("worstCaseFeeWei"))
    if not sim or "balanceChanges" not in sim:
        # No simulation to read: the transaction's own value is all we know leaves.
        tx = tx if tx is not None else getattr(preview, "tx", None)
        value = _int((tx or {}).get("value")) + fee
        native = {"type": "native", "address": None, "symbol": None, "decimals": 18,
                  "tokenId": None}
        return [(native, value)] if value > 0 else []
    sender = preview.sender.lower()
    out = []
    for change in sim.get("balanceChanges") or []:
        if str(change.get("address", "")).lower() != sender:
            continue
        delta = _int(change.get("delta"))
        if delta < 0:
            asset = change.get("asset") or {}
            if fee and asset.get("type") == "native":
                delta, fee = delta - fee, 0  # the fee joins the native outflow
            out.append((asset, -delta))
    if fee:
        out.append(({"type": "native", "address": None, "symbol": None, "decimals": 18,
                     "tokenId": None}, fee))
    return out


def price_outflow(source: PriceSource, preview: Preview) -> Decimal | None:
    """USD value of ``outflow_assets``; None if any of them has no price."""
    from .prices import usd_value

    total = Decimal(0)
    for asset, units in outflow_assets(preview):
        if asset.get("type") == "unpriced":  # an order without verified collateral
            return None
        value = usd_value(source, preview.chain_id, asset, units)
        if value is None:
            return None
        total += value
    return total


def _usd_text(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'))}"


def _asset_label(asset: dict[str, Any]) -> str:
    return str(asset.get("symbol") or asset.get("address") or asset.get("type") or "asset")


class _Checks:
    def __init__(self, doc: PolicyDocument, wallet: str) -> None:
        self.doc = doc
        self.wallet = wallet.lower()
        self.blocked = {a.lower() for a in doc.blocklist}
        self.allowed = {a.lower() for a in doc.allowlist}
        self.recipients = {a.lower() for a in doc.token_recipients}
        self.violations: list[dict[str, str]] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, rule: str, key: str, message: str) -> None:
        if (rule, key) not in self._seen:  # one violation per address and rule
            self._seen.add((rule, key))
            self.violations.append({"rule": rule, "message": message})

    def blocklist(self, address: object, role: str) -> None:
        low = _low(address)
        if low and low in self.blocked:
            self.add("blocklist", low, f"{to_checksum_address(low)} ({role}) is on the "
                                       "policy's blocklist.")

    def allowlisted(self, address: object, role: str) -> None:
        low = _low(address)
        if low and low != self.wallet and low not in self.allowed:
            self.add("address_allowlist", low, f"{role} {to_checksum_address(low)} is not in "
                                               "addresses.allowlist.")

    def recipient(self, address: object, *, also_allowlist: bool = False,
                  role: str = "Recipient") -> None:
        low = _low(address)
        if not low or low == self.wallet or low in self.recipients:
            return
        if also_allowlist and low in self.allowed:
            return
        where = ("evm.token_recipients.allowlist or addresses.allowlist" if also_allowlist
                 else "evm.token_recipients.allowlist")
        self.add("token_recipient", low, f"{role} {to_checksum_address(low)} is not in "
                                         f"{where}.")


def evaluate(doc: PolicyDocument, trading_mode: str, preview: Preview, *,
             outflow_usd: Decimal | None, window_used_usd: Decimal,
             tx: dict[str, Any] | None = None,
             typed_data: dict[str, Any] | None = None,
             grant_values: Sequence[tuple[PolicyGrant, Decimal | None]] | None = None
             ) -> PolicyResult:
    """The policy verdict on a preview. Any mode other than ``beast`` is treated as guard.

    ``outflow_usd`` is this request's priced outflow (None: unpriced); ``window_used_usd`` is
    what the rolling 24 h window already holds (settled plus reserved). ``grant_values`` are
    the request's grants with their USD value (``policy_grants.price_grants``); the service
    always passes them, and without them the grant-size check is not made (spenders are
    still checked).
    """
    from ..pipeline import PolicyResult

    guard = trading_mode != "beast"  # fail closed on an unknown mode
    checks = _Checks(doc, preview.sender)
    tx = tx if tx is not None else getattr(preview, "tx", None)
    typed_data = typed_data if typed_data is not None else getattr(preview, "typed_data", None)
    decoded = preview.decoded or {}

    grants: list[PolicyGrant] = []
    if preview.kind == "transaction":
        grants = _transaction(checks, preview, decoded, tx, guard=guard)
    elif preview.kind == "typed-data":
        grants = _typed_data(checks, preview, typed_data, guard=guard)

    result_type = preview.scan.get("resultType")
    if result_type != "Benign":
        what = preview.scan.get("description") or preview.scan.get("reason") or "no details"
        checks.add("threat_scan", "", f"Threat scan says {result_type}: {what}.")

    if guard:
        if preview.chain_id not in doc.allowed_chains:
            chain = CHAINS.get(preview.chain_id)
            name = f" ({chain.name})" if chain else ""
            allowed = ", ".join(str(c) for c in doc.allowed_chains) or "none"
            checks.add("network", "", f"Chain {preview.chain_id}{name} is not in "
                                      f"evm.allowed_chains [{allowed}].")
        _outflow(checks, preview, tx, outflow_usd, window_used_usd)
        if grant_values is not None:
            _grant_limit(checks, grants, grant_values, outflow_usd, window_used_usd)

    for found in getattr(preview, "engine_violations", None) or ():
        checks.add(found["rule"], found["message"], found["message"])  # fee_cap (engine)

    rules = {v["rule"] for v in checks.violations}
    decision = ("deny" if rules & DENY_RULES else
                "approval_required" if rules else "allow")
    return PolicyResult(decision, checks.violations)


def _transaction(checks: _Checks, preview: Preview, decoded: dict[str, Any],
                 tx: dict[str, Any] | None, *, guard: bool) -> list[PolicyGrant]:
    name = decoded.get("functionName")
    effective = decoded.get("effectiveRecipient") or preview.effective_recipient
    if tx is not None:
        to = tx.get("to")
        native = (tx.get("data") or "0x") in ("0x", "") and to is not None
    else:
        # No raw transaction: a call without a function name pays `to` itself.
        to = decoded.get("to") or (effective if name is None else None)
        native = name is None and not decoded.get("params") and to is not None
    known_to = tx is not None or to is not None

    checks.blocklist(to, "the address called" if not native else "the recipient")
    checks.blocklist(effective, "the effective recipient")
    for address in _walk_addresses(decoded.get("params") or []):
        checks.blocklist(address, "an address in the call")
    tree = decoded_tree(tx)
    # Every recipient the decoder sees (batch transfers and inner calls too), not the first.
    recipients = list(tree.recipients) if tree is not None else []
    for call in tree.walk() if tree is not None else ():
        recipients += [r for r in (call.effective_recipient, *call.recipients) if r]
    for address in recipients:
        checks.blocklist(address, "a recipient in the call")
    receivers = _receivers(preview, tx)
    for address, label in receivers:
        checks.blocklist(address, f"receives the wallet's {label}")
    grants = grants_of(preview, tx=tx, tree=tree)
    for grant in grants:
        checks.blocklist(grant.spender, "a spender this transaction approves")

    if not guard:
        return grants
    # Whoever the simulation shows receiving the wallet's assets must be trusted (either list:
    # "addresses the wallet may call or pay" or token recipients), whatever the calldata says.
    for address, label in receivers:
        checks.recipient(address, also_allowlist=True,
                         role=f"{to_checksum_address(address)} receives the wallet's {label}; "
                              "recipient")
    if native:
        checks.recipient(to, also_allowlist=True)
        return grants
    if not known_to:
        checks.add("address_allowlist", "?", "The address this transaction calls is unknown "
                                             "(the preview does not carry it); approval needed.")
    elif to is None:
        checks.add("address_allowlist", "create", "This transaction deploys a contract, "
                                                  "which no allowlist covers.")
    else:
        checks.allowlisted(to, "Contract")
    for grant in grants:
        if not grant.revoke:
            checks.allowlisted(grant.spender, "Spender")
    if effective and (_low(effective) != _low(to)):
        checks.recipient(effective)
    for address in recipients:
        if _low(address) != _low(to):
            checks.recipient(address)
    return grants


def _receivers(preview: Preview, tx: dict[str, Any] | None) -> list[tuple[str, str]]:
    """``[(address, asset label)]``: everyone the simulation shows gaining an asset (native,
    ERC-20, ERC-721 id, ERC-1155 id) that the wallet loses."""
    sim = preview.simulation or {}
    losing = {(str((a or {}).get("address") or "native").lower(), str((a or {}).get("tokenId")))
              for a, _ in outflow_assets(preview, tx=tx)}
    out: list[tuple[str, str]] = []
    for change in sim.get("balanceChanges") or []:
        asset = change.get("asset") or {}
        key = (str(asset.get("address") or "native").lower(), str(asset.get("tokenId")))
        address = change.get("address")
        if key in losing and _int(change.get("delta")) > 0 and isinstance(address, str):
            label = _asset_label(asset)
            if asset.get("tokenId") is not None:
                label = f"{label} #{asset['tokenId']}"
            out.append((address, label))
    return out


_SAFE_PATH = re.compile(r"[^A-Za-z0-9_.\[\]]")
_GRANTEE_FIELDS = ("spender", "operator", "delegate", "allowedspender")


def _typed_data(checks: _Checks, preview: Preview, typed: dict[str, Any] | None, *,
                guard: bool) -> list[PolicyGrant]:
    if not isinstance(typed, dict):
        if guard:
            checks.add("address_allowlist", "?", "The typed data is not available to check "
                                                 "against addresses.allowlist; approval needed.")
        return []
    domain = typed.get("domain") or {}
    message = typed.get("message") or {}
    checks.blocklist(domain.get("verifyingContract"), "the verifying contract")
    for address in _walk_addresses(message):
        checks.blocklist(address, "an address in the signed data")
    grants = grants_of(preview, typed_data=typed)
    if guard:
        checks.allowlisted(domain.get("verifyingContract"), "Verifying contract")
        # Every address in the message may receive or control assets (a `taker`, `receiver`,
        # `recipient`, `beneficiary` is as dangerous as a `spender`): each must be trusted.
        for raw_path, address in typed_data_addresses(typed):
            if _low(address) == "0x" + "0" * 40:
                continue  # the zero address is "nobody" (an open order's zone, no referrer)
            # Field names come from the agent's payload: keep them to plain identifier text.
            path = _SAFE_PATH.sub("?", raw_path)[:120]
            leaf = path.rsplit(".", 1)[-1].split("[", 1)[0].lower()
            if leaf in _GRANTEE_FIELDS:
                checks.allowlisted(address, f"Typed-data field `{path}`:")
            else:
                checks.recipient(address, also_allowlist=True,
                                 role=f"Typed-data field `{path}`:")
        for grant in grants:
            if not grant.revoke:
                checks.allowlisted(grant.spender, "Spender")
    return grants


def _grant_limit(checks: _Checks, grants: list[PolicyGrant],
                 values: Sequence[tuple[PolicyGrant, Decimal | None]],
                 outflow_usd: Decimal | None, window_used_usd: Decimal) -> None:
    """A grant is a future outflow the spender controls: in guard mode it must fit in what is
    left of the rolling window (after this request's own outflow), even to a trusted spender."""
    priced = {g: v for g, v in values}
    left = checks.doc.rolling_24h_usd - Decimal(window_used_usd) - (outflow_usd or Decimal(0))
    for grant in grants:
        if grant.revoke or grant.spender.lower() == checks.wallet:
            continue
        value = priced.get(grant)
        key = f"grant:{grant.spender.lower()}:{str(grant.token).lower()}"
        who = to_checksum_address(grant.spender)
        if value is None:
            checks.add("outflow_limit", key, (
                f"Grant of {grant.describe()} to {who} has no bounded USD value; it counts as "
                f"more than the {_usd_text(max(left, Decimal(0)))} left of the rolling limit."))
        elif value > left:
            checks.add("outflow_limit", key, (
                f"Grant of {grant.describe()} to {who} is worth {_usd_text(value)}, more than "
                f"the {_usd_text(max(left, Decimal(0)))} left of the rolling limit."))


def _outflow(checks: _Checks, preview: Preview, tx: dict[str, Any] | None,
             outflow_usd: Decimal | None, window_used_usd: Decimal) -> None:
    leaving = outflow_assets(preview, tx=tx)
    limit = checks.doc.rolling_24h_usd
    if outflow_usd is None:
        if leaving:
            what = ", ".join(f"{units} units of {_asset_label(a)}" for a, units in leaving)
            checks.add("outflow_limit", "", f"Outflow ({what}) has no USD price; unpriced "
                                            "outflow counts as over the limit.")
        return
    if outflow_usd <= 0:
        return
    total = Decimal(window_used_usd) + outflow_usd
    if total > limit:
        checks.add("outflow_limit", "", (
            f"Outflow of {_usd_text(outflow_usd)} plus {_usd_text(Decimal(window_used_usd))} "
            f"already used in the last 24 h exceeds the {_usd_text(limit)} rolling limit."))


def policy_hook(doc: PolicyDocument, trading_mode: str, prices: PriceSource,
                window_used_usd: Callable[[], Decimal]) -> Callable[[Preview], PolicyResult]:
    """An ``Engine.policy`` callable: prices the outflow and evaluates with the window now."""

    def hook(preview: Preview) -> PolicyResult:
        from .grants import price_grants

        grants = grants_of(preview, tx=preview.tx, typed_data=preview.typed_data)
        return evaluate(doc, trading_mode, preview, outflow_usd=price_outflow(prices, preview),
                        window_used_usd=window_used_usd(),
                        grant_values=price_grants(prices, preview, grants))

    return hook
