"""The ``AzureActivity`` table of a Log Analytics workspace through ``azure-monitor-query``'s ``LogsQueryClient``.

For tenants that route the activity log to a workspace with a subscription diagnostic setting. The KQL
projects the columns of :data:`ingest.activity.records.COLUMNS` for ``TimeGenerated`` in the window
(the query's ``timespan`` says the same), optionally for some subscriptions, and the rows become
``EventData`` objects (:func:`ingest.activity.records.row_to_event`). A ``PartialError`` answer
(``LogsQueryPartialResult``: rows plus an error, e.g. a result over the API's limits) delivers its rows
but is marked incomplete, so the reader keeps the checkpoint and reads the window again. 429s are
retried by the SDK's retry policy, which honours ``Retry-After``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ingest.activity.reader import Fetched, iso
from ingest.activity.records import COLUMNS, rows_of_table

__all__ = ["LogAnalyticsActivitySource", "activity_query"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def activity_query(start: datetime, end: datetime, subscription_ids: Iterable[str] = ()) -> str:
    """The KQL over ``AzureActivity`` for one window (subscription ids are checked GUIDs: nothing else enters)."""
    subs = [s.lower() for s in subscription_ids]
    bad = [s for s in subs if not _GUID.match(s)]
    if bad:
        raise ValueError(f"not subscription ids: {bad}")
    lines = [
        "AzureActivity",
        f"| where TimeGenerated between (datetime({iso(start)}) .. datetime({iso(end)}))",
    ]
    if subs:
        lines.append("| where SubscriptionId in~ (" + ", ".join(f"'{s}'" for s in subs) + ")")
    lines.append("| project " + ", ".join(COLUMNS))
    lines.append("| order by TimeGenerated asc")
    return "\n".join(lines)


class LogAnalyticsActivitySource:
    def __init__(self, client: Any, workspace_id: str, subscription_ids: Iterable[str] = ()) -> None:
        self._client = client
        self.workspace_id = workspace_id.lower()
        self.subscription_ids = tuple(subscription_ids)

    @property
    def key(self) -> str:
        return f"log_analytics/{self.workspace_id}"

    def fetch(self, start: datetime, end: datetime) -> Fetched:
        from azure.monitor.query import LogsQueryStatus

        result = self._client.query_workspace(
            self.workspace_id, activity_query(start, end, self.subscription_ids), timespan=(start, end)
        )
        if result.status == LogsQueryStatus.PARTIAL:
            tables, error = result.partial_data, result.partial_error
            problem = f"{getattr(error, 'code', '')}: {getattr(error, 'message', '')}".strip(": ")
            complete = False
        else:
            tables, problem, complete = result.tables, "", True
        records = []
        for table in tables:
            records += rows_of_table(list(table.columns), (list(row) for row in table.rows))
        return Fetched(records, complete, problem)

    @classmethod
    def connect(
        cls, credential: Any, workspace_id: str, subscription_ids: Iterable[str] = (), **client_kwargs: Any
    ) -> LogAnalyticsActivitySource:
        """Build the real client (``client_kwargs``: ``endpoint``, ``connection_verify``, retry settings)."""
        from azure.monitor.query import LogsQueryClient

        return cls(LogsQueryClient(credential, **client_kwargs), workspace_id, subscription_ids)
