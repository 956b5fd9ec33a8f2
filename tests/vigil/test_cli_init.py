"""`vigil init` writes a commented starter vigil.yaml that validates (issue 21)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.config import load_config

runner = CliRunner()
SUB = "6513270e-269e-4d37-b2a7-4de452e6b438"


def test_init_writes_a_commented_config_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "vigil.yaml"
    result = runner.invoke(
        app, ["init", "-s", SUB.upper(), "-s", "d23f0824-128b-4f33-8c5c-7fd0a6a3a450", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.count("#") > 10  # commented
    cfg = load_config(out)
    assert cfg.scopes.subscriptions == [SUB, "d23f0824-128b-4f33-8c5c-7fd0a6a3a450"]
    assert {r.name for r in cfg.receivers} == {"finops", "security"}
    checked = runner.invoke(app, ["config", "validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert f"{out}: ok" in checked.stdout


def test_init_does_not_overwrite_and_rejects_a_non_guid(tmp_path: Path) -> None:
    out = tmp_path / "vigil.yaml"
    out.write_text("mine\n", encoding="utf-8")
    again = runner.invoke(app, ["init", "-s", SUB, "--out", str(out)])
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert out.read_text(encoding="utf-8") == "mine\n"
    bad = runner.invoke(app, ["init", "-s", "Contoso Production", "--out", str(tmp_path / "x.yaml")])
    assert bad.exit_code == 2
    assert "not a subscription id" in bad.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_config_validate_reports_every_error_in_one_pass_with_key_paths(tmp_path: Path) -> None:
    bad = tmp_path / "vigil.yaml"
    bad.write_text(
        """\
route:
  receiver: nobody
  group_wait: 3 parsecs
receivers:
  - name: finops
    msteams_configs:
      - webhook_url: not-a-url
    email_configs:
      - to: not-an-address
        from: Vigil <vigil@contoso.com>
        smarthost: smtp.contoso.com:587
        bogus_key: 1
""",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert sorted(lines) == sorted(
        [
            "route.group_wait: not a valid duration: '3 parsecs' (expected e.g. 30s, 5m, 4h, 1d)",
            "receivers[0].msteams_configs[0].webhook_url: not an http(s) URL (e.g. https://contoso.webhook.office.com/...)",
            "receivers[0].email_configs[0].to: not an e-mail address: 'not-an-address' (e.g. finops@contoso.com)",
            "receivers[0].email_configs[0].bogus_key: unknown key",
            "route.receiver: undefined receiver 'nobody' used in route",
        ]
    )
    assert "(5 error(s))" in result.stderr.splitlines()[0]
    assert "Value error" not in result.stderr


def test_a_missing_config_file_says_so_and_how_to_write_one(tmp_path: Path) -> None:
    missing = tmp_path / "vigil.yaml"
    result = runner.invoke(app, ["config", "validate", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: cannot read the configuration: No such file or directory" in result.output
    assert "`vigil init --out PATH` writes a starter file" in result.output
    folder = runner.invoke(app, ["config", "validate", str(tmp_path)])
    assert folder.exit_code == 2
    assert "cannot read the configuration: Is a directory" in folder.output
    assert "vigil init" not in folder.output
