"""``python -m scripts.bicepcheck [INFRA_DIR] [TYPES_DIR]``: print findings, exit 1 when there are any."""

from __future__ import annotations

import sys
from pathlib import Path

from scripts.bicepcheck import check_templates, load_templates
from scripts.bicepcheck.paths import REPO, bicep_types_dir


def main(argv: list[str]) -> int:
    infra = Path(argv[0]) if argv else REPO / "infra"
    types_dir = Path(argv[1]) if len(argv) > 1 else bicep_types_dir()
    findings = check_templates(load_templates(infra), types_dir)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {infra}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
