"""Converters: one module per target, found through the ``geoshelf.converters`` entry points.

``convert(entry, to="zarr")`` runs the shared pipeline (:mod:`geoshelf.convert.base`)
and records the new representation in the catalog.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

from ..catalog import Catalog, Entry, Representation
from ..catalog.locate import default_catalog_path
from ..errors import ConversionError
from ..intake_view import refresh_intake_view
from ..registry import get_target, list_targets, refresh_targets
from .base import Converter, Outcome, run
from .outputs import check_explicit_output, output_in_shelf, shelf_root
from .record import drop_obsolete_journal, record_output, replay_journal


def convert_entry(entry: Entry, to: str, *, catalog_path: Path | None, output: str | os.PathLike[str] | None = None,
                  validate: str = "full", record: bool = True, **options: Any) -> Outcome:
    """Convert one entry and (with ``record``) write the representation into the catalog file.

    ``options`` are the target's declared options (``geoshelf.registry.get_target(to).options``):
    an unknown or ill-typed one is refused before anything is read or written.
    """
    target = get_target(to)
    if target.can_convert(entry):
        target.plan(entry, options)  # refuse bad options before the output name depends on them
    if output is None:
        if catalog_path is None:
            raise ConversionError("no --output given and no catalog to put the shelf beside")
        out = output_in_shelf(shelf_root(catalog_path), target.output_name(entry, options), protect=[catalog_path])
    else:
        out = check_explicit_output(output, protect=[catalog_path] if catalog_path is not None else [])
    if record and catalog_path is not None and replay_journal(catalog_path, out.absolute()):
        entry = Catalog(catalog_path)[entry.name]  # now with the representation the replay recorded
    outcome = run(target, entry, out, options, validate=validate)
    if not record or catalog_path is None:
        drop_obsolete_journal(out.absolute())  # nobody records it: the caller took the outcome
    else:
        if outcome.action == "unchanged":
            drop_obsolete_journal(out.absolute())
        else:
            record_output(catalog_path, entry.name, outcome.representation, Path(outcome.representation.path))

            refresh_intake_view(catalog_path)
    return outcome


def convert(entry: Entry | str, to: str, *, catalog: Catalog | str | os.PathLike[str] | None = None,
            output: str | os.PathLike[str] | None = None, validate: str = "full", **options: Any) -> Representation:
    """Convert a catalogued entry (or its name in ``catalog``) and record the result; return the representation."""
    if catalog is None:
        cat = Catalog(default_catalog_path())
    else:
        cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    e = cat[entry] if isinstance(entry, str) else entry
    outcome = convert_entry(e, to, catalog_path=cat.path, output=output, validate=validate, **options)
    cat.reload()
    return outcome.representation


__all__ = ["Converter", "Outcome", "convert", "convert_entry", "get_target", "list_targets", "refresh_targets",
           "shelf_root"]


class _CallableModule(types.ModuleType):
    """``geoshelf.convert`` is both this package and the function :func:`convert`.

    Importing a submodule (``geoshelf.convert.zarr``) rebinds the ``geoshelf.convert``
    attribute to this package, so the package itself must be callable.
    """

    def __call__(self, entry: Entry | str, to: str, **kwargs: Any) -> Representation:
        return convert(entry, to, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
