"""The weekly finance digest: spend, anomalies, idle savings and drift, with a chart."""

from alerts.digest.data import (
    Digest,
    DigestError,
    FindingRecord,
    Scope,
    ScopeSet,
    build_digest,
    load_findings,
    parse_scope,
    parse_week,
)
from alerts.digest.render import MAX_EMAIL_BYTES, DigestTooLargeError, RenderedDigest, render

__all__ = [
    "MAX_EMAIL_BYTES",
    "Digest",
    "DigestError",
    "DigestTooLargeError",
    "FindingRecord",
    "RenderedDigest",
    "Scope",
    "ScopeSet",
    "build_digest",
    "load_findings",
    "parse_scope",
    "parse_week",
    "render",
]
