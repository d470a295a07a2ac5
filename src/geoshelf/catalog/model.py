"""The catalog's value objects: :class:`Entry`, :class:`Representation`, :class:`Provenance`.

They map one-to-one onto an intake v1 ``sources:`` item::

    sst:
      description: ...
      driver: netcdf              # intake-xarray driver: stock intake can open it
      args: {urlpath: ..., chunks: {}, xarray_kwargs: {engine: h5netcdf}}
      metadata:
        geoshelf: {format: netcdf, variables: [...], representations: [...], ...}

Everything geoshelf adds lives under ``metadata.geoshelf`` so intake ignores it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from ..errors import CatalogError
from ..registry import REPRESENTATION_ORDER, loader  # the loader is a plugin: no import of geoshelf.load here
from .html import entry_html
from .locate import origin, storage_options_for
from .paths import expand, resolve
from .remote import with_timeouts
from .trust import effective_storage_options

#: Source formats and the stock intake / intake-xarray driver that opens each.
FORMAT_DRIVERS: dict[str, str] = {
    "netcdf": "netcdf",
    "grib": "netcdf",  # intake-xarray's NetCDFSource with engine cfgrib
    "zarr": "zarr",
    "geotiff": "rasterio",
    "csv": "csv",
    "parquet": "parquet",
}

#: driver -> the format an entry without ``metadata.geoshelf.format`` has (the first format per
#: driver wins: netcdf, not grib, which shares its driver).
DRIVER_FORMATS: dict[str, str] = {v: k for k, v in reversed(FORMAT_DRIVERS.items())}
#: Drivers a geoshelf catalog may name (an allow-list: never an arbitrary import path).
ALLOWED_DRIVERS: frozenset[str] = frozenset(
    {"netcdf", "zarr", "rasterio", "csv", "opendap", "parquet", "yaml_file_cat"}
)


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """How a representation was made."""

    #: Fingerprint of the source files the representation was made from ("" when unknown, e.g. in a
    #: catalog served over HTTP, whose server checked freshness itself).
    source_fingerprint: str = ""
    #: Number of source files and their total size in bytes.
    source_files: int = 0
    bytes_in: int = 0
    #: Size of the output in bytes and its number of files.
    bytes_out: int = 0
    files_out: int = 0
    #: Converter parameters (target options as given by the user).
    parameters: dict[str, Any] = field(default_factory=dict)
    #: geoshelf and library versions used.
    versions: dict[str, str] = field(default_factory=dict)
    host: str = ""
    started: str = ""
    finished: str = ""
    #: "full" or "sample": how the output was compared with its source.
    validation: str = "full"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for YAML."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", None)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        """Build from the YAML form, ignoring unknown keys."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = plain_data(data[f.name])
            if f.name in _PROVENANCE_INTS:
                value = _count(value, f"provenance.{f.name}")
            elif f.name in ("parameters", "versions"):
                value = _mapping(value, f"provenance.{f.name}")
            else:
                value = _text(value, f"provenance.{f.name}")
            out[f.name] = value
        return cls(**out)


@dataclass(frozen=True, kw_only=True)
class Representation:
    """One way of reading an entry's data: the original files, or a converted copy."""

    #: "original", "zarr", "references", "cog" or "parquet".
    kind: str
    #: fsspec URL or path; may start with ``{{ CATALOG_DIR }}``.
    path: str
    #: Format details, e.g. ``zarr3``, ``kerchunk-json``, ``kerchunk-parquet``.
    format: str = ""
    #: Extra keyword arguments for the opener (e.g. ``{"consolidated": true}``).
    options: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for YAML."""
        out: dict[str, Any] = {"kind": self.kind, "path": self.path}
        if self.format:
            out["format"] = self.format
        if self.options:
            out["options"] = dict(self.options)
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Representation:
        """Build from the YAML form."""
        if not isinstance(data, dict):
            raise CatalogError(f"a representation must be a mapping, not {type(data).__name__}")
        prov = data.get("provenance")
        if prov is not None and not isinstance(prov, dict):
            raise CatalogError("representation provenance must be a mapping")
        for key in ("kind", "path"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise CatalogError(f"a representation needs a {key!r} string")
        return cls(
            kind=data["kind"],
            path=data["path"],
            format=_text(data.get("format", ""), "representation format"),
            options=_mapping(plain_data(data.get("options") or {}), "representation options"),
            provenance=Provenance.from_dict(prov) if isinstance(prov, dict) else None,
        )


@dataclass(frozen=True, kw_only=True)
class Entry:
    """A catalogued dataset."""

    name: str
    description: str = ""
    #: intake driver name (from :data:`ALLOWED_DRIVERS`).
    driver: str = "netcdf"
    #: The original data: one URL/path, a glob, or a list of them.
    urlpath: str | list[str] = ""
    #: "netcdf", "grib", "geotiff", "csv", "zarr", "parquet".
    format: str = "netcdf"
    #: Opener keyword arguments kept in ``args`` (e.g. xarray_kwargs, storage_options).
    args: dict[str, Any] = field(default_factory=dict)
    variables: list[str] = field(default_factory=list)
    #: Per variable: its ``long_name``, ``standard_name`` and ``units`` (searchable).
    variable_attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Search facets taken from the data's global attributes at ``add`` (e.g. model, experiment,
    #: member, frequency; the list is configurable) or written by a person.
    facets: dict[str, Any] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)
    #: ISO timestamps of the first and last time step.
    time_range: tuple[str, str] | None = None
    #: west, south, east, north in the dataset's coordinates (degrees when geographic).
    bbox: tuple[float, float, float, float] | None = None
    crs: str | None = None
    bytes: int = 0
    files: int = 0
    fingerprint: str = ""
    #: The sidecar manifest listing the files (``{{ CATALOG_DIR }}/<catalog>.d/<name>.<fp>.files.jsonl``),
    #: written at add/update; see :mod:`geoshelf.catalog.freshness`.  "" for entries catalogued before it.
    files_manifest: str = ""
    tags: list[str] = field(default_factory=list)
    contact: str = ""
    license: str = ""
    #: Converted copies (the original is implicit).
    representations: list[Representation] = field(default_factory=list)
    #: Any other ``metadata:`` keys a person wrote, kept as they are.
    extra_metadata: dict[str, Any] = field(default_factory=dict)
    #: Any other ``metadata.geoshelf`` keys (forward compatibility).
    extra_geoshelf: dict[str, Any] = field(default_factory=dict)
    #: Directory of the catalog file the entry was read from (for relative paths).
    catalog_dir: str | None = field(default=None, compare=False, repr=False)

    # -- opening ---------------------------------------------------------------------
    def to_dask(self, representation: str | None = None, chunks: Any = None, *, strict: bool = False,
                **kwargs: Any) -> Any:
        """Lazily open the data (xarray Dataset/DataArray, or dask DataFrame for tables).

        ``representation`` forces one ("zarr", "references", "cog", "parquet",
        "original"); by default the best available that is not stale is used.
        Source files missing or added since catalogued give a ``FileSetChangedWarning``
        naming them; with ``strict=True`` a ``FileSetChangedError`` instead.
        """
        return loader().open_entry(self, representation=representation, chunks=chunks, strict=strict, **kwargs)

    def read(self, **kwargs: Any) -> Any:
        """Open and load into memory (``to_dask(...).compute()``)."""
        return self.to_dask(**kwargs).compute()

    def resolve(self, path: str) -> str:
        """A stored path/URL made absolute against the catalog directory."""
        return resolve(path, self.catalog_dir)

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec options to reach the sources: the entry's own (checked against an allow-list),
        with the user's config for the URL over them.

        Secrets belong in the user's config (``storage_options:`` by URL), never in a catalog; a
        catalog cannot redirect a URL the user's config holds options for (see ``catalog/trust.py``).
        """
        url = self.resolve(_first(self.urlpath)) if self.urlpath else ""
        user = storage_options_for(url) if url else {}
        return with_timeouts(url, effective_storage_options(url, self.args.get("storage_options"), user))

    def options_for(self, url: str) -> dict[str, Any]:
        """fsspec options for another URL of this entry (e.g. a representation): the user's config
        for THAT URL (scheme, host, port / bucket), never the options of the entry's sources, so a
        credential configured for the sources cannot go to a representation on another host."""
        source = self.resolve(_first(self.urlpath)) if self.urlpath else ""
        if source and origin(source) == origin(url):
            return self.storage_options
        return with_timeouts(url, storage_options_for(url))

    def source_files(self, must_exist: bool = True) -> list[str]:
        """The original files, globs expanded, sorted."""
        return expand(self.urlpath, self.catalog_dir, self.storage_options, must_exist=must_exist)

    def _repr_html_(self) -> str:
        return entry_html(self)

    # -- derived -------------------------------------------------------------------
    @property
    def original(self) -> Representation:
        """The original files as a representation."""
        return Representation(kind="original", path=_first(self.urlpath), format=self.format)

    def representation(self, kind: str) -> Representation | None:
        """The representation of that kind, if any (``original`` always exists)."""
        if kind == "original":
            return self.original
        for rep in self.representations:
            if rep.kind == kind:
                return rep
        return None

    def with_representation(self, rep: Representation) -> Entry:
        """A copy with ``rep`` added, replacing any of the same kind."""
        reps = [r for r in self.representations if r.kind != rep.kind] + [rep]
        reps.sort(key=lambda r: REPRESENTATION_ORDER.index(r.kind) if r.kind in REPRESENTATION_ORDER else 99)
        return dataclasses.replace(self, representations=reps)

    def replace(self, **changes: Any) -> Entry:
        """A copy with fields changed."""
        return dataclasses.replace(self, **changes)

    # -- YAML form -------------------------------------------------------------------
    def to_source(self) -> dict[str, Any]:
        """The intake v1 ``sources:`` item for this entry (plain data)."""
        args: dict[str, Any] = {"urlpath": self.urlpath}
        args.update(self.args)
        geo: dict[str, Any] = {"format": self.format}
        if self.variables:
            geo["variables"] = list(self.variables)
        if self.variable_attrs:
            geo["variable_attrs"] = {k: dict(v) for k, v in self.variable_attrs.items()}
        if self.facets:
            geo["facets"] = dict(self.facets)
        if self.dims:
            geo["dims"] = dict(self.dims)
        if self.time_range:
            geo["time_range"] = list(self.time_range)
        if self.bbox:
            geo["bbox"] = [float(x) for x in self.bbox]
        if self.crs:
            geo["crs"] = self.crs
        geo["bytes"] = int(self.bytes)
        geo["files"] = int(self.files)
        if self.fingerprint:
            geo["fingerprint"] = self.fingerprint
        if self.files_manifest:
            geo["files_manifest"] = self.files_manifest
        for key in ("tags", "contact", "license"):
            value = getattr(self, key)
            if value:
                geo[key] = list(value) if isinstance(value, list) else value
        if self.representations:
            geo["representations"] = [r.to_dict() for r in self.representations]
        geo.update(self.extra_geoshelf)
        metadata = dict(self.extra_metadata)
        metadata["geoshelf"] = geo
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        out["driver"] = self.driver
        out["args"] = args
        out["metadata"] = metadata
        return out

    @classmethod
    def from_source(cls, name: str, data: dict[str, Any], catalog_dir: str | None = None) -> Entry:
        """Build from an intake v1 ``sources:`` item (plain data)."""
        args = dict(_mapping(plain_data(data.get("args") or {}), "args"))
        urlpath = args.pop("urlpath", "")
        if not (isinstance(urlpath, str) or (isinstance(urlpath, list) and all(isinstance(u, str) for u in urlpath))):
            raise CatalogError("args.urlpath must be a path or a list of paths")
        metadata = dict(_mapping(plain_data(data.get("metadata") or {}), "metadata"))
        geo = dict(_mapping(metadata.pop("geoshelf", None) or {}, "metadata.geoshelf"))
        known = {
            "format", "variables", "variable_attrs", "facets", "dims", "time_range", "bbox", "crs", "bytes", "files",
            "fingerprint", "files_manifest", "tags", "contact", "license", "representations",
        }
        driver = data.get("driver", "")
        if not isinstance(driver, str):
            raise CatalogError(f"driver must be a name, not {type(driver).__name__}")
        fmt = geo.get("format") or DRIVER_FORMATS.get(driver, driver)
        tr = geo.get("time_range")
        if tr is not None and not (isinstance(tr, list) and len(tr) == 2 and all(_is_scalar(t) for t in tr)):
            raise CatalogError("metadata.geoshelf.time_range must be [start, end]")
        bb = geo.get("bbox")
        if bb is not None and not (isinstance(bb, list) and len(bb) == 4 and all(_is_number(x) for x in bb)):
            raise CatalogError("metadata.geoshelf.bbox must be [west, south, east, north] (numbers)")
        dims = _mapping(geo.get("dims") or {}, "metadata.geoshelf.dims")
        reps = geo.get("representations") or []
        if not isinstance(reps, list):
            raise CatalogError("metadata.geoshelf.representations must be a list")
        return cls(
            name=name,
            description=_text(data.get("description") or "", "description"),
            driver=driver,
            urlpath=urlpath,
            format=_text(fmt, "metadata.geoshelf.format"),
            args=args,
            variables=_texts(geo.get("variables"), "metadata.geoshelf.variables"),
            variable_attrs=_variable_attrs(geo.get("variable_attrs")),
            facets=_facets(geo.get("facets")),
            dims={str(k): _count(v, f"metadata.geoshelf.dims.{k}") for k, v in dims.items()},
            time_range=(str(tr[0]), str(tr[1])) if tr else None,
            bbox=tuple(float(x) for x in bb) if bb else None,  # type: ignore[arg-type]
            crs=_text(geo["crs"], "metadata.geoshelf.crs") if geo.get("crs") is not None else None,
            bytes=_count(geo.get("bytes") or 0, "metadata.geoshelf.bytes"),
            files=_count(geo.get("files") or 0, "metadata.geoshelf.files"),
            fingerprint=_text(geo.get("fingerprint") or "", "metadata.geoshelf.fingerprint"),
            files_manifest=_text(geo.get("files_manifest") or "", "metadata.geoshelf.files_manifest"),
            tags=_texts(geo.get("tags"), "metadata.geoshelf.tags"),
            contact=_text(geo.get("contact") or "", "metadata.geoshelf.contact"),
            license=_text(geo.get("license") or "", "metadata.geoshelf.license"),
            representations=[Representation.from_dict(r) for r in reps],
            extra_metadata=metadata,
            extra_geoshelf={k: v for k, v in geo.items() if k not in known},
            catalog_dir=catalog_dir,
        )


def _variable_attrs(value: Any) -> dict[str, dict[str, str]]:
    if not value:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("variable_attrs must map variable names to mappings of attributes")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in value.items()}


def _facets(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValueError("facets must be a mapping of facet names to values")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, (list, tuple)):
            out[str(k)] = [str(x) for x in v]
        elif isinstance(v, dict):
            raise ValueError(f"facet {k!r} must be a value or a list of values")
        else:
            out[str(k)] = str(v)
    return out


_PROVENANCE_INTS = frozenset({"source_files", "bytes_in", "bytes_out", "files_out"})


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, _dt.date)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e300


def _text(v: Any, what: str) -> str:
    """A field written as one scalar (a string, or a number/date a person wrote unquoted)."""
    if not _is_scalar(v):
        raise CatalogError(f"{what} must be text, not {type(v).__name__}")
    return str(v)


def _texts(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(_is_scalar(x) for x in v):
        raise CatalogError(f"{what} must be a list of names")
    return [str(x) for x in v]


def _count(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise CatalogError(f"{what} must be a whole number >= 0, not {v!r}"[:160])
    return v


def _mapping(v: Any, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise CatalogError(f"{what} must be a mapping, not {type(v).__name__}")
    return v


def _first(urlpath: str | list[str]) -> str:
    if isinstance(urlpath, list):
        return urlpath[0] if urlpath else ""
    return urlpath


def plain_data(value: Any) -> Any:
    """ruamel's commented containers -> plain dict/list/str (recursively)."""
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
