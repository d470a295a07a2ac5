"""References target: kerchunk references to NetCDF4/HDF5 and NetCDF3 originals (a virtual Zarr).

* One file or a multi-file collection combined along time; stored as JSON for small
  collections and as a Parquet reference store for large ones (``store=auto``).
* Time is combined by decoding CF time per file (``coo_map={"time": "cf:time"}``):
  kerchunk's default silently collapses files whose units differ (``days since <that
  day>``, value 0 in every file) into ONE time step.  The result is checked: its number
  of time steps must equal the sum over the files.
* A pre-flight check refuses, in plain words, collections a virtual Zarr cannot express
  (different variables, grids, dtypes, codecs, chunk shapes or packing per file) and
  points to ``--to zarr``.
* NetCDF3 originals (classic, 64-bit offset) are referenced through kerchunk's NetCDF3ToZarr:
  a record variable becomes one reference per record (uncompressed); ``--to zarr`` reads faster.
* Validation (``--validate full``, recorded as ``metadata``) checks every chunk's byte range,
  the codecs and the decoded coordinates with another reader (:mod:`.refcheck`); ``values``
  compares every value, ``sample`` the values of sampled files.
* The store kind follows the output's name (``.json`` / ``.parq`` or no suffix).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.model import Entry, Representation
from ..contract import Appended, Converter, Option, Plan, Validation
from ..errors import ConversionError, ValidationError
from ..load.formats import sniff
from ..load.original import combine_netcdf_parts, open_netcdf_parts, open_original
from ..load.references import open_references, open_references_representation
from ..progress import steps
from .refcheck import check_references, stored_values
from .refcombine import combine, combine_partials, identical_dims, time_steps
from .refcombine import meta as _meta
from .refindex import Indexed, index_files, many_refs, single_refs
from .sources import SourceFile, read_sources
from .validate import compare_datasets, compare_file_samples

#: Source files compared in full with the output by ``--validate sample``.
SAMPLE_FILES = 16

PARQUET_ABOVE_FILES = 200
#: Conversions of fewer files are quick: no progress shown.
PROGRESS_MIN_FILES = 50
_ENCODING_ATTRS = ("scale_factor", "add_offset", "_FillValue", "missing_value", "units", "calendar")


def preflight(files: list[str], refs: list[dict[str, Any]], concat_dim: str = "time",
              sources: list[SourceFile] | None = None) -> None:
    """Refuse collections a virtual Zarr cannot express; say why, in plain words.

    ``sources`` (:func:`.sources.read_sources` of ``files``) are read when not given.
    """
    way_out = "; convert with --to zarr instead"
    if sources is None:
        sources = read_sources(files, _kind(files))
    first = _meta(refs[0])
    coords0: dict[str, np.ndarray] = {}
    for name, (_zarray, zattrs) in first.items():
        dims = zattrs.get("_ARRAY_DIMENSIONS", [])
        if dims == [name] and name != concat_dim:
            coords0[name] = stored_values(sources[0].variables[name])
    for f, r, src in zip(files[1:], refs[1:], sources[1:], strict=True):
        meta = _meta(r)
        if set(meta) != set(first):
            extra = sorted(set(meta) ^ set(first))
            raise ConversionError(f"{f}: has different variables than {files[0]} ({', '.join(extra)}){way_out}")
        for name, (zarray, zattrs) in meta.items():
            z0, a0 = first[name]
            dims = zattrs.get("_ARRAY_DIMENSIONS", [])
            if zarray["dtype"] != z0["dtype"]:
                raise ConversionError(f"{f}: variable {name!r} is {np.dtype(zarray['dtype']).name} but "
                                      f"{np.dtype(z0['dtype']).name} in {files[0]}{way_out}")
            if zarray.get("compressor") != z0.get("compressor") or zarray.get("filters") != z0.get("filters"):
                raise ConversionError(f"{f}: variable {name!r} is compressed differently than in {files[0]} "
                                      f"(codecs must be identical in a virtual Zarr){way_out}")
            if zarray["chunks"] != z0["chunks"]:
                raise ConversionError(f"{f}: variable {name!r} has chunks {zarray['chunks']} but {z0['chunks']} in "
                                      f"{files[0]} (a virtual Zarr has one chunk shape){way_out}")
            skip = ("units", "calendar") if name == concat_dim else ()
            for key in _ENCODING_ATTRS:
                if key not in skip and zattrs.get(key) != a0.get(key):
                    raise ConversionError(f"{f}: variable {name!r} has {key}={zattrs.get(key)!r} but "
                                          f"{a0.get(key)!r} in {files[0]} (per-file encodings cannot be "
                                          f"expressed){way_out}")
            if dims != a0.get("_ARRAY_DIMENSIONS", []):
                raise ConversionError(f"{f}: variable {name!r} has dimensions {dims}, not "
                                      f"{a0.get('_ARRAY_DIMENSIONS')}{way_out}")
        for name, values in coords0.items():
            other = stored_values(src.variables[name])
            if other.shape != values.shape or not np.array_equal(other, values, equal_nan=other.dtype.kind == "f"):
                raise ConversionError(f"{f}: grid differs from {files[0]} (coordinate {name!r}){way_out}")


def read_refs(path: Path, store: str) -> Any:
    """The key -> reference mapping of a stored reference set (a Parquet store's is read lazily)."""
    if store == "parquet":
        # deferred: fsspec costs 0.1-0.4 s at `convert --help`; only reading references needs it
        import fsspec
        from fsspec.implementations.reference import LazyReferenceMapper

        return LazyReferenceMapper(str(path), fs=fsspec.filesystem("file"))
    data = json.loads(path.read_text())
    return data.get("refs", data) if isinstance(data, dict) and "refs" in data else data


def _kind(files: list[str]) -> str:
    return "netcdf3" if "://" not in files[0] and sniff(files[0]) == "netcdf3" else "netcdf4"


@dataclass(kw_only=True)
class ReferencesState:
    """What the references target's write hands its validation."""

    #: The source files as the metadata check reads them (pyfive / the NetCDF3 header reader), read once
    #: by the pre-flight check and reused.
    sources: list[SourceFile] | None = None


def _steps(what: str, plan: Plan[ReferencesState], files: list[str]) -> Any:
    """Progress of one pass over the files (a bar on a terminal, else a line every tenth or 10 s)."""
    return steps(plan.entry.name, len(files), label=what, unit="file", minimum=PROGRESS_MIN_FILES)


class ReferencesConverter(Converter[ReferencesState]):
    """NetCDF4/HDF5 or NetCDF3 -> kerchunk references (JSON or Parquet store)."""

    description = "kerchunk references to the original NetCDF4/HDF5 or NetCDF3 files (a virtual Zarr; no data copied)"
    formats = ("netcdf",)
    way_out = "use --to zarr, which copies the data"
    #: "full" is the metadata check (recorded as "metadata"); "values" compares every value.
    validations = ("full", "metadata", "values", "sample")
    options = (
        Option(name="store", choices=("json", "parquet", "auto"), default="auto",
               help=f"references store: json, parquet, or auto (parquet above {PARQUET_ABOVE_FILES} files; "
                    "with --output, its suffix decides: .json, .parq or none)"),
        Option(name="concat_dim", default="time", help="dimension the files are combined along (default time)"),
    )

    def new_state(self) -> ReferencesState:
        return ReferencesState()

    def plan(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        out = super().plan(entry, options)
        if out["store"] == "auto":
            out["store"] = "parquet" if entry.files > PARQUET_ABOVE_FILES else "json"
        return out

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        return open_references_representation(entry, rep, chunks=chunks, **kwargs)

    def check_output(self, entry: Entry, output: Path, options: dict[str, Any]) -> dict[str, Any]:
        """The store kind follows the output's name: ``.json`` a JSON store, ``.parq`` or no suffix a Parquet
        store; another suffix, or a ``store`` option that contradicts the name, is refused."""
        suffix = output.suffix.lower()
        implied = {".json": "json", ".parq": "parquet", "": "parquet"}.get(suffix)
        if implied is None:
            raise ConversionError(f"{output}: a references output is named *.json (JSON store) or *.parq (Parquet "
                                  f"store; also without a suffix), not *{output.suffix}")
        store = options.get("store") or "auto"
        if store not in ("auto", implied):
            raise ConversionError(f"{output}: the name means a {implied} store but store={store} was asked; name it "
                                  f"{output.with_suffix('.json' if store == 'json' else '.parq').name} or drop "
                                  "the store option")
        return {**options, "store": implied}

    def output_name(self, entry: Entry, options: Mapping[str, Any]) -> str:
        store = self.plan(entry, options)["store"]
        return entry.name + (".refs.parq" if store == "parquet" else ".refs.json")

    def _refs(self, plan: Plan[ReferencesState], files: list[str]) -> list[dict[str, Any]]:
        self._one_kind(files)
        with _steps("indexing", plan, files) as advance:
            return many_refs(files, progress=advance)

    @staticmethod
    def _one_kind(files: list[str]) -> None:
        kinds = {f: sniff(f) for f in files if "://" not in f}
        if len(set(kinds.values())) > 1:
            nc3 = next(f for f, k in kinds.items() if k == "netcdf3")
            raise ConversionError(f"{nc3}: NetCDF3 among NetCDF4 files: one virtual Zarr cannot reference both "
                                  "(different layouts and codecs); convert with --to zarr instead")

    def _index(self, plan: Plan[ReferencesState], files: list[str]) -> Indexed:
        """Each file's references and source facts, in one pass (on the workers when a client is active, which
        also combine their batches of files)."""
        self._one_kind(files)
        with _steps("indexing", plan, files) as advance:
            return index_files(files, _kind(files), concat_dim=plan.options["concat_dim"], progress=advance)

    def _build(self, plan: Plan[ReferencesState], files: list[str], indexed: Indexed) -> dict[str, Any]:
        dim = plan.options["concat_dim"]
        refs, sources = indexed.refs, indexed.sources
        plan.state.sources = sources  # the metadata check reads the same facts
        preflight(files, refs, dim, sources)
        identical = identical_dims(refs, sources, dim)
        combined = combine_partials(indexed.partials, identical, dim) if len(files) > 1 else None
        if combined is None:
            combined = combine(refs, dim, identical)
        expected = sum(time_steps(r, dim) for r in refs)
        got = time_steps(combined, dim)
        if got != expected:
            raise ValidationError(f"{files[0]} (+{len(files) - 1} files): combined references have {got} time steps, "
                                  f"the files hold {expected} (time would be collapsed)")
        return combined

    def _store(self, refs: dict[str, Any], path: Path, store: str) -> None:
        if store == "json":
            path.write_text(json.dumps(refs))
            return
        # deferred: kerchunk costs ~0.4 s at `convert --help`; only a Parquet store of references needs it
        from kerchunk.df import refs_to_dataframe

        refs_to_dataframe(refs, str(path), record_size=10_000)

    def write(self, plan: Plan[ReferencesState], path: Path) -> None:
        self._store(self._build(plan, plan.files, self._index(plan, plan.files)), path, plan.options["store"])

    def validate(self, plan: Plan[ReferencesState], path: Path) -> Validation:
        """``full``/``metadata`` (default): every chunk's byte range, codecs and the decoded coordinates checked
        against the sources by another reader (:mod:`.refcheck`); ``values``: every value compared;
        ``sample``: coordinates in full, values of sampled files."""
        out = open_references(str(path), plan.options["store"])
        where = f"{path.name}: "
        mode = "metadata" if plan.validate == "full" else plan.validate
        if mode == "metadata":
            return check_references(read_refs(path, plan.options["store"]), plan.files, out,
                                    concat_dim=plan.options["concat_dim"], kind=_kind(plan.files), where=where,
                                    sources=plan.state.sources)
        parts = open_netcdf_parts(plan.files, chunks={}, storage_options=plan.entry.storage_options)
        src = combine_netcdf_parts(parts, plan.files)
        if mode == "values":
            compare_datasets(src, out, where=where)
            return "values"
        # sample: coordinates (decoded time) in full; data as whole fields of single files (the first,
        # the last, random others) against the output at the same coordinate labels
        compare_datasets(src, out, variables=[], where=where)
        for i, name in enumerate(v for v in src.data_vars if v != "spatial_ref"):
            if name not in out:
                raise ValidationError(f"{where}variable {name!r} is missing from the output")
            compare_file_samples(str(name), list(zip(plan.files, parts, strict=True)), out[name], {}, n=SAMPLE_FILES,
                                 seed=i, where=where)
        return "sample"

    def append(self, plan: Plan[ReferencesState], path: Path, previous: Representation) -> Appended | None:
        """JSON stores: combine the existing references with those of the new files only."""
        if plan.options["store"] != "json" or not path.is_file():
            return None

        dim = plan.options["concat_dim"]
        old = json.loads(path.read_text())
        new_refs = self._refs(plan, plan.new_files)
        preflight([plan.files[0], *plan.new_files],
                  [single_refs(plan.files[0]), *new_refs], dim)  # new files must match the old ones
        plan.state.sources = None  # the check reads all files (old and new) itself
        old_ds = open_references(str(path), "json")
        first_new = open_original(plan.new_files[:1], "netcdf")
        if first_new[dim].values.min() <= old_ds[dim].values.max():
            return None  # interleaved in time: rebuild
        identical = [n for n, (_z, a) in _meta(new_refs[0]).items()
                     if a.get("_ARRAY_DIMENSIONS") == [n] and n != dim]
        combined = combine([old, *new_refs], dim, identical)
        expected = time_steps(old, dim) + sum(time_steps(r, dim) for r in new_refs)
        if time_steps(combined, dim) != expected:
            raise ValidationError(f"{path}: appended references have {time_steps(combined, dim)} time steps, "
                                  f"expected {expected}")
        tmp = path.with_name(f".{path.name}.partial-append")
        tmp.write_text(json.dumps(combined))
        try:
            how = self.validate(plan, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return Appended(validation=how, files=len(plan.new_files))

    def representation_format(self, plan: Plan[ReferencesState], path: Path) -> str:
        return "kerchunk-" + str(plan.options["store"])

    def representation_options(self, plan: Plan[ReferencesState], path: Path) -> dict[str, Any]:
        return {"store": plan.options["store"]}
