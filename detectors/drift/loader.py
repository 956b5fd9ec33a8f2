"""Load policy definitions: the built-in rule pack and users' folders.

A user definition file holds what ``az policy definition show`` prints (top-level
``id``/``name``/``properties``), a JSON array of those, or a list response
(``{"value": [...]}``). Parameter values come from config
(``detectors.drift.parameters``: definition name -> {parameter: value}).

Every definition is compiled at load time; a malformed one raises
:class:`PolicyLoadError` naming the file and the JSON path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.base import RuleMeta, load_meta
from detectors.drift.engine import CompiledPolicy, PolicyLoadError, compile_policy
from detectors.registry import family_folders

__all__ = [
    "INITIATIVES",
    "DriftRule",
    "RuleSet",
    "builtin_definitions",
    "builtin_rules",
    "load_policies",
    "load_policy_file",
    "rules_from_policies",
]

#: Initiatives (policy set definitions) over the built-in pack, e.g. ``azure-ml-security.json``.
INITIATIVES = Path(__file__).with_name("initiatives")


@dataclass(frozen=True, slots=True)
class DriftRule:
    """A compiled policy plus the metadata that turns a verdict into a finding."""

    policy: CompiledPolicy
    meta: RuleMeta | None = None

    @property
    def id(self) -> str:
        return self.policy.rule


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise PolicyLoadError(
            str(path), "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(str(path), "$", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise PolicyLoadError(str(path), "$", f"cannot read: {exc}") from None


def _params_for(parameters: Mapping[str, Mapping[str, Any]], *names: str) -> Mapping[str, Any]:
    lower = {k.lower(): v for k, v in parameters.items()}
    for n in names:
        if n and n.lower() in lower:
            return lower[n.lower()]
    return {}


def load_policy_file(
    path: Path, parameters: Mapping[str, Mapping[str, Any]] | None = None, *, rule: str | None = None
) -> list[CompiledPolicy]:
    data = _read_json(path)
    items: list[tuple[str, Any]]
    if isinstance(data, list):
        items = [(f"[{i}]", d) for i, d in enumerate(data)]
    elif isinstance(data, dict) and isinstance(data.get("value"), list) and "properties" not in data:
        items = [(f"$.value[{i}]", d) for i, d in enumerate(data["value"])]
    else:
        items = [("", data)]
    out = []
    for prefix, d in items:
        src = f"{path}{(' ' + prefix) if prefix else ''}"
        name = str(d.get("name") or "") if isinstance(d, dict) else ""
        display = ""
        if isinstance(d, dict) and isinstance(d.get("properties"), dict):
            display = str(d["properties"].get("displayName") or "")
        params = _params_for(parameters or {}, rule or "", name, display, path.stem)
        out.append(compile_policy(d, source=src, rule=rule, parameters=params))
    return out


def load_policies(
    paths: Iterable[str | Path], parameters: Mapping[str, Mapping[str, Any]] | None = None
) -> list[CompiledPolicy]:
    """Compile every ``*.json`` definition under the given files and folders."""
    out: list[CompiledPolicy] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*.json") if not f.name.endswith(".metadata.json"))
        elif path.exists():
            files = [path]
        else:
            raise PolicyLoadError(str(path), "$", "no such file or folder")
        for f in files:
            out.extend(load_policy_file(f, parameters))
    return out


def builtin_rules(parameters: Mapping[str, Mapping[str, Any]] | None = None) -> list[DriftRule]:
    """The built-in pack: each folder listed in ``detectors/drift/rules.txt``."""
    out: list[DriftRule] = []
    for folder in family_folders("drift"):
        meta = load_meta(folder, "drift")
        policy_file = folder / f"{folder.name}.policy.json"
        compiled = load_policy_file(policy_file, parameters, rule=meta.id)
        if len(compiled) != 1:
            raise PolicyLoadError(str(policy_file), "$", "a rule folder holds exactly one definition")
        out.append(DriftRule(policy=compiled[0], meta=meta))
    return out


def builtin_definitions() -> dict[str, dict[str, Any]]:
    """The built-in pack's definitions and initiatives as documents, by id (for assignments)."""
    out: dict[str, dict[str, Any]] = {}
    for folder in family_folders("drift"):
        doc = _read_json(folder / f"{folder.name}.policy.json")
        out[str(doc["id"])] = doc
    for f in sorted(INITIATIVES.glob("*.json")):
        doc = _read_json(f)
        out[str(doc["id"])] = doc
    return out


def rules_from_policies(policies: Iterable[CompiledPolicy]) -> list[DriftRule]:
    return [DriftRule(policy=p) for p in policies]


class RuleSet:
    """Rules indexed by the resource types they apply to (built once, reused per event)."""

    def __init__(self, rules: Iterable[DriftRule]) -> None:
        self.rules = list(rules)
        self._any = [r for r in self.rules if r.policy.types is None]
        self._by_type: dict[str, list[DriftRule]] = {}
        for r in self.rules:
            for t in r.policy.types or ():
                self._by_type.setdefault(t, []).append(r)
        self._existence_types = {r.policy.existence.type.lower() for r in self.rules if r.policy.existence is not None}

    def for_type(self, resource_type: str) -> list[DriftRule]:
        typed = self._by_type.get(resource_type.lower(), [])
        return typed + self._any if self._any else typed

    def is_related_type(self, resource_type: str) -> bool:
        """True for types some rule reads as related resources (e.g. diagnosticSettings)."""
        return resource_type.lower() in self._existence_types

    def __len__(self) -> int:
        return len(self.rules)
