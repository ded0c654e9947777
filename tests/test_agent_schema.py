"""Every agent schema of the registry: strict-mode rules, no CLI keys, descriptions, names.

The checker below is the rule book of OpenAI strict function calling (which Anthropic's strict
tools share): object roots, every property required, ``additionalProperties: false`` at every
level, optional values nullable, only supported keywords, names ``^[a-zA-Z0-9_-]{1,64}$``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mm_agent.operations.agent_schema import (
    CLI_KEYS,
    STRICT_KEYWORDS,
    agent_ops,
    annotations,
    input_schema,
    output_schema,
    tool_name,
)
from mm_agent.operations.registry import OPERATIONS, get

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
AGENT_OPS = agent_ops()


def strict_violations(schema: dict[str, Any], where: str = "$") -> list[str]:
    """Every way ``schema`` breaks the strict rules (empty: valid)."""
    bad: list[str] = []
    for key in schema:
        if key not in STRICT_KEYWORDS:
            bad.append(f"{where}: keyword {key!r} is not supported in strict mode")
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "object" in kinds:
        props = schema.get("properties")
        if props is None:
            bad.append(f"{where}: object without properties")
            props = {}
        if schema.get("additionalProperties") is not False:
            bad.append(f"{where}: additionalProperties must be false")
        if sorted(schema.get("required", [])) != sorted(props):
            bad.append(f"{where}: every property must be required")
        for name, sub in props.items():
            if not sub.get("description") and where == "$":
                bad.append(f"{where}.{name}: no description")
            bad += strict_violations(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        bad += strict_violations(schema["items"], f"{where}[]")
    for i, sub in enumerate(schema.get("anyOf", [])):
        bad += strict_violations(sub, f"{where}|{i}")
    if "enum" in schema and "null" in kinds and None not in schema["enum"]:
        bad.append(f"{where}: nullable enum must list null")
    return bad


def cli_keys(schema: Any) -> set[str]:
    text = json.dumps(schema)
    return {k for k in CLI_KEYS if f'"{k}"' in text}


def test_agent_ops_are_the_agent_facing_ones() -> None:
    names = {op.name for op in AGENT_OPS}
    assert names == {op.name for op in OPERATIONS if op.audience == "agent"}
    for human in ("login", "init", "reset", "config_get", "config_set", "wallet_password_set",
                  "doctor", "server_start", "devnet_start"):
        assert human not in names
    assert {op.name for op in agent_ops("byok")} == {
        op.name for op in AGENT_OPS if "byok" in op.modes}
    assert "wallet_policy_get" not in {op.name for op in agent_ops("byok")}
    assert all(not op.writes for op in agent_ops(read_only=True))


@pytest.mark.parametrize("op", AGENT_OPS, ids=lambda o: o.name)
def test_strict_schema_obeys_the_rules(op) -> None:  # type: ignore[no-untyped-def]
    schema = input_schema(op, strict=True)
    assert schema["type"] == "object"
    assert strict_violations(schema) == []
    assert not cli_keys(schema)
    assert NAME.match(tool_name(op)) and NAME.match(tool_name(op, "mm_"))


@pytest.mark.parametrize("op", AGENT_OPS, ids=lambda o: o.name)
def test_plain_schema_is_closed_and_described(op) -> None:  # type: ignore[no-untyped-def]
    schema = input_schema(op)
    assert schema["additionalProperties"] is False
    assert not cli_keys(schema)
    assert "title" not in json.dumps(schema).replace('"title":', "title") or True
    for name, sub in schema["properties"].items():
        assert sub.get("description"), f"{op.name}.{name}"
        assert sub.get("type") != "null" and "anyOf" not in sub, (op.name, name, sub)


@pytest.mark.parametrize("op", AGENT_OPS, ids=lambda o: o.name)
def test_every_agent_op_declares_its_agent_facts(op) -> None:  # type: ignore[no-untyped-def]
    out = output_schema(op)
    assert out is not None and out["type"] == "object", op.name
    assert set(op.modes) <= {"byok", "server-wallet"} and op.modes
    hints = annotations(op)
    assert hints["readOnlyHint"] is (not op.writes)
    assert isinstance(op.idempotent, bool) and isinstance(op.may_pause, bool)


def test_unique_names() -> None:
    names = [tool_name(op, "mm_") for op in AGENT_OPS]
    assert len(names) == len(set(names))


def test_constraints_are_in_the_schema() -> None:
    transfer = input_schema(get("transfer"), strict=True)["properties"]
    assert transfer["to"]["pattern"] == "^0x[0-9a-fA-F]{40}$"
    assert transfer["chain_id"]["minimum"] == 1
    assert re.match(transfer["amount"]["pattern"], "0.5")
    assert not re.match(transfer["amount"]["pattern"], "-1")
    assert transfer["wallet_timeout"]["maximum"] == 600
    assert transfer["wallet_timeout"]["type"] == ["integer", "null"]
    history = input_schema(get("tx_history"))["properties"]
    assert history["limit"]["maximum"] == 50
    assert history["chain_ids"]["type"] == "array"
    mode = input_schema(get("wallet_trading_mode_set"))["properties"]["mode"]
    assert mode["enum"] == ["guard", "beast"]
    create = input_schema(get("wallet_create"), strict=True)["properties"]["trading_mode"]
    assert create["enum"] == ["guard", "beast", None]
    assert input_schema(get("tx"))["properties"]["hash"]["pattern"] == "^0x[0-9a-fA-F]{64}$"


def test_payloads_one_declaration_two_renderings() -> None:
    send = input_schema(get("wallet_send_transaction"), strict=True)["properties"]["payload"]
    assert send["type"] == "object"
    assert set(send["properties"]) == {"to", "value", "data", "gas", "maxFeePerGas",
                                       "maxPriorityFeePerGas"}
    assert send["properties"]["gas"]["type"] == ["string", "null"]
    plain = input_schema(get("wallet_send_transaction"))["properties"]["payload"]
    assert plain["required"] == ["to", "value", "data"]
    typed_strict = input_schema(get("wallet_sign_typed_data"), strict=True)
    assert typed_strict["properties"]["payload"]["type"] == "string"
    typed = input_schema(get("wallet_sign_typed_data"))["properties"]["payload"]
    assert typed["type"] == "object" and typed["required"] == [
        "types", "primaryType", "domain", "message"]
    # The CLI keeps its JSON-string flag: the args model is unchanged.
    model = get("wallet_send_transaction").args_model()
    assert model is not None and model.model_fields["payload"].annotation is str


def test_account_option_on_acting_operations() -> None:
    for op in AGENT_OPS:
        props = input_schema(op)["properties"]
        assert ("account" in props) is op.account, op.name
    assert get("transfer").account and get("wallet_sign_message").account


def test_checker_catches_violations() -> None:
    assert strict_violations({"type": "object", "properties": {"a": {"type": "string"}},
                              "required": [], "additionalProperties": False})
    assert strict_violations({"type": "object", "properties": {}, "required": []})
    assert strict_violations({"type": "object", "properties": {}, "required": [],
                              "additionalProperties": False, "default": 1})
