"""Attribution from activity-log records: who changed a resource, when, from where, under which correlation id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.model import Finding, ResourceRef, Severity, Status
from detectors.activity.attribution import attribute, with_attribution
from tests.support.activity import SUB, event, operation_records

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
WS = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw"


def records() -> list[dict[str, object]]:
    recs = operation_records(
        "Microsoft.MachineLearningServices/workspaces/write",
        WS,
        NOW - timedelta(hours=3),
        caller="old@contoso.com",
        ip="10.0.0.1",
    )
    recs += operation_records(
        "Microsoft.MachineLearningServices/workspaces/write",
        WS,
        NOW - timedelta(hours=1),
        caller="carol@contoso.com",
        ip="203.0.113.7",
    )
    recs += operation_records(  # failed: changed nothing
        "Microsoft.MachineLearningServices/workspaces/write",
        WS,
        NOW - timedelta(minutes=30),
        caller="mallory@contoso.com",
        final="Failed",
    )
    recs.append(  # a read changes nothing either
        event(
            "Microsoft.MachineLearningServices/workspaces/listKeys/action",
            WS,
            NOW - timedelta(minutes=20),
            caller="eve@contoso.com",
            method="POST",
        )
    )
    return recs  # type: ignore[return-value]


def test_attribute_gives_the_latest_successful_change_at_or_before_a_time() -> None:
    a = attribute(records(), WS.upper())
    assert a is not None
    assert a.changed_by == "carol@contoso.com"
    assert a.caller_ip == "203.0.113.7"
    assert a.changed_at == NOW - timedelta(hours=1)
    assert a.correlation_id
    earlier = attribute(records(), WS, at=NOW - timedelta(hours=2))
    assert earlier is not None
    assert earlier.changed_by == "old@contoso.com"
    assert attribute(records(), WS, at=NOW - timedelta(hours=4)) is None
    assert attribute(records(), WS + "-other") is None


def test_a_child_or_extension_change_attributes_its_parent() -> None:
    diag = f"{WS}/providers/Microsoft.Insights/diagnosticSettings/to-law"
    recs = operation_records(
        "Microsoft.Insights/diagnosticSettings/delete",
        diag,
        NOW - timedelta(minutes=5),
        caller="dave@contoso.com",
        method="DELETE",
    )
    a = attribute(recs, WS)
    assert a is not None
    assert a.changed_by == "dave@contoso.com"


def finding(detector: str, changed_by: str | None) -> Finding:
    ann = {"title": "t"} if changed_by is None else {"title": "t", "changed_by": changed_by}
    return Finding(detector, "rule", Status.FIRING, Severity.HIGH, ResourceRef.from_id(WS), NOW, annotations=ann)


def test_with_attribution_fills_only_findings_without_a_caller() -> None:
    unknown, missing, known, other = (
        finding("drift", "unknown"),
        finding("idle", None),
        finding("drift", "bob@contoso.com"),
        finding("overspend", None),
    )
    out = with_attribution([unknown, missing, known, other], records())
    assert out[0].annotations["changed_by"] == "carol@contoso.com"
    assert out[0].annotations["caller_ip"] == "203.0.113.7"
    assert out[0].annotations["changed_at"] == "2026-12-01T11:00:00Z"
    assert out[0].annotations["changed_by_source"] == "activity log"
    assert out[1].annotations["changed_by"] == "carol@contoso.com"
    assert out[2] is known
    assert out[3] is other
    assert out[0].fingerprint == unknown.fingerprint  # annotations only: the alert's identity is unchanged


def test_a_bare_principal_id_is_replaced_by_the_activity_logs_caller_and_kept() -> None:
    (out,) = with_attribution([finding("drift", "principal:2468adf0")], records())
    assert out.annotations["changed_by"] == "carol@contoso.com"
    assert out.annotations["event_principal"] == "2468adf0"
