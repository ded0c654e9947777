"""The curated public API is pinned: changing it must be a deliberate act.

In httpx's style (tests/test_exported_members.py there): a module's ``__all__`` is exactly the
set of public names in its namespace. Every public attribute is exported and every exported
name exists; an import that leaks a new public name, or a name dropped from ``__all__``, fails
here. Not counted as public: submodules and imported modules, ``from __future__`` features and
typing helpers (``TYPE_CHECKING``, ``Any``...), which are no part of any API.
"""

from __future__ import annotations
import __future__

import importlib
import types
import typing
from pathlib import Path
from typing import Any

import pytest

import mm_agent
from mm_agent import errors

_FUTURE_FEATURES = {name for name in __future__.all_feature_names}


def _is_plumbing(name: str, value: Any) -> bool:
    if isinstance(value, types.ModuleType):
        return True  # submodules and `import x`: implementation, not API
    if name in _FUTURE_FEATURES and isinstance(value, __future__._Feature):
        return True
    if name == "TYPE_CHECKING" or getattr(value, "__module__", None) in (
            "typing", "typing_extensions", "collections.abc"):
        return True
    return value is typing.Any


def public_names(module: types.ModuleType) -> set[str]:
    """Public names a user sees in the namespace, lazy ``__getattr__`` names resolved."""
    for name in getattr(module, "__all__", ()):
        getattr(module, name, None)  # resolve lazy attributes into the namespace
    return {name for name, value in vars(module).items()
            if not name.startswith("_") and not _is_plumbing(name, value)}


def assert_all_matches_namespace(module: types.ModuleType, *dunder: str) -> None:
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{module.__name__}.__all__ has duplicates"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module.__name__}.__all__ names what does not exist: {missing}"
    assert set(exported) - set(dunder) == public_names(module), (
        f"{module.__name__}: public names not in __all__: "
        f"{sorted(public_names(module) - set(exported))}; "
        f"__all__ names that are not public attributes: "
        f"{sorted(set(exported) - set(dunder) - public_names(module))}")


def test_all_is_pinned() -> None:
    assert sorted(mm_agent.__all__) == ["AsyncWallet", "MMError", "Wallet", "WalletRequest",
                                        "__version__"]


def test_all_names_resolve() -> None:
    for name in mm_agent.__all__:
        assert getattr(mm_agent, name) is not None


def test_package_all_matches_its_namespace() -> None:
    assert_all_matches_namespace(mm_agent, "__version__")


def test_errors_all_matches_its_namespace() -> None:
    assert_all_matches_namespace(errors)


ERROR_MODULES = ("base", "usage", "state", "chain", "service", "markets")


def test_errors_submodules_partition_the_tree() -> None:
    """Each class of ``mm_agent.errors`` is defined in exactly one of its submodules, whose
    ``__all__`` names it; together they export exactly the package's ``__all__``."""
    seen: list[str] = []
    for short in ERROR_MODULES:
        sub = importlib.import_module(f"mm_agent.errors.{short}")
        for name in sub.__all__:
            assert getattr(errors, name) is getattr(sub, name)
            assert getattr(sub, name).__module__ == sub.__name__, (sub.__name__, name)
        seen += sub.__all__
    assert len(seen) == len(set(seen)) and sorted(seen) == sorted(errors.__all__)
    found = {p.stem for p in Path(errors.__file__).parent.glob("*.py")} - {"__init__"}
    assert found == set(ERROR_MODULES), "a new errors submodule: add it to ERROR_MODULES"


# The toolkits import many names at module level without an underscore (pydantic, langchain,
# mcp classes, registry helpers). Pinned here as a ratchet: this list may only shrink. A new
# public import fails the test (alias it ``as _name``, or export it); everything a toolkit
# module *defines* must be in its ``__all__`` or be private.
KNOWN_IMPORT_LEAKS: dict[str, set[str]] = {
    "mm_agent.toolkits.function_calling": {
        "Call", "CallLog", "Context", "MMError", "Operation", "ToolRunner", "ToolSet",
        "agent_ops", "input_schema", "tool_name"},
    # The LangChain toolkit is three modules (langchain assembles langchain_tools and
    # langchain_hitl); together they leak exactly what langchain.py did alone.
    "mm_agent.toolkits.langchain": {
        "BaseTool", "BaseToolkit", "ConfigDict", "Field", "PrivateAttr", "agent_ops", "tool_name",
        # helpers of the toolkit, not exported: tool_names is defined here, the other two are
        # langchain_tools' and stay importable from here
        "TransactionInput", "args_model", "tool_names"},
    "mm_agent.toolkits.langchain_tools": {
        "ACCOUNT", "BaseModel", "BaseTool", "CLI_KEYS", "Call", "ConfigDict", "Context", "Field",
        "MMError", "Operation", "PrivateAttr", "RunnableConfig", "ToolException", "ToolRunner",
        "create_model", "input_schema", "tool_name"},
    "mm_agent.toolkits.langchain_hitl": set(),
    "mm_agent.toolkits.mcp_server": {
        "Call", "Config", "Context", "Home", "INSTRUCTIONS", "LOOPBACK_HOSTS", "MMError",
        "Operation", "Server", "ServerRequestContext", "ToolRunner", "agent_ops", "annotations",
        "dataclass",
        "input_schema", "log", "output_schema", "tool_name"},
    "mm_agent.toolkits.mcp_command": {"BaseModel", "ConfigDict", "Context", "Field"},
}


@pytest.mark.parametrize("name", sorted(KNOWN_IMPORT_LEAKS))
def test_toolkit_all_matches_its_namespace(name: str) -> None:
    if name.startswith("mm_agent.toolkits.langchain"):
        pytest.importorskip("langchain_core")
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what does not exist: {missing}"
    new_leaks = public_names(module) - set(exported) - KNOWN_IMPORT_LEAKS[name]
    assert not new_leaks, (f"{name}: public names that are not in __all__: {sorted(new_leaks)} "
                           "(export them, or make them private: `import x as _x`, `_name`)")
