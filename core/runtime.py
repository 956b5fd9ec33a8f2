"""Storage the layers above share: the blob store protocol, and its one local implementation.

The app's host abstraction (``vigil.runtime.Runtime``: config, state, queues, settings) is built on
these; ``ingest`` and ``alerts`` depend only on what is here. ``vigil.runtime_azure.AzureBlobStore``
is the other implementation (a Storage container).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

__all__ = ["MAX_QUEUE_MESSAGE_BYTES", "BlobStore", "LocalBlobStore", "MessageTooLargeError", "queue_body"]

# A Storage Queue message is at most 64 KiB once base64-encoded (the Functions host's encoding,
# 4/3 expansion): 48 KiB of JSON before it. The one queue size limit: the Function App's queues,
# the CLI's local queue and the alerts outbox (which sends a larger message by reference) use it.
MAX_QUEUE_MESSAGE_BYTES = 48 * 1024
# The attempts a queue message gets before the host moves it to ``<queue>-poison``: host.json's
# extensions.queues.maxDequeueCount, which LocalRuntime applies too.
MAX_DEQUEUE_COUNT = 5


class MessageTooLargeError(ValueError):
    """A queue message would exceed :data:`MAX_QUEUE_MESSAGE_BYTES`."""


def queue_body(queue: str, message: Mapping[str, Any]) -> str:
    """A queue message as the compact JSON every queue carries; :class:`MessageTooLargeError`
    when it is over :data:`MAX_QUEUE_MESSAGE_BYTES`."""
    body = json.dumps(message, separators=(",", ":"), sort_keys=True, default=str)
    size = len(body.encode("utf-8"))
    if size > MAX_QUEUE_MESSAGE_BYTES:
        raise MessageTooLargeError(
            f"message for queue {queue!r} is {size} bytes; the limit is {MAX_QUEUE_MESSAGE_BYTES} bytes "
            "before base64 (store the payload in a blob and enqueue its path)"
        )
    return body


_TMP_PREFIX = ".tmp-"


class BlobStore(Protocol):
    """The few blob operations Vigil needs, over a container or a local folder."""

    def read(self, path: str) -> bytes: ...

    def write(self, path: str, data: bytes) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def delete(self, path: str) -> None: ...

    def exists(self, path: str) -> bool: ...


class LocalBlobStore:
    """:class:`BlobStore` over a folder; blob paths are POSIX paths below it.

    Writes are atomic (a temp file, fsync, rename), so readers never see half a blob; temp
    files are never listed. :meth:`local_path` lets readers that want a file (pyarrow) skip
    the copy.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def local_path(self, path: str) -> Path:
        """The file behind a blob path; :class:`ValueError` for a path that could leave the folder."""
        rel = PurePosixPath(path)
        if not path or rel.is_absolute() or ".." in rel.parts or "\\" in path:
            raise ValueError(f"invalid blob path {path!r}: must be relative, without '..' or backslashes")
        return self.root.joinpath(*rel.parts)

    def read(self, path: str) -> bytes:
        """The blob's bytes; :class:`FileNotFoundError` when it does not exist."""
        file = self.local_path(path)
        try:
            return file.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFoundError(f"blob {self.root.name}/{path} does not exist ({file})") from None

    def write(self, path: str, data: bytes) -> None:
        file = self.local_path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=_TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def list(self, prefix: str = "") -> Iterator[str]:
        """Blob paths starting with ``prefix`` (a plain string prefix, as in Azure), sorted."""
        if not self.root.is_dir():
            return iter(())
        names = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(_TMP_PREFIX) and not p.name.endswith(".tmp")
        )
        return iter(sorted(n for n in names if n.startswith(prefix)))

    def delete(self, path: str) -> None:
        """Deletes the blob (a missing blob is not an error) and the folders it leaves empty."""
        file = self.local_path(path)
        file.unlink(missing_ok=True)
        root = self.root.resolve()
        parent = file.resolve().parent
        while parent != root and root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def exists(self, path: str) -> bool:
        return self.local_path(path).is_file()
