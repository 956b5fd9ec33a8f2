"""Time helpers shared by every layer."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_utc"]


def parse_utc(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; a naive one is taken as UTC.

    Python 3.11's ``fromisoformat`` reads ``Z`` and offsets itself. Raises ``ValueError`` on bad input.
    """
    dt = datetime.fromisoformat(value.strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
