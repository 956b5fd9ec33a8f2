"""Warnings for an alertmanager.yml that loads but that Vigil does not carry out in full.

Each warning is ``(key path, message)``: a receiver type Vigil does not deliver to, an ``http_config``
option it does not apply, a template field or ``templates:`` file beyond the supported Go template
subset. Errors (what Alertmanager itself rejects) are validation errors elsewhere; these never fail a load.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from alerts.amconfig import UNDELIVERED_TYPES, HTTPClientConfig
from alerts.amdefaults import VIEW_TEMPLATES
from alerts.channels.http import unsupported_http_options
from alerts.config import AlertingConfig
from alerts.template import Library, check_field, check_html, library

__all__ = ["config_warnings"]

_TEMPLATED = ("slack_configs", "pagerduty_configs", "opsgenie_configs")
_LAYOUT = "Vigil's own layout is sent instead"


def _template_fields(model: BaseModel, path: str, lib: Library) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in model:
        key = f"{path}.{name.rstrip('_')}"
        if isinstance(value, str):
            why = check_field(value, lib)
            if why:
                out.append((key, f"template not supported by Vigil (sent as written): {why}"))
        elif isinstance(value, BaseModel) and not isinstance(value, HTTPClientConfig):
            out.extend(_template_fields(value, key, lib))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out.extend(_template_fields(item, f"{key}[{i}]", lib))
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str) and (why := check_field(v, lib)):
                    out.append((f"{key}.{k}", f"template not supported by Vigil (sent as written): {why}"))
    return out


def config_warnings(cfg: AlertingConfig, *, base_dir: Path | None = None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    patterns = tuple(
        pat if Path(pat).is_absolute() or base_dir is None else str(base_dir / pat) for pat in cfg.templates
    )
    lib = library(patterns)
    for i, r in enumerate(cfg.receivers):
        p = f"receivers[{i}]"
        for t in UNDELIVERED_TYPES:
            if getattr(r, t):
                out.append((f"{p}.{t}", f"Vigil does not deliver to {t}: its notifications are recorded as failed"))
        for j, pd in enumerate(r.pagerduty_configs):
            if not (pd.routing_key or pd.routing_key_file):
                out.append(
                    (f"{p}.pagerduty_configs[{j}].service_key", "Events API v1 is not delivered; use routing_key")
                )
        for field_name, names in (
            ("msteams_configs", ("title", "summary", "text")),
            ("msteamsv2_configs", ("title", "summary", "text")),
            ("email_configs", ("html", "text")),
        ):
            views = VIEW_TEMPLATES[field_name]
            for j, c in enumerate(getattr(r, field_name)):
                for name in names:
                    value = getattr(c, name) or ""
                    why = check_html(value, lib, views) if name == "html" else check_field(value, lib, views)
                    if why:
                        out.append(
                            (f"{p}.{field_name}[{j}].{name}", f"template not supported by Vigil ({_LAYOUT}): {why}")
                        )
        for field_name in (
            "slack_configs",
            "pagerduty_configs",
            "opsgenie_configs",
            "webhook_configs",
            "msteams_configs",
            "msteamsv2_configs",
            "alertmanager_configs",
        ):
            for j, c in enumerate(getattr(r, field_name)):
                key = f"{p}.{field_name}[{j}]"
                if field_name.startswith("msteams") and c.http_config is not None:
                    out.append((f"{key}.http_config", "not applied to Teams by Vigil"))
                    continue
                for opt in unsupported_http_options(c.http_config):
                    out.append((f"{key}.http_config.{opt}", "not applied by Vigil"))
                if field_name in _TEMPLATED:
                    out.extend(_template_fields(c, key, lib))
    for opt in unsupported_http_options(cfg.global_.http_config):
        out.append((f"global.http_config.{opt}", "not applied by Vigil"))
    for path, why in lib.errors:
        i = next((k for k, pat in enumerate(patterns) if path == pat or Path(path).match(pat)), 0)
        out.append((f"templates[{i}]", f"{path}: {why}"))
    return out
