"""Activity-log sources: the Activity Log REST API and the ``AzureActivity`` table in Log Analytics.

Both give records in one shape, the Activity Log REST ``EventData`` object (what ``activity_logs.list``
returns and what a tenant folder's ``activity/`` holds), read incrementally by :mod:`ingest.activity.reader`:
a checkpoint per source with an overlap window, and records deduplicated by ``eventDataId``.
"""
