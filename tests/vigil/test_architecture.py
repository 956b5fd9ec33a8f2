"""The layers as documented (README, docs/architecture.md) are the layers on disk and in the contract."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_PRODUCT = {"bench", "scripts", "tests"}  # packages that ship no product code


def _python_packages() -> set[str]:
    return {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file() and p.name not in NOT_PRODUCT}


def _importlinter() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]  # type: ignore[no-any-return]


def _layers_contract() -> list[list[str]]:
    (contract,) = [c for c in _importlinter()["contracts"] if c["type"] == "layers"]
    return [[name.strip() for name in layer.split(":")] for layer in contract["layers"]]


def test_the_contract_covers_every_package_on_disk() -> None:
    assert set(_importlinter()["root_packages"]) == _python_packages()
    assert {p for layer in _layers_contract() for p in layer} == _python_packages()


def test_docs_architecture_shows_the_contracts_layers() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^layer (\d)\s+(\S+(?: \| \S+)*)\s{2,}", text, flags=re.MULTILINE)
    documented = [[p.strip() for p in names.split("|")] for _, names in sorted(rows, reverse=True)]
    assert documented == _layers_contract()


def test_readme_architecture_lists_every_package() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Architecture\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    listed = set(re.findall(r"^(\w+)/\s", block, flags=re.MULTILINE))
    assert _python_packages() <= listed
    assert all((REPO / name).is_dir() for name in listed)
    layers = " over ".join(" | ".join(f"`{p}`" for p in layer) for layer in _layers_contract())
    assert layers in section  # "`vigil` over `alerts` | `ingest` | `detectors` over `core`"
