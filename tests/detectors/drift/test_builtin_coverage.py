"""Every Azure built-in policy definition (../shared/azure-policy) loads or is refused clearly.

Prints the definitions loaded per effect and mode and what is still refused. Fails if
any definition crashes (anything but a PolicyLoadError) or if coverage of the
definitions outside data-plane modes falls below the figure reached.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from detectors.drift.corpus import is_data_plane, iter_definitions, sample_parameters
from detectors.drift.engine import PolicyLoadError, compile_policy

REPO = Path(__file__).resolve().parents[3]
TARBALL = REPO / ".." / "shared" / "azure-policy" / "builtin-policy-definitions.tar.gz"

#: Reached on Azure/azure-policy @ f4a50bac (5,009 built-ins): 4,780 of the 4,781 definitions
#: outside data-plane modes load; the one refused is MFA_DenyAction (effect AuditAction, judged on a
#: request's identity, not on a resource's state).
MIN_LOADED = 4_780
MIN_COVERAGE = 0.99


def test_every_builtin_loads_or_is_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    if not TARBALL.exists():
        pytest.skip(f"{TARBALL} not present (the shared Azure Policy corpus)")
    loaded: collections.Counter[tuple[str, str]] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    crashes: list[str] = []
    total = data_plane = 0
    for name, definition in iter_definitions(TARBALL):
        total += 1
        if is_data_plane(definition):
            data_plane += 1
        try:
            policy = compile_policy(definition, source=name, parameters=sample_parameters(definition))
        except PolicyLoadError as exc:
            key = exc.message.split(":")[0] if is_data_plane(definition) else exc.message
            refused[key] += 1
            examples.setdefault(key, name)
            continue
        except Exception as exc:  # a crash is a bug: every refusal must be a PolicyLoadError
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        loaded[(policy.effect, policy.mode)] += 1
    n_loaded = sum(loaded.values())
    eligible = total - data_plane
    with capsys.disabled():
        print(f"\nbuilt-ins: {total}; data-plane modes (refused): {data_plane}; others: {eligible}")
        print(f"loaded: {n_loaded} ({n_loaded / eligible:.2%} of the others)")
        print(f"{'effect':20} {'mode':8} loaded")
        for (effect, mode), n in sorted(loaded.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{effect:20} {mode:8} {n}")
        print("refused:")
        for reason, n in refused.most_common():
            print(f"  {n:5}  {reason[:110]}  (e.g. {examples[reason].rsplit('/', 1)[-1]})")
    assert not crashes, crashes[:10]
    assert total == 5_009
    assert n_loaded >= MIN_LOADED
    assert n_loaded / eligible >= MIN_COVERAGE
