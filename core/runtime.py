"""Storage protocols the layers above share: a blob store over a container or a local folder.

The app's host abstraction (``vigil.runtime.Runtime``: config, state, queues, settings) is built on
these; ``ingest`` and ``alerts`` depend only on what is here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

__all__ = ["BlobStore"]


class BlobStore(Protocol):
    """The few blob operations Vigil needs, over a container or a local folder."""

    def read(self, path: str) -> bytes: ...

    def write(self, path: str, data: bytes) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def delete(self, path: str) -> None: ...

    def exists(self, path: str) -> bool: ...
