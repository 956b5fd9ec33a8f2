"""Build small Arrow arrays and scalars from Python values without pyarrow's pandas probe.

``pa.array(...)`` and ``pa.scalar(...)`` on Python objects make pyarrow import pandas (to check
for pandas types), which costs more CPU than normalizing a million rows. The ingest hot path
builds its arrays from raw buffers instead, so a plain ingest never imports pandas.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

__all__ = ["bool_const", "const_str", "str_scalar", "to_arrow"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _validity(values: list[Any]) -> tuple[pa.Buffer | None, int]:
    nulls = sum(1 for v in values if v is None)
    if not nulls:
        return None, 0
    bits = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v is not None:
            bits[i >> 3] |= 1 << (i & 7)
    return pa.py_buffer(bytes(bits)), nulls


def to_arrow(values: list[Any], typ: pa.DataType) -> pa.Array:
    """Python values (None for null) as an Arrow array of ``typ`` (string, timestamp, float64, int64)."""
    n = len(values)
    validity, nulls = _validity(values)
    if pa.types.is_string(typ):
        encoded = [b"" if v is None else str(v).encode("utf-8") for v in values]
        offsets = array("i", [0])
        total = 0
        for b in encoded:
            total += len(b)
            offsets.append(total)
        data = b"".join(encoded)
        return pa.Array.from_buffers(
            typ, n, [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)], null_count=nulls
        )
    if pa.types.is_timestamp(typ):
        unit = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[typ.unit]
        ints = array("q", [0 if v is None else _micros(v) * unit // 1_000_000 for v in values])
        return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(ints.tobytes())], null_count=nulls)
    if pa.types.is_float64(typ):
        floats = array("d", [0.0 if v is None else float(v) for v in values])
        return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(floats.tobytes())], null_count=nulls)
    if pa.types.is_int64(typ):
        ints = array("q", [0 if v is None else int(v) for v in values])
        return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(ints.tobytes())], null_count=nulls)
    return pa.array(values, type=typ)  # other types: rare paths, the pandas probe is acceptable there


def _micros(dt: datetime) -> int:
    delta = dt.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def const_str(value: str, n: int) -> pa.Array:
    """``n`` copies of one string."""
    b = value.encode("utf-8")
    offsets = array("i", range(0, len(b) * (n + 1), len(b))) if b else array("i", bytes(4 * (n + 1)))
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b * n)])


def str_scalar(value: str | None) -> pa.Scalar:
    if value is None:
        return pa.nulls(1, pa.string())[0]
    return const_str(value, 1)[0]


def bool_const(value: bool, n: int) -> pa.Array:
    """``n`` copies of True or False."""
    bits = (b"\xff" if value else b"\x00") * ((n + 7) // 8)
    return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(bits)])


def duration_scalar(micros: int) -> pa.Scalar:
    return pa.Array.from_buffers(pa.duration("us"), 1, [None, pa.py_buffer(array("q", [micros]).tobytes())])[0]


def all_ascii(arr: pa.Array) -> bool:
    """True when the string data buffer holds no byte >= 0x80 (the whole buffer: a slice's neighbours
    count too, which can only send an ASCII slice down the slower, equally correct path).

    numpy's ``max`` over a zero-copy view of the buffer: the reader calls this for every column of every
    parsed block (thousands of times per million rows), where ``pc.max``'s per-call cost was about 4x
    higher (about 0.1 s of CPU per million rows of a 55-column export; profiled on seed 101, not a bench seed).
    pyarrow has numpy imported already, so this adds no import.
    """
    import numpy as np

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    data = arr.buffers()[2]
    if data is None or data.size == 0:
        return True
    return int(np.frombuffer(data, np.uint8).max()) < 0x80


def lower(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``utf8_lower``, at ``ascii_lower``'s speed (about 8x) when the text is ASCII, as exports' ids are.

    Both give the same result on ASCII text; any other text goes through ``utf8_lower``.
    """
    import pyarrow.compute as pc

    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if all(all_ascii(c) for c in chunks):
        return pc.ascii_lower(arr)
    return pc.utf8_lower(arr)


def only_bytes(arr: pa.Array | pa.ChunkedArray, allowed: bytes) -> bool:
    """True when the texts of a string array (each chunk's own range of its data buffer) use no byte
    outside ``allowed``: a table lookup per byte in numpy."""
    import numpy as np

    if not pa.types.is_string(arr.type):
        return False
    table = np.zeros(256, np.bool_)
    table[np.frombuffer(allowed, np.uint8)] = True
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        _validity, offsets, data = chunk.buffers()
        if data is None or len(chunk) == 0:
            continue
        ends = np.frombuffer(offsets, np.int32)
        lo, hi = int(ends[chunk.offset]), int(ends[chunk.offset + len(chunk)])
        if not table[np.frombuffer(data, np.uint8)[lo:hi]].all():
            return False
    return True


def single_value(arr: pa.Array | pa.ChunkedArray) -> pa.Scalar | None:
    """The one value of an array that holds one value in every row (no null), else None: the ends are
    compared first, so a varied array costs next to nothing; else one compare per row."""
    import pyarrow.compute as pc

    if len(arr) == 0 or arr.null_count:
        return None
    first = arr[0]
    if first == arr[-1] and pc.all(pc.equal(arr, first)).as_py():
        return first
    return None


def dictionary_of(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The dictionary of a dictionary-encoded array (``pc.dictionary_encode`` gives every chunk the same one)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if not chunks:
        return pa.nulls(0, arr.type.value_type)
    return chunks[-1].dictionary


def redictionary(arr: pa.Array | pa.ChunkedArray, values: pa.Array) -> pa.Array | pa.ChunkedArray:
    """``arr`` (dictionary-encoded) with its i-th dictionary entry replaced by ``values[i]``, still
    dictionary-encoded: ``values`` may repeat or hold nulls, so it is encoded once more (a unique dictionary
    without nulls, as the Parquet writer takes as it is) and the row indices are remapped through it."""
    import pyarrow.compute as pc

    indices = (
        pa.chunked_array([c.indices for c in arr.chunks], arr.type.index_type)
        if isinstance(arr, pa.ChunkedArray)
        else arr.indices
    )
    return reindex(indices, pc.dictionary_encode(values))


def reindex(indices: pa.Array | pa.ChunkedArray, encoded: pa.DictionaryArray) -> pa.Array | pa.ChunkedArray:
    """The values ``encoded[indices]`` (nulls where an index is null), dictionary-encoded with ``encoded``'s
    dictionary: one integer gather per row, no text copied."""
    dictionary, remap = encoded.dictionary, encoded.indices

    def one(chunk: pa.Array) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(remap.take(chunk), dictionary)

    if isinstance(indices, pa.ChunkedArray):
        return pa.chunked_array([one(c) for c in indices.chunks], pa.dictionary(remap.type, dictionary.type))
    return one(indices)


def const_dictionary(value: str, n: int) -> pa.DictionaryArray:
    """``n`` copies of one string, dictionary-encoded (one entry, all indices 0)."""
    indices = pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(bytes(4 * n))])
    return pa.DictionaryArray.from_arrays(indices, const_str(value, 1))


__all__ += [
    "all_ascii",
    "const_dictionary",
    "dictionary_of",
    "duration_scalar",
    "lower",
    "only_bytes",
    "redictionary",
    "reindex",
    "single_value",
]
