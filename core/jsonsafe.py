"""Untrusted JSON (HTTP bodies, queue messages, event deliveries) parsed without crashing.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deeply nested input, which
escapes ``except ValueError`` handlers: the HTTP API answered 500 and a queue message went to
the poison queue after retries instead of being quarantined. :func:`load_untrusted_json` turns
that, oversized input and invalid text into :class:`UntrustedJSONError` (a ``ValueError``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["UntrustedJSONError", "load_untrusted_json"]


class UntrustedJSONError(ValueError):
    """The input is too large, too deeply nested, or not JSON."""


def load_untrusted_json(raw: bytes | str, *, max_bytes: int) -> Any:
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise UntrustedJSONError(f"{size} bytes; the limit is {max_bytes}")
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise UntrustedJSONError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UntrustedJSONError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise UntrustedJSONError("nested too deeply to be parsed") from None
