"""Activity detector: security findings on control-plane operations read from the activity log.

Input: Activity Log REST ``EventData`` records (what ``ingest.activity`` and a tenant folder's
``activity/`` give). Pure: records, config and ``now`` in, findings out. See README.md.
"""
