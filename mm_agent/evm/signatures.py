"""Known function, event and error signatures, and the ABI decoding of their arguments.

The table itself lives in ``signatures_data.py`` as human-readable ABI fragments (so parameter
and struct-field names come for free); this module parses it once at import, computes selectors
and topics with ``mm_agent.evm.keccak`` (cheap to import, unlike eth_utils) and offers a small ABI
decoder.

Why our own decoder rather than ``eth_abi.decode``: calldata is attacker-controlled, and ABI
offsets may point many array elements at the same large tail, so a 200 KB payload can make
eth_abi materialise hundreds of MB. This decoder bounds the work by the input size and, like
the EVM, masks dirty high bits instead of rejecting them (a contract compiled with ABI coder v1
acts on the masked value, so that is the value a reviewer must see).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mm_agent.errors import InvalidCalldata

from . import signatures_data as _data
from .addresses import to_checksum_address
from .keccak import keccak256

__all__ = [
    "ERRORS",
    "EVENTS",
    "FUNCTIONS",
    "PANIC_CODES",
    "SIGNATURES_VERSION",
    "UNIVERSAL_ROUTER_COMMANDS",
    "ABIType",
    "ErrorSpec",
    "EventSpec",
    "FunctionSpec",
    "command_for",
    "decode_abi",
    "decode_word",
    "event_for",
    "function_for",
    "keccak256",
    "parse_fragment",
    "resolve_path",
    "to_json",
]

SIGNATURES_VERSION = "2026.11.1"


# --- ABI types ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ABIType:
    """One ABI type, with the parameter/field name it was declared with."""

    kind: str  # "base" | "tuple" | "array"
    base: str = ""  # for kind == "base": canonical elementary type, e.g. "uint256"
    components: tuple[ABIType, ...] = ()  # for tuples
    elem: ABIType | None = None  # for arrays
    length: int | None = None  # fixed array length; None = dynamic T[]
    name: str = ""
    indexed: bool = False

    @property
    def canonical(self) -> str:
        if self.kind == "tuple":
            return "(" + ",".join(c.canonical for c in self.components) + ")"
        if self.kind == "array":
            assert self.elem is not None
            return f"{self.elem.canonical}[{'' if self.length is None else self.length}]"
        return self.base

    @property
    def is_dynamic(self) -> bool:
        if self.kind == "base":
            return self.base in ("bytes", "string")
        if self.kind == "tuple":
            return any(c.is_dynamic for c in self.components)
        assert self.elem is not None
        return self.length is None or self.elem.is_dynamic

    @property
    def head_size(self) -> int:
        """Bytes this type takes in its parent's head (an offset word if dynamic)."""
        if self.is_dynamic:
            return 32
        if self.kind == "tuple":
            return sum(c.head_size for c in self.components)
        if self.kind == "array":
            assert self.elem is not None and self.length is not None
            return self.length * self.elem.head_size
        return 32


_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ALIASES = {"uint": "uint256", "int": "int256", "byte": "bytes1"}


def _check_base(base: str) -> str:
    base = _ALIASES.get(base, base)
    if base in ("address", "bool", "string", "bytes"):
        return base
    m = re.fullmatch(r"(u?int)(\d+)|bytes(\d+)", base)
    if m and m.group(2) and 8 <= int(m.group(2)) <= 256 and int(m.group(2)) % 8 == 0:
        return base
    if m and m.group(3) and 1 <= int(m.group(3)) <= 32:
        return base
    raise ValueError(f"unsupported ABI type {base!r}")


class _Parser:
    """Recursive-descent parser for fragments like ``f((address a, uint256 b)[] xs, bool y)``."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def ident(self) -> str | None:
        self.ws()
        m = _IDENT.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group(0)

    def expect(self, ch: str) -> None:
        self.ws()
        if not self.s.startswith(ch, self.i):
            raise ValueError(f"expected {ch!r} at {self.i} in {self.s!r}")
        self.i += 1

    def params(self) -> tuple[ABIType, ...]:
        self.expect("(")
        self.ws()
        out: list[ABIType] = []
        if self.s.startswith(")", self.i):
            self.i += 1
            return ()
        while True:
            out.append(self.param())
            self.ws()
            if self.s.startswith(")", self.i):
                self.i += 1
                return tuple(out)
            self.expect(",")

    def param(self) -> ABIType:
        self.ws()
        if self.s.startswith("(", self.i):
            t = ABIType("tuple", components=self.params())
        else:
            word = self.ident()
            if word is None:
                raise ValueError(f"expected a type at {self.i} in {self.s!r}")
            t = ABIType("base", base=_check_base(word))
        while True:
            self.ws()
            if not self.s.startswith("[", self.i):
                break
            end = self.s.index("]", self.i)
            size = self.s[self.i + 1 : end].strip()
            t = ABIType("array", elem=t, length=int(size) if size else None)
            self.i = end + 1
        name = self.ident() or ""
        indexed = name == "indexed"
        if indexed:
            name = self.ident() or ""
        return ABIType(t.kind, t.base, t.components, t.elem, t.length, name, indexed)


def parse_fragment(fragment: str) -> tuple[str, tuple[ABIType, ...]]:
    """``"transfer(address to, uint256 amount)"`` → ``("transfer", (ABIType…, ABIType…))``."""
    p = _Parser(fragment)
    name = p.ident()
    if not name:
        raise ValueError(f"no name in fragment {fragment!r}")
    inputs = p.params()
    p.ws()
    if p.i != len(fragment):
        raise ValueError(f"trailing text in fragment {fragment!r}")
    return name, inputs


def _signature(name: str, inputs: Sequence[ABIType]) -> str:
    return f"{name}({','.join(t.canonical for t in inputs)})"


# --- specs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionSpec:
    """A known function (or Universal Router command, whose ``selector`` is ``""``)."""

    name: str
    signature: str  # canonical text signature, e.g. "transfer(address,uint256)"
    selector: str  # "0x" + 8 hex
    inputs: tuple[ABIType, ...]
    category: str
    recipient: str | None = None  # dotted path of who receives value, "@self", or None
    spender: str | None = None  # dotted path of who is granted an allowance
    token: str | None = None  # dotted path of the token, "@to" = the called contract
    amount: str | None = None  # dotted path of the raw amount
    nested: str | None = None  # how inner calls are carried (decode.py strategies)
    intent: str | None = None  # template for the readable intent (see signatures_data)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def param_types(self) -> tuple[str, ...]:
        return tuple(t.canonical for t in self.inputs)


@dataclass(frozen=True)
class EventSpec:
    name: str
    signature: str
    topic0: str
    inputs: tuple[ABIType, ...]
    category: str

    @property
    def indexed_count(self) -> int:
        return sum(1 for t in self.inputs if t.indexed)


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    signature: str
    selector: str
    inputs: tuple[ABIType, ...] = field(default=())


def _function_spec(fragment: str, category: str, roles: dict[str, Any], selector: str | None
                   ) -> FunctionSpec:
    name, inputs = parse_fragment(fragment)
    sig = _signature(name, inputs)
    sel = selector if selector is not None else "0x" + keccak256(sig.encode())[:4].hex()
    return FunctionSpec(name, sig, sel, inputs, category, **roles)


def _build_functions() -> dict[str, FunctionSpec]:
    out: dict[str, FunctionSpec] = {}
    for fragment, category, roles in _data.FUNCTIONS:
        spec = _function_spec(fragment, category, roles, None)
        # A selector clash inside the curated table would silently shadow an entry.
        if spec.selector in out:
            raise ValueError(f"selector clash: {spec.signature} vs {out[spec.selector].signature}")
        out[spec.selector] = spec
    return out


def _build_events() -> dict[tuple[str, int], EventSpec]:
    out: dict[tuple[str, int], EventSpec] = {}
    for fragment, category in _data.EVENTS:
        name, inputs = parse_fragment(fragment)
        sig = _signature(name, inputs)
        spec = EventSpec(name, sig, "0x" + keccak256(sig.encode()).hex(), inputs, category)
        key = (spec.topic0, spec.indexed_count)
        if key in out:
            raise ValueError(f"event clash: {sig}")
        out[key] = spec
    return out


def _build_errors() -> dict[str, ErrorSpec]:
    out: dict[str, ErrorSpec] = {}
    for fragment in _data.ERRORS:
        name, inputs = parse_fragment(fragment)
        sig = _signature(name, inputs)
        sel = "0x" + keccak256(sig.encode())[:4].hex()
        if sel in out:
            raise ValueError(f"error selector clash: {sig}")
        out[sel] = ErrorSpec(name, sig, sel, inputs)
    return out


#: selector ("0x" + 8 lowercase hex) → spec
FUNCTIONS: dict[str, FunctionSpec] = _build_functions()
#: (topic0, number of indexed params) → spec
EVENTS: dict[tuple[str, int], EventSpec] = _build_events()
#: selector → spec
ERRORS: dict[str, ErrorSpec] = _build_errors()
#: command type (byte & 0x3f) → spec
UNIVERSAL_ROUTER_COMMANDS: dict[int, FunctionSpec] = {
    code: _function_spec(fragment, category, roles, "")
    for code, (fragment, category, roles) in _data.UR_COMMANDS.items()
}
PANIC_CODES: dict[int, str] = dict(_data.PANIC_CODES)


_COMMANDS_BY_NAME = {spec.name: spec for spec in UNIVERSAL_ROUTER_COMMANDS.values()}


def function_for(selector: str) -> FunctionSpec | None:
    return FUNCTIONS.get(selector.lower())


def command_for(name: str) -> FunctionSpec | None:
    """A Universal Router command's spec by name (e.g. ``"V3_SWAP_EXACT_IN"``)."""
    return _COMMANDS_BY_NAME.get(name)


def event_for(topic0: str, indexed_count: int) -> EventSpec | None:
    return EVENTS.get((topic0.lower(), indexed_count))


# --- bounded ABI decoding ---------------------------------------------------------------------
class _Budget:
    """Caps how many bytes a decode may produce: a canonical encoding reads each byte once."""

    def __init__(self, data_len: int) -> None:
        self.left = 2 * data_len + 1024

    def charge(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise InvalidCalldata("ABI data references itself too often to decode safely.")


def _word(data: bytes, pos: int) -> bytes:
    if pos < 0 or pos + 32 > len(data):
        raise InvalidCalldata(f"ABI data too short: need 32 bytes at offset {pos}.")
    return data[pos : pos + 32]


def _uint(data: bytes, pos: int) -> int:
    return int.from_bytes(_word(data, pos), "big")


def decode_word(base: str, word: bytes) -> Any:
    """Decode one static elementary value from its 32-byte word, masking dirty bits."""
    if base == "address":
        return "0x" + word[12:].hex()
    if base == "bool":
        return any(word)
    if base.startswith("bytes"):
        return word[: int(base[5:])]
    bits = int(base[4:] if base.startswith("uint") else base[3:])
    raw = int.from_bytes(word, "big") & ((1 << bits) - 1)
    if base.startswith("int") and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def _decode_seq(types: Sequence[ABIType], data: bytes, base: int, budget: _Budget) -> list[Any]:
    out: list[Any] = []
    head = base
    for t in types:
        if t.is_dynamic:
            offset = _uint(data, head)
            budget.charge(32)
            if offset > len(data) - base:
                raise InvalidCalldata(f"ABI offset {offset} points past the data.")
            out.append(_decode_one(t, data, base + offset, budget))
        else:
            out.append(_decode_one(t, data, head, budget))
        head += t.head_size
    return out


def _decode_one(t: ABIType, data: bytes, pos: int, budget: _Budget) -> Any:
    if t.kind == "tuple":
        return tuple(_decode_seq(t.components, data, pos, budget))
    if t.kind == "array":
        assert t.elem is not None
        count = t.length
        if count is None:
            count = _uint(data, pos)
            budget.charge(32)
            pos += 32
        # Every element needs at least its head in the data; reject absurd lengths up front.
        if count * t.elem.head_size > len(data) - pos:
            raise InvalidCalldata(f"ABI array length {count} exceeds the data.")
        return _decode_seq([t.elem] * count, data, pos, budget)
    if t.base in ("bytes", "string"):
        size = _uint(data, pos)
        start = pos + 32
        if size > len(data) - start:
            raise InvalidCalldata(f"ABI {t.base} length {size} exceeds the data.")
        budget.charge(32 + size)
        raw = data[start : start + size]
        return raw.decode("utf-8", errors="replace") if t.base == "string" else raw
    budget.charge(32)
    return decode_word(t.base, _word(data, pos))


def decode_abi(types: Sequence[ABIType], data: bytes) -> list[Any]:
    """Decode ABI-encoded ``data`` (no selector) as ``types``.

    Values: ints as ``int``, addresses as lowercase ``0x`` strings, ``bytes``/``bytesN`` as
    ``bytes``, strings as ``str`` (invalid UTF-8 replaced), tuples as ``tuple``, arrays as
    ``list``. Trailing bytes are ignored, as the EVM does. Raises ``InvalidCalldata``.
    """
    return _decode_seq(types, bytes(data), 0, _Budget(len(data)))


def to_json(t: ABIType, v: Any) -> Any:
    """A decoded value as JSON: decimal-string ints, EIP-55 addresses, 0x hex bytes, structs as
    dicts (lists if a field is unnamed), arrays as lists."""
    if t.kind == "tuple":
        items = [to_json(c, x) for c, x in zip(t.components, v, strict=True)]
        if all(c.name for c in t.components):
            return {c.name: item for c, item in zip(t.components, items, strict=True)}
        return items
    if t.kind == "array":
        assert t.elem is not None
        return [to_json(t.elem, x) for x in v]
    if t.base == "address":
        return to_checksum_address(v)
    if isinstance(v, (bool, str)):
        return v
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return str(v)


def resolve_path(named: dict[str, Any], path: str) -> list[Any]:
    """Values at a role path of ``signatures_data`` (``a.b``; ``a[].b`` fans out over a list)."""
    current: list[Any] = [named]
    for seg in path.split("."):
        fan = seg.endswith("[]")
        key = seg[:-2] if fan else seg
        nxt: list[Any] = []
        for node in current:
            if isinstance(node, dict) and key in node:
                val = node[key]
                nxt.extend(val if fan and isinstance(val, list) else [] if fan else [val])
        current = nxt
    return current
