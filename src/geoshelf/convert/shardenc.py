"""Encoding whole Zarr v3 shards in geoshelf, byte for byte as zarr-python writes them.

zarr-python writes a shard through its asynchronous codec pipeline: a task, buffers and a
batch per inner chunk, all holding the GIL, which costs about as much CPU as zstd itself.
A region task (:mod:`.shards`) always writes whole shards of a fresh array, so it can do
without that machinery: :class:`ShardEncoder` compresses the inner chunks with the codec
objects the array's own metadata declares (``bytes`` + ``zstd`` normally; their synchronous
``_encode_sync``, on a thread pool: zstd releases the GIL), lays them out in zarr's
order (Morton order of the chunks in the shard), appends (or prepends) the shard index encoded
with the declared index codecs (``bytes`` + ``crc32c`` normally) and stores the shard as one
object through the array's store.  The array metadata is zarr's, written by zarr.

Exactly what zarr does, including its corner cases: an inner chunk wholly outside the array (the
edge shards) is never written; one that is all fill value (NaN included) is left out when the
array's ``write_empty_chunks`` is off; a partial edge chunk is padded with the fill value; a shard
left without chunks is deleted.  ``tests/convert/test_shardenc.py`` checks the bytes against
zarr's own shards; the region writer still reads every region back through zarr-python and
compares it with what it wrote, so an encoding bug cannot publish.

Arrays this does not cover (Zarr v2, no sharding, nested sharding, a codec without a
synchronous path, a region not made of whole shards) return None from :func:`shard_encoder`,
and the caller writes through zarr.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

#: An empty inner chunk's (offset, length) in the shard index (the sharding spec).
MAX_UINT64 = 2**64 - 1


@dataclass(frozen=True, kw_only=True)
class ShardEncoder:
    """How to encode the shards of one sharded Zarr v3 array (made by :func:`shard_encoder`)."""

    #: The zarr array (its store, path and chunk key encoding).
    array: Any
    shape: tuple[int, ...]
    shard: tuple[int, ...]
    chunk: tuple[int, ...]
    dtype: np.dtype
    fill: Any
    #: zarr's ``write_empty_chunks`` of the opened array.
    write_empty: bool
    #: Inner codecs in encoding order (array -> array, array -> bytes, bytes -> bytes).
    codecs: tuple[Any, ...]
    index_codecs: tuple[Any, ...]
    index_at_start: bool
    #: zarr's spec of one inner chunk and of the shard index.
    chunk_spec: Any
    index_spec: Any

    @property
    def chunks_per_shard(self) -> tuple[int, ...]:
        return tuple(s // c for s, c in zip(self.shard, self.chunk, strict=True))

    def covers(self, region: Sequence[slice]) -> bool:
        """Whether ``region`` of the array is made of whole shards (the array's end counts as a shard end)."""
        return len(region) == len(self.shape) and all(
            s.start % b == 0 and (s.stop % b == 0 or s.stop == n) and 0 <= s.start < s.stop <= n
            for s, b, n in zip(region, self.shard, self.shape, strict=True))

    def shards(self, region: Sequence[slice]) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...]]]:
        """(shard grid coordinates, its slice of the region's buffer) of every shard in ``region``."""
        counts = [math.ceil((s.stop - s.start) / b) for s, b in zip(region, self.shard, strict=True)]
        for idx in np.ndindex(*counts):
            coords = tuple(s.start // b + i for s, b, i in zip(region, self.shard, idx, strict=True))
            local = tuple(slice(i * b, min(s.stop - s.start, (i + 1) * b))
                          for s, b, i in zip(region, self.shard, idx, strict=True))
            yield coords, local

    def encode_chunk(self, data: np.ndarray) -> bytes | None:
        """One inner chunk (its part inside the array; padded here) -> its stored bytes, or None
        when zarr leaves it out (all fill value and ``write_empty_chunks`` off)."""
        spec = self.chunk_spec
        if data.shape == self.chunk:
            chunk = np.ascontiguousarray(data)
        else:  # an edge chunk: zarr pads it with the fill value
            chunk = np.full(self.chunk, self.fill, dtype=self.dtype)
            chunk[tuple(slice(0, n) for n in data.shape)] = data
        value: Any = spec.prototype.nd_buffer.from_numpy_array(chunk)
        if not self.write_empty and value.all_equal(self.fill):
            return None
        for codec in self.codecs:
            value = codec._encode_sync(value, spec)
            spec = codec.resolve_metadata(spec)
        return bytes(value.as_numpy_array())

    def encode_index(self, index: np.ndarray) -> bytes:
        """The shard index ((offset, nbytes) per inner chunk, uint64) encoded with the index codecs."""
        spec = self.index_spec
        value: Any = spec.prototype.nd_buffer.from_numpy_array(index)
        for codec in self.index_codecs:
            value = codec._encode_sync(value, spec)
            spec = codec.resolve_metadata(spec)
        return bytes(value.as_numpy_array())

    def chunk_slices(self, extent: Sequence[int]) -> list[tuple[tuple[int, ...], tuple[slice, ...]]]:
        """The inner chunks of a shard whose part inside the array is ``extent``, in zarr's (Morton)
        order: (chunk coordinates in the shard, slice of the shard's data); chunks wholly outside the
        array are not listed (zarr never writes them)."""
        # deferred: zarr costs ~0.3 s at `convert --help` (shards imports this module); only encoding needs it
        from zarr.core.indexing import morton_order_iter

        out = []
        for coords in morton_order_iter(self.chunks_per_shard):
            sl = tuple(slice(c * n, min(e, (c + 1) * n)) for c, n, e in zip(coords, self.chunk, extent, strict=True))
            if all(s.start < s.stop for s in sl):
                out.append((coords, sl))
        return out

    def encode_shard(self, data: np.ndarray, pool: ThreadPoolExecutor | None = None) -> bytes | None:
        """The stored bytes of one shard whose part inside the array is ``data``, or None when it has
        no chunk to store (zarr deletes such a shard)."""
        parts = self.chunk_slices(data.shape)
        if pool is None:
            encoded = [self.encode_chunk(data[sl]) for _, sl in parts]
        else:
            encoded = list(pool.map(lambda p: self.encode_chunk(data[p[1]]), parts))
        index = np.full(self.chunks_per_shard + (2,), MAX_UINT64, dtype="<u8")
        offset = 0
        blobs = []
        for (coords, _), blob in zip(parts, encoded, strict=True):
            if not blob:  # None, or zero bytes (zarr skips those too)
                continue
            index[coords] = (offset, len(blob))
            offset += len(blob)
            blobs.append(blob)
        if not blobs:
            return None
        index_bytes = self.encode_index(index)
        if self.index_at_start:
            index[index[..., 0] != MAX_UINT64, 0] += len(index_bytes)
            return self.encode_index(index) + b"".join(blobs)
        return b"".join(blobs) + index_bytes

    def write(self, region: Sequence[slice], buf: np.ndarray, threads: int = 1) -> int:
        """Encode every shard of ``region`` (whole shards, see :meth:`covers`) from ``buf`` and store
        each as one object through the array's store; return the bytes stored."""
        # deferred: zarr costs ~0.3 s at `convert --help` (shards imports this module); only encoding needs it
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.sync import sync

        if not self.covers(region) or buf.shape != tuple(s.stop - s.start for s in region):
            raise ValueError(f"region {region} is not whole shards of {self.shape} (shards {self.shard})")
        store_path = self.array.store_path
        proto = default_buffer_prototype()
        stored = 0
        pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        try:
            for coords, local in self.shards(region):
                blob = self.encode_shard(buf[local], pool)
                target = store_path / self.array.metadata.encode_chunk_key(coords)
                if blob is None:
                    sync(target.delete())
                else:
                    sync(target.set(proto.buffer.from_bytes(blob)))
                    stored += len(blob)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return stored


def shard_encoder(array: Any) -> ShardEncoder | None:
    """A :class:`ShardEncoder` for a zarr array, or None when geoshelf does not encode its shards
    (not Zarr v3, not sharded with one sharding codec, nested sharding, a codec without a
    synchronous encoder, a dtype that is not plain numbers)."""
    # deferred: zarr costs ~0.3 s at `convert --help` (shards imports this module); only encoding needs it
    from zarr.codecs import ShardingCodec
    from zarr.codecs.sharding import ShardingCodecIndexLocation
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.chunk_grids import RegularChunkGrid
    from zarr.core.metadata.v3 import ArrayV3Metadata

    meta = getattr(array, "metadata", None)
    if not isinstance(meta, ArrayV3Metadata) or not isinstance(meta.chunk_grid, RegularChunkGrid):
        return None
    if len(meta.codecs) != 1 or not isinstance(meta.codecs[0], ShardingCodec):
        return None
    sharding = meta.codecs[0]
    dtype = np.dtype(meta.dtype.to_native_dtype())
    if dtype.kind not in "biuf" or dtype.hasobject:
        return None
    inner = tuple(sharding.codecs)
    codecs = inner + tuple(sharding.index_codecs)
    if any(isinstance(c, ShardingCodec) or not hasattr(c, "_encode_sync") for c in codecs):
        return None
    shard = tuple(int(n) for n in meta.chunk_grid.chunk_shape)
    chunk = tuple(int(n) for n in sharding.chunk_shape)
    if len(shard) != len(chunk) or any(c <= 0 or s % c for s, c in zip(shard, chunk, strict=True)):
        return None
    config = array.config
    shard_spec = ArraySpec(shape=shard, dtype=meta.dtype, fill_value=meta.fill_value, config=config,
                           prototype=default_buffer_prototype())
    chunks_per_shard = tuple(s // c for s, c in zip(shard, chunk, strict=True))
    return ShardEncoder(
        array=array, shape=tuple(int(n) for n in meta.shape), shard=shard, chunk=chunk, dtype=dtype,
        fill=meta.fill_value, write_empty=bool(config.write_empty_chunks), codecs=inner,
        index_codecs=tuple(sharding.index_codecs),
        index_at_start=sharding.index_location == ShardingCodecIndexLocation.start,
        chunk_spec=sharding._get_chunk_spec(shard_spec),
        index_spec=sharding._get_index_chunk_spec(chunks_per_shard))


__all__ = ["MAX_UINT64", "ShardEncoder", "shard_encoder"]
