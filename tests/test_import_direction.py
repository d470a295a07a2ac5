"""One direction of dependencies, checked on the source text (every import, also inside functions).

The catalog layer (``geoshelf.catalog``) is the bottom of the package: the loader, the converters,
campaigns, the server and STAC build on it, never the other way round (``Entry.to_dask`` reaches the
loader through ``geoshelf.registry.loader()``).  The leaves (errors, config, contract, registry,
progress) import only what is listed for them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "geoshelf"

#: package (or module) -> the geoshelf modules and third-party packages it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "geoshelf.catalog": ("geoshelf.load", "geoshelf.convert", "geoshelf.campaign", "geoshelf.serve",
                         "geoshelf.stac", "geoshelf.cluster", "geoshelf.cli", "geoshelf.scan", "geoshelf.dedupe",
                         "geoshelf.bench", "geoshelf.demo", "xarray", "dask", "distributed"),
    "geoshelf.load": ("geoshelf.convert", "geoshelf.campaign", "geoshelf.serve", "geoshelf.stac", "geoshelf.cli"),
    "geoshelf.convert": ("geoshelf.campaign", "geoshelf.serve", "geoshelf.stac", "geoshelf.cli"),
    "geoshelf.cluster": ("geoshelf.catalog", "geoshelf.convert", "geoshelf.campaign", "geoshelf.load"),
}

#: leaf modules -> the only geoshelf modules they may import
LEAVES: dict[str, tuple[str, ...]] = {
    "geoshelf.errors": (),
    "geoshelf.config": ("geoshelf.errors",),
    "geoshelf.progress": ("geoshelf.errors",),
    "geoshelf.contract": ("geoshelf.catalog.paths", "geoshelf.catalog.model", "geoshelf.errors"),
    "geoshelf.registry": ("geoshelf.catalog.model", "geoshelf.contract", "geoshelf.errors"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative imports resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or node.level and not node.module:
                out += [(node.lineno, f"{target}.{a.name}") for a in node.names]  # from . import x
            else:
                out.append((node.lineno, target))
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _files(prefix: str) -> list[Path]:
    rel = Path(*prefix.split(".")[1:])
    pkg = SRC / rel
    return sorted(pkg.rglob("*.py")) if pkg.is_dir() else [pkg.with_suffix(".py")]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    bad = [f"{p.relative_to(SRC.parent)}:{line} imports {name}"
           for p in _files(layer) for line, name in imports_of(p)
           if any(_within(name, f) for f in FORBIDDEN[layer])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_a_leaf_imports_only_its_few_modules(leaf: str) -> None:
    bad = [f"{p.relative_to(SRC.parent)}:{line} imports {name}"
           for p in _files(leaf) for line, name in imports_of(p)
           if _within(name, "geoshelf") and not any(_within(name, ok) for ok in LEAVES[leaf])]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    f = SRC / "catalog" / "model.py"
    names = [n for _, n in imports_of(f)]
    assert "geoshelf.errors" in names and "geoshelf.catalog.paths" in names  # `from .paths import resolve` in a method
    assert "geoshelf.registry" in names  # Entry.to_dask asks the registry for the loader
