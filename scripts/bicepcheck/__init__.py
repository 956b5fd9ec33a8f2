"""A type check for Vigil's Bicep, for machines where the Bicep compiler cannot run.

It reads the templates with pycep-parser and checks them against Azure's published resource type
definitions (Azure/bicep-types-az, kept in ``../shared/bicep-types``), the data the Bicep compiler itself
type-checks against:

- :mod:`.typecheck`: every ``resource 'Type@version'`` exists, and its body's property paths exist, carry
  the right value type and an allowed value, set nothing read-only and include every required property;
- :mod:`.constants`: Bicep's deploy-time-constant rule (BCP120, BCP177, BCP178, BCP182) for loop bodies,
  loop sources, conditions and resource names;
- :mod:`.flex`: the site properties Flex Consumption rejects.

``python -m scripts.bicepcheck [infra] [types-dir]`` prints the findings and exits 1 when there are any.
"""

from scripts.bicepcheck.model import Finding, Template, load_templates

__all__ = ["Finding", "Template", "check_templates", "load_templates"]


def check_templates(templates: list[Template], types_dir: object) -> list[Finding]:
    """All findings of the three checks over ``templates``."""
    from pathlib import Path

    from scripts.bicepcheck import constants, flex, typecheck
    from scripts.bicepcheck.types import TypeIndex

    index = TypeIndex(Path(str(types_dir)))
    findings: list[Finding] = []
    for template in templates:
        findings += typecheck.check(template, index, templates)
        findings += constants.check(template)
        findings += flex.check(template)
    return findings
