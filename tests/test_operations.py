"""The operation registry is the one declaration of every command and tool."""

import pytest
from mm_agent.cli.app import build_root

from mm_agent.operations.registry import OPERATIONS


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_operation_loads_and_is_reachable_from_the_cli(op) -> None:  # type: ignore[no-untyped-def]
    assert callable(op.handler_fn())
    model = op.args_model()
    if model is not None:
        for name, field in model.model_fields.items():
            assert field.description, f"{op.name}.{name} has no description"
        assert model.model_config.get("extra") == "forbid"
    # Walk the lazily built click tree down the operation's path.
    import click

    cmd: click.Command = build_root()
    ctx = click.Context(cmd)
    for word in op.path:
        assert isinstance(cmd, click.Group)
        nxt = cmd.get_command(ctx, word)
        assert nxt is not None, f"`mm {op.cli_name}` is not reachable"
        cmd = nxt
    assert cmd.help == op.description


def test_agent_facing_operations_have_prompt_quality_descriptions() -> None:
    for op in OPERATIONS:
        if op.agent_facing:
            assert len(op.description) >= 30, op.name
