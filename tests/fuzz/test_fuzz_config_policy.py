"""Fuzzing config files (vigil.yaml) and drift policy definitions.

A bad config is always a ``ConfigError`` listing each problem with its key path; a bad
policy definition is always a ``PolicyLoadError`` naming the file and a JSON path. Never
another exception.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.drift.engine import PolicyLoadError
from detectors.drift.loader import load_policy_file
from vigil.config import ConfigError, VigilConfig, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]

SCALAR = st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12)
JSON = st.recursive(
    SCALAR,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)

VALID_CONFIG: dict[str, Any] = {
    "scopes": {"subscriptions": ["00000000-0000-0000-0000-000000000001"]},
    "route": {
        "receiver": "team",
        "group_by": ["alertname"],
        "group_wait": "30s",
        "routes": [{"matchers": ['severity="critical"'], "receiver": "oncall", "continue": True}],
    },
    "receivers": [
        {"name": "team", "webhook_configs": [{"url": "https://example.com/hook", "max_retries": 2}]},
        {"name": "oncall", "email_configs": [{"to": "ops@example.com", "smarthost": "smtp.example.com:587"}]},
    ],
    "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="low"']}],
}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """The valid document with 1-3 values replaced, keys added or keys removed."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace" or (action == "delete" and isinstance(parent, list)):
            parent[path[-1]] = draw(JSON)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(JSON)
    return doc


def _check_config_error(exc: ConfigError, source: str) -> None:
    assert exc.source == source
    assert exc.errors, "a ConfigError lists at least one problem"
    text = str(exc)
    if [path for path, _ in exc.errors] == ["<file>"]:  # not read at all: the reason, no key paths
        assert text.startswith(f"{source}: cannot read the configuration: {exc.errors[0][1]}")
        return
    assert text.startswith(f"{source}: invalid configuration")
    for path, msg in exc.errors:
        assert path, f"error without key path: {msg}"
        assert msg
        assert f"{path}: {msg}" in text


def test_the_valid_base_config_parses() -> None:
    assert isinstance(parse_config(copy.deepcopy(VALID_CONFIG)), VigilConfig)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(VALID_CONFIG) | st.dictionaries(st.text(max_size=10), JSON, max_size=4) | JSON)
def test_parse_config_raises_only_config_error_with_key_paths(doc: Any) -> None:
    try:
        cfg = parse_config(doc, "vigil.yaml")
    except ConfigError as exc:
        _check_config_error(exc, "vigil.yaml")
    else:
        assert isinstance(cfg, VigilConfig)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300) | mutated(VALID_CONFIG).map(yaml.safe_dump))
def test_load_config_names_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        _check_config_error(exc, str(path))


def test_load_config_missing_file_is_a_config_error(tmp_path: Path) -> None:
    try:
        load_config(tmp_path / "absent.yaml")
    except ConfigError as exc:
        _check_config_error(exc, str(tmp_path / "absent.yaml"))
    else:
        raise AssertionError("a missing config file must raise ConfigError")


# ---------------------------------------------------------------------------- policy definitions

POLICY = json.loads((REPO / "detectors/drift/rules/acr_admin_user/acr_admin_user.policy.json").read_text("utf-8"))


def _check_policy_error(exc: PolicyLoadError, file: Path) -> None:
    assert exc.source.startswith(str(file)), exc.source
    assert exc.path.startswith(("$", "[")), exc.path
    assert exc.message
    assert str(exc).startswith(f"{exc.source}: {exc.path}: ")


def test_the_builtin_policy_loads(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(POLICY), encoding="utf-8")
    assert load_policy_file(f)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated(POLICY) | JSON | st.lists(mutated(POLICY), min_size=1, max_size=2))
def test_malformed_policy_raises_policy_load_error_with_file_and_json_path(tmp_path: Path, doc: Any) -> None:
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    try:
        load_policy_file(f)
    except PolicyLoadError as exc:
        _check_policy_error(exc, f)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=120))
def test_policy_file_that_is_not_json(tmp_path: Path, raw: bytes) -> None:
    f = tmp_path / "policy.json"
    f.write_bytes(raw)
    try:
        load_policy_file(f)
    except PolicyLoadError as exc:
        _check_policy_error(exc, f)
