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

Snapshot format (compact: most default paths are ``properties.<alias suffix>``,
possibly with more ``properties`` levels inside nested resources)::

    {"format": "vigil-alias-snapshot/2", "source": "...", "count": N,
     "types": {"<resource type>": "<JSON text of {<suffix>: <code>}>"},
     "typeless": {"<resource type>": {"<alias>": "<default path>"}}}

``<suffix>`` is the alias name without ``<resource type>/``; ``<code>`` is ``""`` for
``properties.<suffix>``, ``"."`` for ``<suffix>`` itself (``sku.name``, ``kind``),
``"~0,2"`` for ``<suffix>`` with ``properties`` inserted before its segments 0 and 2
(``ipConfigurations[*].publicIPAddress.id`` -> ``properties.ipConfigurations[*].properties.publicIPAddress.id``),
``"~0;1,3"`` for the same with segments 1 and 3 dropped (polymorphic type names such as
``linkedservices/AzureBlobStorage.typeProperties...``), and the full default path
otherwise. ``typeless`` holds the aliases whose name does not start with the type they
are listed under (``Microsoft.Compute/imagePublisher``).
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
FORMAT = "vigil-alias-snapshot/2"


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


def _segments(key: str) -> list[str]:
    return key.split(".")


def _encode_path(key: str, path: str) -> str:
    """The shortest code that rebuilds ``path`` from the alias suffix ``key`` (see the module doc)."""
    if path == "properties." + key:
        return ""
    if path == key:
        return "."
    segs, out = _segments(key), _segments(path)
    inserts: list[int] = []
    drops: list[int] = []
    i = j = 0
    while i < len(out) and j < len(segs):
        if out[i] == segs[j]:
            i, j = i + 1, j + 1
        elif out[i] == "properties":
            inserts.append(j)
            i += 1
        else:  # a segment of the name that is not in the path (a polymorphic type name)
            drops.append(j)
            j += 1
    drops.extend(range(j, len(segs)))
    if i == len(out):
        code = "~" + ",".join(map(str, inserts)) + (";" + ",".join(map(str, drops)) if drops else "")
        if len(code) < len(path) and _decode_path(key, code) == path:
            return code
    return path


def _decode_path(key: str, code: str) -> str:
    if code == "":
        return "properties." + key
    if code == ".":
        return key
    if code.startswith("~"):
        ins, _, dro = code[1:].partition(";")
        inserts = [int(n) for n in ins.split(",") if n]
        drops = {int(n) for n in dro.split(",") if n}
        out: list[str] = []
        for j, seg in enumerate(_segments(key)):
            out.extend("properties" for n in inserts if n == j)
            if j not in drops:
                out.append(seg)
        return ".".join(out)
    return code


def encode_snapshot(types: Mapping[str, Mapping[str, str]], *, origin: str) -> dict[str, object]:
    """``{resource type: {alias: default path}}`` -> the compact snapshot document.

    Types that differ only in case (ARM lists a few twice) are merged; the first
    path seen for an alias wins (the listing repeats identical paths). Each type's
    entries are one JSON string, decoded the first time a resource of the type is
    read; aliases whose name does not start with their type are kept apart
    (``typeless``), decoded at load.
    """
    merged: dict[str, dict[str, str]] = {}
    typeless: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    for rtype in sorted(types):
        low = rtype.lower()
        names.setdefault(low, rtype)
        out = merged.setdefault(low, {})
        other = typeless.setdefault(low, {})
        seen = {k.lower() for k in out} | {k.lower() for k in other}
        prefix = low + "/"
        for alias in sorted(types[rtype]):
            path = types[rtype][alias]
            if not isinstance(alias, str) or not isinstance(path, str) or not path:
                continue
            if alias.lower() in seen:
                continue
            seen.add(alias.lower())
            if alias.lower().startswith(prefix) and len(alias) > len(prefix):
                key = alias[len(prefix) :]
                out[key] = _encode_path(key, path)
            else:
                other[alias] = path
    return {
        "format": FORMAT,
        "source": origin,
        "count": sum(len(v) for v in merged.values()) + sum(len(v) for v in typeless.values()),
        "types": {
            names[low]: json.dumps(merged[low], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            for low in sorted(merged)
        },
        "typeless": {names[low]: typeless[low] for low in sorted(typeless) if typeless[low]},
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
    count = doc["count"]
    assert isinstance(count, int)
    return count


class AliasCatalogue:
    """Aliases by resource type (keys lower case), with their default paths.

    A type's entries are decoded the first time a resource of that type is read, so
    loading the catalogue costs little more than reading the file.
    """

    __slots__ = ("_by_type", "_count", "_raw", "_typeless", "source")

    def __init__(
        self,
        raw: dict[str, tuple[str, str | dict[str, str]]],
        typeless: dict[str, dict[str, str]],
        *,
        source: str,
        count: int,
    ) -> None:
        self._raw = raw  # lower type -> (type as ARM spells it, entries: JSON text until decoded)
        self._typeless = typeless  # lower type -> {lower alias: path} for aliases not named after their type
        self._by_type: dict[str, dict[str, str]] = {}
        self._count = count
        self.source = source

    @classmethod
    def from_document(cls, doc: object, *, where: str) -> AliasCatalogue:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("types"), dict):
            raise ValueError(f"{where}: not an alias snapshot (format {FORMAT})")
        raw: dict[str, tuple[str, str | dict[str, str]]] = {}
        for rtype, entries in doc["types"].items():
            if not isinstance(entries, str | dict):
                raise ValueError(f"{where}: types.{rtype}: expected the entries")
            raw[rtype.lower()] = (rtype, entries)
        typeless: dict[str, dict[str, str]] = {}
        for rtype, entries in (doc.get("typeless") or {}).items():
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise ValueError(f"{where}: typeless.{rtype}: expected an object of strings")
            typeless[rtype.lower()] = {a.lower(): p for a, p in entries.items()}
        return cls(raw, typeless, source=str(doc.get("source") or where), count=int(doc.get("count") or 0))

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
        raw = dict(self._raw)
        typeless = {t: dict(v) for t, v in self._typeless.items()}
        count = self._count
        for rtype, aliases in types.items():
            raw.setdefault(rtype.lower(), (rtype, "{}"))
            typeless.setdefault(rtype.lower(), {}).update({a.lower(): p for a, p in aliases.items()})
            count += len(aliases)
        return AliasCatalogue(raw, typeless, source=f"{self.source} + {source}", count=count)

    def __len__(self) -> int:
        return self._count

    @property
    def type_count(self) -> int:
        return len(self._raw)

    def _entries(self, resource_type_lower: str) -> dict[str, str] | None:
        out = self._by_type.get(resource_type_lower)
        if out is None:
            found = self._raw.get(resource_type_lower)
            if found is None:
                return None
            rtype, entries = found
            decoded: dict[str, str] = json.loads(entries) if isinstance(entries, str) else entries
            out = {f"{rtype}/{key}".lower(): _decode_path(key, code) for key, code in decoded.items()}
            out.update(self._typeless.get(resource_type_lower, {}))
            self._by_type[resource_type_lower] = out
        return out

    def known(self, alias_lower: str) -> bool:
        """The alias is listed for some resource type."""
        if any(alias_lower in t for t in self._typeless.values()):
            return True
        parts = alias_lower.split("/")
        for n in range(len(parts) - 1, 1, -1):  # the type is a prefix of the name: longest first
            entries = self._entries("/".join(parts[:n]))
            if entries is not None and alias_lower in entries:
                return True
        return False

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
