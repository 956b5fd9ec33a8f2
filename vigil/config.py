"""vigil.yaml: the typed, validated configuration.

Unknown keys anywhere are errors, reported with their key path. Each package
owns the models of its own section; this module composes them. A config that
holds only ``route`` and ``receivers`` (an alertmanager.yml routing block) is
valid, with every other section at its default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from alerts.config import AlertingConfig, DigestConfig
from core.strict import StrictModel, unknown_key_hint
from detectors.config import DetectorsConfig
from ingest.config import SourcesConfig

__all__ = ["ConfigError", "ScopesConfig", "VigilConfig", "json_schema", "load_config", "parse_config"]


class ConfigError(ValueError):
    """A config file failed validation. ``str()`` lists each error with its key path."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        if [path for path, _ in errors] == ["<file>"]:  # not read at all: no key paths to list
            lines = [f"{source}: cannot read the configuration: {errors[0][1]}"]
        else:
            lines = [f"{source}: invalid configuration ({len(errors)} error(s))"]
            lines += [f"  {path}: {msg}" for path, msg in errors]
        super().__init__("\n".join(lines))


class ScopesConfig(StrictModel):
    subscriptions: list[str] = Field(default_factory=list, description="Subscription ids to monitor.")
    management_groups: list[str] = Field(default_factory=list, description="Management group ids to monitor.")

    @field_validator("subscriptions")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [s.strip().lower() for s in v]


class VigilConfig(AlertingConfig):
    """The whole file: the alerting keys (``alerts.config.AlertingConfig``) plus every other section."""

    scopes: ScopesConfig = Field(default_factory=ScopesConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    detectors: DetectorsConfig = Field(default_factory=DetectorsConfig)
    digests: list[DigestConfig] = Field(default_factory=list)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def parse_config(data: Any, source: str = "<config>", *, base_dir: Path | None = None) -> VigilConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [("<root>", "expected a mapping at the top level")])
    try:
        return VigilConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key" + unknown_key_hint(VigilConfig, tuple(err["loc"]))
            elif msg.startswith("Value error, "):
                msg = msg.removeprefix("Value error, ")
            path = _path(tuple(err["loc"]))
            if path == "<root>" and ": " in msg:  # the whole-document checks: "path: message; path: message"
                for part in msg.split("; "):
                    key, _, text = part.partition(": ")
                    errors.append((key, text) if text else (path, part))
                continue
            errors.append((path, msg))
        errors += [e for e in _undefined_receivers(data) if e not in errors]
        raise ConfigError(source, errors) from None


def _undefined_receivers(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Routes naming a receiver that is not defined, read from the raw document, so that the error
    is reported in the same pass as field errors (the whole-document check needs a valid document)."""
    receivers = data.get("receivers")
    items = receivers if isinstance(receivers, list) else []
    names = {r["name"] for r in items if isinstance(r, dict) and isinstance(r.get("name"), str)}
    errors: list[tuple[str, str]] = []

    def walk(route: Any, path: str) -> None:
        if not isinstance(route, dict):
            return
        name = route.get("receiver")
        if isinstance(name, str) and name and name not in names:
            errors.append((f"{path}.receiver", f"undefined receiver {name!r} used in route"))
        children = route.get("routes")
        for i, child in enumerate(children if isinstance(children, list) else []):
            walk(child, f"{path}.routes[{i}]")

    walk(data.get("route"), "route")
    return errors


def load_config(path: str | Path | None) -> VigilConfig:
    """Load vigil.yaml; ``None`` gives the defaults."""
    if path is None:
        return VigilConfig()
    import yaml  # local import: keep the event path's cold start light

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        hint = " (`vigil init --out PATH` writes a starter file)" if isinstance(exc, FileNotFoundError) else ""
        raise ConfigError(str(p), [("<file>", f"{exc.strerror or exc}{hint}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(p), [("<yaml>", str(exc))]) from None
    return parse_config(data, str(p), base_dir=p.parent)


def json_schema() -> str:
    schema = VigilConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "vigil.yaml"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
