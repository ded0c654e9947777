"""Property-based tests (hypothesis) of the pure parsers that see hostile input first: bounded
decimals, amounts, the strict YAML loader and the front door's JSON shape check."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mm_agent.errors import InvalidAmount, MMError, ValidationError
from mm_agent.evm.amounts import parse_units, validate_decimal
from mm_agent.evm.decimals import MAX_DIGITS, MAX_EXPONENT, bounded_decimal, bounded_int
from mm_agent.security.policy import safe_yaml
from mm_agent.server.middleware import json_shape_problem

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(st.text(max_size=300) | st.integers() | st.decimals(allow_nan=True, allow_infinity=True))
def test_bounded_decimal_is_total_and_bounded(value: object) -> None:
    try:
        d = bounded_decimal(value)
    except ValidationError:
        return
    assert d.is_finite() and len(d.as_tuple().digits) <= MAX_DIGITS
    assert not d or abs(d.adjusted()) <= MAX_EXPONENT
    int(d)  # arithmetic on it is cheap now


@pytest.mark.parametrize("text", ["1e999999999", "9" * 5000, "-1E-999999999", "NaN", "inf",
                                  "1" * 81, "0x10", "", " ", "1_000" * 40])
def test_bounded_decimal_refuses_fast(text: str) -> None:
    t = time.perf_counter()
    with pytest.raises(ValidationError):
        bounded_decimal(text)
    assert time.perf_counter() - t < 0.05


def test_bounded_int() -> None:
    assert bounded_int("-0012") == -12 and bounded_int(10**70) == 10**70
    for bad in ("9" * 81, 10**200, "1.5", "١٢", True, "0x1"):
        with pytest.raises(ValidationError):
            bounded_int(bad)


@FAST
@given(st.text(alphabet="0123456789._ e-+", max_size=400) | st.integers())
def test_amounts_never_raise_anything_but_invalid_amount(value: object) -> None:
    try:
        validate_decimal(value)
        parse_units(str(value), 18)
    except InvalidAmount:
        pass


def test_huge_amount_strings() -> None:
    for text in ("9" * 5000, "0." + "1" * 5000, "1" * 100 + ".5", "1e999999999"):
        with pytest.raises(InvalidAmount):
            parse_units(text, 18)
    with pytest.raises(InvalidAmount):
        validate_decimal(10**5000)


# --- YAML ---------------------------------------------------------------------------------------
_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(min_size=1, max_size=8), inner, max_size=4),
    max_leaves=20)


@FAST
@given(_yaml_values)
def test_strict_loader_reads_what_safe_dump_writes(value: object) -> None:
    text = yaml.safe_dump(value)
    assert safe_yaml.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("doc", [
    "a: &a [1, 2]\nb: *a\n",
    "a: &x 1\n",
    "base: &b {k: v}\nother:\n  <<: *b\n",
    "x: " + "[" * 40 + "]" * 40,
    "x: [" + ", ".join(["1"] * 30_000) + "]",
    "a: " + "b" * 70_000,
])
def test_strict_loader_refuses_aliases_depth_and_size(doc: str) -> None:
    with pytest.raises(safe_yaml.UnsafeYaml) as info:
        safe_yaml.load(doc)
    assert len(str(info.value)) < 500


def test_billion_laughs_is_refused_at_once() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi",
                                                                          strict=True)]
    t = time.perf_counter()
    with pytest.raises(safe_yaml.UnsafeYaml):
        safe_yaml.load("\n".join(lines))
    assert time.perf_counter() - t < 0.5


# --- JSON shape ---------------------------------------------------------------------------------
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=40)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@FAST
@given(_json_values, st.booleans())
def test_json_shape_agrees_with_the_parser(value: object, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    problem = json_shape_problem(body, 64)
    assert problem is None or _depth(value) > 64


@FAST
@given(st.integers(min_value=1, max_value=200), st.sampled_from(["[", "{\"a\":"]))
def test_json_depth_is_counted_exactly(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + "0" + closer * depth).encode()
    problem = json_shape_problem(body, 64)
    assert (problem is not None) == (depth > 64)
    assert problem is None or problem.code == "INVALID_JSON"


@FAST
@given(st.binary(max_size=200))
def test_json_shape_is_total_on_bytes(body: bytes) -> None:
    problem = json_shape_problem(body, 64)
    assert problem is None or isinstance(problem, MMError)


def test_surrogates_and_brackets_inside_strings() -> None:
    assert json_shape_problem(b'["' + b"[" * 1000 + b'"]', 64) is None
    assert json_shape_problem(b'["\\ud800"]', 64).code == "INVALID_ARGUMENT"  # type: ignore[union-attr]
    assert json_shape_problem(b'["\\ud83d\\ude00"]', 64) is None
    assert json_shape_problem(b'["\\\\ud800"]', 64) is None
    assert json_shape_problem(b"[" + b"9" * 200 + b"]", 64).code == "INVALID_JSON"  # type: ignore[union-attr]
    assert json_shape_problem('["é"]'.encode("latin-1"), 64).code == "INVALID_JSON"  # type: ignore[union-attr]
    assert Decimal("1") == bounded_decimal("1")
