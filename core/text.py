"""Text for a person: identifiers shortened without losing what identifies them."""

from __future__ import annotations

__all__ = ["shorten"]


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut in the middle (``/subscriptions/65…/vm-batch-gpu-01``):
    the start and the end of an id say the most, so an id is never truncated at its end."""
    if len(text) <= width or width < 5:
        return text
    head = (width - 1) // 2
    tail = width - 1 - head
    return f"{text[:head]}…{text[-tail:]}"
