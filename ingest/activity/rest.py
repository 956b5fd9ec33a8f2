"""The Activity Log REST API through ``azure-mgmt-monitor``: ``MonitorManagementClient.activity_logs.list``.

``GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01
&$filter=eventTimestamp ge '<start>' and eventTimestamp le '<end>'[ and resourceProvider eq '<ns>']``
(Activity Logs - List, https://learn.microsoft.com/rest/api/monitor/activity-logs/list): the SDK
follows ``nextLink`` and its retry policy honours ``Retry-After`` on 429. One call per resource
provider when some are configured (the filter takes one), else one for the whole subscription.
Records come back as the REST ``EventData`` JSON (``serialize(keep_readonly=True)``), the shape a
tenant folder's ``activity/`` holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ingest.activity.reader import Fetched, iso

__all__ = ["RestActivitySource", "activity_filter"]


def activity_filter(
    start: datetime, end: datetime, provider: str | None = None, *, resource_uri: str | None = None
) -> str:
    """The ``$filter``: a time window, and one resource provider or one resource (``resourceUri``)."""
    text = f"eventTimestamp ge '{iso(start)}' and eventTimestamp le '{iso(end)}'"
    for name, value in (("resourceProvider", provider), ("resourceUri", resource_uri)):
        if value:
            if "'" in value:
                raise ValueError(f"{name} {value!r} contains a quote")
            text += f" and {name} eq '{value}'"
    return text


def _as_dict(item: Any) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    body: Mapping[str, Any] = item.serialize(keep_readonly=True)
    return body


class RestActivitySource:
    """One subscription's activity log. ``client``: a ``MonitorManagementClient`` for that subscription
    (or a factory result in tests pointed at the local HTTPS server)."""

    def __init__(self, client: Any, subscription_id: str, resource_providers: Iterable[str] = ()) -> None:
        self._client = client
        self.subscription_id = subscription_id.lower()
        self.resource_providers = tuple(resource_providers)

    @property
    def key(self) -> str:
        return f"rest/{self.subscription_id}"

    def fetch(self, start: datetime, end: datetime) -> Fetched:
        records: list[Mapping[str, Any]] = []
        for provider in self.resource_providers or (None,):
            for item in self._client.activity_logs.list(filter=activity_filter(start, end, provider)):
                records.append(_as_dict(item))
        return Fetched(records)

    def for_resource(self, resource_id: str, start: datetime, end: datetime) -> list[Mapping[str, Any]]:
        """One resource's records in the window (``resourceUri`` filter), e.g. for a drift timeline."""
        flt = activity_filter(start, end, resource_uri=resource_id)
        return [_as_dict(item) for item in self._client.activity_logs.list(filter=flt)]

    @classmethod
    def connect(
        cls, credential: Any, subscription_id: str, resource_providers: Iterable[str] = (), **client_kwargs: Any
    ) -> RestActivitySource:
        """Build the real client (``client_kwargs``: ``base_url``, ``connection_verify``, retry settings)."""
        from azure.mgmt.monitor import MonitorManagementClient

        client = MonitorManagementClient(credential, subscription_id, **client_kwargs)
        return cls(client, subscription_id, resource_providers)
