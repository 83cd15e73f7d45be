"""The sample k is chosen on, drawn by a hash of the customer id: the same customers in the
same order however the table is sorted or split.

The key of a customer is Spark SQL's ``xxhash64(crc32(customer_id))`` (seed 42), computed here
with numpy so the single-machine engine and the Spark engine draw the same sample: the
``size`` customers with the smallest keys (ties, from equal CRCs, broken by the id), in key
order. K-Means++ and the restarts are seeded, and they see the rows in this order too.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPARK_XXHASH_SEED = 42  # Spark SQL's xxhash64 seed
# The key as Spark SQL spells it, for the Spark engine: the same number as sample_keys.
SPARK_KEY_SQL = "xxhash64(crc32(CAST({column} AS BINARY)))"

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_CHUNK = 1 << 20  # ids hashed at a time: a padded byte matrix of a million short ids


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table.astype(np.uint32)


_CRC_TABLE = _crc_table()


def crc32(ids: pa.StringArray | pa.LargeStringArray) -> np.ndarray:
    """zlib's CRC-32 of each id's UTF-8 bytes, one byte position at a time over all ids."""
    lengths = pc.binary_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.asarray(ids.buffers()[1]).view(
        np.int64 if pa.types.is_large_string(ids.type) else np.int32)[
        ids.offset:ids.offset + len(ids)].astype(np.int64)
    data = np.frombuffer(ids.buffers()[2] or b"\0", dtype=np.uint8)
    crc = np.full(len(ids), 0xFFFFFFFF, dtype=np.uint32)
    longest = int(lengths.max()) if len(ids) else 0
    for position in range(longest):
        byte = data[np.minimum(offsets + position, len(data) - 1)]
        stepped = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> np.uint32(8))
        np.copyto(crc, stepped, where=lengths > position)  # past an id's end: unchanged
    return crc ^ np.uint32(0xFFFFFFFF)


def _rotl(x: np.ndarray, bits: int) -> np.ndarray:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def xxhash64_long(values: np.ndarray, seed: int = SPARK_XXHASH_SEED) -> np.ndarray:
    """Spark's XXH64.hashLong of each value (as int64): what ``xxhash64(bigint)`` returns."""
    with np.errstate(over="ignore"):
        x = values.astype(np.int64).view(np.uint64) * _P2
        x = _rotl(x, 31)
        x *= _P1
        x ^= np.uint64(seed) + _P5 + np.uint64(8)
        h = _rotl(x, 27)
        h *= _P1
        h += _P4
        h ^= h >> np.uint64(33)
        h *= _P2
        h ^= h >> np.uint64(29)
        h *= _P3
        h ^= h >> np.uint64(32)
    return h.view(np.int64)


Ids: TypeAlias = np.ndarray | pa.StringArray | pa.LargeStringArray


def sample_keys(ids: Ids) -> np.ndarray:
    """Each customer id's sampling key (int64), as Spark SQL's SPARK_KEY_SQL computes it."""
    ids = _arrow(ids)
    keys = np.empty(len(ids), dtype=np.int64)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        keys[start:start + _CHUNK] = xxhash64_long(crc32(chunk).astype(np.int64))
    return keys


def _arrow(ids: Ids) -> pa.StringArray | pa.LargeStringArray:
    return ids if isinstance(ids, pa.Array) else pa.array(ids, type=pa.string())


def hash_sample(ids: Ids, size: int) -> np.ndarray:
    """Positions of the ``size`` ids with the smallest keys, in key order (ties by id)."""
    ids = _arrow(ids)
    keys = sample_keys(ids)
    if len(keys) > size:
        candidates = np.argpartition(keys, size - 1)[:size]
        bound = keys[candidates].max()
        # every id at the bound competes for the last places, whichever argpartition kept
        candidates = np.flatnonzero(keys <= bound)
    else:
        candidates = np.arange(len(keys))
    texts = ids.take(candidates).to_numpy(zero_copy_only=False).astype(str)
    ordered = candidates[np.lexsort((texts, keys[candidates]))]
    return ordered[:size]
