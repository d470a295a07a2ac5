"""Combining per-file kerchunk references along time (kerchunk's MultiZarrToZarr, ``cf:time``).

* :func:`combine`: all files at once, one MultiZarrToZarr.
* :func:`combine_batch` / :func:`combine_partials`: the same result in two stages, as
  kerchunk's own ``auto_dask`` does it: each worker combines the files of its batch (their
  time decoded per file, each with its own CF units), and the client combines the few partial
  results.  :func:`combine_partials` says ``None`` (combine all files at once instead) unless
  every batch kept the same variables identical as the whole collection and the batches' time
  ranges follow each other without interleaving, so the two-stage result places every chunk
  where the one-stage result does (the reference check verifies it anyway, against the sources).
"""

from __future__ import annotations

import itertools
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .sources import SourceFile


def meta(refs: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """variable -> (.zarray, .zattrs) of a reference set (``{"version": 1, "refs": ...}``)."""
    out = {}
    r = refs["refs"]
    for key in r:
        if key.endswith("/.zarray"):
            name = key[: -len("/.zarray")]
            zarray = json.loads(r[key])
            zattrs = json.loads(r.get(f"{name}/.zattrs", "{}"))
            out[name] = (zarray, zattrs)
    return out


def same_scalars(refs: list[dict[str, Any]], sources: list[SourceFile]) -> list[str]:
    """Scalar variables holding the same value in every file (e.g. a forecast ``step``): kept scalar, as the
    sources open, rather than stacked along time."""
    out = []
    for name, (zarray, _zattrs) in meta(refs[0]).items():
        if zarray["shape"]:
            continue
        vals = [s.variables[name] for s in sources if name in s.variables]
        if len(vals) == len(sources) and all(
                v.values is not None and vals[0].values is not None
                and np.array_equal(v.values, vals[0].values, equal_nan=v.dtype.kind == "f")
                for v in vals):
            out.append(name)
    return out


def identical_dims(refs: list[dict[str, Any]], sources: list[SourceFile], dim: str) -> list[str]:
    """Variables taken from the first file rather than stacked along ``dim``: the other dimensions'
    coordinates, and scalars equal in every file."""
    return [n for n, (_z, a) in meta(refs[0]).items()
            if a.get("_ARRAY_DIMENSIONS") == [n] and n != dim] + same_scalars(refs, sources)


def time_steps(refs: dict[str, Any], dim: str) -> int:
    """Length of ``dim`` in a reference set (0 without it; 1 for a scalar coordinate, as iris writes a
    single time step: the IndexError of the corpus' rotated_pole.nc)."""
    m = meta(refs)
    if dim not in m:
        return 0
    shape = m[dim][0]["shape"]
    return int(shape[0]) if shape else 1


def combine(refs: list[dict[str, Any]], concat_dim: str = "time", identical: list[str] | None = None) -> dict[str, Any]:
    """Combine per-file references along time, decoding CF time per file."""
    # deferred: kerchunk costs ~0.4 s at `convert --help`; only a combine needs it
    from kerchunk.combine import MultiZarrToZarr

    if len(refs) == 1:
        return refs[0]
    combined: dict[str, Any] = MultiZarrToZarr(refs, concat_dims=[concat_dim], identical_dims=identical or [],
                                               coo_map={concat_dim: "cf:time"}).translate()
    return combined


@dataclass(frozen=True, kw_only=True)
class Partial:
    """The references of a batch of consecutive files combined along time (first stage)."""

    refs: dict[str, Any]
    #: Variables kept identical (see :func:`identical_dims`) within the batch.
    identical: tuple[str, ...]
    #: First and last decoded time of the batch (cftime dates or numbers, as kerchunk decodes them).
    first: Any
    last: Any
    steps: int


def combine_batch(refs: list[dict[str, Any]], sources: list[SourceFile], dim: str) -> Partial | None:
    """First stage: a batch's files combined (None if the batch has no ``dim`` or kerchunk refuses it: the
    client then combines all files at once and reports the problem)."""
    # deferred: kerchunk costs ~0.4 s at `convert --help`; only a combine needs it
    from kerchunk.combine import MultiZarrToZarr

    identical = identical_dims(refs, sources, dim)
    if dim not in meta(refs[0]):
        return None
    try:
        mzz = MultiZarrToZarr(refs, concat_dims=[dim], identical_dims=identical, coo_map={dim: "cf:time"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "fewer than expected values" for a batch of one file
            out = mzz.translate()
        values = mzz.coos[dim]
    except Exception:  # noqa: BLE001 - whatever kerchunk says, the one-stage combine says it again, with context
        return None
    if len(values) == 0:
        return None
    return Partial(refs=out, identical=tuple(identical), first=values[0], last=values[-1], steps=time_steps(out, dim))


def combine_partials(partials: list[Partial | None], identical: list[str], dim: str) -> dict[str, Any] | None:
    """Second stage: the batches' results combined; None when the two stages could place chunks differently
    (a batch failed, kept other variables identical, or its time range interleaves with another's)."""
    if not partials or any(p is None for p in partials) or len(partials) < 2:
        return None
    parts = [p for p in partials if p is not None]
    if any(list(p.identical) != list(identical) for p in parts):
        return None
    try:
        ordered = sorted(parts, key=lambda p: p.first)
        if any(not a.last < b.first for a, b in itertools.pairwise(ordered)):
            return None
    except TypeError:  # dates of different calendars do not compare
        return None
    return combine([p.refs for p in parts], dim, identical)


__all__ = ["Partial", "combine", "combine_batch", "combine_partials", "identical_dims", "meta", "same_scalars",
           "time_steps"]
