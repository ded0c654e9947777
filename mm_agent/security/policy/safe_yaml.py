"""YAML for documents that come from outside (policies): no anchors, no aliases, bounded.

PyYAML's ``SafeLoader`` builds no objects, but it still expands aliases: a few lines of
``&a [*b, *b, …]`` ("billion laughs") become gigabytes of nested lists, and an error message
that prints the result becomes gigabytes of output. ``StrictLoader`` refuses every anchor and
alias outright (a policy has no use for them), caps nesting depth and the number of nodes, and
``load`` caps the text size before parsing. Violations raise ``UnsafeYaml``, a
``yaml.MarkedYAMLError``, so callers that already turn YAML errors into messages (with a line
number) need no new branch.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_TEXT", "StrictLoader", "UnsafeYaml", "load"]

MAX_TEXT = 64 * 1024  # characters
MAX_DEPTH = 32
MAX_NODES = 20_000


class UnsafeYaml(yaml.MarkedYAMLError):
    """A document refused before it was built."""


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases and with depth and size caps."""

    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise UnsafeYaml(problem="aliases (*name) are not allowed",
                             problem_mark=event.start_mark)
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None:
            raise UnsafeYaml(problem="anchors (&name) are not allowed",
                             problem_mark=event.start_mark)
        self._nodes += 1
        if self._nodes > self.max_nodes:
            raise UnsafeYaml(problem=f"more than {self.max_nodes} values",
                             problem_mark=event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise UnsafeYaml(problem=f"nested deeper than {self.max_depth} levels",
                                 problem_mark=event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str, Loader: type[StrictLoader] = StrictLoader,
         *, max_text: int = MAX_TEXT) -> Any:
    """Parse one document with ``Loader`` (a ``StrictLoader``), refusing oversized text."""
    if not issubclass(Loader, StrictLoader):
        raise TypeError("safe_yaml.load needs a StrictLoader subclass")
    if len(text) > max_text:
        raise UnsafeYaml(problem=f"the document is longer than {max_text} characters")
    loader = Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
