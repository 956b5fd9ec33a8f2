"""Alertmanager receiver types delivered for real: each against a local HTTP server that checks the
documented request and answers as the service does.

Documented requests checked:
- Slack incoming webhook (api.slack.com/messaging/webhooks): JSON with ``text`` or ``attachments``;
  answers 200 ``ok``, 400 ``invalid_payload``. ``chat.postMessage`` (api.slack.com/methods/chat.postMessage):
  ``Authorization: Bearer <token>``, ``channel`` required; always HTTP 200 with ``{"ok": bool, "error"}``.
- PagerDuty Events API v2 (developer.pagerduty.com, "Send an Alert Event"): ``routing_key``,
  ``event_action`` in trigger/acknowledge/resolve, ``dedup_key`` ≤ 255 chars; trigger needs
  ``payload.summary`` (≤ 1024), ``payload.source`` and ``payload.severity`` in critical/error/warning/info;
  answers 202 ``{"status": "success", "dedup_key": ...}``, 400 ``{"status": "invalid event"}``.
- Opsgenie Alert API (docs.opsgenie.com, "Create Alert", "Close Alert"): ``Authorization: GenieKey <key>``;
  create ``POST /v2/alerts`` with ``message`` (≤ 130), ``alias`` (≤ 512); close
  ``POST /v2/alerts/<alias>/close?identifierType=alias``; answers 202 ``{"result": ..., "requestId": ...}``.
- Alertmanager webhook payload version 4 (prometheus.io/docs/alerting/latest/configuration/#webhook_config).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from alerts.pipeline import process
from alerts.testing import MemoryStore, finding
from core.model import Status
from tests.alerts.helpers import T0, AlertsQueue, Delivered, Reply, serve
from vigil.config import parse_config

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/"
    "Microsoft.Compute/virtualMachines/vm1"
)


def _cfg(receiver: dict[str, Any], **top: Any) -> Any:
    return parse_config(
        {
            "route": {"receiver": "r", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1m"},
            "receivers": [{"name": "r", **receiver}],
            **top,
        }
    )


def _fire_and_resolve(cfg: Any, *, annotations: dict[str, str] | None = None) -> list[Delivered]:
    store = MemoryStore()
    q = AlertsQueue(cfg, store)
    results = []
    f = finding(observed_at=T0, annotations=annotations or {"summary": "VM idle <b>&</b> costly"})
    for fs, at in (
        ([f], T0 + timedelta(minutes=1)),
        ([finding(status=Status.RESOLVED, observed_at=T0 + timedelta(minutes=10))], T0 + timedelta(minutes=10)),
    ):
        process(fs, config=cfg, store=store, outbox=q.outbox, now=at)
        results.append(q.deliver(at))
    return results


# -- Slack -------------------------------------------------------------------------------------------


def _slack_webhook(n: int, path: str, body: bytes) -> Reply:
    try:
        doc = json.loads(body)
    except ValueError:
        return Reply(400, "invalid_payload")
    if not isinstance(doc, dict) or not (doc.get("text") or doc.get("attachments")):
        return Reply(400, "no_text")
    return Reply(200, "ok")


def test_slack_incoming_webhook_gets_alertmanagers_message() -> None:
    with serve(_slack_webhook) as ep:
        cfg = _cfg(
            {
                "slack_configs": [
                    {
                        "api_url": ep.url,
                        "channel": "#ops",
                        "send_resolved": True,
                        "text": "{{ range .Alerts }}{{ .Annotations.summary }} {{ end }}",
                        "fields": [{"title": "severity", "value": "{{ .CommonLabels.severity }}", "short": True}],
                    }
                ]
            }
        )
        fired, resolved = _fire_and_resolve(cfg)
        assert fired.delivered == 1
        assert resolved.delivered == 1
    assert [r.reply.status for r in ep.received] == [200, 200]
    doc = ep.received[0].json()
    assert doc["channel"] == "#ops"
    assert doc["username"] == "Alertmanager"
    (att,) = doc["attachments"]
    # Alertmanager's default title: group label values, then the other common labels' values in parentheses
    assert att["title"].startswith("[FIRING:1] vm-idle (idle rg1 /subscriptions/")
    assert att["color"] == "danger"
    assert "title_link" not in att  # Alertmanager's default link is relative without an external URL
    assert att["fields"] == [{"title": "severity", "value": "high", "short": True}]
    assert att["mrkdwn_in"] == ["fallback", "pretext", "text"]
    # untrusted text reaches Slack escaped (&, <, > are Slack's control characters)
    assert att["text"] == "VM idle &lt;b&gt;&amp;&lt;/b&gt; costly "
    res = ep.received[1].json()["attachments"][0]
    assert res["title"].startswith("[RESOLVED] vm-idle")
    assert res["color"] == "good"


def test_slack_chat_post_message_uses_the_bearer_token_and_reads_the_ok_field() -> None:
    def web_api(n: int, path: str, body: bytes, *, headers: dict[str, str] | None = None) -> Reply:
        return Reply(200, "")

    tokens: list[str] = []

    def policy(n: int, path: str, body: bytes) -> Reply:
        doc = json.loads(body)
        if not doc.get("channel"):
            return Reply(200, json.dumps({"ok": False, "error": "channel_not_found"}))
        if n == 0:  # the first token is wrong, as Slack says it: HTTP 200, ok false
            return Reply(200, json.dumps({"ok": False, "error": "invalid_auth"}))
        return Reply(200, json.dumps({"ok": True, "channel": "C123", "ts": "1.2"}))

    with serve(policy) as ep:
        url = ep.url.replace("/hook", "/api/chat.postMessage")
        cfg = _cfg({"slack_configs": [{"app_token": "xoxb-test", "app_url": url, "channel": "#ops"}]})
        store = MemoryStore()
        q = AlertsQueue(cfg, store)
        process([finding(observed_at=T0)], config=cfg, store=store, outbox=q.outbox, now=T0 + timedelta(minutes=1))
        first = q.deliver(T0 + timedelta(minutes=1))
        tokens = [r.headers.get("Authorization", "") for r in ep.received]
    assert tokens == ["Bearer xoxb-test"]
    (failure,) = first.results[0].failures
    assert failure == ("slack[0]", "slack: invalid_auth", False)  # not retried: a bad token stays bad


# -- PagerDuty ---------------------------------------------------------------------------------------


def _pagerduty(n: int, path: str, body: bytes) -> Reply:
    doc = json.loads(body)
    errors = []
    if not isinstance(doc.get("routing_key"), str) or len(doc["routing_key"]) != 32:
        errors.append("routing_key must be a 32-character integration key")
    if doc.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action is invalid")
    if not doc.get("dedup_key") or len(doc["dedup_key"]) > 255:
        errors.append("dedup_key is invalid")
    if doc.get("event_action") == "trigger":
        p = doc.get("payload") or {}
        if not p.get("summary") or len(p["summary"]) > 1024:
            errors.append("payload.summary is missing or too long")
        if not p.get("source"):
            errors.append("payload.source is missing")
        if p.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("payload.severity is invalid")
    if errors:
        return Reply(
            400, json.dumps({"status": "invalid event", "message": "Event object is invalid", "errors": errors})
        )
    return Reply(202, json.dumps({"status": "success", "message": "Event processed", "dedup_key": doc["dedup_key"]}))


def test_pagerduty_events_v2_trigger_then_resolve_with_one_dedup_key() -> None:
    key = "a" * 32
    with serve(_pagerduty) as ep:
        cfg = _cfg(
            {
                "pagerduty_configs": [
                    {
                        "routing_key": key,
                        "url": ep.url,
                        "severity": '{{ if eq .CommonLabels.severity "high" }}critical{{ else }}warning{{ end }}',
                    }
                ]
            }
        )
        fired, resolved = _fire_and_resolve(cfg)
    assert [r.reply.status for r in ep.received] == [202, 202], [r.reply.body for r in ep.received]
    trig, res = (r.json() for r in ep.received)
    assert trig["event_action"] == "trigger"
    assert trig["payload"]["severity"] == "critical"
    assert trig["payload"]["summary"].startswith("[FIRING:1] vm-idle (")
    assert trig["payload"]["custom_details"]["num_firing"] == "1"
    assert "Labels:\n - alertname = vm-idle" in trig["payload"]["custom_details"]["firing"]
    assert trig["client"] == "Alertmanager"
    assert "client_url" not in trig  # relative without an external URL: left out
    assert res == {"routing_key": key, "event_action": "resolve", "dedup_key": trig["dedup_key"]}
    assert fired.delivered == resolved.delivered == 1


def test_pagerduty_rejection_is_a_failure_not_a_retry() -> None:
    with serve(_pagerduty) as ep:
        cfg = _cfg({"pagerduty_configs": [{"routing_key": "short", "url": ep.url}]})
        fired, _ = _fire_and_resolve(cfg)
    (failure,) = fired.results[0].failures
    assert failure[0] == "pagerduty[0]"
    assert "HTTP 400" in failure[1]
    assert failure[2] is False


# -- Opsgenie ----------------------------------------------------------------------------------------


def _opsgenie(n: int, path: str, body: bytes) -> Reply:
    doc = json.loads(body)
    if path == "/v2/alerts":
        if not doc.get("message") or len(doc["message"]) > 130 or len(doc.get("alias", "")) > 512:
            return Reply(422, json.dumps({"message": "Request body is not processable"}))
    elif not re.fullmatch(r"/v2/alerts/[0-9a-f]{64}/close\?identifierType=alias", path):
        return Reply(404, json.dumps({"message": "not found"}))
    return Reply(202, json.dumps({"result": "Request will be processed", "took": 0.1, "requestId": f"r{n}"}))


def test_opsgenie_creates_then_closes_by_alias() -> None:
    auth: list[str] = []
    with serve(_opsgenie) as ep:
        cfg = _cfg(
            {
                "opsgenie_configs": [
                    {
                        "api_url": ep.url.removesuffix("hook"),
                        "responders": [{"name": "ops", "type": "team"}],
                        "tags": "vigil,{{ .CommonLabels.severity }}",
                        "priority": "P2",
                    }
                ]
            },
            **{"global": {"opsgenie_api_key": "genie-key"}},
        )
        fired, resolved = _fire_and_resolve(cfg)
        auth = [r.headers["Authorization"] for r in ep.received]
    assert auth == ["GenieKey genie-key"] * 2
    create, close = ep.received
    assert create.path == "/v2/alerts"
    doc = create.json()
    assert doc["message"].startswith("[FIRING:1] vm-idle (")
    assert len(doc["message"]) <= 130
    assert doc["tags"] == ["vigil", "high"]
    assert doc["responders"] == [{"name": "ops", "type": "team"}]
    assert doc["priority"] == "P2"
    assert close.path == f"/v2/alerts/{doc['alias']}/close?identifierType=alias"
    assert fired.delivered == resolved.delivered == 1


# -- webhook payload version 4 -----------------------------------------------------------------------

V4_FIELDS = {
    "version": str,
    "groupKey": str,
    "truncatedAlerts": int,
    "status": str,
    "receiver": str,
    "groupLabels": dict,
    "commonLabels": dict,
    "commonAnnotations": dict,
    "externalURL": str,
    "alerts": list,
}
V4_ALERT_FIELDS = {
    "status": str,
    "labels": dict,
    "annotations": dict,
    "startsAt": str,
    "endsAt": str,
    "generatorURL": str,
    "fingerprint": str,
}


def _webhook_v4(n: int, path: str, body: bytes) -> Reply:
    doc = json.loads(body)
    problems = [k for k, t in V4_FIELDS.items() if not isinstance(doc.get(k), t)]
    for a in doc.get("alerts", []):
        problems += [f"alerts[].{k}" for k, t in V4_ALERT_FIELDS.items() if not isinstance(a.get(k), t)]
        problems += [f"alerts[].{k} not RFC 3339" for k in ("startsAt", "endsAt") if not RFC3339.match(a.get(k, ""))]
    if doc.get("version") != "4" or doc.get("status") not in ("firing", "resolved"):
        problems.append("version/status")
    return Reply(400, "; ".join(problems)) if problems else Reply(200, "")


def test_webhook_payload_is_alertmanagers_version_4() -> None:
    with serve(_webhook_v4) as ep:
        cfg = _cfg({"webhook_configs": [{"url": ep.url, "max_retries": 0}]})
        _fire_and_resolve(cfg)
    assert [r.reply.status for r in ep.received] == [200, 200], [r.reply.body for r in ep.received]
    fired, resolved = (r.json() for r in ep.received)
    (a,) = fired["alerts"]
    assert a["status"] == "firing"
    assert a["endsAt"] == "0001-01-01T00:00:00Z"  # Go's zero time, as Alertmanager sends for a firing alert
    assert a["startsAt"] == "2026-03-02T12:00:00Z"
    assert a["generatorURL"] == f"https://portal.azure.com/#@/resource{RID.lower()}"  # Vigil's ids are lower-case
    assert fired["commonAnnotations"] == {"summary": "VM idle <b>&</b> costly"}  # JSON: the receiver escapes
    assert fired["groupLabels"] == {"alertname": "vm-idle"}
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2026-03-02T12:10:00Z"


# -- receiver types Vigil does not deliver to --------------------------------------------------------


def test_undelivered_receiver_type_loads_and_its_notifications_fail_with_the_reason() -> None:
    cfg = _cfg({"victorops_configs": [{"routing_key": "ops", "api_key": "k", "send_resolved": True}]})
    store = MemoryStore()
    q = AlertsQueue(cfg, store)
    process([finding(observed_at=T0)], config=cfg, store=store, outbox=q.outbox, now=T0 + timedelta(minutes=1))
    r = q.deliver(T0 + timedelta(minutes=1))
    reason = "Vigil does not deliver to victorops_configs: notification not sent"
    assert r.results[0].failures == [("victorops[0]", reason, False)]
    # recorded, not dropped: the outbox keeps the notification as failed, with the reason
    (entry,) = q.entries(failed=True)
    assert reason in entry.last_error


def test_email_takes_global_smtp_settings_and_renders_header_templates() -> None:
    from alerts.channels.email import EmailNotifier
    from alerts.compiled import compiled
    from alerts.notify import AlertView, NotificationPayload
    from core.model import Alert

    cfg = parse_config(
        {
            "global": {
                "smtp_smarthost": "mx.example.org:587",
                "smtp_from": "am@example.org",
                "smtp_require_tls": False,
            },
            "route": {"receiver": "m"},
            "receivers": [
                {
                    "name": "m",
                    "email_configs": [
                        {
                            "to": "ops@example.org",
                            "headers": {
                                "Subject": '{{ template "__subject" . }}',
                                "X-Sev": "{{ .CommonLabels.severity }}\r\nBcc: evil@example.org",
                            },
                        }
                    ],
                }
            ],
        }
    )
    (integ,) = compiled(cfg).integrations["m"]
    assert integ.config.smarthost == "mx.example.org:587"  # type: ignore[union-attr]
    assert integ.config.from_ == "am@example.org"  # type: ignore[union-attr]
    assert integ.config.require_tls is False  # type: ignore[union-attr]
    f = finding(observed_at=T0)
    payload = NotificationPayload(
        "k" * 32,
        "m",
        "email[0]",
        "{}:{}",
        {"alertname": "vm-idle"},
        [AlertView(Alert.from_finding(f), f.fingerprint)],
        T0,
    )
    msg = EmailNotifier(integ.config).build_message(payload)  # type: ignore[arg-type]
    assert msg.get_all("Subject") == [msg["Subject"]]  # replaced, not duplicated
    assert msg["Subject"].startswith("[FIRING:1] vm-idle (")
    assert msg["X-Sev"] == "high Bcc: evil@example.org"  # folded onto one line: no injected header
    assert msg["Bcc"] is None


def test_webhook_applies_http_config_basic_auth() -> None:
    import base64

    with serve(lambda n, p, b: Reply(200, "")) as ep:
        cfg = _cfg(
            {
                "webhook_configs": [
                    {
                        "url": ep.url,
                        "max_retries": 0,
                        "http_config": {"basic_auth": {"username": "am", "password": "pw"}},
                    }
                ]
            }
        )
        _fire_and_resolve(cfg)
    assert ep.received[0].headers["Authorization"] == "Basic " + base64.b64encode(b"am:pw").decode()


def test_fields_call_defines_from_the_templates_files(tmp_path: Any) -> None:
    from vigil.config import load_config

    (tmp_path / "tmpl").mkdir()
    (tmp_path / "tmpl" / "org.tmpl").write_text(
        '{{ define "org.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on '
        "{{ .CommonLabels.resource_group }}{{ end }}",
        encoding="utf-8",
    )
    with serve(_slack_webhook) as ep:
        (tmp_path / "alertmanager.yml").write_text(
            "templates: ['tmpl/*.tmpl']\n"  # relative to the config file, as in Alertmanager
            "route: {receiver: r, group_wait: 0s}\n"
            "receivers:\n"
            f"  - name: r\n    slack_configs: [{{api_url: '{ep.url}', title: '{{{{ template \"org.title\" . }}}}'}}]\n",
            encoding="utf-8",
        )
        cfg = load_config(tmp_path / "alertmanager.yml")
        assert cfg.templates == [str(tmp_path / "tmpl" / "*.tmpl")]
        _fire_and_resolve(cfg)
    assert ep.received[0].json()["attachments"][0]["title"] == "[FIRING] vm-idle on rg1"


def test_validate_warns_about_a_named_template_defined_nowhere() -> None:
    from alerts.amcheck import config_warnings

    cfg = _cfg({"slack_configs": [{"api_url": "http://x", "title": '{{ template "org.missing" . }}'}]})
    assert config_warnings(cfg) == [
        (
            "receivers[0].slack_configs[0].title",
            'template not supported by Vigil (sent as written): no such template "org.missing"',
        )
    ]


def test_webhook_payload_has_the_shape_of_a_real_alertmanagers(tmp_path: Any) -> None:
    """Alertmanager 0.25 itself sends a webhook for one alert; Vigil's payload for the same alert has the
    same keys (plus Vigil's additions), the same value types and the same time format."""
    import time as _time
    from datetime import UTC, datetime

    import httpx

    from tests.alerts.amtool import running_alertmanager

    with serve(lambda n, p, b: Reply(200, "")) as hook:
        am_cfg = (
            "route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s}\n"
            f"receivers: [{{name: hook, webhook_configs: [{{url: '{hook.url}', send_resolved: true}}]}}]\n"
        )
        with running_alertmanager(tmp_path, am_cfg) as am:
            now = datetime.now(UTC).replace(microsecond=0)
            alert = {
                "labels": {"alertname": "vm-idle", "severity": "high"},
                "annotations": {"summary": "idle"},
                "startsAt": now.isoformat().replace("+00:00", "Z"),
                "generatorURL": "https://portal.azure.com/#@/resource/subscriptions/s",
            }
            httpx.post(f"{am}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
            deadline = _time.monotonic() + 20
            while not hook.received and _time.monotonic() < deadline:
                _time.sleep(0.1)
        assert hook.received, "Alertmanager sent no webhook"
        theirs = hook.received[0].json()
        cfg = _cfg({"webhook_configs": [{"url": hook.url, "max_retries": 0}]})
        store = MemoryStore()
        q = AlertsQueue(cfg, store)
        process([finding(observed_at=T0)], config=cfg, store=store, outbox=q.outbox, now=T0 + timedelta(minutes=1))
        q.deliver(T0 + timedelta(minutes=1))
        ours = hook.received[-1].json()

    assert set(theirs) <= set(ours)
    assert set(ours) - set(theirs) == {"notificationKey"}  # Vigil's addition
    for k in theirs:
        assert type(ours[k]) is type(theirs[k]), k
    assert ours["version"] == theirs["version"] == "4"
    (a_theirs,) = theirs["alerts"]
    (a_ours,) = ours["alerts"]
    assert set(a_ours) == set(a_theirs)
    for k in a_theirs:
        assert type(a_ours[k]) is type(a_theirs[k]), k
    assert a_theirs["endsAt"] == a_ours["endsAt"] == "0001-01-01T00:00:00Z"  # firing: Go's zero time
    assert RFC3339.match(a_theirs["startsAt"])
    assert RFC3339.match(a_ours["startsAt"])
    assert theirs["groupKey"].startswith("{}:")  # Alertmanager's group key: route id, then group labels
    assert ours["groupKey"].startswith("{}:")
