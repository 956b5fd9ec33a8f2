"""Real alertmanager.yml files (tests/alerts/corpus, sources in SOURCES.md) load unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.alerts.amtool import amtool
from vigil.cli.main import app
from vigil.config import load_config

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.yml"))
NEWER = sorted((CORPUS / "newer").glob("*.yml"))


def test_corpus_is_not_empty_and_every_file_has_a_source_note() -> None:
    notes = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert len(FILES) >= 8
    for f in FILES:
        assert f"| {f.name} |" in notes, f"{f.name} has no source note"


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_real_configuration_loads_unchanged(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.route.receiver


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_amtool_accepts_the_corpus_file(path: Path) -> None:
    """Guards the corpus itself: only files Alertmanager 0.25 accepts belong in it."""
    res = amtool("check-config", path.name, cwd=path.parent)
    assert res.returncode == 0, res.stdout + res.stderr


def test_validate_names_undelivered_receivers_and_unsupported_templates_as_warnings(tmp_path: Path) -> None:
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(
        """
route: {receiver: r}
receivers:
  - name: r
    slack_configs:
      - api_url: https://hooks.slack.com/services/x
        title: '{{ .CommonLabels.alertname | frobnicate }}'
    victorops_configs: [{routing_key: ops, api_key: k}]
""",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["config", "validate", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "warning: receivers[0].victorops_configs: Vigil does not deliver to victorops_configs" in res.output
    assert "warning: receivers[0].slack_configs[0].title: template not supported by Vigil" in res.output
    assert 'function "frobnicate" not defined' in res.output
    assert "ok (2 warning(s))" in res.output


def test_mute_time_intervals_share_the_time_intervals_namespace() -> None:
    from vigil.config import ConfigError, parse_config

    ti = {"name": "nights", "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "06:00"}]}]}
    ok = parse_config(
        {
            "route": {"receiver": "r", "routes": [{"receiver": "r", "mute_time_intervals": ["nights"]}]},
            "receivers": [{"name": "r"}],
            "mute_time_intervals": [ti],
        }
    )
    assert [t.name for t in ok.all_time_intervals] == ["nights"]
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {
                "route": {"receiver": "r"},
                "receivers": [{"name": "r"}],
                "mute_time_intervals": [ti],
                "time_intervals": [ti],
            }
        )
    assert "time_intervals[0].name: time interval 'nights' is not unique" in str(exc.value)


@pytest.mark.parametrize(
    ("receiver", "message"),
    [
        ({"slack_configs": [{"channel": "#x"}]}, "no global Slack API URL set either inline or in a file"),
        ({"opsgenie_configs": [{"message": "m"}]}, "no global OpsGenie API Key set"),
    ],
)
def test_receivers_without_their_global_setting_are_refused_as_alertmanager_does(
    receiver: dict[str, object], message: str, tmp_path: Path
) -> None:
    from vigil.config import ConfigError, parse_config

    doc = {"route": {"receiver": "r"}, "receivers": [{"name": "r", **receiver}]}
    with pytest.raises(ConfigError) as exc:
        parse_config(doc)
    assert message in str(exc.value)
    f = tmp_path / "am.yml"
    f.write_text(__import__("yaml").safe_dump(doc), encoding="utf-8")
    res = amtool("check-config", str(f))
    assert res.returncode != 0
    assert message in res.stdout + res.stderr


def test_routes_test_reports_a_bad_legacy_match_re_without_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "am.yml"
    cfg.write_text(
        "route: {receiver: r, routes: [{receiver: r, match_re: {severity: 'crit(?<=x)'}}]}\nreceivers: [{name: r}]\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["alerts", "routes", "test", "--config", str(cfg), "severity=critical"])
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "route.routes[0].match_re.severity" in res.output
    assert "error parsing regexp: invalid or unsupported Perl syntax: `(?<" in res.output


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"route": {"receiver": "r", "group_by": ["a-b"]}}, 'invalid label name "a-b" in group_by list'),
        (
            {"route": {"receiver": "r", "routes": [{"receiver": "r", "match": {"a-b": "x"}}]}},
            'invalid label name "a-b"',
        ),
        ({"route": {"receiver": "r"}, "inhibit_rules": [{"equal": ["a-b"]}]}, '"a-b" is not a valid label name'),
    ],
)
def test_label_names_are_checked_with_alertmanagers_messages(
    doc: dict[str, object], message: str, tmp_path: Path
) -> None:
    import yaml

    from vigil.config import ConfigError, parse_config

    doc = {**doc, "receivers": [{"name": "r"}]}
    with pytest.raises(ConfigError) as exc:
        parse_config(doc)
    assert message in str(exc.value)
    f = tmp_path / "am.yml"
    f.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert message in amtool("check-config", str(f)).stdout


@pytest.mark.parametrize("path", NEWER, ids=[f.name for f in NEWER])
def test_configuration_of_a_newer_release_loads_unchanged(path: Path) -> None:
    assert f"| {path.name} |" in (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert load_config(path).route.receiver


def test_every_undelivered_type_is_a_receiver_key() -> None:
    from alerts.amconfig import UNDELIVERED_TYPES
    from alerts.config import ReceiverConfig

    assert set(UNDELIVERED_TYPES) <= set(ReceiverConfig.model_fields)
