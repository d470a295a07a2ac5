"""geoshelf's own shard encoder (convert/shardenc.py) writes the same bytes as zarr-python.

For random shapes, shard/chunk layouts, dtypes, fill values, NaNs, all-fill chunks, partial edge
shards and both index locations, every shard file geoshelf writes is byte-identical to the one
zarr writes for the same data into an array created with the same metadata, and reads back
through zarr as the data.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ShardingCodec, TransposeCodec, ZstdCodec

from geoshelf.convert.shardenc import MAX_UINT64, shard_encoder

DTYPES = ["int16", "uint8", "int32", ">i2", "float32", "float64", "bool"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "zarr.json"}


def _data(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, fill: object,
          empty_share: float) -> np.ndarray:
    """Realistic values with runs of the fill value (whole fill chunks, land) and NaNs for floats."""
    if dtype.kind == "b":
        data = rng.random(shape) < 0.3
    elif dtype.kind == "f":
        data = (15 + 10 * rng.standard_normal(shape)).astype(dtype)
        data[rng.random(shape) < 0.1] = np.nan
    else:
        info = np.iinfo(dtype)
        data = rng.integers(max(info.min, -3000), min(info.max, 3000), size=shape, endpoint=True).astype(dtype)
    if fill is not None and data.ndim:
        cut = int(shape[0] * empty_share)
        data[:cut] = fill
    return data


def _create(root: Path, shape: tuple[int, ...], shard: tuple[int, ...], chunk: tuple[int, ...], dtype: np.dtype,
            fill: object, codecs: list, index_location: str) -> zarr.Array:
    sharding = ShardingCodec(chunk_shape=chunk, codecs=codecs, index_location=index_location)
    return zarr.create_array(str(root), shape=shape, chunks=shard, dtype=dtype, fill_value=fill,
                             serializer=sharding, compressors=None, filters=None, zarr_format=3)


CODECS = {
    "zstd": lambda nd: [BytesCodec(), ZstdCodec(level=3)],
    "zstd+crc": lambda nd: [BytesCodec(), ZstdCodec(level=1, checksum=True), Crc32cCodec()],
    "gzip": lambda nd: [BytesCodec(), GzipCodec(level=5)],
    "blosc": lambda nd: [BytesCodec(), BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=2)],
    "transpose": lambda nd: [TransposeCodec(order=tuple(reversed(range(nd)))), BytesCodec(), ZstdCodec(level=3)],
    "bytes": lambda nd: [BytesCodec()],
}


@st.composite
def layouts(draw: st.DrawFn) -> dict:
    ndim = draw(st.integers(1, 3))
    chunk = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    per = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    shard = tuple(c * p for c, p in zip(chunk, per, strict=True))
    shape = tuple(draw(st.integers(1, 2 * s + 3)) for s in shard)  # edge shards and edge chunks
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if dtype.kind == "f":
        fill = draw(st.sampled_from([np.nan, 0.0, -999.0, -0.0]))
    elif dtype.kind == "b":
        fill = draw(st.booleans())
    else:
        fill = draw(st.sampled_from([0, 7, int(np.iinfo(dtype).max)]))
    return {"shape": shape, "shard": shard, "chunk": chunk, "dtype": dtype, "fill": fill,
            "codecs": draw(st.sampled_from(sorted(CODECS))), "index": draw(st.sampled_from(["end", "start"])),
            "write_empty": draw(st.booleans()), "empty_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "seed": draw(st.integers(0, 2**16))}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=layouts(), threads=st.sampled_from([1, 3]))
def test_shards_are_byte_identical_to_zarrs(tmp_path_factory: pytest.TempPathFactory, layout: dict,
                                            threads: int) -> None:
    tmp = tmp_path_factory.mktemp("enc")
    shape, shard, dtype, fill = layout["shape"], layout["shard"], layout["dtype"], layout["fill"]
    data = _data(np.random.default_rng(layout["seed"]), shape, dtype, fill, layout["empty_share"])
    conf = {"array.write_empty_chunks": layout["write_empty"]}
    # gzip stamps the current time into each chunk's header: a fixed clock, or the two writes
    # differ when a second ticks between them (zarr's own writes are not reproducible either)
    with zarr.config.set(conf), mock.patch("gzip.time", SimpleNamespace(time=lambda: 1.6e9)):
        _create(tmp / "ours.zarr", shape, shard, layout["chunk"], dtype, fill,
                CODECS[layout["codecs"]](len(shape)), layout["index"])
        theirs = _create(tmp / "theirs.zarr", shape, shard, layout["chunk"], dtype, fill,
                  CODECS[layout["codecs"]](len(shape)), layout["index"])
        theirs[...] = data
        enc = shard_encoder(zarr.open_array(str(tmp / "ours.zarr"), mode="r+"))
        assert enc is not None and enc.write_empty == layout["write_empty"]
        # region by region, as the region writer does: one shard, or a block of whole shards
        block = tuple(min(n, s * 2) for n, s in zip(shape, shard, strict=True))
        counts = [math.ceil(n / b) for n, b in zip(shape, block, strict=True)]
        for idx in np.ndindex(*counts):
            region = tuple(slice(i * b, min(n, (i + 1) * b)) for i, b, n in zip(idx, block, shape, strict=True))
            assert enc.covers(region)
            enc.write(region, data[region], threads=threads)
    assert _files(tmp / "ours.zarr") == _files(tmp / "theirs.zarr")
    back = zarr.open_array(str(tmp / "ours.zarr"))[...]
    np.testing.assert_array_equal(back, data)


def test_rewrite_replaces_and_empty_shard_is_deleted(tmp_path: Path) -> None:
    """A recomputed task writes the same bytes again; a shard that becomes all fill is deleted, as zarr does."""
    data = np.arange(8 * 6, dtype="int16").reshape(8, 6)
    arr = _create(tmp_path / "a.zarr", (8, 6), (4, 6), (2, 3), np.dtype("int16"), -1,
                  [BytesCodec(), ZstdCodec(level=3)], "end")
    enc = shard_encoder(arr)
    assert enc is not None
    enc.write((slice(0, 8), slice(0, 6)), data)
    first = _files(tmp_path / "a.zarr")
    assert sorted(first) == ["c/0/0", "c/1/0"]
    enc.write((slice(0, 8), slice(0, 6)), data)
    assert _files(tmp_path / "a.zarr") == first
    data[4:] = -1
    enc.write((slice(4, 8), slice(0, 6)), data[4:])
    assert sorted(_files(tmp_path / "a.zarr")) == ["c/0/0"]
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "a.zarr"))[...], data)


def test_index_is_offsets_and_lengths_with_crc32c(tmp_path: Path) -> None:
    """The spec's layout, read without zarr: chunks in Morton order, then (offset, nbytes) uint64 LE per
    chunk with 2^64-1 for an empty one, then the index's crc32c."""
    import google_crc32c
    from numcodecs import Zstd

    data = np.zeros((4, 4), dtype="<i2")
    data[:2, 2:] = 5  # chunk (0, 1) only; the others are all fill
    arr = _create(tmp_path / "a.zarr", (4, 4), (4, 4), (2, 2), np.dtype("<i2"), 0,
                  [BytesCodec(), ZstdCodec(level=3)], "end")
    enc = shard_encoder(arr)
    assert enc is not None
    enc.write((slice(0, 4), slice(0, 4)), data)
    raw = (tmp_path / "a.zarr" / "c" / "0" / "0").read_bytes()
    index_bytes, crc = raw[-4 * 16 - 4:-4], raw[-4:]
    assert np.uint32(google_crc32c.value(index_bytes)).tobytes() == crc
    index = np.frombuffer(index_bytes, dtype="<u8").reshape(2, 2, 2)
    assert index[0, 1, 0] == 0 and (index[0, 0] == MAX_UINT64).all() and (index[1] == MAX_UINT64).all()
    blob = raw[: int(index[0, 1, 1])]
    assert np.frombuffer(Zstd().decode(blob), dtype="<i2").tolist() == [5, 5, 5, 5]


def test_unsupported_arrays_are_left_to_zarr(tmp_path: Path) -> None:
    unsharded = zarr.create_array(str(tmp_path / "u.zarr"), shape=(4,), chunks=(2,), dtype="i2")
    v2 = zarr.create_array(str(tmp_path / "v2.zarr"), shape=(4,), chunks=(2,), dtype="i2", zarr_format=2)
    strings = zarr.create_array(str(tmp_path / "s.zarr"), shape=(4,), chunks=(2,), shards=(4,), dtype=str)
    assert shard_encoder(unsharded) is None and shard_encoder(v2) is None and shard_encoder(strings) is None
    sharded = zarr.create_array(str(tmp_path / "s2.zarr"), shape=(10,), chunks=(2,), shards=(4,), dtype="i2")
    enc = shard_encoder(sharded)
    assert enc is not None
    assert enc.covers((slice(4, 10),)) and enc.covers((slice(8, 10),))
    assert not enc.covers((slice(2, 6),)) and not enc.covers((slice(0, 6),))
    with pytest.raises(ValueError, match="not whole shards"):
        enc.write((slice(2, 6),), np.zeros(4, dtype="i2"))
