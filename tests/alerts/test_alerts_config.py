"""Alerting config: Alertmanager-compatible wire form, precise errors, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from alerts.routing import RoutingError, compile_routes
from vigil.config import ConfigError, json_schema, load_config, parse_config

ALERTMANAGER_YML = """
route:
  receiver: team-x
  group_by: ['alertname', 'subscription_id']
  group_wait: 45s
  group_interval: 10m
  repeat_interval: 12h
  routes:
    - matchers:
        - severity="critical"
      receiver: oncall
      continue: true
    - match:
        detector: drift
      match_re:
        resource_type: "microsoft\\\\.storage/.*"
      receiver: security
      mute_time_intervals: [weekends]
    - matchers: ['team=~"data|ml"']
      receiver: data-team
      active_time_intervals: [business-hours]
      group_by: ['...']
receivers:
  - name: team-x
    msteamsv2_configs:
      - webhook_url: https://example.invalid/workflows/abc
        send_resolved: true
        title: Vigil
  - name: oncall
    webhook_configs:
      - url: https://hooks.example.invalid/oncall
        send_resolved: false
        max_alerts: 50
  - name: security
    email_configs:
      - to: secops@example.com
        from: vigil@example.com
        smarthost: smtp.example.com:587
        auth_username: vigil
        auth_password: secret
        require_tls: true
        send_resolved: true
  - name: data-team
    msteams_configs:
      - webhook_url: https://example.invalid/workflows/data
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity=~"medium|low"]
    equal: [resource_id]
  - source_match: {alertname: SubscriptionDisabled}
    target_match_re: {alertname: ".+"}
    equal: [subscription_id]
time_intervals:
  - name: weekends
    time_intervals:
      - weekdays: ['saturday', 'sunday']
  - name: business-hours
    time_intervals:
      - times: [{start_time: "09:00", end_time: "17:00"}]
        weekdays: ['monday:friday']
        location: Europe/Amsterdam
"""


def test_alertmanager_block_loads_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "alertmanager.yml"
    p.write_text(ALERTMANAGER_YML, encoding="utf-8")
    cfg = load_config(p)
    assert cfg.route.receiver == "team-x"
    assert cfg.route.routes[0].continue_ is True
    assert cfg.receivers[2].email_configs[0].from_ == "vigil@example.com"
    # the wire form round-trips with Alertmanager's field names
    dumped = cfg.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["route"]["routes"][0]["continue"] is True
    assert "from" in dumped["receivers"][2]["email_configs"][0]
    root = compile_routes(cfg.route, list(cfg.receivers), list(cfg.time_intervals))
    assert [r.opts.receiver for r in root.match({"severity": "critical", "team": "ml"})] == ["oncall", "data-team"]


def test_only_route_and_receivers_is_valid() -> None:
    cfg = parse_config({"route": {"receiver": "a"}, "receivers": [{"name": "a"}]})
    assert cfg.inhibit_rules == []
    assert cfg.time_intervals == []


def test_defaults_are_alertmanagers() -> None:
    cfg = parse_config({"route": {"receiver": "a"}, "receivers": [{"name": "a"}]})
    root = compile_routes(cfg.route, list(cfg.receivers))
    assert root.opts.group_wait.total_seconds() == 30
    assert root.opts.group_interval.total_seconds() == 300
    assert root.opts.repeat_interval.total_seconds() == 4 * 3600


def _errors(data: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.errors


def test_unknown_field_is_rejected_with_its_path() -> None:
    errs = _errors(
        {"route": {"receiver": "a", "routes": [{"receiver": "a", "bogus": 1}]}, "receivers": [{"name": "a"}]}
    )
    assert ("route.routes[0].bogus", "unknown key") in errs
    errs = _errors({"route": {"receiver": "a"}, "receivers": [{"name": "a", "msteamsv2_configs": [{"webhok": "x"}]}]})
    assert ("receivers[0].msteamsv2_configs[0].webhok", "unknown key") in errs
    errs = _errors({"route": {"receiver": "a"}, "receivers": [{"name": "a"}], "inhibit_rules": [{"sorce": []}]})
    assert ("inhibit_rules[0].sorce", "unknown key") in errs


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ({"sources": {"cost_exports": {"acount_url": "x"}}}, "sources.cost_exports.acount_url", "'account_url'"),
        ({"route": {"receiver": "a", "group_wiat": "1s"}}, "route.group_wiat", "'group_wait'"),
        ({"route": {"receiver": "a", "routes": [{"matcher": []}]}}, "route.routes[0].matcher", "'matchers'"),
        ({"receivers": [{"name": "a", "webhook_configs": [{"urll": "http://x"}]}]}, "", "'url'"),
        ({"receivers": [{"name": "a", "email_config": []}]}, "receivers[0].email_config", "'email_configs'"),
        ({"detectors": {"idel": {}}}, "detectors.idel", "'idle'"),
    ],
)
def test_an_unknown_key_close_to_a_known_one_says_which(extra: dict[str, object], path: str, message: str) -> None:
    data: dict[str, object] = {"route": {"receiver": "a"}, "receivers": [{"name": "a"}], **extra}
    errs = dict(_errors(data))
    path = path or "receivers[0].webhook_configs[0].urll"
    assert errs[path] == f"unknown key (did you mean {message}?)", errs


def test_an_unknown_key_far_from_every_known_one_gets_no_guess() -> None:
    errs = dict(_errors({"route": {"receiver": "a"}, "receivers": [{"name": "a"}], "colour": "red"}))
    assert errs["colour"] == "unknown key"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"route": {"group_by": ["a"]}, "receivers": [{"name": "a"}]}, "root route must specify a default receiver"),
        (
            {"route": {"receiver": "a", "routes": [{"receiver": "nope"}]}, "receivers": [{"name": "a"}]},
            "route.routes[0].receiver: undefined receiver 'nope' used in route",
        ),
        (
            {"route": {"receiver": "a", "routes": [{"mute_time_intervals": ["x"]}]}, "receivers": [{"name": "a"}]},
            "undefined time interval 'x' used in route",
        ),
        ({"route": {"receiver": "a", "matchers": ['a="b"']}, "receivers": [{"name": "a"}]}, "root route must not have"),
        ({"route": {"receiver": "a"}, "receivers": [{"name": "a"}, {"name": "a"}]}, "is not unique"),
        ({"route": {"receiver": "a", "group_by": ["...", "x"]}, "receivers": [{"name": "a"}]}, "wildcard group_by"),
        ({"route": {"receiver": "a", "group_wait": "soon"}, "receivers": [{"name": "a"}]}, "not a valid duration"),
        (
            {"route": {"receiver": "a", "matchers": ['a=~"("']}, "receivers": [{"name": "a"}]},
            "route.matchers[0]: 'a=~\"(\"': error parsing regexp",
        ),
        ({"route": {"receiver": "a", "repeat_interval": "0s"}, "receivers": [{"name": "a"}]}, "cannot be zero"),
    ],
)
def test_precise_validation_errors(data: object, needle: str) -> None:
    text = "\n".join(f"{p}: {m}" for p, m in _errors(data))
    assert needle in text


def test_compile_routes_reports_all_errors() -> None:
    from alerts.config import ReceiverConfig, RouteConfig

    with pytest.raises(RoutingError) as exc:
        compile_routes(RouteConfig(routes=[RouteConfig(receiver="x")]), [ReceiverConfig(name="a")])
    msgs = [m for _, m in exc.value.errors]
    assert "root route must specify a default receiver" in msgs
    assert "undefined receiver 'x' used in route" in msgs


def test_schema_describes_routing_with_alertmanager_names() -> None:
    schema = json.loads(json_schema())
    assert {"route", "receivers", "inhibit_rules", "time_intervals"} <= set(schema["properties"])
    route = schema["$defs"]["RouteConfig"]["properties"]
    assert "continue" in route
    assert "group_by" in route
    assert route.get("additionalProperties") is None
    assert schema["$defs"]["RouteConfig"]["additionalProperties"] is False
    assert "from" in schema["$defs"]["EmailConfig"]["properties"]


def test_time_interval_validation() -> None:
    base = {"route": {"receiver": "a"}, "receivers": [{"name": "a"}]}
    for bad in (
        {"weekdays": ["funday"]},
        {"months": ["13"]},
        {"days_of_month": ["0"]},
        {"times": [{"start_time": "10:00", "end_time": "09:00"}]},
        {"location": "Mars/Olympus"},
    ):
        with pytest.raises(ConfigError):
            parse_config({**base, "time_intervals": [{"name": "t", "time_intervals": [bad]}]})


def test_yaml_round_trip_of_the_example() -> None:
    data = yaml.safe_load(ALERTMANAGER_YML)
    assert parse_config(data).model_dump(by_alias=True)["route"]["group_wait"] == "45s"
