"""Routing conformance: table tests from Alertmanager's documented semantics.

The trees and expectations follow Alertmanager's dispatch/route_test.go
(TestRouteMatch) and the example in docs/configuration.md: depth-first
matching, ``continue``, inheritance of receiver/group_by/timers, ``group_by: [...]``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from alerts.routing import compile_routes
from vigil.config import parse_config

ROUTE_TEST_GO = """
route:
  receiver: notify-def
  routes:
  - match: {owner: team-A}
    receiver: notify-A
    routes:
    - match: {env: testing}
      receiver: notify-testing
      group_by: ['...']
    - match: {env: production}
      receiver: notify-productionA
      group_wait: 1m
      continue: true
    - match_re: {env: "produ.*", job: ".*"}
      receiver: notify-productionB
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: [job]
  - match_re: {owner: "team-(B|C)"}
    group_by: [foo, bar]
    group_wait: 2m
    receiver: notify-BC
  - match: {group_by: role}
    group_by: [role]
    routes:
    - match: {env: testing}
      receiver: notify-testing
      routes:
      - match: {wait: long}
        group_wait: 2m
receivers:
  - name: notify-def
  - name: notify-A
  - name: notify-testing
  - name: notify-productionA
  - name: notify-productionB
  - name: notify-BC
"""

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)

# labels -> [(receiver, group_by or "...", group_wait, group_interval, repeat_interval)]
CASES = [
    ({"owner": "team-A"}, [("notify-A", set(), 30 * S, 5 * M, 4 * H)]),
    ({"owner": "team-A", "env": "unset"}, [("notify-A", set(), 30 * S, 5 * M, 4 * H)]),
    ({"owner": "team-C"}, [("notify-BC", {"foo", "bar"}, 2 * M, 5 * M, 4 * H)]),
    (
        {"owner": "team-A", "env": "production"},
        [
            ("notify-productionA", set(), 1 * M, 5 * M, 4 * H),
            ("notify-productionB", {"job"}, 30 * S, 5 * M, 1 * H),
        ],
    ),
    ({"group_by": "role"}, [("notify-def", {"role"}, 30 * S, 5 * M, 4 * H)]),
    ({"env": "testing", "owner": "team-A"}, [("notify-testing", "...", 30 * S, 5 * M, 4 * H)]),
    ({"env": "testing", "group_by": "role"}, [("notify-testing", {"role"}, 30 * S, 5 * M, 4 * H)]),
    (
        {"env": "testing", "group_by": "role", "wait": "long"},
        [("notify-testing", {"role"}, 2 * M, 5 * M, 4 * H)],
    ),
    ({"owner": "team-Z"}, [("notify-def", set(), 30 * S, 5 * M, 4 * H)]),
]


@pytest.fixture(scope="module")
def tree():  # type: ignore[no-untyped-def]
    cfg = parse_config(yaml.safe_load(ROUTE_TEST_GO))
    return compile_routes(cfg.route, list(cfg.receivers), list(cfg.time_intervals))


@pytest.mark.parametrize(("labels", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_route_match_table(tree, labels, expected) -> None:  # type: ignore[no-untyped-def]
    got = tree.match(labels)
    actual = [
        (
            r.opts.receiver,
            "..." if r.opts.group_by_all else set(r.opts.group_by),
            r.opts.group_wait,
            r.opts.group_interval,
            r.opts.repeat_interval,
        )
        for r in got
    ]
    assert actual == expected


DOCS_EXAMPLE = """
route:
  receiver: default-receiver
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  group_by: [cluster, alertname]
  routes:
  - receiver: database-pager
    group_wait: 10s
    matchers:
    - service=~"mysql|cassandra"
  - receiver: frontend-pager
    group_by: [product, environment]
    matchers:
    - team="frontend"
  - receiver: dev-pager
    matchers:
      - service="inhouse-service"
    continue: true
  - receiver: on-call-pager
    matchers:
      - service="inhouse-service"
  - receiver: not-critical
    matchers:
      - severity!="critical"
      - team!~"front.*"
receivers:
  - name: default-receiver
  - name: database-pager
  - name: frontend-pager
  - name: dev-pager
  - name: on-call-pager
  - name: not-critical
"""

DOCS_CASES = [
    # regex matcher is fully anchored: "mysql-2" does not match "mysql|cassandra"
    ({"service": "mysql", "severity": "critical"}, ["database-pager"]),
    ({"service": "mysql-2", "severity": "critical"}, ["default-receiver"]),
    ({"service": "cassandra", "team": "frontend"}, ["database-pager"]),  # first match wins, no continue
    ({"team": "frontend", "severity": "critical"}, ["frontend-pager"]),
    ({"service": "inhouse-service", "severity": "critical"}, ["dev-pager", "on-call-pager"]),  # continue
    ({"severity": "warning", "team": "backend"}, ["not-critical"]),  # != and !~
    ({"severity": "warning", "team": "frontend-web"}, ["default-receiver"]),  # !~ anchored fails -> root
    ({"team": "ops"}, ["not-critical"]),  # missing label matches as "" for !=
    ({"severity": "critical"}, ["default-receiver"]),
]


@pytest.mark.parametrize(("labels", "receivers"), DOCS_CASES, ids=[str(c[0]) for c in DOCS_CASES])
def test_docs_example(labels, receivers) -> None:  # type: ignore[no-untyped-def]
    cfg = parse_config(yaml.safe_load(DOCS_EXAMPLE))
    root = compile_routes(cfg.route, list(cfg.receivers))
    assert [r.opts.receiver for r in root.match(labels)] == receivers


def test_group_by_and_group_keys() -> None:
    cfg = parse_config(yaml.safe_load(DOCS_EXAMPLE))
    root = compile_routes(cfg.route, list(cfg.receivers))
    a = {"cluster": "c1", "alertname": "A", "service": "x", "severity": "critical", "instance": "i1"}
    b = {**a, "instance": "i2"}
    c = {**a, "cluster": "c2"}
    (ra,) = root.match(a)
    assert ra.group_labels(a) == {"cluster": "c1", "alertname": "A"}
    assert ra.group_key(a) == ra.group_key(b)  # instance not in group_by: same group
    assert ra.group_key(a) != ra.group_key(c)
    # inherited group_by on the database route, overridden on the frontend route
    (db,) = root.match({**a, "service": "mysql"})
    assert db.opts.group_by == {"cluster", "alertname"}
    assert db.opts.group_wait == 10 * S
    fe_labels = {"team": "frontend", "product": "p", "environment": "prod", "cluster": "c1", "severity": "critical"}
    (fe,) = root.match(fe_labels)
    assert fe.group_labels(fe_labels) == {"product": "p", "environment": "prod"}


def test_group_by_all_and_none() -> None:
    cfg = parse_config(
        {
            "route": {"receiver": "r", "routes": [{"matchers": ['x="1"'], "group_by": ["..."]}]},
            "receivers": [{"name": "r"}],
        }
    )
    root = compile_routes(cfg.route, list(cfg.receivers))
    (child,) = root.match({"x": "1", "y": "2"})
    assert child.group_labels({"x": "1", "y": "2"}) == {"x": "1", "y": "2"}
    assert child.group_key({"x": "1", "y": "2"}) != child.group_key({"x": "1", "y": "3"})
    (r,) = root.match({"x": "2", "y": "2"})
    assert r is root
    assert root.group_labels({"x": "2", "y": "2"}) == {}  # no group_by: one group for all
    assert root.group_key({"a": "1"}) == root.group_key({"b": "2"})


def test_same_receiver_twice_gives_distinct_groups() -> None:
    cfg = parse_config(
        {
            "route": {
                "receiver": "r",
                "routes": [
                    {"matchers": ['a="1"'], "continue": True},
                    {"matchers": ['a="1"']},
                ],
            },
            "receivers": [{"name": "r"}],
        }
    )
    root = compile_routes(cfg.route, list(cfg.receivers))
    r1, r2 = root.match({"a": "1"})
    assert r1.opts.receiver == r2.opts.receiver == "r"
    assert r1.group_key({"a": "1"}) != r2.group_key({"a": "1"})  # route ids differ, as Alertmanager's ID()


def test_tree_printout_lists_every_route() -> None:
    cfg = parse_config(yaml.safe_load(ROUTE_TEST_GO))
    root = compile_routes(cfg.route, list(cfg.receivers))
    lines = root.tree()
    assert len(lines) == len(list(root.walk())) == 9
    assert lines[0].startswith("{}  receiver: notify-def")
    assert lines[2].startswith('    {env="testing"}  receiver: notify-testing  group_by: [...]')
