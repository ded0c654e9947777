"""The server wallet's policy document (contract §6): parse, validate, dump, and decide which
edits broaden it. Evaluation against a preview is in ``policy_eval``.

``parse_policy``/``dump_policy`` read and write the YAML document; ``broadening_changes`` says
which edits need a human.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from mm_agent.errors import InvalidChainId, InvalidPolicyYaml, ValidationError
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.chains import CHAINS, DEVNET_CHAIN_ID, parse_chain_id
from mm_agent.evm.decimals import bounded_decimal

from . import safe_yaml
from .safe_yaml import StrictLoader

__all__ = [
    "DEFAULT_ALLOWED_CHAINS",
    "DEFAULT_ROLLING_24H_USD",
    "SCHEMA_VERSION",
    "TRADING_MODES",
    "PolicyDocument",
    "apply_broadening",
    "broadening_changes",
    "broadening_diff",
    "default_policy",
    "dump_policy",
    "field_changes",
    "is_broadening",
    "mode_change_is_broadening",
    "parse_policy",
    "parse_trading_mode",
    "template",
    "tighten_only",
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
class _Loader(StrictLoader):
    """SafeLoader (no anchors/aliases, bounded: safe_yaml) that keeps unquoted 0x… as text,
    floats as Decimal, and refuses duplicate keys (a second ``blocklist:`` would silently
    replace the first)."""

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
    if len(text) > 100:  # int() of thousands of digits is refused (or slow): bound first
        raise InvalidPolicyYaml(f"line {node.start_mark.line + 1}: number too long.")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        # exact: 1000.10 must not become 1000.0999…; bounded digits and exponent (1e999999999)
        return bounded_decimal(text, what=f"line {node.start_mark.line + 1}: number",
                               error=InvalidPolicyYaml)
    except InvalidPolicyYaml:
        if text.lstrip("+-").lower() not in (".inf", ".nan"):
            raise
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
        # Bounded: a USD limit needs neither 80 digits nor an exponent of a billion.
        amount = bounded_decimal(value, what=path, max_digits=40, max_exponent=20,
                                 error=InvalidPolicyYaml)
    except InvalidPolicyYaml as exc:
        raise InvalidPolicyYaml(exc.message) from None  # names the path already
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
        data = safe_yaml.load(text, Loader=_Loader)  # no aliases, size and depth capped
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


MARKET_SUGGESTION_CHAINS = (137, 31337)


def _market_suggestions(devnet: Mapping[str, Any] | None,
                        chains: Iterable[int]) -> str:
    """Commented allowlist suggestions: the prediction-market exchanges and routers the scanner
    knows on ``chains`` (31337: the devnet record's markets deployment, when given)."""
    from mm_agent.security.scan.known_protocols import market_contracts

    lines = []
    for chain_id in chains:
        for address, name in market_contracts(chain_id, devnet if chain_id == 31337 else None):
            if chain_id == 31337 and devnet is None:
                continue
            lines.append(f'  #   - "{to_checksum_address(address)}"  # {name}, chain {chain_id}')
    if not lines:
        return ""
    return ("  # Prediction markets and swaps: in guard mode an order's exchange (and a swap's\n"
            "  # router) must be allowlisted like any contract. Known ones you may copy in:\n"
            + "\n".join(lines) + "\n")


def template(wallet_address: str | None = None, *, devnet: Mapping[str, Any] | None = None,
             market_chains: Iterable[int] = MARKET_SUGGESTION_CHAINS) -> str:
    """A commented document explaining each field; parses for any wallet (or the one given).
    The allowlist comments offer the known prediction-market exchanges and routers of
    ``market_chains`` (the devnet's from its record ``devnet``, when given)."""
    wallet_line = (f'wallet_address: "{to_checksum_address(wallet_address)}"'
                   if wallet_address else '# wallet_address: "0x…"  # optional; filled in')
    suggestions = _market_suggestions(devnet, market_chains)
    return f"""\
# mm-agent wallet policy (schema 1). Set it with `mm wallet policy set --policy "<yaml>"`.
# Changes that widen what the agent may do (a new allowlisted address, chain or recipient, a
# blocklist entry removed, a higher limit) wait for your approval; tightening applies at once.
schema_version: 1            # required; this release reads 1
{wallet_line}
addresses:
  # Guard mode: contracts the wallet may call and addresses it may pay. Anything else asks you.
  # Addresses are 0x + 40 hex characters; quote them.
{suggestions}  allowlist: []
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


# --- applying changes field by field ----------------------------------------------------------
_LIST_FIELDS = (("addresses.allowlist", "allowlist", True),
                ("addresses.blocklist", "blocklist", False),
                ("evm.allowed_chains", "allowed_chains", True),
                ("evm.token_recipients.allowlist", "token_recipients", True))
_LIMIT_FIELD = "evm.outflow_limits_usd.rolling_24h"


def _low_set(items: Iterable[Any]) -> set[str]:
    return {str(x).lower() for x in items}


def tighten_only(old: PolicyDocument, new: PolicyDocument) -> PolicyDocument:
    """``old`` with only the tightening half of ``old`` → ``new`` applied (allowlist entries
    removed, blocklist entries added, a lower limit). It applies at once even when the other
    half waits for a human: an emergency blocklist entry must never wait."""
    new_block = [a for a in new.blocklist if a.lower() not in _low_set(old.blocklist)]
    return PolicyDocument(
        schema_version=old.schema_version, wallet_address=old.wallet_address,
        allowlist=tuple(a for a in old.allowlist if a.lower() in _low_set(new.allowlist)),
        blocklist=(*old.blocklist, *new_block),
        allowed_chains=tuple(c for c in old.allowed_chains if c in new.allowed_chains),
        token_recipients=tuple(a for a in old.token_recipients
                               if a.lower() in _low_set(new.token_recipients)),
        rolling_24h_usd=min(old.rolling_24h_usd, new.rolling_24h_usd),
    )


def broadening_diff(old: PolicyDocument, new: PolicyDocument) -> dict[str, Any]:
    """The broadening half of ``old`` → ``new`` as field operations (JSON-safe), the form in
    which a human approves it and in which it is later applied to the then-current document."""
    diff: dict[str, Any] = {}
    for path, attr, grows_wider in _LIST_FIELDS:
        before, after = getattr(old, attr), getattr(new, attr)
        if grows_wider:
            added = [x for x in after if str(x).lower() not in _low_set(before)]
            if added:
                diff[path] = {"add": list(added)}
        else:
            removed = [x for x in before if str(x).lower() not in _low_set(after)]
            if removed:
                diff[path] = {"remove": list(removed)}
    if new.rolling_24h_usd > old.rolling_24h_usd:
        diff[_LIMIT_FIELD] = {"from": _fmt_decimal(old.rolling_24h_usd),
                              "to": _fmt_decimal(new.rolling_24h_usd)}
    return diff


def apply_broadening(current: PolicyDocument, diff: dict[str, Any]
                     ) -> tuple[PolicyDocument, list[str]]:
    """Apply an approved broadening ``diff`` to the CURRENT document (which may have been
    tightened since the human was asked). Returns the result and what was skipped: a limit
    that changed since the human saw it keeps its current value (the human approved
    ``from → to``, not a change from a value that no longer holds)."""
    skipped: list[str] = []
    values: dict[str, Any] = {}
    for path, attr, grows_wider in _LIST_FIELDS:
        items = list(getattr(current, attr))
        op = diff.get(path) or {}
        if grows_wider:
            have = _low_set(items)
            for x in op.get("add") or []:
                if str(x).lower() not in have:
                    items.append(int(x) if attr == "allowed_chains" else str(x))
        else:
            gone = _low_set(op.get("remove") or [])
            items = [x for x in items if str(x).lower() not in gone]
        values[attr] = tuple(items)
    limit = current.rolling_24h_usd
    op = diff.get(_LIMIT_FIELD)
    if op:
        if Decimal(str(op["from"])) == current.rolling_24h_usd:
            limit = Decimal(str(op["to"]))
        else:
            skipped.append(f"{_LIMIT_FIELD}: approved {op['from']} → {op['to']}, but it is "
                           f"{_fmt_decimal(current.rolling_24h_usd)} now; kept")
    return PolicyDocument(current.schema_version, current.wallet_address,
                          rolling_24h_usd=limit, **values), skipped


def field_changes(old: PolicyDocument, new: PolicyDocument) -> list[str]:
    """Every field that differs, as ``field: old → new`` (what the human is shown)."""
    def show(items: Iterable[Any]) -> str:
        return "[" + ", ".join(str(x) for x in items) + "]"

    out = []
    for path, attr, _ in _LIST_FIELDS:
        before, after = getattr(old, attr), getattr(new, attr)
        if _low_set(before) != _low_set(after):
            out.append(f"{path}: {show(before)} → {show(after)}")
    if old.rolling_24h_usd != new.rolling_24h_usd:
        out.append(f"{_LIMIT_FIELD}: {_fmt_decimal(old.rolling_24h_usd)} → "
                   f"{_fmt_decimal(new.rolling_24h_usd)}")
    return out
