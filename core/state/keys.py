"""Order-preserving encoding of arbitrary strings into legal Azure Table keys.

Table keys forbid ``/ \\ # ?`` and control characters and are limited to 1 KiB.
The key is UTF-8 encoded (UTF-8 byte order equals code point order) and each byte
becomes one token: ``-``, digits, ASCII letters and ``_`` stand for themselves;
every other byte becomes ``<lead><two lowercase hex digits>``, where the lead is a
legal character chosen so that it sorts between the literal neighbours of that
byte range. The token set is prefix-free and monotone, so

* ``encode(a) < encode(b)`` exactly when ``a < b`` (ordinal order), and
* ``encode(p)`` is a prefix of ``encode(s)`` exactly when ``p`` is a prefix of ``s``,

which lets prefix queries run as RowKey ranges ``[encode(p), encode(p) + "~~")``:
every encoded character is at most ``~`` and every ``~`` is followed by a hex digit.
Encoded text is plain ASCII.
"""

from __future__ import annotations

__all__ = ["RANGE_END", "decode_key", "encode_key"]

# (first byte, last byte, lead character): each range lies strictly between two literal characters,
# and its lead is a legal key character inside that same range.
_ESCAPED_RANGES = (
    (0x00, 0x2C, "!"),  # controls, space, ! " # $ % & ' ( ) * + ,   (below "-")
    (0x2E, 0x2F, "."),  # . /                                           (between "-" and "0")
    (0x3A, 0x40, "="),  # : ; < = > ? @                                 (between "9" and "A")
    (0x5B, 0x5E, "^"),  # [ \ ] ^                                       (between "Z" and "_")
    (0x60, 0x60, "`"),  # `                                             (between "_" and "a")
    (0x7B, 0xFF, "~"),  # { | } ~ DEL and every non-ASCII UTF-8 byte    (above "z")
)
RANGE_END = "~~"  # sorts above every encoded suffix

_TOKENS: list[str] = [chr(b) for b in range(256)]
_LEADS: dict[str, None] = {}
for _first, _last, _lead in _ESCAPED_RANGES:
    _LEADS[_lead] = None
    for _byte in range(_first, _last + 1):
        _TOKENS[_byte] = f"{_lead}{_byte:02x}"


def encode_key(text: str) -> str:
    """Encode any string (lone surrogates included) as an ordered, legal Table key."""
    return "".join(_TOKENS[b] for b in text.encode("utf-8", "surrogatepass"))


def decode_key(encoded: str) -> str:
    """Inverse of :func:`encode_key`; raises ValueError on text it could not have produced."""
    out = bytearray()
    i = 0
    while i < len(encoded):
        ch = encoded[i]
        if ch in _LEADS:
            token = encoded[i : i + 3]
            byte = int(token[1:], 16) if len(token) == 3 else -1
            if byte < 0 or _TOKENS[byte] != token:
                raise ValueError(f"invalid escape {token!r} at offset {i} in encoded key")
            out.append(byte)
            i += 3
        else:
            if len(ch) != 1 or ord(ch) > 0x7F or _TOKENS[ord(ch)] != ch:
                raise ValueError(f"invalid character {ch!r} at offset {i} in encoded key")
            out.append(ord(ch))
            i += 1
    return out.decode("utf-8", "surrogatepass")
