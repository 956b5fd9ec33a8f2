"""The pipeline: findings -> alerts -> inhibit -> silence -> route -> group -> dedup -> outbox.

Delivery is the production path: the alerts queue (``QueueOutbox`` over the CLI's
``LocalRuntime``) drained by its trigger ``vigil.handlers.dispatch_alert`` (``AlertsQueue``), with
recording notifiers in place of the channels. Retries are the queue host's: a failed message is
redelivered by the next drain, and given up on after ``MAX_DEQUEUE_COUNT`` attempts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerts.dispatch import deliver
from alerts.outbox import QueueOutbox
from alerts.pipeline import process
from alerts.silences import create_silence, expire_silence
from alerts.testing import MemoryStore, RecordingNotifier, finding
from core.model import Severity, Status
from core.runtime import MAX_DEQUEUE_COUNT
from core.state.base import Namespace
from tests.alerts.helpers import T0, AlertsQueue
from vigil.config import VigilConfig, parse_config

OLD = T0 - timedelta(hours=1)
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Compute"


def vm(i: int) -> str:
    return f"{SUB}/virtualMachines/vm{i}"


def cfg(route: dict[str, Any] | None = None, **extra: Any) -> VigilConfig:
    base_route = {"receiver": "team", "group_by": ["alertname"], "group_wait": "30s", "group_interval": "5m"}
    return parse_config(
        {
            "route": {**base_route, **(route or {})},
            "receivers": [
                {"name": "team", "msteamsv2_configs": [{"webhook_url": "http://unused"}]},
                {"name": "mail", "email_configs": [{"to": "a@example.com", "smarthost": "x:25"}]},
                {"name": "blackhole"},
            ],
            **extra,
        }
    )


def run(config: VigilConfig, store: MemoryStore, findings: list[Any], at: Any, rec: RecordingNotifier) -> Any:
    q = AlertsQueue(config, store, notifiers={"msteams": rec, "email": rec})
    res = process(findings, config=config, store=store, outbox=q.outbox, now=at)
    q.deliver(at)
    return res


def test_rerun_with_same_findings_sends_nothing_new(mem: MemoryStore) -> None:
    c, rec = cfg(), RecordingNotifier()
    fs = [finding(resource=vm(i), observed_at=T0) for i in range(3)]
    r1 = run(c, mem, fs, T0 + timedelta(minutes=1), rec)
    assert len(r1.enqueued) == 1
    assert len(rec.calls) == 1
    assert len(rec.calls[0].alerts) == 3
    for k in range(1, 6):  # repeated runs within repeat_interval: nothing
        r = run(c, mem, fs, T0 + timedelta(minutes=1 + k), rec)
        assert r.enqueued == []
        assert r.up_to_date == 1
    assert len(rec.calls) == 1


def test_group_wait_holds_new_group_until_due(mem: MemoryStore) -> None:
    c, rec = cfg(), RecordingNotifier()
    f = finding(observed_at=T0)
    r = run(c, mem, [f], T0 + timedelta(seconds=10), rec)
    assert r.pending == 1
    assert r.next_flush_at == T0 + timedelta(seconds=30)
    assert rec.calls == []
    # a second alert arriving during group_wait joins the same first notification
    r = run(c, mem, [finding(resource=vm(2), observed_at=T0 + timedelta(seconds=20))], T0 + timedelta(seconds=20), rec)
    assert rec.calls == []
    r = run(c, mem, [], T0 + timedelta(seconds=30), rec)  # flush with no new findings
    assert len(r.enqueued) == 1
    assert len(rec.calls) == 1
    assert len(rec.calls[0].alerts) == 2


def test_old_alert_is_notified_at_once(mem: MemoryStore) -> None:
    """As Alertmanager: an alert whose group_wait is already over flushes immediately."""
    rec = RecordingNotifier()
    run(cfg(), mem, [finding(observed_at=T0 - timedelta(hours=1))], T0, rec)
    assert len(rec.calls) == 1


def test_group_interval_and_new_alert(mem: MemoryStore) -> None:
    c, rec = cfg(), RecordingNotifier()
    run(c, mem, [finding(resource=vm(1), observed_at=T0)], T0 + timedelta(minutes=1), rec)
    assert len(rec.calls) == 1
    # a new alert in the same group is held until group_interval after the last notification
    r = run(c, mem, [finding(resource=vm(2), observed_at=T0 + timedelta(minutes=2))], T0 + timedelta(minutes=2), rec)
    assert r.pending == 1
    assert r.next_flush_at == T0 + timedelta(minutes=6)
    assert len(rec.calls) == 1
    run(c, mem, [], T0 + timedelta(minutes=6), rec)
    assert len(rec.calls) == 2
    assert {v.fingerprint for v in rec.calls[1].alerts} == {
        finding(resource=vm(1)).fingerprint,
        finding(resource=vm(2)).fingerprint,
    }


def test_repeat_interval(mem: MemoryStore) -> None:
    c, rec = cfg({"repeat_interval": "1h"}), RecordingNotifier()
    fs = [finding(observed_at=T0)]
    run(c, mem, fs, T0 + timedelta(minutes=1), rec)
    run(c, mem, fs, T0 + timedelta(minutes=59), rec)
    assert len(rec.calls) == 1
    run(c, mem, fs, T0 + timedelta(minutes=62), rec)
    assert len(rec.calls) == 2
    run(c, mem, fs, T0 + timedelta(minutes=63), rec)
    assert len(rec.calls) == 2


def test_resolved_notifications_follow_send_resolved(mem: MemoryStore) -> None:
    c = cfg(
        {"routes": [{"matchers": ['alertname="to-mail"'], "receiver": "mail"}]},
    )
    teams, mail = RecordingNotifier(), RecordingNotifier()
    q = AlertsQueue(c, mem, notifiers={"msteams": teams, "email": mail})

    def step(fs: list[Any], at: Any) -> None:
        process(fs, config=c, store=mem, outbox=q.outbox, now=at)
        q.deliver(at)

    a = finding(rule="to-teams", observed_at=T0)
    b = finding(rule="to-mail", observed_at=T0)
    step([a, b], T0 + timedelta(minutes=1))
    assert len(teams.calls) == 1
    assert len(mail.calls) == 1
    ra = finding(rule="to-teams", status=Status.RESOLVED, observed_at=T0 + timedelta(minutes=10))
    rb = finding(rule="to-mail", status=Status.RESOLVED, observed_at=T0 + timedelta(minutes=10))
    step([ra, rb], T0 + timedelta(minutes=10))
    # Teams has send_resolved true (default for msteams): it gets the resolved notice
    assert len(teams.calls) == 2
    assert teams.calls[1].status == "resolved"
    # email's send_resolved defaults to false (as Alertmanager): nothing is sent, but the log moves on
    assert len(mail.calls) == 1
    step([ra, rb], T0 + timedelta(minutes=30))
    assert len(teams.calls) == 2
    assert len(mail.calls) == 1


def test_resolved_finding_for_unknown_alert_is_ignored(mem: MemoryStore) -> None:
    rec = RecordingNotifier()
    r = run(cfg(), mem, [finding(status=Status.RESOLVED, observed_at=T0)], T0, rec)
    assert r.ignored == 1
    assert r.alerts == 0
    assert rec.calls == []


def test_starts_at_is_kept_while_firing(mem: MemoryStore) -> None:
    rec = RecordingNotifier()
    run(cfg(), mem, [finding(observed_at=T0)], T0 + timedelta(minutes=1), rec)
    run(cfg(), mem, [finding(observed_at=T0 + timedelta(hours=2))], T0 + timedelta(hours=2), rec)
    (r,) = list(mem.query(Namespace.ALERTS))
    assert r.value["starts_at"] == T0.isoformat()


def test_silence_mutes_then_expiry_notifies(mem: MemoryStore) -> None:
    c, rec = cfg(), RecordingNotifier()
    s = create_silence(
        mem, matchers=['alertname="vm-idle"'], duration=timedelta(hours=24), created_by="me", comment="x", now=T0
    )
    r = run(c, mem, [finding(observed_at=T0)], T0 + timedelta(minutes=1), rec)
    assert r.silenced == 1
    assert rec.calls == []
    expire_silence(mem, s.id, now=T0 + timedelta(minutes=2))
    run(c, mem, [], T0 + timedelta(minutes=3), rec)
    assert len(rec.calls) == 1


def test_inhibition_equal_labels(mem: MemoryStore) -> None:
    c = cfg(
        {"group_by": ["alertname", "resource_id"]},
        inhibit_rules=[
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="low"'],
                "equal": ["resource_id"],
            }
        ],
    )
    rec = RecordingNotifier()
    crit = finding(rule="disk-public", severity=Severity.CRITICAL, resource=vm(1), observed_at=T0)
    low_same = finding(rule="vm-idle", severity=Severity.LOW, resource=vm(1), observed_at=T0)
    low_other = finding(rule="vm-idle", severity=Severity.LOW, resource=vm(2), observed_at=T0)
    r = run(c, mem, [crit, low_same, low_other], T0 + timedelta(minutes=1), rec)
    assert r.inhibited == 1
    sent = set(rec.fingerprints)
    assert crit.fingerprint in sent
    assert low_other.fingerprint in sent
    assert low_same.fingerprint not in sent


def test_blackhole_receiver_and_continue_fanout(mem: MemoryStore) -> None:
    c = cfg(
        {
            "routes": [
                {"matchers": ['severity="high"'], "receiver": "team", "continue": True},
                {"matchers": ['severity="high"'], "receiver": "mail"},
                {"matchers": ['severity="low"'], "receiver": "blackhole"},
            ]
        }
    )
    rec = RecordingNotifier()
    r = run(c, mem, [finding(observed_at=OLD), finding(rule="x", severity=Severity.LOW, observed_at=OLD)], T0, rec)
    assert {p.receiver for p in rec.calls} == {"team", "mail"}
    assert len(r.enqueued) == 2  # one message per (receiver, group); the black hole gets none


def test_mute_and_active_time_intervals(mem: MemoryStore) -> None:
    c = cfg(
        {
            "routes": [
                {"matchers": ['alertname="a"'], "mute_time_intervals": ["weekend"]},
                {"matchers": ['alertname="b"'], "active_time_intervals": ["weekend"]},
            ]
        },
        time_intervals=[{"name": "weekend", "time_intervals": [{"weekdays": ["saturday:sunday"]}]}],
    )
    rec = RecordingNotifier()
    saturday = T0 + timedelta(days=5)
    r = run(c, mem, [finding(rule="a", observed_at=T0), finding(rule="b", observed_at=T0)], saturday, rec)
    assert r.time_muted == 1
    assert [p.common_labels()["alertname"] for p in rec.calls] == ["b"]
    monday = T0 + timedelta(days=7)
    run(c, mem, [], monday, rec)
    assert [p.common_labels()["alertname"] for p in rec.calls] == ["b", "a"]


def test_deliver_is_idempotent(mem: MemoryStore) -> None:
    c, rec = cfg(), RecordingNotifier()
    q = AlertsQueue(c, mem)
    r = process([finding(observed_at=T0)], config=c, store=mem, outbox=q.outbox, now=T0 + timedelta(minutes=1))
    (msg,) = r.messages
    for _ in range(3):  # a retried dispatcher, or the queue delivering twice
        deliver(msg, config=c, store=mem, notifiers={"msteams": rec}, now=T0 + timedelta(minutes=1))
    assert len(rec.calls) == 1


def test_failed_send_is_not_logged_and_retries(mem: MemoryStore) -> None:
    from alerts.notify import NotifyResult

    c = cfg()
    rec = RecordingNotifier(script=[NotifyResult(False, True, "HTTP 503"), NotifyResult(False, True, "HTTP 503")])
    q = AlertsQueue(c, mem, notifiers={"msteams": rec})
    process([finding(observed_at=OLD)], config=c, store=mem, outbox=q.outbox, now=T0)
    t = T0
    d = q.deliver(t)
    assert d.retried == 1
    assert list(mem.query(Namespace.NFLOG)) == []
    assert len(q.pending()) == 1  # still queued: the host redelivers it
    t = T0 + timedelta(seconds=30)
    d = q.deliver(t)
    assert (d.delivered, d.retried) == (0, 1)
    t = T0 + timedelta(seconds=60)
    d = q.deliver(t)
    assert d.delivered == 1
    assert len(rec.calls) == 3
    assert q.pending() == []
    (e,) = q.entries()
    assert e.state == "sent"
    assert e.attempts == 3
    # nothing more is enqueued afterwards
    assert process([finding(observed_at=OLD)], config=c, store=mem, outbox=q.outbox, now=t).enqueued == []


def test_gives_up_after_max_attempts(mem: MemoryStore) -> None:
    from alerts.notify import NotifyResult

    c = cfg()
    rec = RecordingNotifier(script=[NotifyResult(False, True, "HTTP 429")] * 10)
    q = AlertsQueue(c, mem, notifiers={"msteams": rec})
    process([finding(observed_at=OLD)], config=c, store=mem, outbox=q.outbox, now=T0)
    for k in range(10):
        q.deliver(T0 + timedelta(minutes=k))
    (e,) = q.entries(failed=True)
    assert e.attempts == MAX_DEQUEUE_COUNT
    assert f"gave up after {MAX_DEQUEUE_COUNT} attempts" in e.last_error
    assert "429" in e.last_error
    assert len(rec.calls) == MAX_DEQUEUE_COUNT
    assert len(q.poisoned()) == 1  # the host's poison queue keeps the message


def test_non_retryable_goes_straight_to_failed(mem: MemoryStore) -> None:
    from alerts.notify import NotifyResult

    c = cfg()
    rec = RecordingNotifier(script=[NotifyResult(False, False, "HTTP 400")])
    q = AlertsQueue(c, mem, notifiers={"msteams": rec})
    process([finding(observed_at=OLD)], config=c, store=mem, outbox=q.outbox, now=T0)
    d = q.deliver(T0)
    assert d.failed == 1
    assert q.pending() == []  # not redelivered
    assert q.entries(failed=True)[0].last_error.endswith("HTTP 400")


@pytest.mark.parametrize("n", [1, 50])
def test_each_alert_identity_is_labels_only(mem: MemoryStore, n: int) -> None:
    rec = RecordingNotifier()
    fs = [finding(observed_at=T0, annotations={"summary": f"v{k}"}) for k in range(n)]
    r = run(cfg(), mem, fs, T0 + timedelta(minutes=1), rec)
    assert r.alerts == 1  # annotations never split an alert


def test_works_on_the_sqlite_store(sqlite_store: Any) -> None:
    c, rec = cfg(), RecordingNotifier()
    fs = [finding(resource=vm(i), observed_at=T0) for i in range(4)]
    run(c, sqlite_store, fs, T0 + timedelta(minutes=1), rec)
    run(c, sqlite_store, fs, T0 + timedelta(minutes=2), rec)
    assert len(rec.calls) == 1
    assert len(rec.calls[0].alerts) == 4


def test_hot_path_fingerprint_equals_model_fingerprint() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from alerts.alertstate import label_fingerprint
    from core.model import fingerprint

    @given(st.dictionaries(st.text(min_size=1), st.text(), max_size=6))
    def check(labels: dict[str, str]) -> None:
        assert label_fingerprint(labels) == fingerprint(labels)

    check()


def test_crash_before_enqueue_loses_nothing(mem: MemoryStore) -> None:
    """Alert state is written before the outbox: a crash in between is repaired by the next run."""
    c, rec = cfg(), RecordingNotifier()

    class Broken(QueueOutbox):
        def enqueue(self, message: Any, *, now: Any, delay: Any = timedelta(0)) -> bool:
            raise RuntimeError("queue unavailable")

    with pytest.raises(RuntimeError):
        process([finding(observed_at=OLD)], config=c, store=mem, outbox=Broken(*_queue_args(c, mem)), now=T0)
    r = run(c, mem, [], T0 + timedelta(minutes=1), rec)  # a later run, even without findings
    assert len(r.enqueued) == 1
    assert len(rec.calls) == 1


def test_capture_notifications_helper(mem: MemoryStore) -> None:
    from alerts.testing import capture_notifications

    c = cfg({"routes": [{"matchers": ['alertname="m"'], "receiver": "mail"}]})
    rec, notifiers = capture_notifications()
    q = AlertsQueue(c, mem, notifiers=dict(notifiers))
    process(
        [finding(observed_at=OLD), finding(rule="m", observed_at=OLD)], config=c, store=mem, outbox=q.outbox, now=T0
    )
    q.deliver(T0)
    assert sorted(p.integration for p in rec.calls) == ["email[0]", "msteamsv2[0]"]


def test_partial_failure_is_not_requeued_as_a_new_notification(mem: MemoryStore) -> None:
    """Teams succeeds, email keeps failing: re-runs must not queue a second email for the same content."""
    from alerts.notify import NotifyResult

    c = parse_config(
        {
            "route": {"receiver": "both", "group_wait": "0s", "group_interval": "1m"},
            "receivers": [
                {
                    "name": "both",
                    "msteamsv2_configs": [{"webhook_url": "http://x"}],
                    "email_configs": [{"to": "a@example.com", "smarthost": "x:25"}],
                }
            ],
        }
    )
    teams = RecordingNotifier()
    mail = RecordingNotifier(script=[NotifyResult(False, True, "SMTP 451")] * 3)
    q = AlertsQueue(c, mem, notifiers={"msteams": teams, "email": mail})
    f = [finding(observed_at=OLD)]
    for k in range(8):  # pipeline every minute, dispatcher every minute
        at = T0 + timedelta(minutes=k)
        process(f, config=c, store=mem, outbox=q.outbox, now=at)
        q.deliver(at)
    assert len(teams.calls) == 1
    assert len(mail.calls) == 4  # three failures, then one success
    assert len(q.entries()) == 1, [(e.state, e.attempts, e.detail, e.enqueued_at) for e in q.entries()]


def test_gc_forgets_old_log_entries_and_finished_outbox_records(mem: MemoryStore) -> None:
    from alerts.pipeline import gc

    c, rec = cfg(), RecordingNotifier()
    run(c, mem, [finding(observed_at=OLD)], T0, rec)
    assert len(list(mem.query(Namespace.NFLOG))) == 1
    assert gc(mem, T0 + timedelta(days=1)) == {"nflog": 0, "outbox": 0}
    assert gc(mem, T0 + timedelta(days=8)) == {"nflog": 1, "outbox": 1}
    assert list(mem.query(Namespace.OUTBOX)) == []


def test_resolved_alert_is_shown_once_then_dropped_from_later_notifications(mem: MemoryStore) -> None:
    c, rec = cfg({"repeat_interval": "1h"}), RecordingNotifier()
    a, b = finding(resource=vm(1), observed_at=OLD), finding(resource=vm(2), observed_at=OLD)
    run(c, mem, [a, b], T0, rec)
    b_res = finding(resource=vm(2), status=Status.RESOLVED, observed_at=T0 + timedelta(minutes=10))
    run(c, mem, [a, b_res], T0 + timedelta(minutes=10), rec)
    assert [len(p.firing) for p in rec.calls] == [2, 1]
    assert [v.fingerprint for v in rec.calls[1].resolved] == [b.fingerprint]
    run(c, mem, [a], T0 + timedelta(hours=2), rec)  # repeat: only the still-firing alert
    assert len(rec.calls) == 3
    assert [v.fingerprint for v in rec.calls[2].alerts] == [a.fingerprint]
    run(c, mem, [a], T0 + timedelta(hours=2, minutes=30), rec)
    assert len(rec.calls) == 3  # and no flip-flop afterwards


def _queue_args(config: VigilConfig, store: MemoryStore) -> tuple[Any, MemoryStore, str]:
    q = AlertsQueue(config, store)
    return q.rt, store, q.queue


def test_a_large_group_is_read_from_the_store_in_batches_not_per_alert(mem: MemoryStore) -> None:
    # Delivering one group used to read three records per alert (the alert, its ack, its remediation outcome):
    # 12,000 round trips to Table Storage for a group of 4,000. Now one batched read per namespace.
    reads: list[str] = []
    get, get_many = mem.get, mem.get_many

    def counted_get(namespace: Any, key: str) -> Any:
        reads.append(f"get {namespace}")
        return get(namespace, key)

    def counted_get_many(namespace: Any, keys: Any) -> Any:
        reads.append(f"get_many {namespace}")
        return get_many(namespace, keys)

    c, rec = cfg({"group_by": ["alertname"]}), RecordingNotifier()
    fs = [finding(resource=f"/subscriptions/s/vm{i:03d}", observed_at=T0) for i in range(300)]
    at = T0 + timedelta(minutes=1)
    (msg,) = process(fs, config=c, store=mem, outbox=AlertsQueue(c, mem).outbox, now=at).messages
    mem.get, mem.get_many = counted_get, counted_get_many  # type: ignore[method-assign]
    deliver(msg, config=c, store=mem, notifiers={"msteams": rec}, now=at)
    (payload,) = rec.calls
    assert len(payload.alerts) == 300
    per_namespace = {r for r in reads if r.startswith("get_many")}
    assert per_namespace == {"get_many alerts", "get_many acks", "get_many remediation_outcomes"}
    assert len(reads) < 30, reads  # a handful of point reads (the group's log, the config), not 300 x 3


def test_a_burst_of_new_alerts_is_written_in_one_batched_call(mem: MemoryStore) -> None:
    # 300 new alerts used to be 300 puts (300 round trips to Table Storage); now one put_many, which the
    # Table backend sends as entity-group transactions of up to 100 records.
    writes: list[tuple[str, int]] = []
    put, put_many = mem.put, mem.put_many

    def counted_put(namespace: Any, key: str, value: Any, **kw: Any) -> Any:
        writes.append((f"put {namespace}", 1))
        return put(namespace, key, value, **kw)

    def counted_put_many(namespace: Any, values: Any) -> None:
        writes.append((f"put_many {namespace}", len(values)))
        put_many(namespace, values)

    mem.put, mem.put_many = counted_put, counted_put_many  # type: ignore[method-assign]
    c = cfg({"group_by": ["alertname"]})
    fs = [finding(resource=f"/subscriptions/s/vm{i:03d}", observed_at=T0) for i in range(300)]
    process(fs, config=c, store=mem, outbox=AlertsQueue(c, mem).outbox, now=T0 + timedelta(minutes=1))
    assert ("put_many alerts", 300) in writes
    assert not [w for w in writes if w[0] == "put alerts"]
    assert len(list(mem.query("alerts"))) == 300
