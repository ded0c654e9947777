"""Agent renderings of the operation registry: tool names, input and output JSON schemas.

One declaration (the args model of an operation, its field types from ``mm_agent.operations.fields``
and a few field markers) gives two renderings:

- ``strict=False`` (Anthropic, MCP, LangChain): optional fields are left out of ``required``;
  open-ended payloads (EIP-712 typed data) are JSON objects.
- ``strict=True`` (OpenAI strict function calling, Anthropic strict tools): every property is
  required, optional values are nullable (``"type": [T, "null"]``), ``additionalProperties`` is
  false at every level, only the supported keywords appear (no ``default``, no ``title``), and
  open-ended payloads are JSON strings (strict mode cannot express an object with free keys).

Neither carries CLI-only keys (``cli_argument``, ``cli_flags``...): the CLI reads them from the
model's fields, agents never see them. Field markers read here (``json_schema_extra``):

- ``agent_shape``: ``"transaction"`` (a typed object ``{to, value, data, gas, maxFeePerGas,
  maxPriorityFeePerGas}``; the CLI keeps ``--payload '<json>'``) or ``"typed-data"`` (object,
  or JSON string when strict);
- ``cli_hidden``: not for agents either.

Operations with ``account=True`` also take the agent option ``account`` (see ``ACCOUNT``).
Imports pydantic: never import this module from the CLI's fast paths.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .fields import ADDRESS_PATTERN
from .registry import OPERATIONS, Operation

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "ACCOUNT",
    "CLI_KEYS",
    "NAME_PATTERN",
    "STRICT_KEYWORDS",
    "agent_ops",
    "annotations",
    "input_schema",
    "output_schema",
    "tool_name",
]

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI and Anthropic tool names
# Keys of json_schema_extra that are ours, not JSON Schema: never rendered for agents.
CLI_KEYS = frozenset({"cli_argument", "cli_flags", "cli_hidden", "cli_metavar", "agent_shape"})
# What OpenAI strict mode accepts (structured outputs' supported subset).
STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "anyOf", "description", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "$defs", "$ref",
})

ACCOUNT = "account"
_ACCOUNT_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": ADDRESS_PATTERN,
    "description": "Act for this account of the wallet (default: the active account). Naming "
                   "it lets concurrent agents each use their own account without switching the "
                   "shared active one.",
}
_HEX_QUANTITY = {"type": "string", "pattern": "^0x[0-9a-fA-F]{1,64}$"}
_HEX_DATA = {"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$"}
# Transaction payload fields: (name, schema, description, required outside strict mode).
_TX_FIELDS: tuple[tuple[str, dict[str, Any], str, bool], ...] = (
    ("to", {"type": "string", "pattern": ADDRESS_PATTERN}, "Recipient or contract address.",
     True),
    ("value", _HEX_QUANTITY, "Native value in wei as hex, e.g. \"0x0\".", True),
    ("data", _HEX_DATA, "Calldata as 0x hex (\"0x\" for a plain payment).", True),
    ("gas", _HEX_QUANTITY, "Gas limit as hex (default: from the simulation + 30%).", False),
    ("maxFeePerGas", _HEX_QUANTITY, "EIP-1559 max fee per gas in wei as hex (default: from "
     "fee history).", False),
    ("maxPriorityFeePerGas", _HEX_QUANTITY, "EIP-1559 priority fee in wei as hex (default: "
     "from fee history).", False),
)
_TYPED_DATA_OBJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "types": {"type": "object", "description": "EIP-712 types, EIP712Domain included."},
        "primaryType": {"type": "string", "description": "The type of `message`."},
        "domain": {"type": "object", "description": "EIP-712 domain (chainId must match)."},
        "message": {"type": "object", "description": "The data to sign."},
    },
    "required": ["types", "primaryType", "domain", "message"],
}


def tool_name(op: Operation, prefix: str = "") -> str:
    name = prefix + op.name
    if not NAME_PATTERN.match(name):
        from mm_agent.errors import ValidationError

        raise ValidationError(f"Tool name {name!r} does not match {NAME_PATTERN.pattern}.")
    return name


def agent_ops(mode: str | None = None, *, read_only: bool = False,
              include: Iterable[str] | None = None) -> list[Operation]:
    """Agent-facing operations, optionally only those working in ``mode``, only reads, or only
    the named ones. Human and operator operations (login, init, config...) never appear."""
    wanted = set(include) if include is not None else None
    out = []
    for op in OPERATIONS:
        if not op.agent_facing:
            continue
        if mode is not None and mode not in op.modes:
            continue
        if read_only and op.writes:
            continue
        if wanted is not None and op.name not in wanted:
            continue
        out.append(op)
    return out


def annotations(op: Operation) -> dict[str, bool]:
    """MCP tool annotations."""
    return {"readOnlyHint": not op.writes, "destructiveHint": op.destructive,
            "idempotentHint": bool(op.idempotent), "openWorldHint": op.open_world}


def input_schema(op: Operation, *, strict: bool = False) -> dict[str, Any]:
    """The JSON schema of an operation's arguments as agents see them."""
    props: dict[str, Any] = {}
    required: list[str] = []
    model = op.args_model()
    if model is not None:
        js = model.model_json_schema()
        defs = js.get("$defs", {})
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if extra.get("cli_hidden"):
                continue
            raw = _inline(js["properties"][name], defs)
            shape = extra.get("agent_shape")
            if shape == "transaction":
                raw = _transaction(strict)
                raw["description"] = "The transaction to send."
            elif shape == "typed-data":
                raw = ({"type": "string"} if strict else copy.deepcopy(_TYPED_DATA_OBJECT))
                raw["description"] = ("EIP-712 typed data (v4) " + ("as a JSON object string "
                                      if strict else "") + "with types, primaryType, domain "
                                      "and message.")
            is_required = field.is_required()
            props[name] = _clean(raw, strict=strict, nullable=strict and not is_required)
            if is_required or strict:
                required.append(name)
    if op.account:
        props[ACCOUNT] = _clean(dict(_ACCOUNT_SCHEMA), strict=strict, nullable=strict)
        if strict:
            required.append(ACCOUNT)
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def output_schema(op: Operation) -> dict[str, Any] | None:
    """The JSON schema of the operation's ``data`` object (MCP ``outputSchema``)."""
    model: type[BaseModel] | None = op.result_model()
    if model is None:
        return None
    js = model.model_json_schema(by_alias=True)
    defs = js.pop("$defs", {})
    return _strip(_inline(js, defs))


# --- helpers ----------------------------------------------------------------------------------
def _transaction(strict: bool) -> dict[str, Any]:
    props = {}
    required = []
    for name, schema, description, needed in _TX_FIELDS:
        props[name] = _clean({**schema, "description": description}, strict=strict,
                             nullable=strict and not needed)
        if needed or strict:
            required.append(name)
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def _inline(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref``s by their definitions (our models are not recursive)."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**_inline(target, defs), **rest}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict) and key in ("items", "additionalProperties"):
            out[key] = _inline(value, defs)
        elif isinstance(value, dict) and key == "properties":
            out[key] = {k: _inline(v, defs) for k, v in value.items()}
        elif isinstance(value, list) and key in ("anyOf", "oneOf", "allOf"):
            out[key] = [_inline(v, defs) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def _strip(schema: Any) -> Any:
    """Drop our own keys (and titles) at every level."""
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in CLI_KEYS or key == "title":
            continue
        if key == "properties":  # its keys are field names, not keywords
            out[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "default", "required"):
            out[key] = value
        else:
            out[key] = _strip(value)
    return out


def _clean(schema: dict[str, Any], *, strict: bool, nullable: bool) -> dict[str, Any]:
    """One property: no CLI keys; ``X | None`` unwrapped; strict rules applied."""
    schema = _strip(schema)
    description = schema.pop("description", None)
    default = schema.pop("default", None)
    any_of = schema.get("anyOf")
    if any_of and any(s == {"type": "null"} for s in any_of):
        rest = [s for s in any_of if s != {"type": "null"}]
        if len(rest) == 1:
            base = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**rest[0], **base}
    if strict:
        schema = _strictify(schema)
        if nullable:
            schema = _nullable(schema)
            if default not in (None, False, "", []):
                description = f"{description or ''} Null means {default!r}.".strip()
            elif description:
                description += " Null to leave it unset."
    elif default is not None:
        schema["default"] = default
    if description:
        schema["description"] = description
    return schema


def _strictify(schema: dict[str, Any]) -> dict[str, Any]:
    """Nested objects: every property required (nullable when optional), no extra keys."""
    schema = {k: v for k, v in schema.items() if k in STRICT_KEYWORDS}
    if schema.get("type") == "object" and "properties" in schema:
        needed = set(schema.get("required", []))
        props = {}
        for name, sub in schema["properties"].items():
            sub = _strictify(sub)
            props[name] = sub if name in needed else _nullable(sub)
        schema["properties"] = props
        schema["required"] = list(props)
        schema["additionalProperties"] = False
    if isinstance(schema.get("items"), dict):
        schema["items"] = _strictify(schema["items"])
    if "anyOf" in schema:
        schema["anyOf"] = [_strictify(s) for s in schema["anyOf"]]
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list):
        if "null" not in kind:
            schema["type"] = [*kind, "null"]
    elif "anyOf" in schema:
        if {"type": "null"} not in schema["anyOf"]:
            schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
        return schema
    else:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema
