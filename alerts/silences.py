"""Silences: matcher sets that mute alerts for a time window (Namespace.SILENCES).

Plain functions over the state store, so the CLI (``vigil silence``) and the
HTTP functions (function-key auth, wired in function_app.py) share them.
A silence is active while ``starts_at <= now < ends_at``; expiring one sets
``ends_at`` to now. Silenced alerts are not notified and do not enter the
notification log, so they are notified when the silence ends if still firing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from alerts.durations import parse_duration
from alerts.matchers import Matcher, parse_matchers
from core.state.base import Namespace, StateStore
from core.strict import StrictModel

__all__ = [
    "Silence",
    "SilenceError",
    "SilencePolicy",
    "active_silences",
    "create_silence",
    "expire_silence",
    "get_silence",
    "list_silences",
    "silenced_by",
]


class SilencePolicy(StrictModel):
    """The ``silences`` section of vigil.yaml: limits on silences created through the HTTP API."""

    max_duration: str = Field(
        default="30d", description="How far from now a silence may end (a match-all silence until 9999 is refused)."
    )

    @field_validator("max_duration")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v

    @property
    def max_delta(self) -> timedelta:
        return parse_duration(self.max_duration)


class SilenceError(ValueError):
    """Bad silence input or unknown silence id."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    updated_at: datetime

    @property
    def compiled(self) -> list[Matcher]:
        out: list[Matcher] = []
        for m in self.matchers:
            out.extend(parse_matchers(m))
        return out

    def state(self, now: datetime) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": list(self.matchers),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Silence:
        return cls(
            id=d["id"],
            matchers=tuple(d["matchers"]),
            starts_at=datetime.fromisoformat(d["starts_at"]),
            ends_at=datetime.fromisoformat(d["ends_at"]),
            created_by=d.get("created_by", ""),
            comment=d.get("comment", ""),
            created_at=datetime.fromisoformat(d["created_at"]),
            updated_at=datetime.fromisoformat(d.get("updated_at", d["created_at"])),
        )


def create_silence(
    store: StateStore,
    *,
    matchers: Iterable[str],
    duration: timedelta | None = None,
    ends_at: datetime | None = None,
    starts_at: datetime | None = None,
    created_by: str,
    comment: str,
    now: datetime,
    silence_id: str | None = None,
    max_duration: timedelta | None = None,
) -> Silence:
    """Create a silence. ``silence_id`` makes the call idempotent (signed-link retries);
    ``max_duration`` bounds how far from ``now`` it may end (the API's ``silences.max_duration``)."""
    ms = tuple(m.strip() for m in matchers if m.strip())
    if not ms:
        raise SilenceError("a silence needs at least one matcher")
    parsed: list[Matcher] = []
    for m in ms:
        try:
            parsed.extend(parse_matchers(m))
        except ValueError as exc:
            raise SilenceError(str(exc)) from None
    if not parsed:  # "{}" parses to no matchers; a silence without any would mute everything
        raise SilenceError("a silence needs at least one matcher")
    if all(p.matches({}) for p in parsed):  # Alertmanager's rule: such a silence would mute every alert
        raise SilenceError("at least one matcher must not match the empty string")
    if not created_by.strip():
        raise SilenceError("a silence needs an author (created_by)")
    if not comment.strip():
        raise SilenceError("a silence needs a comment")
    start = starts_at or now
    end = ends_at or (start + duration if duration is not None else None)
    if end is None:
        raise SilenceError("give a duration or an end time")
    if end <= start:
        raise SilenceError("a silence must end after it starts")
    if max_duration is not None and end - now > max_duration:
        raise SilenceError(
            f"a silence may end at most {max_duration} from now (silences.max_duration); "
            f"this one ends {end.isoformat()}"
        )
    sid = silence_id or str(uuid.uuid4())
    s = Silence(sid, ms, start, end, created_by.strip(), comment.strip(), now, now)
    if not store.add(Namespace.SILENCES, sid, s.to_dict()):
        existing = get_silence(store, sid)
        assert existing is not None
        return existing
    return s


def get_silence(store: StateStore, silence_id: str) -> Silence | None:
    rec = store.get(Namespace.SILENCES, silence_id)
    return Silence.from_dict(rec.value) if rec else None


def list_silences(store: StateStore, *, now: datetime, state: str | None = None) -> list[Silence]:
    out = [Silence.from_dict(r.value) for r in store.query(Namespace.SILENCES)]
    if state:
        out = [s for s in out if s.state(now) == state]
    return sorted(out, key=lambda s: (s.starts_at, s.id))


def expire_silence(store: StateStore, silence_id: str, *, now: datetime) -> Silence:
    rec = store.get(Namespace.SILENCES, silence_id)
    if rec is None:
        raise SilenceError(f"no silence with id {silence_id!r}")
    s = Silence.from_dict(rec.value)
    if s.state(now) == "expired":
        return s
    d = s.to_dict()
    d["ends_at"] = now.isoformat()
    d["updated_at"] = now.isoformat()
    if s.starts_at > now:
        d["starts_at"] = now.isoformat()
    store.put(Namespace.SILENCES, silence_id, d, etag=rec.etag)
    return Silence.from_dict(d)


def active_silences(store: StateStore, now: datetime) -> list[tuple[Silence, list[Matcher]]]:
    return [(s, s.compiled) for s in list_silences(store, now=now) if s.state(now) == "active"]


def silenced_by(silences: list[tuple[Silence, list[Matcher]]], labels: Mapping[str, str]) -> list[str]:
    """Ids of the active silences that match these labels."""
    return [s.id for s, ms in silences if all(m.matches(labels) for m in ms)]
