"""The deploy checklist in docs/deployment.md is generated (scripts/deploy_checklist.py) and its rows
agree with what the templates and hooks really do."""

from __future__ import annotations

import re

import yaml

from scripts import deploy_checklist
from scripts.deploy_checklist import ROWS, STEPS
from tests.infra.conftest import BICEP_FILES, REPO, parse_bicep
from tests.infra.test_infra_bicep import BUILTIN_ROLES, GUID

CUSTOM_ROLE = "Vigil remediation custom role"


def _cells(column: str) -> str:
    return "\n".join(str(getattr(row, column)) for row in ROWS)


def test_the_doc_holds_the_generated_checklist() -> None:
    text = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert deploy_checklist.section(text) == deploy_checklist.render(), (
        "docs/deployment.md: run `.venv/bin/python -m scripts.deploy_checklist`"
    )


def test_every_declared_resource_type_has_a_row() -> None:
    resources = _cells("resource")
    for path in BICEP_FILES:
        for resource in parse_bicep(path)["resources"].values():
            if resource["existing"]:
                continue
            segments = str(resource["type"]).split("/")
            spellings = [str(resource["type"])] + ["…/" + "/".join(segments[k:]) for k in range(1, len(segments))]
            assert any(f"`{s}`" in resources for s in spellings), (
                f"{path.name}: no checklist row for {resource['type']}"
            )


def test_the_roles_are_the_ones_the_templates_assign() -> None:
    assigned: set[str] = set()
    for path in BICEP_FILES:
        assigned |= {BUILTIN_ROLES[g] for g in GUID.findall(path.read_text(encoding="utf-8"))}
    listed = {re.sub(r" \(.*$", "", role) for row in ROWS for role in row.roles}
    assert listed - {CUSTOM_ROLE} == assigned
    assert "Storage Blob Data Owner" in listed  # host storage (tests/infra/test_infra_bicep.py pins it)


def test_the_steps_are_azds_in_order_and_the_hooks_are_the_wired_ones() -> None:
    order = [STEPS.index(row.step) for row in ROWS]
    assert order == sorted(order)
    assert set(STEPS) == {row.step for row in ROWS}
    hooks = yaml.safe_load((REPO / "azure.yaml").read_text(encoding="utf-8"))["hooks"]
    assert set(hooks) == {step for step in STEPS if step.startswith(("pre", "post"))}


def test_the_provider_the_preprovision_hook_registers_is_listed() -> None:
    script = (REPO / "scripts" / "preprovision.sh").read_text(encoding="utf-8")
    match = re.search(r'^EXPORTS_PROVIDER="([^"]+)"$', script, flags=re.M)
    assert match is not None
    assert f"`{match.group(1)}`" in next(r.provider for r in ROWS if r.step == "preprovision")
    assert 'az provider register --namespace "$EXPORTS_PROVIDER"' in script
