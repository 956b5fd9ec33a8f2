"""Azure Policy aliases: from an alias name to a path in the ARM resource JSON.

Every alias resolves through Azure's own alias catalogue, never a guess: the data
ARM returns for ``GET /providers?$expand=resourceTypes/aliases`` (each alias's
``defaultPath``, the path a compliance scan on the latest API version reads).

* The package ships a snapshot, ``aliases.snapshot.json.gz``, built by
  ``scripts/gen_alias_snapshot.py`` from ``../shared/azure-policy/aliases.json.gz``.
* ``vigil drift aliases refresh`` re-reads the catalogue from ARM and writes a file
  of the same format; :func:`use_catalogue` makes it the one in use.

An alias belongs to resource types: ``Microsoft.Compute/virtualMachines/sku.name``
is ``properties.hardwareProfile.vmSize`` on a VM; an alias without a resource
type in its name (``Microsoft.Compute/imagePublisher``) has one path per type
(VMs, scale sets, disks). On a resource of a type the alias does not belong to,
the field is missing. A name that is in no type of the catalogue is unknown,
and the compiler refuses the definition naming it.

Snapshot format (compact: most default paths are ``properties.<alias suffix>``)::

    {"format": "vigil-alias-snapshot/1", "source": "...",
     "types": {"<resource type>": {"<key>": "<code>"}}}

``<key>`` is the alias name without ``<resource type>/``, or ``/`` + the full
alias name when the name does not start with the type. ``<code>`` is ``""`` for
``properties.<key>``, ``"."`` for ``<key>`` itself (``sku.name``, ``kind``), and
the full default path otherwise.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

__all__ = [
    "SNAPSHOT",
    "STAR",
    "AliasCatalogue",
    "PathToken",
    "alias_path",
    "catalogue",
    "encode_snapshot",
    "parse_path",
    "use_catalogue",
    "write_snapshot",
]

SNAPSHOT = Path(__file__).with_name("aliases.snapshot.json.gz")
FORMAT = "vigil-alias-snapshot/1"


class _Star:
    __slots__ = ()

    def __repr__(self) -> str:
        return "[*]"


STAR = _Star()
PathToken = str | int | _Star

_TOKEN = re.compile(r"\[\*\]|\[(\d+)\]|\['([^']*)'\]|\[([^\]'*]+)\]|([^.\[\]]+)")


@lru_cache(maxsize=8192)
def parse_path(path: str) -> tuple[PathToken, ...]:
    """``a.b[*].c['x y'][0]`` -> ``('a', 'b', STAR, 'c', 'x y', 0)``."""
    out: list[PathToken] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        if path[pos : m.start()].strip(".") != "":
            raise ValueError(f"cannot parse path {path!r}")
        pos = m.end()
        if m.group(0) == "[*]":
            out.append(STAR)
        elif m.group(1) is not None:
            out.append(int(m.group(1)))
        else:
            out.append(m.group(2) if m.group(2) is not None else (m.group(3) or m.group(4)))
    if path[pos:].strip(".") != "":
        raise ValueError(f"cannot parse path {path!r}")
    return tuple(out)


# --------------------------------------------------------------------------- snapshot files


def encode_snapshot(types: Mapping[str, Mapping[str, str]], *, origin: str) -> dict[str, object]:
    """``{resource type: {alias: default path}}`` -> the compact snapshot document.

    Types that differ only in case (ARM lists a few twice) are merged; the first
    path seen for an alias wins (the listing repeats identical paths).
    """
    merged: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    for rtype in sorted(types):
        low = rtype.lower()
        names.setdefault(low, rtype)
        out = merged.setdefault(low, {})
        seen = {k.lower() for k in out}
        prefix = low + "/"
        for alias in sorted(types[rtype]):
            path = types[rtype][alias]
            if not isinstance(alias, str) or not isinstance(path, str) or not path:
                continue
            if alias.lower().startswith(prefix) and len(alias) > len(prefix):
                key = alias[len(prefix) :]
                code = "" if path == "properties." + key else "." if path == key else path
            else:
                key, code = "/" + alias, path
            if key.lower() in seen:
                continue
            seen.add(key.lower())
            out[key] = code
    return {
        "format": FORMAT,
        "source": origin,
        "types": {names[low]: merged[low] for low in sorted(merged)},
    }


def write_snapshot(types: Mapping[str, Mapping[str, str]], out: Path, *, origin: str) -> int:
    """Write a snapshot (deterministic bytes for the same input); returns the alias count."""
    doc = encode_snapshot(types, origin=origin)
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(out)
    encoded = doc["types"]
    assert isinstance(encoded, dict)
    return sum(len(v) for v in encoded.values())


class AliasCatalogue:
    """Aliases by resource type (keys lower case), with their default paths.

    A type's entries are decoded the first time a resource of that type is read.
    """

    __slots__ = ("_by_type", "_known", "_raw", "source")

    def __init__(self, raw: dict[str, tuple[str, dict[str, str]]], *, source: str) -> None:
        self._raw = raw  # lower type -> (type as ARM spells it, snapshot entries)
        self._by_type: dict[str, dict[str, str]] = {}
        known: set[str] = set()
        for rtype, entries in raw.values():
            for key in entries:
                known.add(key[1:].lower() if key.startswith("/") else f"{rtype}/{key}".lower())
        self._known = frozenset(known)
        self.source = source

    @classmethod
    def from_document(cls, doc: object, *, where: str) -> AliasCatalogue:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("types"), dict):
            raise ValueError(f"{where}: not an alias snapshot (format {FORMAT})")
        raw: dict[str, tuple[str, dict[str, str]]] = {}
        for rtype, entries in doc["types"].items():
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise ValueError(f"{where}: types.{rtype}: expected an object of strings")
            raw[rtype.lower()] = (rtype, entries)
        return cls(raw, source=str(doc.get("source") or where))

    @classmethod
    def load(cls, path: Path) -> AliasCatalogue:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError, EOFError) as exc:
            raise ValueError(f"{path}: cannot read the alias snapshot: {exc}") from None
        return cls.from_document(doc, where=str(path))

    def extended(self, types: Mapping[str, Mapping[str, str]], *, source: str) -> AliasCatalogue:
        """A copy with more aliases (``{resource type: {alias: default path}}``), e.g. a test type."""
        raw = {low: (rtype, dict(entries)) for low, (rtype, entries) in self._raw.items()}
        for rtype, aliases in types.items():
            _name, entries = raw.setdefault(rtype.lower(), (rtype, {}))
            for alias, path in aliases.items():
                entries["/" + alias] = path
        return AliasCatalogue(raw, source=f"{self.source} + {source}")

    def __len__(self) -> int:
        return sum(len(e) for _t, e in self._raw.values())

    @property
    def type_count(self) -> int:
        return len(self._raw)

    def known(self, alias_lower: str) -> bool:
        return alias_lower in self._known

    def _entries(self, resource_type_lower: str) -> dict[str, str] | None:
        out = self._by_type.get(resource_type_lower)
        if out is None:
            found = self._raw.get(resource_type_lower)
            if found is None:
                return None
            rtype, entries = found
            out = {}
            for key, code in entries.items():
                if key.startswith("/"):
                    out[key[1:].lower()] = code
                else:
                    out[f"{rtype}/{key}".lower()] = "properties." + key if code == "" else key if code == "." else code
            self._by_type[resource_type_lower] = out
        return out

    def default_path(self, alias_lower: str, resource_type_lower: str) -> str | None:
        entries = self._entries(resource_type_lower)
        return None if entries is None else entries.get(alias_lower)

    def types_of(self, alias_lower: str) -> list[str]:
        return sorted(t for t in self._raw if self.default_path(alias_lower, t) is not None)

    def path(self, alias_lower: str, resource_type_lower: str) -> tuple[PathToken, ...] | None:
        """The parsed default path, or None when the alias does not belong to the type."""
        p = self.default_path(alias_lower, resource_type_lower)
        return None if p is None else parse_path(p)


_ACTIVE: list[AliasCatalogue] = []  # the catalogue in use, once loaded


def catalogue() -> AliasCatalogue:
    """The catalogue in use: the shipped snapshot unless :func:`use_catalogue` set another."""
    if not _ACTIVE:
        _ACTIVE.append(AliasCatalogue.load(SNAPSHOT))
    return _ACTIVE[0]


def use_catalogue(cat: AliasCatalogue | None) -> None:
    """Use ``cat`` for definitions compiled from now on (None: back to the shipped snapshot)."""
    _ACTIVE.clear()
    if cat is not None:
        _ACTIVE.append(cat)


def alias_path(alias_lower: str, resource_type_lower: str) -> tuple[PathToken, ...] | None:
    """The JSON path of an alias for a resource of the given type, or None (the field is missing)."""
    return catalogue().path(alias_lower, resource_type_lower)
