"""The Azure Policy built-in corpus: read definitions from the release tarball, fill parameters.

``../shared/azure-policy/builtin-policy-definitions.tar.gz`` holds Azure/azure-policy's
``built-in-policies/policyDefinitions/<category>/*.json``. The coverage test and
``bench/drift`` load every definition with :func:`sample_parameters`: the declared
default, else the first allowed value, else a placeholder of the declared type (the
value an assignment would have to supply).
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["is_data_plane", "iter_definitions", "sample_parameters"]

_PLACEHOLDER: dict[str, Any] = {
    "string": "placeholder",
    "array": [],
    "object": {},
    "integer": 1,
    "float": 1.0,
    "boolean": True,
    "datetime": "2026-01-01T00:00:00Z",
}


def is_data_plane(definition: Mapping[str, Any]) -> bool:
    """A resource-provider (data-plane) mode such as ``Microsoft.KeyVault.Data``; no mode means Indexed."""
    props = definition.get("properties")
    mode = str((props if isinstance(props, Mapping) else definition).get("mode") or "Indexed").lower()
    return mode not in ("all", "indexed")


def sample_parameters(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A value for every declared parameter (defaults first)."""
    props = definition.get("properties")
    declared = (props if isinstance(props, Mapping) else definition).get("parameters") or {}
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        if not isinstance(spec, Mapping):
            continue
        if "defaultValue" in spec:
            out[name] = spec["defaultValue"]
            continue
        kind = str(spec.get("type") or "String").lower()
        allowed = spec.get("allowedValues")
        if isinstance(allowed, list) and allowed:
            first = allowed[0]
            out[name] = [first] if kind == "array" and not isinstance(first, list) else first
        else:
            out[name] = _PLACEHOLDER.get(kind, "placeholder")
    return out


def iter_definitions(tarball: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path inside the tarball, definition) for every ``*.json`` definition, in tarball order."""
    with tarfile.open(tarball) as tf:
        for member in tf:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            fh = tf.extractfile(member)
            if fh is None:
                continue
            doc = json.loads(fh.read().decode("utf-8-sig"))
            if isinstance(doc, dict):
                yield member.name, doc
