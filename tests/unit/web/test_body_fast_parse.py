"""The orjson fast path of ``parse_json_bytes`` returns exactly what the standard parser returns."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.web.body import parse_json_bytes

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types (an int must stay an int, not become a float of the same value)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_fast_parse_equals_standard_parse(value: Any) -> None:
    raw = json.dumps(value).encode("utf-8")
    assert _same(parse_json_bytes(raw), json.loads(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"n": 123456789012345678901234567890}',  # beyond 64 bits: stays an exact int
        b'{"n": 18446744073709551616}',
        b'{"s": "\\ud800"}',  # a lone surrogate: accepted as before
        b'{"x": NaN, "y": Infinity, "z": 1e999}',
        b"\xef\xbb\xbf" + b'{"bom": true}',
        b'{"a": 1, "a": 2}',
    ],
)
def test_what_orjson_refuses_or_reads_differently_is_read_as_before(raw: bytes) -> None:
    expected = json.loads(raw.decode("utf-8-sig"))
    assert _same(parse_json_bytes(raw), expected) or repr(parse_json_bytes(raw)) == repr(expected)


def test_errors_still_name_the_position() -> None:
    with pytest.raises(InvalidInput, match=r"line 1 column 6"):
        parse_json_bytes(b'{"a":}')
