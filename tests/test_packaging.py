"""Every package folder under mm_agent/ is listed in pyproject, so wheels ship it."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_packaged() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    found = {"mm_agent." + p.parent.relative_to(ROOT / "mm_agent").as_posix().replace("/", ".")
             for p in (ROOT / "mm_agent").rglob("__init__.py") if p.parent != ROOT / "mm_agent"}
    assert found <= listed, f"not packaged: {sorted(found - listed)}"
    assert conf["package-dir"]["mm_agent.cli"] == "cli"
    assert conf["package-dir"]["mm_agent.toolkits"] == "toolkits"


def test_no_generic_top_level_packages() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p.startswith("mm_agent") for p in conf["packages"])
