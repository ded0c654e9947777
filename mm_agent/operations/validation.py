"""Turn pydantic validation failures into the contract's error codes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_agent.errors import MissingFlag, UnknownFlag, ValidationError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["flag_name", "validate_args"]


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def validate_args(model: type[BaseModel], raw: dict[str, Any], command: str | None = None,
                  *, agent: bool = False) -> Any:
    """Validate; errors name CLI flags (``--chain-id``), or with ``agent`` the tool argument
    (``chain_id``) as the agent's schema calls it. ``command`` (the CLI words, or the tool
    name for an agent) is named in missing/unknown-argument errors."""
    import pydantic

    name = (lambda f: f"`{f}`") if agent else flag_name

    # None means "not given" everywhere (CLI options left out, nullable tool fields).
    cleaned = {k: v for k, v in raw.items() if v is not None}
    try:
        return model.model_validate(cleaned)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = ".".join(str(p) for p in first["loc"]) or "arguments"
        field = str(first["loc"][0]) if first["loc"] else loc
        where = f" for `{command}`" if command else ""
        if first["type"] == "missing":
            raise MissingFlag(f"Missing {name(field)}{where}.") from None
        if first["type"] == "extra_forbidden":
            raise UnknownFlag(f"Unknown argument {name(field)}{where}.") from None
        raise ValidationError(f"{name(field)}: {first['msg']}.") from None
