"""`vigil config`: validate vigil.yaml and print its JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Validate vigil.yaml and print its JSON Schema.", no_args_is_help=True)


@app.command("schema")
def schema(out: Path | None = typer.Option(None, "--out", help="Write the schema to this file.")) -> None:
    """Print the JSON Schema of vigil.yaml (for editors)."""
    from vigil.config import json_schema

    text = json_schema()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("validate")
def validate(path: Path = typer.Argument(..., help="The vigil.yaml to check.")) -> None:
    """Validate a config file; errors name the key path."""
    from alerts.amcheck import config_warnings
    from vigil.cli.common import load_config_or_exit

    cfg = load_config_or_exit(path)
    warnings = config_warnings(cfg, base_dir=path.parent)
    for key, msg in warnings:
        typer.echo(f"{path}: warning: {key}: {msg}", err=True)
    typer.echo(f"{path}: ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

STARTER = """\
# vigil.yaml: written by `vigil init`. Check it with `vigil config validate {name}`;
# `vigil config schema` prints the JSON Schema for your editor.

# What Vigil watches.
scopes:
  subscriptions:
{subscriptions}

# Where alerts go (Alertmanager's routing: the first matching route wins).
route:
  receiver: finops                 # the default receiver
  group_by: [alertname, resource_id]
  group_wait: 30s                  # wait this long to batch the first notification of a group
  group_interval: 5m               # then at most one update per group this often
  repeat_interval: 4h              # and repeat a still-firing group this often
  routes:
    - receiver: security           # policy drift and activity-log alerts
      matchers: ['detector=~"drift|activity"']
    - receiver: finops             # cost anomalies, budgets and idle resources
      matchers: ['detector=~"overspend|idle"']

receivers:
  - name: finops
    msteams_configs:
      # A Teams Workflows webhook ("Post to a channel when a webhook request is received").
      # Prefer webhook_url_file (a mounted secret) to a URL written here.
      - webhook_url: https://example.webhook.office.com/replace-me-finops
    email_configs:
      - to: finops@example.com
        from: vigil@example.com
        smarthost: smtp.example.com:587
  - name: security
    msteams_configs:
      - webhook_url: https://example.webhook.office.com/replace-me-security
    email_configs:
      - to: secops@example.com
        from: vigil@example.com
        smarthost: smtp.example.com:587

# Money is shown in the billing currency of the cost exports ($1,234.56). To show a second currency
# beside it on cards, emails and the digest, name it and give the rate from each billing currency:
# display:
#   currency: EUR
#   rates: {{USD: 0.92}}            # 1 USD = 0.92 EUR (your finance team's rate)
#   rates_date: 2026-11-01
"""


@app.command("init")
def init(
    subscription: list[str] = typer.Option(
        ..., "--subscription", "-s", help="Subscription id to monitor (repeatable).", metavar="GUID"
    ),
    out: Path = typer.Option(Path("vigil.yaml"), "--out", help="File to write.", metavar="PATH"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter vigil.yaml for your subscriptions (it validates as written)."""
    import re

    from vigil.cli.common import fail, load_config_or_exit

    bad = [s for s in subscription if not re.match(_GUID, s.strip())]
    if bad:
        raise fail(f"--subscription {bad[0]!r}: not a subscription id (a GUID such as 6513270e-269e-…)")
    if out.exists() and not force:
        raise fail(f"{out}: already exists (use --force to overwrite)")
    subs = "\n".join(f"    - {s.strip().lower()}" for s in dict.fromkeys(subscription))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(STARTER.format(name=out, subscriptions=subs), encoding="utf-8")
    load_config_or_exit(out)  # the file written validates
    typer.echo(f"{out}: written for {len(set(subscription))} subscription(s); next: vigil config validate {out}")
