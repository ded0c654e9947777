"""Rendering of results and errors: JSON envelopes, TOON, and text with tables (contract §2)."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from mm_agent.errors import MMError

__all__ = ["emit_error", "emit_result", "render_text"]


def _envelope_ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def _envelope_err(err: MMError) -> dict[str, Any]:
    return {"ok": False, "error": err.to_payload()}


def _dump(payload: Any, fmt: str) -> str:
    if fmt == "toon":
        import toon_format

        return str(toon_format.encode(payload))
    return json.dumps(payload, indent=2 if sys.stdout.isatty() else None, default=str)


def emit_result(data: Any, fmt: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if fmt in ("json", "toon"):
        out.write(_dump(_envelope_ok(data), fmt) + "\n")
    else:
        text = render_text(data)
        if text:
            out.write(text + "\n")
    out.flush()


def emit_error(err: MMError, fmt: str) -> None:
    if fmt in ("json", "toon"):
        sys.stdout.write(_dump(_envelope_err(err), fmt) + "\n")
        sys.stdout.flush()
        return
    lines = [f"Error [{err.code}]: {err.message}"]
    if err.hint:
        lines.append(f"Hint: {err.hint}")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _table(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key not in cols and not isinstance(value, (dict, list)):
                cols.append(key)
    cells = [[_scalar(row.get(c)) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    head = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    nested = []
    for row in rows:
        for key, value in row.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                label = row.get("name") or row.get("symbol") or row.get("chainId") or ""
                nested.append(f"\n{key} ({label}):\n" + _indent(_table(value)))
    return "\n".join([head, rule, *body]) + "".join(nested)


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line if line else line for line in text.splitlines())


def render_text(data: Any) -> str:
    """A readable form of a result: ``key: value`` lines, lists of objects as tables."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        if data and all(isinstance(v, dict) for v in data):
            return _table(data)
        return "\n".join(_scalar(v) for v in data)
    if not isinstance(data, dict):
        return _scalar(data)
    width = max((len(k) for k in data), default=0)
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{key}:")
            lines.append(_indent(_table(value)))
        elif isinstance(value, dict) and value:
            lines.append(f"{key}:")
            lines.append(_indent(render_text(value)))
        elif isinstance(value, list):
            lines.append(f"{key.ljust(width)}  {', '.join(_scalar(v) for v in value) or '-'}")
        else:
            lines.append(f"{key.ljust(width)}  {_scalar(value)}")
    return "\n".join(lines)
