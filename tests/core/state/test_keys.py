"""Properties of the order-preserving Azure Table key encoding."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.state.keys import RANGE_END, decode_key, encode_key

# Any code point, including controls, surrogates and astral characters.
keys = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
ILLEGAL = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


@given(keys)
def test_roundtrip_and_legal(text: str) -> None:
    encoded = encode_key(text)
    assert decode_key(encoded) == text
    assert encoded.isascii()
    assert not ILLEGAL.search(encoded)


@given(keys, keys)
def test_order_preserving(a: str, b: str) -> None:
    assert (a < b) == (encode_key(a) < encode_key(b))


@given(keys, keys)
def test_prefix_range(prefix: str, rest: str) -> None:
    encoded = encode_key(prefix + rest)
    low = encode_key(prefix)
    assert low <= encoded < low + RANGE_END


@given(keys, keys)
def test_range_contains_only_prefixed(prefix: str, other: str) -> None:
    low = encode_key(prefix)
    if low <= encode_key(other) < low + RANGE_END:
        assert other.startswith(prefix)


def test_readable_for_common_characters() -> None:
    assert encode_key("vm-01_Prod") == "vm-01_Prod"
    assert encode_key("a/b") == "a.2fb"


@pytest.mark.parametrize("bad", ["a~", "~zz", "!2d", "a/b", "é", "~c3"])
def test_decode_rejects_foreign_text(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_key(bad)
