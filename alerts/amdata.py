"""Alertmanager's notification data model, built from a Vigil notification.

One shape serves the webhook payload (version 4), the templates' ``.`` (``template.Data``) and the
channels that follow Alertmanager's defaults (Slack, PagerDuty, Opsgenie):

- ``Data``: receiver, status, alerts, groupLabels, commonLabels, commonAnnotations, externalURL;
- ``Alert``: status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint.

Times are RFC 3339 in UTC with a ``Z``, as Go marshals them; a firing alert's ``endsAt`` is Go's zero
time (``0001-01-01T00:00:00Z``), as Alertmanager sends it. ``generatorURL`` is the Azure portal page of
the alert's resource (``resource_id`` label), Vigil's counterpart of Prometheus' graph link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from alerts.channels.msteams import portal_url
from alerts.notify import AlertView, NotificationPayload

__all__ = ["GO_ZERO_TIME", "alert_dict", "common_annotations", "generator_url", "payload_data", "rfc3339"]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(dt: datetime | None) -> str:
    if dt is None:
        return GO_ZERO_TIME
    u = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    text = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
    if u.microsecond:
        text += f".{u.microsecond:06d}".rstrip("0")
    return text + "Z"


def generator_url(labels: Mapping[str, str]) -> str:
    return portal_url(labels.get("resource_id", ""))


def alert_dict(view: AlertView) -> dict[str, Any]:
    a = view.alert
    return {
        "status": a.status.value,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(a.ends_at),
        "generatorURL": generator_url(a.labels),
        "fingerprint": view.fingerprint,
    }


def common_annotations(payload: NotificationPayload) -> dict[str, str]:
    if not payload.alerts:
        return {}
    first = dict(payload.alerts[0].alert.annotations)
    for v in payload.alerts[1:]:
        first = {k: x for k, x in first.items() if v.alert.annotations.get(k) == x}
    return first


def payload_data(payload: NotificationPayload, *, external_url: str = "") -> dict[str, Any]:
    """Alertmanager's ``template.Data`` for this notification (JSON field names)."""
    return {
        "receiver": payload.receiver,
        "status": payload.status,
        "alerts": [alert_dict(v) for v in payload.alerts],
        "groupLabels": dict(payload.group_labels),
        "commonLabels": payload.common_labels(),
        "commonAnnotations": common_annotations(payload),
        "externalURL": external_url,
    }
