"""Print what changed between two uv.lock files: added, removed and re-versioned packages.

`make upgrade` runs it after `uv lock --upgrade`, so an upgrade always says what it changed.
Usage: python scripts/lockdiff.py OLD_LOCK NEW_LOCK
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def versions(lock: Path) -> dict[str, str]:
    """Package name -> locked version (the project itself, which has no registry version, is left out)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for package in data.get("package", []):
        if "registry" in package.get("source", {}):
            out[package["name"]] = str(package["version"])
    return out


def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None:
            lines.append(f"+ {name} {after}")
        elif after is None:
            lines.append(f"- {name} {before}")
        else:
            lines.append(f"~ {name} {before} -> {after}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    lines = changes(versions(Path(argv[1])), versions(Path(argv[2])))
    print("\n".join(lines) if lines else "uv.lock: nothing changed")
    if lines:
        print(f"{len(lines)} package(s) changed; run `make test`, then commit uv.lock and requirements.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
