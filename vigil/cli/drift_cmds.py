"""`vigil drift`: Evaluate Azure Policy rules against ARM resources."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from vigil.cli.common import fail as _fail

app = typer.Typer(help="Evaluate Azure Policy rules against ARM resources.", no_args_is_help=True)
aliases_app = typer.Typer(help="Azure Policy's alias catalogue (alias -> ARM JSON path).", no_args_is_help=True)
app.add_typer(aliases_app, name="aliases")

ALIAS_CACHE_ENV = "VIGIL_ALIAS_CACHE"


def alias_cache_path() -> Path:
    """Where ``vigil drift aliases refresh`` caches the live catalogue (``$VIGIL_ALIAS_CACHE``)."""
    env = os.environ.get(ALIAS_CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "vigil" / "aliases.snapshot.json.gz"


def _use_alias_cache() -> None:
    """Use the refreshed catalogue when there is one (else the snapshot shipped in the package)."""
    path = alias_cache_path()
    if path.exists():
        from detectors.drift.aliases import AliasCatalogue, use_catalogue

        try:
            use_catalogue(AliasCatalogue.load(path))
        except ValueError as exc:
            raise _fail(str(exc)) from None


def _credential() -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@aliases_app.command("refresh")
def aliases_refresh(
    subscription: str = typer.Option(..., "--subscription", envvar="AZURE_SUBSCRIPTION_ID", help="Subscription id."),
    out: Path | None = typer.Option(None, "--out", help=f"Cache file (default: ${ALIAS_CACHE_ENV} or ~/.cache/vigil)."),
    arm_url: str | None = typer.Option(None, "--arm-url", help="ARM endpoint (default: public Azure)."),
) -> None:
    """Re-read the alias catalogue from ARM (providers?$expand=resourceTypes/aliases) and cache it."""
    from detectors.drift.aliases import AliasCatalogue, write_snapshot
    from ingest.policy_aliases import read_alias_catalogue

    target = out or alias_cache_path()
    kwargs: dict[str, Any] = {"credential_scopes": ["https://management.azure.com/.default"]}
    if arm_url:
        kwargs["base_url"] = arm_url
    try:
        types = read_alias_catalogue(_credential(), subscription, **kwargs)
    except Exception as exc:  # an SDK/HTTP/auth failure: say what failed, keep the old cache
        raise _fail(f"cannot read the alias catalogue from ARM: {type(exc).__name__}: {exc}", code=1) from None
    if not types:
        raise _fail("ARM returned no aliases; the cache is unchanged", code=1)
    origin = f"ARM GET /subscriptions/{subscription}/providers?$expand=resourceTypes/aliases"
    count = write_snapshot(types, target, origin=origin)
    cat = AliasCatalogue.load(target)
    typer.echo(f"{target}: {count} aliases of {cat.type_count} resource types")


def _unwrap(doc: Any) -> Any:
    """REST-spec example files: {"parameters":..,"responses":{"200":{"body":..}}}."""
    if isinstance(doc, dict) and "responses" in doc and "parameters" in doc:
        for code in ("200", "201"):
            body = doc["responses"].get(code) if isinstance(doc["responses"], dict) else None
            if isinstance(body, dict) and "body" in body:
                return body["body"]
    return doc


def read_resources(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Resources from files or folders: one resource, a JSON array, or an ARM list (``value[]``)."""
    out: list[dict[str, Any]] = []
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        if not path.exists():
            raise _fail(f"{path}: no such file or folder")
        for f in files:
            try:
                doc = _unwrap(json.loads(f.read_text(encoding="utf-8-sig")))
            except (OSError, json.JSONDecodeError) as exc:
                raise _fail(f"{f}: cannot read JSON: {exc}") from None
            items = doc.get("value") if isinstance(doc, dict) and isinstance(doc.get("value"), list) else doc
            items = items if isinstance(items, list) else [items]
            for i, item in enumerate(items):
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item.get("type"):
                    raise _fail(f"{f}: record [{i}]: a resource needs string 'id' and 'type'")
                out.append(item)
    return out


def _read_params(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"{path}: cannot read parameters: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise _fail(f"{path}: expected {{definition name: {{parameter: value}}}}")
    return {str(k): dict(v) for k, v in data.items()}


def _progress(items: Sequence[dict[str, Any]], label: str) -> Any:
    """A rich progress bar on stderr for long runs (silent when stderr is not a terminal)."""
    if len(items) < 500:
        return items
    from rich.console import Console
    from rich.progress import track

    return track(items, description=label, console=Console(stderr=True), transient=True)


def _related_from(resources: Sequence[Mapping[str, Any]]) -> Any:
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(str(r.get("type", "")).lower(), []).append(r)

    def related(resource: Mapping[str, Any], rtype: str) -> list[Mapping[str, Any]] | None:
        candidates = by_type.get(rtype.lower())
        if candidates is None:
            return None  # no resource of that type was given: unknown, not "none exist"
        prefix = str(resource.get("id", "")).lower().rstrip("/") + "/"  # children and extensions
        return [c for c in candidates if str(c.get("id", "")).lower().startswith(prefix)]

    return related


@app.command("evaluate")
def evaluate(
    resources: list[Path] = typer.Option(..., "--resources", "-r", help="Resource JSON files or folders."),
    policies: list[Path] = typer.Option(
        [], "--policies", "-p", help="Policy definition files or folders (default: the built-in pack)."
    ),
    params: Path | None = typer.Option(None, "--params", help="JSON/YAML: {definition name: {parameter: value}}."),
    with_builtin: bool = typer.Option(
        False, "--with-builtin", help="Evaluate the built-in pack as well as --policies."
    ),
    assignments: list[Path] = typer.Option(
        [],
        "--assignments",
        "-a",
        help="Policy assignments, exemptions and the definitions/initiatives they use (az policy ... list output).",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per resource and rule."),
) -> None:
    """Evaluate policy definitions (or assignments, with their exemptions) against ARM resource JSON.

    Prints, per resource and applicable rule, {"resource_id", "rule",
    "policy_definition_id", "compliant", "effect", "reason"}. "compliant" is null
    when an auditIfNotExists rule needs related resources (e.g. diagnostic
    settings) that were not given.
    """
    from datetime import UTC, datetime

    from detectors.drift.assignments import load_policy_documents
    from detectors.drift.engine import EvalEnv, PolicyLoadError, evaluate_all
    from detectors.drift.loader import builtin_definitions, builtin_rules, load_policies

    parameters = _read_params(params)
    _use_alias_cache()
    try:
        use_builtin = (not policies and not assignments) or with_builtin
        compiled = [r.policy for r in builtin_rules(parameters)] if use_builtin else []
        if policies:
            compiled += load_policies(policies, parameters)
        docs = load_policy_documents(assignments) if assignments else None
        assigned = docs.compile(builtin_definitions()) if docs is not None else []
    except PolicyLoadError as exc:
        raise _fail(str(exc)) from None
    items = read_resources(resources)
    related = _related_from(items)
    env = EvalEnv(now=datetime.now(UTC))  # utcNow(); expiry of exemptions
    non_compliant = 0
    for resource in _progress(items, "evaluating"):
        verdicts = evaluate_all(compiled, resource, related=related, env=env)
        for a in assigned:
            verdicts += a.evaluate(resource, related=related, env=env, exemptions=docs.exemptions if docs else ())
        for verdict in verdicts:
            non_compliant += verdict.compliant is False
            if as_json:
                sys.stdout.write(json.dumps(verdict.to_dict(), sort_keys=False) + "\n")
            else:
                state = {True: "ok", False: "DRIFT", None: "unknown"}[verdict.compliant]
                typer.echo(f"{state:8} {verdict.rule:40} {verdict.resource_id}  {verdict.reason}")
    if not as_json:
        typer.echo(f"{len(items)} resource(s), {non_compliant} non-compliant verdict(s)", err=True)


@app.command("rules")
def rules(as_json: bool = typer.Option(False, "--json", help="One JSON line per rule.")) -> None:
    """List the built-in rule pack."""
    from detectors.drift.loader import builtin_rules

    for r in builtin_rules():
        meta = r.meta
        row = {
            "rule": r.id,
            "severity": meta.severity.value if meta else "",
            "types": sorted(r.policy.types or []),
            "effect": r.policy.effect,
            "builtin_policy_id": meta.extra.get("builtin_policy_id") if meta else None,
            "title": meta.title if meta else r.policy.display_name,
        }
        if as_json:
            sys.stdout.write(json.dumps(row) + "\n")
        else:
            typer.echo(f"{row['rule']:40} {row['severity']:8} {row['title']}")
