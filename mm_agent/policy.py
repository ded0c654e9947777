"""The server wallet's policy document and its evaluation (contract §6).

``parse_policy``/``dump_policy`` read and write the YAML document; ``broadening_changes`` says
which edits need a human; ``evaluate`` turns a section-5 preview into a ``PolicyResult``.

Rules (``violations[].rule``):

- ``blocklist`` (every mode, decision ``deny``): the called address, the decoded effective
  recipient, any decoded address parameter, anyone the simulation pays with the wallet's assets,
  any exposure spender, or any address in a typed-data domain/message is blocklisted.
- ``threat_scan`` (every mode): the scan verdict is not ``Benign``.
- guard only: ``network`` (chain not in ``evm.allowed_chains``); ``address_allowlist`` (the
  contract called, an exposure spender, a typed-data ``verifyingContract``/``spender`` not in
  ``addresses.allowlist``; the wallet itself is always allowed); ``token_recipient`` (the decoded
  effective recipient not in ``evm.token_recipients.allowlist``); ``outflow_limit``.

A plain native transfer (empty calldata) calls nobody: its ``to`` is a recipient, so it passes
if that address is in either allowlist ("addresses the wallet may call or pay", or token
recipients) and otherwise breaks ``token_recipient``. A contract call checks ``to`` against
``addresses.allowlist`` and a third-party effective recipient against the token recipients.

Outflow = what leaves the wallet in the simulation (balanceChanges with a negative delta for
the sender); approvals and permits are exposures, not outflows; gas is not counted. An outflow
that cannot be priced counts as over the limit.

The preview built by the pipeline does not carry the raw transaction or typed-data payload;
``evaluate`` takes them as ``tx=``/``typed_data=`` or reads ``preview.tx``/``preview.typed_data``
(or ``decoded["to"]``) when present. When guard mode cannot tell what is called, it fails closed
(``address_allowlist``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import yaml

from .addresses import to_checksum_address
from .chains import CHAINS, DEVNET_CHAIN_ID, parse_chain_id
from .errors import InvalidChainId, InvalidPolicyYaml, ValidationError

if TYPE_CHECKING:
    from .pipeline import PolicyResult, Preview
    from .prices import PriceSource

__all__ = [
    "DEFAULT_ALLOWED_CHAINS",
    "DEFAULT_ROLLING_24H_USD",
    "SCHEMA_VERSION",
    "TRADING_MODES",
    "PolicyDocument",
    "broadening_changes",
    "default_policy",
    "dump_policy",
    "evaluate",
    "is_broadening",
    "mode_change_is_broadening",
    "outflow_assets",
    "parse_policy",
    "parse_trading_mode",
    "policy_hook",
    "price_outflow",
    "template",
    "tightening_changes",
]

SCHEMA_VERSION = 1
TRADING_MODES = ("guard", "beast")
DEFAULT_ALLOWED_CHAINS = (1, 8453, DEVNET_CHAIN_ID)
DEFAULT_ROLLING_24H_USD = Decimal(1000)
DENY_RULES = frozenset({"blocklist"})

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class PolicyDocument:
    schema_version: int
    wallet_address: str
    allowlist: tuple[str, ...]
    blocklist: tuple[str, ...]
    allowed_chains: tuple[int, ...]
    token_recipients: tuple[str, ...]
    rolling_24h_usd: Decimal

    def __post_init__(self) -> None:
        # Accept lists from callers but keep the frozen document truly immutable.
        for name in ("allowlist", "blocklist", "allowed_chains", "token_recipients"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "rolling_24h_usd", Decimal(self.rolling_24h_usd))


# --- YAML -------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps unquoted 0x… as text, floats as Decimal, and refuses duplicate
    keys (a second ``blocklist:`` would silently replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise InvalidPolicyYaml(
                    f"line {key_node.start_mark.line + 1}: a mapping key must be text.") from None
            if duplicate:
                raise InvalidPolicyYaml(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r}.")
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    if text.lstrip("+-").lower().startswith("0x"):
        return text  # YAML 1.1 would read an unquoted address as a number
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)  # exact: 1000.10 must not become 1000.0999…
    except InvalidOperation:
        return yaml.SafeLoader.construct_yaml_float(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return "a number"
    names = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def _err(path: str, message: str) -> InvalidPolicyYaml:
    return InvalidPolicyYaml(f"{path}: {message}")


def _mapping(value: object, path: str, keys: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(path, f"expected a mapping with {', '.join(keys)}, got {_kind(value)}.")
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in keys:
            raise _err(f"{prefix}{key}", f"unknown key (allowed here: {', '.join(keys)}).")
    for key in keys:
        if key not in value and key not in optional:
            raise _err(f"{prefix}{key}", "missing.")
    return value


def _addresses(value: object, path: str) -> tuple[str, ...]:
    if value is None:  # `allowlist:` with nothing after it
        return ()
    if not isinstance(value, list):
        raise _err(path, f"expected a list of addresses, got {_kind(value)}.")
    out: list[str] = []
    for i, item in enumerate(value):
        address = _address(item, f"{path}[{i}]")
        if address not in out:
            out.append(address)
    return tuple(out)


def _address(item: object, path: str) -> str:
    if not isinstance(item, str) or not _HEX40.match(item.strip()):
        raise _err(path, f"{item} is not an EVM address (0x + 40 hex characters).")
    item = item.strip()
    checksummed = to_checksum_address(item)
    body = item[2:]
    if body != body.lower() and body != body.upper() and item != checksummed:
        raise _err(path, f"{item} has an invalid EIP-55 checksum.")
    return checksummed


def _chains(value: object, path: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _err(path, f"expected a list of chain ids, got {_kind(value)}.")
    out: list[int] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        try:
            cid = parse_chain_id(item, field=where)
        except InvalidChainId:
            raise _err(where, f"{item} is not a chain id (a positive integer).") from None
        if cid not in CHAINS:
            known = ", ".join(str(c) for c in sorted(CHAINS))
            raise _err(where, f"{cid} is not a known chain (known: {known}).")
        if cid not in out:
            out.append(cid)
    return tuple(out)


def _usd(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _err(path, f"expected a USD amount (a number ≥ 0), got {_kind(value)}.")
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        raise _err(path, f"{value!r} is not a number.") from None
    if not amount.is_finite():
        raise _err(path, f"{value} is not a finite number.")
    if amount < 0:
        raise _err(path, f"{value} is negative; the limit is a USD amount ≥ 0.")
    return amount


def parse_policy(text: str, *, wallet_address: str) -> PolicyDocument:
    """Parse and validate a policy document; ``INVALID_POLICY_YAML`` names the bad field."""
    wallet = to_checksum_address(wallet_address)
    if not isinstance(text, str):
        raise InvalidPolicyYaml("The policy must be YAML text.")
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidPolicyYaml(f"{where}not valid YAML ({problem}).") from None
    if data is None:
        raise InvalidPolicyYaml("The policy document is empty.")
    if not isinstance(data, dict):
        raise InvalidPolicyYaml(
            f"The policy document must be a mapping with schema_version, addresses and evm; "
            f"got {_kind(data)}.")
    if "schema_version" not in data:
        raise _err("schema_version", "missing (this release reads schema_version: 1).")
    top = _mapping(data, "", ("schema_version", "wallet_address", "addresses", "evm"),
                   optional=("wallet_address",))
    version = top["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _err("schema_version", f"{version!r} is not supported (this release reads 1).")
    if top.get("wallet_address") is not None:
        given = _address(top["wallet_address"], "wallet_address")
        if given != wallet:
            raise _err("wallet_address", f"{given} is not this wallet ({wallet}).")
    addresses = _mapping(top["addresses"], "addresses", ("allowlist", "blocklist"))
    evm = _mapping(top["evm"], "evm",
                   ("allowed_chains", "token_recipients", "outflow_limits_usd"))
    recipients = _mapping(evm["token_recipients"], "evm.token_recipients", ("allowlist",))
    limits = _mapping(evm["outflow_limits_usd"], "evm.outflow_limits_usd", ("rolling_24h",))
    return PolicyDocument(
        schema_version=SCHEMA_VERSION,
        wallet_address=wallet,
        allowlist=_addresses(addresses["allowlist"], "addresses.allowlist"),
        blocklist=_addresses(addresses["blocklist"], "addresses.blocklist"),
        allowed_chains=_chains(evm["allowed_chains"], "evm.allowed_chains"),
        token_recipients=_addresses(recipients["allowlist"], "evm.token_recipients.allowlist"),
        rolling_24h_usd=_usd(limits["rolling_24h"], "evm.outflow_limits_usd.rolling_24h"),
    )


def _fmt_decimal(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _yaml_addresses(items: Iterable[str], indent: str) -> str:
    lines = "".join(f'\n{indent}- "{a}"' for a in items)
    return lines or " []"


def dump_policy(doc: PolicyDocument) -> str:
    """The document in the contract's layout and key order (parses back to ``doc``)."""
    chains = ", ".join(str(c) for c in doc.allowed_chains)
    return (
        f"schema_version: {doc.schema_version}\n"
        f'wallet_address: "{doc.wallet_address}"\n'
        "addresses:\n"
        f"  allowlist:{_yaml_addresses(doc.allowlist, '    ')}\n"
        f"  blocklist:{_yaml_addresses(doc.blocklist, '    ')}\n"
        "evm:\n"
        f"  allowed_chains: [{chains}]\n"
        "  token_recipients:\n"
        f"    allowlist:{_yaml_addresses(doc.token_recipients, '      ')}\n"
        "  outflow_limits_usd:\n"
        f"    rolling_24h: {_fmt_decimal(doc.rolling_24h_usd)}\n"
    )


def default_policy(wallet_address: str) -> PolicyDocument:
    """A new wallet's policy: empty lists, mainnet + Base + devnet, $1000 a day."""
    return PolicyDocument(SCHEMA_VERSION, to_checksum_address(wallet_address), (), (),
                          DEFAULT_ALLOWED_CHAINS, (), DEFAULT_ROLLING_24H_USD)


def template(wallet_address: str | None = None) -> str:
    """A commented document explaining each field; parses for any wallet (or the one given)."""
    wallet_line = (f'wallet_address: "{to_checksum_address(wallet_address)}"'
                   if wallet_address else '# wallet_address: "0x…"  # optional; filled in')
    return f"""\
# mm-agent wallet policy (schema 1). Set it with `mm wallet policy set --policy "<yaml>"`.
# Changes that widen what the agent may do (a new allowlisted address, chain or recipient, a
# blocklist entry removed, a higher limit) wait for your approval; tightening applies at once.
schema_version: 1            # required; this release reads 1
{wallet_line}
addresses:
  # Guard mode: contracts the wallet may call and addresses it may pay. Anything else asks you.
  # Addresses are 0x + 40 hex characters; quote them.
  allowlist: []
  # Every mode: never interact with these; such requests are denied outright.
  blocklist: []
evm:
  # Guard mode: networks the wallet may use without asking (1 Ethereum, 8453 Base, 31337 devnet).
  allowed_chains: [1, 8453, 31337]
  token_recipients:
    # Guard mode: who may receive tokens (the decoded effective recipient of a transfer).
    allowlist: []
  outflow_limits_usd:
    # Guard mode: USD value that may leave the wallet in any 24 hours without asking.
    # Assets without a price count as over the limit. 0 = every outflow asks you.
    rolling_24h: 1000
"""


# --- broadening -------------------------------------------------------------------------------
def _diff(old: PolicyDocument, new: PolicyDocument) -> tuple[list[str], list[str]]:
    wider: list[str] = []
    tighter: list[str] = []

    def lists(name: str, before: tuple[Any, ...], after: tuple[Any, ...], *,
              grows_wider: bool) -> None:
        low_before = {str(x).lower() for x in before}
        low_after = {str(x).lower() for x in after}
        added = [f"{name}: +{x}" for x in after if str(x).lower() not in low_before]
        removed = [f"{name}: -{x}" for x in before if str(x).lower() not in low_after]
        (wider if grows_wider else tighter).extend(added)
        (tighter if grows_wider else wider).extend(removed)

    lists("addresses.allowlist", old.allowlist, new.allowlist, grows_wider=True)
    lists("addresses.blocklist", old.blocklist, new.blocklist, grows_wider=False)
    lists("evm.allowed_chains", old.allowed_chains, new.allowed_chains, grows_wider=True)
    lists("evm.token_recipients.allowlist", old.token_recipients, new.token_recipients,
          grows_wider=True)
    if new.rolling_24h_usd != old.rolling_24h_usd:
        line = (f"evm.outflow_limits_usd.rolling_24h: {_fmt_decimal(old.rolling_24h_usd)} → "
                f"{_fmt_decimal(new.rolling_24h_usd)}")
        (wider if new.rolling_24h_usd > old.rolling_24h_usd else tighter).append(line)
    return wider, tighter


def broadening_changes(old: PolicyDocument, new: PolicyDocument) -> list[str]:
    """Each change of ``new`` that lets the agent do more than ``old`` did, named."""
    return _diff(old, new)[0]


def tightening_changes(old: PolicyDocument, new: PolicyDocument) -> list[str]:
    """Each change that restricts the agent (applies at once)."""
    return _diff(old, new)[1]


def is_broadening(old: PolicyDocument, new: PolicyDocument) -> bool:
    return bool(broadening_changes(old, new))


def parse_trading_mode(value: object) -> str:
    if value not in TRADING_MODES:
        raise ValidationError(f"tradingMode must be guard or beast, not {value!r}.")
    return str(value)


def mode_change_is_broadening(old_mode: str, new_mode: str) -> bool:
    """guard → beast drops guardrails (broadening); beast → guard and no change do not."""
    return parse_trading_mode(old_mode) == "guard" and parse_trading_mode(new_mode) == "beast"


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
    ``preview.sender``. Approvals/permits are exposures, not outflows; gas is not counted."""
    sim = preview.simulation
    if preview.kind != "transaction":
        return []
    if not sim or "balanceChanges" not in sim:
        # No simulation to read: the transaction's own value is all we know leaves.
        tx = tx if tx is not None else getattr(preview, "tx", None)
        value = _int((tx or {}).get("value"))
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
            out.append((change.get("asset") or {}, -delta))
    return out


def price_outflow(source: PriceSource, preview: Preview) -> Decimal | None:
    """USD value of ``outflow_assets``; None if any of them has no price."""
    from .prices import usd_value

    total = Decimal(0)
    for asset, units in outflow_assets(preview):
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

    def recipient(self, address: object, *, also_allowlist: bool = False) -> None:
        low = _low(address)
        if not low or low == self.wallet or low in self.recipients:
            return
        if also_allowlist and low in self.allowed:
            return
        self.add("token_recipient", low, f"Recipient {to_checksum_address(low)} is not in "
                                         "evm.token_recipients.allowlist.")


def evaluate(doc: PolicyDocument, trading_mode: str, preview: Preview, *,
             outflow_usd: Decimal | None, window_used_usd: Decimal,
             tx: dict[str, Any] | None = None,
             typed_data: dict[str, Any] | None = None) -> PolicyResult:
    """The policy verdict on a preview. Any mode other than ``beast`` is treated as guard.

    ``outflow_usd`` is this request's priced outflow (None: unpriced); ``window_used_usd`` is
    what the rolling 24 h window already holds (settled plus reserved).
    """
    from .pipeline import PolicyResult

    guard = trading_mode != "beast"  # fail closed on an unknown mode
    checks = _Checks(doc, preview.sender)
    tx = tx if tx is not None else getattr(preview, "tx", None)
    typed_data = typed_data if typed_data is not None else getattr(preview, "typed_data", None)
    decoded = preview.decoded or {}

    if preview.kind == "transaction":
        _transaction(checks, preview, decoded, tx, guard=guard)
    elif preview.kind == "typed-data":
        _typed_data(checks, typed_data, guard=guard)

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

    rules = {v["rule"] for v in checks.violations}
    decision = ("deny" if rules & DENY_RULES else
                "approval_required" if rules else "allow")
    return PolicyResult(decision, checks.violations)


def _transaction(checks: _Checks, preview: Preview, decoded: dict[str, Any],
                 tx: dict[str, Any] | None, *, guard: bool) -> None:
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
    sim = preview.simulation or {}
    losing = {(str((a or {}).get("address") or "native").lower(), str((a or {}).get("tokenId")))
              for a, _ in outflow_assets(preview, tx=tx)}
    for change in sim.get("balanceChanges") or []:
        asset = change.get("asset") or {}
        key = (str(asset.get("address") or "native").lower(), str(asset.get("tokenId")))
        if key in losing and _int(change.get("delta")) > 0:
            checks.blocklist(change.get("address"), f"receives the wallet's {_asset_label(asset)}")
    exposures = sim.get("exposures") or []
    for exp in exposures:
        checks.blocklist(exp.get("spender"), "a spender this transaction approves")

    if not guard:
        return
    if native:
        checks.recipient(to, also_allowlist=True)
        return
    if not known_to:
        checks.add("address_allowlist", "?", "The address this transaction calls is unknown "
                                             "(the preview does not carry it); approval needed.")
    elif to is None:
        checks.add("address_allowlist", "create", "This transaction deploys a contract, "
                                                  "which no allowlist covers.")
    else:
        checks.allowlisted(to, "Contract")
    for exp in exposures:
        checks.allowlisted(exp.get("spender"), "Spender")
    if effective and (_low(effective) != _low(to)):
        checks.recipient(effective)


def _typed_data(checks: _Checks, typed: dict[str, Any] | None, *, guard: bool) -> None:
    if not isinstance(typed, dict):
        if guard:
            checks.add("address_allowlist", "?", "The typed data is not available to check "
                                                 "against addresses.allowlist; approval needed.")
        return
    domain = typed.get("domain") or {}
    message = typed.get("message") or {}
    checks.blocklist(domain.get("verifyingContract"), "the verifying contract")
    for address in _walk_addresses(message):
        checks.blocklist(address, "an address in the signed data")
    if guard:
        checks.allowlisted(domain.get("verifyingContract"), "Verifying contract")
        if isinstance(message, dict):
            checks.allowlisted(message.get("spender"), "Spender")


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
        return evaluate(doc, trading_mode, preview, outflow_usd=price_outflow(prices, preview),
                        window_used_usd=window_used_usd())

    return hook
