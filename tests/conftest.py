"""Root fixtures shared by every test package.

* ``repo_root``: the repository root.
* ``samples_dir``: ../shared/samples (read-only public samples) or skip when absent.
* ``azurite``: a running Azurite (Blob/Queue/Table) shared by the session (one per
  pytest-xdist worker, on its own free ports). It is started lazily by the first test
  that asks for it, restarted automatically if an earlier test stopped it, and stopped
  at session end.
* ``unique_name``: callable giving per-test unique table/queue/container names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.azurite import AZURITE_BIN, REPO_ROOT, Azurite
from tests.support.azurite import unique_name as _unique_name


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir(repo_root: Path) -> Path:
    path = (repo_root / ".." / "shared" / "samples").resolve()
    if not path.is_dir():
        pytest.skip(f"public samples not present at {path}")
    return path


@pytest.fixture(scope="session")
def _azurite_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if not AZURITE_BIN.exists():
        pytest.fail(f"Azurite not found at {AZURITE_BIN}: run `npm ci` (make test does)", pytrace=False)
    emulator = Azurite(tmp_path_factory.mktemp("azurite"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def azurite(_azurite_session: Azurite) -> Azurite:
    """The session's Azurite, guaranteed running when the test starts.

    Fault-injection tests may call ``azurite.stop()`` / ``azurite.start()``; ports and
    on-disk data survive, and the next test gets it running again regardless.
    """
    return _azurite_session.start()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name("jobs")`` -> e.g. ``"jobs3f9a..."``: legal as table, queue or container name."""
    return _unique_name
