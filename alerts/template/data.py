"""Alertmanager's template data model (template.Data) with Go's names and methods, for the engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["KV", "Alert", "Alerts", "Data", "Pair", "Pairs", "to_json", "to_template_data"]


class Pair:
    __slots__ = ("Name", "Value")

    def __init__(self, name: str, value: str) -> None:
        self.Name = name
        self.Value = value


class Pairs(list[Pair]):
    def Names(self) -> list[str]:
        return [p.Name for p in self]

    def Values(self) -> list[str]:
        return [p.Value for p in self]


class KV(dict[str, str]):
    def SortedPairs(self) -> Pairs:
        return Pairs(Pair(k, self[k]) for k in sorted(self))

    def Names(self) -> list[str]:
        return sorted(self)

    def Values(self) -> list[str]:
        return [self[k] for k in sorted(self)]

    def Remove(self, keys: Iterable[str]) -> KV:
        drop = set(keys)
        return KV({k: v for k, v in self.items() if k not in drop})


class Alert:
    __slots__ = ("Annotations", "EndsAt", "Fingerprint", "GeneratorURL", "Labels", "StartsAt", "Status")

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.Status = d["status"]
        self.Labels = KV(d["labels"])
        self.Annotations = KV(d["annotations"])
        self.StartsAt = _time(d["startsAt"])
        self.EndsAt = _time(d["endsAt"])
        self.GeneratorURL = d["generatorURL"]
        self.Fingerprint = d["fingerprint"]


class Alerts(list[Alert]):
    def Firing(self) -> Alerts:
        return Alerts(a for a in self if a.Status == "firing")

    def Resolved(self) -> Alerts:
        return Alerts(a for a in self if a.Status == "resolved")


class Data:
    __slots__ = ("Alerts", "CommonAnnotations", "CommonLabels", "ExternalURL", "GroupLabels", "Receiver", "Status")

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.Receiver = d["receiver"]
        self.Status = d["status"]
        self.Alerts = Alerts(Alert(a) for a in d["alerts"])
        self.GroupLabels = KV(d["groupLabels"])
        self.CommonLabels = KV(d["commonLabels"])
        self.CommonAnnotations = KV(d["commonAnnotations"])
        self.ExternalURL = d["externalURL"]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def to_json(v: Any) -> Any:
    """JSON of the data model with Go's JSON names (``toJson``)."""
    from alerts.amdata import rfc3339

    if isinstance(v, Alert):
        return {
            "status": v.Status,
            "labels": dict(v.Labels),
            "annotations": dict(v.Annotations),
            "startsAt": rfc3339(v.StartsAt),
            "endsAt": rfc3339(None if v.EndsAt.year == 1 else v.EndsAt),
            "generatorURL": v.GeneratorURL,
            "fingerprint": v.Fingerprint,
        }
    if isinstance(v, datetime):
        return rfc3339(v)
    if isinstance(v, Pair):
        return {"Name": v.Name, "Value": v.Value}
    if isinstance(v, Data):
        return {s: getattr(v, s) for s in Data.__slots__}
    raise TypeError(f"cannot encode {type(v).__name__}")


def to_template_data(d: Mapping[str, Any]) -> Data:
    """From :func:`alerts.amdata.payload_data`'s JSON shape."""
    return Data(d)
