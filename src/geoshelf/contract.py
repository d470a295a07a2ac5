"""The target contract: what a conversion target (a plugin) declares and implements.

A target is one class registered under the ``geoshelf.converters`` entry-point group (like
xarray's ``BackendEntrypoint``); its name is the entry point's name.  It declares

* ``formats``: the entry formats it accepts;
* ``options``: its typed :class:`Option` s (the CLI flags, ``--option KEY=VALUE``, Python keywords
  and campaign-spec ``options:`` are all checked against them, before any work);

and implements ``plan`` (entry-dependent option checks), ``write``, ``validate``, optionally
``append``, and ``open`` (the loader opens a representation through its target).

This module is a leaf: it imports only the catalog model and the errors, so the loader, the
converters, the campaign code and the CLI may all use it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from .catalog.paths import FileStat, fingerprint
from .errors import ConversionError, OptionError

if TYPE_CHECKING:
    from .catalog.model import Entry, Representation

#: How an output was compared with its source: "full" and "sample" for every target; a target may
#: declare its own (references: "metadata", a check of every chunk's byte range and codecs, and
#: "values"), see :attr:`Converter.validations`.
Validation = Literal["full", "sample", "metadata", "values"]
VALIDATIONS: tuple[Validation, ...] = ("full", "sample")

_TYPE_NAMES: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
                                dict: "a mapping", list: "a list of strings", object: "a value"}


def _json_text(text: str, opening: str, kind: type[Any], what: str) -> Any:
    """``text`` parsed as JSON when it starts with ``opening`` (it must then be a ``kind``), else None."""
    if not text.startswith(opening):
        return None
    value = json.loads(text)
    if not isinstance(value, kind):
        raise ValueError(f"not a {what}")
    return value


def _parse_mapping(text: str) -> dict[str, Any]:
    """``time=30,lat=90`` (or JSON) -> ``{"time": 30, "lat": 90}``."""
    text = text.strip()
    given: dict[str, Any] | None = _json_text(text, "{", dict, "mapping")
    if given is not None:
        return given
    out: dict[str, Any] = {}
    for part in text.split(","):
        if "=" not in part:
            raise ValueError("expected KEY=VALUE[,KEY=VALUE...]")
        k, v = part.split("=", 1)
        out[k.strip()] = _scalar(v.strip())
    return out


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_list(text: str) -> list[str]:
    text = text.strip()
    given: list[str] | None = _json_text(text, "[", list, "list")
    if given is not None:
        return given
    return [p.strip() for p in text.split(",") if p.strip()]


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


_PARSERS: dict[type, Callable[[str], Any]] = {str: str, int: int, float: float, bool: _parse_bool,
                                              dict: _parse_mapping, list: _parse_list, object: _scalar}


@dataclass(frozen=True, kw_only=True)
class Option:
    """One declared option of a target."""

    #: Keyword (``layout``); the CLI flag is ``--layout`` (``_`` -> ``-``).
    name: str
    #: Python type of the value: str, int, float, bool, dict, list (of str) or object (any scalar).
    type: type = str
    #: Allowed values (empty: any value of the type).
    choices: tuple[Any, ...] = ()
    #: Value used when the option is not given (None: the target decides, e.g. from the entry).
    default: Any = None
    #: One line for ``--help``.
    help: str = ""
    #: What to call the option in errors (default: its name), e.g. "COG profile".
    label: str = ""
    #: Placeholder in ``--help`` (default: the choices, or the name upper-cased).
    metavar: str = ""

    @property
    def flag(self) -> str:
        """The command-line flag of this option."""
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str, where: str = "") -> Any:
        """A value given as text (the command line) in this option's type."""
        try:
            value = _PARSERS.get(self.type, str)(text)
        except (ValueError, TypeError):
            raise OptionError(f"{where}option {self.name!r} must be {_TYPE_NAMES.get(self.type, self.type.__name__)}"
                              f", not {text!r}") from None
        return self.check(value, where)

    def check(self, value: Any, where: str = "") -> Any:
        """``value`` if it has this option's type and is one of its choices (None means the default)."""
        if value is None:
            return None
        ok = {
            bool: lambda v: isinstance(v, bool),
            int: lambda v: isinstance(v, int) and not isinstance(v, bool),
            float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            str: lambda v: isinstance(v, str),
            dict: lambda v: isinstance(v, Mapping),
            list: lambda v: isinstance(v, list | tuple) and all(isinstance(x, str) for x in v),
        }.get(self.type, lambda v: isinstance(v, str | int | float | bool))(value)
        if not ok:
            raise OptionError(f"{where}option {self.name!r} must be "
                              f"{_TYPE_NAMES.get(self.type, self.type.__name__)}, not {value!r}")
        if self.choices and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise OptionError(f"{where}unknown {self.label or self.name} {value!r} "
                              f"({hint}choose from {', '.join(map(str, self.choices))})")
        if self.type is dict:
            return dict(value)
        if self.type is list:
            return list(value)
        return value


def check_options(target: str, declared: tuple[Option, ...], options: Mapping[str, Any],
                  where: str = "") -> dict[str, Any]:
    """``options`` with every key declared and every value of its declared type; else an
    :class:`OptionError` naming the option, with a did-you-mean."""
    by_name = {o.name: o for o in declared}
    out: dict[str, Any] = {}
    for key, value in options.items():
        opt = by_name.get(str(key).replace("-", "_"))
        if opt is None:
            raise OptionError(f"{where}{unknown_option(target, str(key), declared)}")
        out[opt.name] = opt.check(value, where)
    return out


def unknown_option(target: str, key: str, declared: tuple[Option, ...]) -> str:
    """The one-line message for an option that ``target`` does not declare."""
    names = [o.name for o in declared]
    close = difflib.get_close_matches(key.replace("-", "_"), names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else (
        f"its options: {', '.join(names)}" if names else "it takes no options")
    return f"target {target!r} has no option {key!r} ({hint})"


# -- the values passed between the pipeline's steps ---------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Sources:
    """An entry's source files as they are now."""

    #: The files (globs expanded, sorted) and their stats.
    files: tuple[str, ...]
    stats: tuple[FileStat, ...]

    @property
    def fingerprint(self) -> str:
        return fingerprint(list(self.stats))

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self.stats)


StateT = TypeVar("StateT")


@dataclass(kw_only=True)
class Plan(Generic[StateT]):
    """Everything a target needs to write one output, and the target's own typed state
    (e.g. the opened source, shared between its write and validate)."""

    entry: Entry
    #: The source files (globs expanded, sorted) and their stats.
    files: list[str]
    stats: list[FileStat]
    #: Target options, checked and completed by the target's :meth:`Converter.plan`.
    options: dict[str, Any]
    #: Final output path (local).
    output: Path
    validate: Validation = "full"
    #: Files new since the existing representation was made (incremental runs).
    new_files: list[str] = field(default_factory=list)
    #: The target's own state (its type is the target's; None for targets without state).
    state: StateT = None  # type: ignore[assignment]

    @property
    def source_fingerprint(self) -> str:
        return fingerprint(self.stats)


@dataclass(frozen=True, kw_only=True)
class Appended:
    """What an in-place append did."""

    #: How the appended data were compared with their source.
    validation: Validation
    #: Number of new source files appended.
    files: int


class Converter(Generic[StateT]):
    """Base class of conversion targets (the contract).  Subclasses set the class attributes and
    implement :meth:`write`, :meth:`validate` and :meth:`open`; :meth:`plan` and :meth:`append`
    are optional."""

    description: ClassVar[str] = ""
    #: Source formats this target accepts (entry.format values).
    formats: ClassVar[tuple[str, ...]] = ()
    #: Declared options.
    options: ClassVar[tuple[Option, ...]] = ()
    #: Suffix of the output name (``sst`` -> ``sst.zarr``).
    suffix: ClassVar[str] = ""
    #: Accepted ``--validate`` values ("full": the target's complete check); :meth:`validate` returns the
    #: one that ran (recorded in the provenance).
    validations: ClassVar[tuple[Validation, ...]] = VALIDATIONS
    #: What a user can do when this target's output cannot equal the source: appended to every
    #: validation refusal (e.g. ``"use --to zarr, which copies the data"``); empty for none.
    way_out: ClassVar[str] = ""

    def __init__(self, name: str) -> None:
        #: The target's name: its entry point's name (``--to NAME``, the representation kind).
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def kind(self) -> str:
        """Representation kind recorded in the catalog: the target's name."""
        return self.name

    # -- options ----------------------------------------------------------------------------
    def check_options(self, options: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """Options declared by this target and of their declared types (entry-independent)."""
        return check_options(self.name, self.options, options, where)

    def parse_options(self, texts: Mapping[str, str], where: str = "") -> dict[str, Any]:
        """Options given as text (command line) parsed into their declared types."""
        by_name = {o.name: o for o in self.options}
        out: dict[str, Any] = {}
        for key, text in texts.items():
            opt = by_name.get(key.replace("-", "_"))
            if opt is None:
                raise OptionError(f"{where}{unknown_option(self.name, key, self.options)}")
            out[opt.name] = opt.parse(text, where)
        return out

    def defaults(self) -> dict[str, Any]:
        """Declared defaults (options without one are left out)."""
        return {o.name: o.default for o in self.options if o.default is not None}

    def can_convert(self, entry: Entry) -> bool:
        """True when this target accepts the entry's format."""
        return entry.format in self.formats

    def plan(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options for converting ``entry``: checked against the declarations, defaults filled in;
        subclasses add checks that depend on the entry (raise ConversionError).  Writes nothing."""
        given = {k: v for k, v in self.check_options(options, f"{entry.name}: ").items() if v is not None}
        return {**self.defaults(), **given}

    def new_state(self) -> StateT:
        """A fresh state for one conversion (see :attr:`Plan.state`)."""
        return None  # type: ignore[return-value]

    def output_name(self, entry: Entry, options: Mapping[str, Any]) -> str:
        """File or directory name of the output."""
        return entry.name + self.suffix

    def check_output(self, entry: Entry, output: Path, options: dict[str, Any]) -> dict[str, Any]:
        """Options as the output's name implies them, or a ConversionError when the name does not fit
        (e.g. a store kind chosen by suffix); called before :meth:`plan`, before any work."""
        return options

    # -- the work ----------------------------------------------------------------------------
    def write(self, plan: Plan[StateT], path: Path) -> None:
        """Write the whole output at ``path`` (a partial location)."""
        raise NotImplementedError

    def validate(self, plan: Plan[StateT], path: Path) -> Validation:
        """Compare the output at ``path`` with the source; raise ValidationError; say how it compared."""
        raise NotImplementedError

    def append(self, plan: Plan[StateT], path: Path, previous: Representation) -> Appended | None:
        """Append ``plan.new_files`` to the published output at ``path`` in place; None when this
        target cannot (the pipeline then rebuilds).  Must leave the output valid for the old files
        if interrupted."""
        return None

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        """Open a representation this target made, lazily."""
        raise ConversionError(f"{entry.name}: target {self.name!r} cannot open its {rep.kind} representation")

    # -- what is recorded ----------------------------------------------------------------------
    def representation_format(self, plan: Plan[StateT], path: Path) -> str:
        """Format string recorded in the catalog (e.g. ``zarr3``)."""
        return self.name

    def representation_options(self, plan: Plan[StateT], path: Path) -> dict[str, Any]:
        """Opener options recorded in the catalog."""
        return {}


class Loader(Protocol):
    """What opens catalog entries lazily (:mod:`geoshelf.load` is the one geoshelf installs, under the
    ``geoshelf.loaders`` entry point).  ``Entry.to_dask`` and ``geoshelf lint --open`` reach it through
    :func:`geoshelf.registry.loader`, so the catalog layer never imports the loader (nor xarray)."""

    def open_entry(self, entry: Entry, representation: str | None = None, chunks: Any = None, *,
                   strict: bool = False, **kwargs: Any) -> Any: ...

    def open_representation(self, entry: Entry, rep: Representation, chunks: Any = None,
                            **kwargs: Any) -> Any: ...


__all__ = ["VALIDATIONS", "Appended", "Converter", "Loader", "Option", "Plan", "Sources", "Validation", "check_options",
           "unknown_option"]
