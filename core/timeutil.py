"""Time helpers shared by every layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["MAX_FUTURE_SKEW", "parse_utc"]

# How far ahead of our clock an event time (or a stored verdict's) may be and still be believed:
# clock skew between Azure services is seconds; a time further ahead is a forgery or a broken
# clock, and trusting it would make every later, real observation look stale.
MAX_FUTURE_SKEW = timedelta(minutes=5)


def parse_utc(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; a naive one is taken as UTC.

    Python 3.11's ``fromisoformat`` reads ``Z`` and offsets itself. Raises ``ValueError`` on bad input.
    """
    dt = datetime.fromisoformat(value.strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
