"""Build the shipped Azure Policy alias snapshot from Azure's alias catalogue.

    python scripts/gen_alias_snapshot.py [SOURCE] [--out detectors/drift/aliases.snapshot.json.gz]

SOURCE (default ``../shared/azure-policy/aliases.json.gz``) is the catalogue ARM
returns for ``GET /providers?$expand=resourceTypes/aliases``, as
``{"types": {resource type: {alias name: default path}}}``. The snapshot is
written by :func:`detectors.drift.aliases.write_snapshot` (the same code that
``vigil drift aliases refresh`` uses for a live catalogue), so the committed file
equals what this script builds (``tests/detectors/drift/test_aliases.py``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from detectors.drift.aliases import SNAPSHOT, write_snapshot  # noqa: E402

DEFAULT_SOURCE = REPO / ".." / "shared" / "azure-policy" / "aliases.json.gz"


def build(source: Path, out: Path) -> int:
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    types = doc.get("types")
    if not isinstance(types, dict):
        raise SystemExit(f"{source}: expected {{'types': {{resource type: {{alias: path}}}}}}")
    origin = f"{source.name}: {doc.get('source', 'unknown source')}"
    return write_snapshot(types, out, origin=origin)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--out", type=Path, default=SNAPSHOT)
    args = ap.parse_args(argv)
    n = build(args.source, args.out)
    print(f"{args.out}: {n} aliases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
