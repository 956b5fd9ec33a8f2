"""vigil/settings.py, local.settings.sample.json and the function bindings name the same settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vigil.settings import Settings, SettingsError, describe_settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE = json.loads((REPO / "local.settings.sample.json").read_text(encoding="utf-8"))
VALUES: dict[str, str] = SAMPLE["Values"]

# Settings only the Functions host reads, listed in the sample but not modelled. None today:
# FUNCTIONS_WORKER_RUNTIME, AzureWebJobsStorage* and APPLICATIONINSIGHTS_CONNECTION_STRING
# are modelled (flagged host=True) so the Bicep app settings come from one place.
HOST_ONLY: frozenset[str] = frozenset()


def test_sample_is_a_local_settings_file() -> None:
    assert SAMPLE["IsEncrypted"] is False
    assert all(isinstance(v, str) for v in VALUES.values())
    assert VALUES["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert VALUES["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_settings_model_and_sample_name_the_same_settings() -> None:
    assert set(Settings.setting_names()) == set(VALUES) - HOST_ONLY


def test_sample_values_are_the_defaults_and_valid() -> None:
    settings = Settings.from_env(VALUES)
    for spec in describe_settings():
        if spec.default is not None and spec.name != "VIGIL_STATE":
            assert VALUES[spec.name] == spec.default, spec.name
    assert settings.storage_connection_string is not None


def test_every_binding_setting_reference_is_modelled() -> None:
    import function_app  # noqa: F401  (registers the blueprints)
    from vigil.functions import bp as vigil_bp
    from vigil.functions_alerts import bp as alerts_bp
    from vigil.functions_ingest import bp as ingest_bp

    names = set(Settings.setting_names())
    refs: set[str] = set()
    for bp in (vigil_bp, ingest_bp, alerts_bp):
        for builder in bp._function_builders:
            for binding in builder._function.get_bindings():
                refs |= set(re.findall(r"%([A-Za-z0-9_]+)%", json.dumps(binding.get_dict_repr(), default=str)))
    assert refs, "no %SETTING% references found: did the blueprints change?"
    assert refs <= names, f"binding settings not in Settings: {sorted(refs - names)}"


def test_secrets_are_secretstr_and_redacted() -> None:
    secrets = {s.name for s in describe_settings() if s.is_secret}
    assert secrets == {"AzureWebJobsStorage", "VIGIL_SIGNING_KEY", "VIGIL_ACTION_KEY"}
    settings = Settings.from_env(
        {"VIGIL_SIGNING_KEY": "k3y", "AzureWebJobsStorage": "AccountKey=abc", "VIGIL_ACTION_KEY": "fkey"}
    )
    assert "k3y" not in repr(settings)
    assert "fkey" not in repr(settings)
    assert "abc" not in repr(settings)
    red = settings.redacted()
    assert red["VIGIL_SIGNING_KEY"] == "**********"
    assert "k3y" not in json.dumps(red)
    assert settings.signing_key is not None
    assert settings.signing_key.get_secret_value() == "k3y"


def test_describe_settings_for_infra() -> None:
    specs = {s.name: s for s in describe_settings()}
    assert list(specs) == Settings.setting_names()
    assert specs["SWEEP_SCHEDULE"].default == "0 */30 * * * *"
    assert specs["ALERTS_QUEUE"].default == "vigil-alerts"
    assert specs["AzureWebJobsStorage"].where == "local"
    assert specs["AzureWebJobsStorage__queueServiceUri"].where == "azure"
    assert all(s.description for s in specs.values())


def test_from_env_ignores_unrelated_and_empty_values() -> None:
    settings = Settings.from_env({"PATH": "/bin", "INGEST_QUEUE": "", "DETECT_QUEUE": "d-q1"})
    assert settings.ingest_queue == "vigil-ingest"
    assert settings.detect_queue == "d-q1"
    assert settings.uses_identity


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("INGEST_QUEUE", "Bad_Queue", "INGEST_QUEUE"),
        ("COSTS_CONTAINER", "a--b", "COSTS_CONTAINER"),
        ("METRICS_SCHEDULE", "0 * * * *", "6 fields"),
        ("ACTIVITY_SCHEDULE", "*/15 * * * *", "6 fields"),
        ("COST_QUERY_SCHEDULE", "0 6 * * *", "6 fields"),
        ("FORWARD_SCHEDULE", "0 0 7 * * 1", "must run every day"),
        ("FORWARD_SCHEDULE", "0 61 * * * *", "outside 0-59"),
        ("VIGIL_STATE", "postgres", "VIGIL_STATE"),
        ("VIGIL_PUBLIC_BASE_URL", "example.com", "http(s) URL"),
        ("AzureWebJobsStorage__credential", "secret", "AzureWebJobsStorage__credential"),
    ],
)
def test_invalid_settings_name_the_setting(name: str, value: str, needle: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert needle in str(info.value)
    assert name in str(info.value)


def test_value_by_setting_name() -> None:
    settings = Settings.from_env({"VIGIL_SIGNING_KEY": "k", "INGEST_QUEUE": "iq-1"})
    assert settings.value("INGEST_QUEUE") == "iq-1"
    assert settings.value("VIGIL_SIGNING_KEY") == "k"
    assert settings.value("VIGIL_CONFIG") is None
    with pytest.raises(KeyError):
        settings.value("NOPE")
