"""Cost ingestion: Cost Management exports (EA/MCA actual and amortized, FOCUS) and the Query API.

Public API (import cost is kept light: pandas/pyarrow load on first call):

* :func:`ingest_paths` - CLI path: files, folders or manifest.json into a local store;
* :func:`load_costs` - the live normalized costs as a core/costframe.py DataFrame;
* :func:`cost_accounts` - the subscriptions (accounts, projects) in a window, what detection fans out by;
* :func:`plan_parts` / :func:`ingest_part` - Function path over a BlobStore, one message per part.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd

    from core.runtime import BlobStore
    from core.state.base import StateStore
    from ingest.cost.pipeline import IngestSummary

__all__ = ["cost_accounts", "ingest_part", "ingest_paths", "load_costs", "plan_parts"]


def ingest_paths(
    paths: list[Path], out_dir: Path, *, progress: bool = False, dataset: str | None = None
) -> IngestSummary:
    from ingest.cost.pipeline import ingest_paths as _impl

    return _impl(paths, out_dir, progress=progress, dataset=dataset)


def load_costs(
    data_dir: Path | BlobStore,
    *,
    start: Any = None,
    end: Any = None,
    scopes: Sequence[str] | None = None,
    aggregate: bool = False,
    categorical: bool = False,
) -> pd.DataFrame:
    from ingest.cost.store import load_costs as _impl

    return _impl(data_dir, start=start, end=end, scopes=scopes, aggregate=aggregate, categorical=categorical)


def cost_accounts(data_dir: Path | BlobStore, *, start: Any = None, end: Any = None) -> list[str]:
    from ingest.cost.store import cost_accounts as _impl

    return _impl(data_dir, start=start, end=end)


def plan_parts(manifest_bytes: bytes, manifest_path: str) -> list[dict[str, Any]]:
    from ingest.cost.parts import plan_parts as _impl

    return _impl(manifest_bytes, manifest_path)


def ingest_part(
    message: Mapping[str, Any], source_blobs: BlobStore, dest_blobs: BlobStore, store: StateStore
) -> dict[str, Any]:
    from ingest.cost.parts import ingest_part as _impl

    return _impl(message, source_blobs, dest_blobs, store)
