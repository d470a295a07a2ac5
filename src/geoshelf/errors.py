"""Exceptions and warnings raised by geoshelf.

Every *expected* failure (bad input, unreadable file, malformed catalog) raises a
subclass of :class:`GeoshelfError`.  The command line turns these into one line
on stderr and a non-zero exit; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class GeoshelfError(Exception):
    """Base class of all expected geoshelf errors; ``str(err)`` is one readable line."""

    exit_code = 1


class CatalogError(GeoshelfError):
    """A catalog file cannot be read, is malformed, or an edit to it is refused."""

    exit_code = 2


class UnsafeCatalogError(CatalogError):
    """A catalog tries to construct Python objects or to import arbitrary code."""


class EntryNotFoundError(CatalogError, KeyError):
    """A name does not exist in the catalog."""

    def __str__(self) -> str:  # KeyError would add quotes
        return str(self.args[0]) if self.args else ""


class NameClashError(CatalogError):
    """An entry with that name already exists."""


class SourceError(GeoshelfError):
    """A source file is missing, unreadable, corrupt, or not of a supported format."""

    exit_code = 3


class FileSetChangedError(SourceError):
    """Source files were removed or added since the entry was catalogued (``to_dask(strict=True)``)."""


class ValidationError(GeoshelfError):
    """A converted output does not equal its source; nothing was published."""

    exit_code = 4


class ConversionError(GeoshelfError):
    """A conversion cannot be planned or run (unknown target, bad chunks, unwritable output)."""

    exit_code = 5


class OptionError(ConversionError):
    """A target option is unknown to the target, of the wrong type, or not one of its choices."""


class CampaignError(GeoshelfError):
    """A campaign spec is invalid, or its state cannot be used."""

    exit_code = 6


class ClusterError(GeoshelfError):
    """A cluster profile is unknown or a cluster cannot be started."""

    exit_code = 7


def one_line(exc: BaseException, limit: int | None = None, *, with_type: bool = False) -> str:
    """``str(exc)`` on one line (whitespace collapsed), cut to ``limit`` characters.  ``with_type``:
    prefixed with the exception's type unless it is a GeoshelfError (whose message says it all);
    the type alone when the message is empty."""
    text = " ".join(str(exc).split())
    if with_type and not isinstance(exc, GeoshelfError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:limit] if limit is not None else text


class GeoshelfWarning(UserWarning):
    """Base class of geoshelf warnings."""


class StaleRepresentationWarning(GeoshelfWarning):
    """A representation's source changed since it was made; the loader fell back."""


class UnusableEntryWarning(GeoshelfWarning):
    """A catalog entry is malformed or unsafe; it was skipped and the rest of the catalog is used."""


class FileSetChangedWarning(GeoshelfWarning):
    """Source files were removed or added since the entry was catalogued; it opened what is there."""


class MissingRepresentationWarning(GeoshelfWarning):
    """A recorded representation is not where the catalog says (e.g. a crash mid-publish); the loader fell back."""
