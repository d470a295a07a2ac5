"""One direction of dependencies, checked on the source text (every import, also inside functions).

The catalog layer (``geoshelf.catalog``) is the bottom of the package: the loader, the converters,
campaigns, the server and STAC build on it, never the other way round (``Entry.to_dask`` reaches the
loader through ``geoshelf.registry.loader()``).  The leaves (errors, config, contract, registry,
progress) import only what is listed for them.  An import inside a function says why it is not at
the top with a ``# deferred: <reason>`` comment (the start-up time it saves); an import cycle is no
reason: it is broken by moving code to the layer it belongs to.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
    "geoshelf.registry": ("geoshelf.contract", "geoshelf.errors"),
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


def _code_metrics() -> ModuleType:
    spec = importlib.util.spec_from_file_location("code_metrics", SRC.parents[1] / "scripts" / "code_metrics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("code_metrics", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_every_function_level_import_says_why_it_is_deferred() -> None:
    """An import inside a function costs a reader a search; it must save real start-up time and say so."""
    bad = _code_metrics().unexplained(SRC)
    assert not bad, "function-level imports without a `# deferred: <reason>` comment:\n" + "\n".join(bad)


@pytest.mark.parametrize(("text", "reason"), [
    ("def f():\n    import json\n", False),
    ("def f():\n    import xarray  # deferred: xarray costs 0.7 s at start-up\n", True),
    ("def f():\n    # deferred: xarray costs 0.7 s\n    import xarray\n    import xarray.conventions\n", True),
    ("def f():\n    # deferred: dask\n    import dask\n    x = 1\n    import json\n", False),
    ("def f():\n    # deferred:\n    import json\n", False),  # a marker with no reason
    ("def f():\n    from os import (\n        path,  # deferred: no\n    )\n", True),
    ("import json\n", None),  # module level: not counted
])
def test_the_reason_check_reads_comments_on_and_above_the_import(text: str, reason: bool | None) -> None:
    found = _code_metrics().local_imports(text)
    assert [i.reason for i in found][-1:] == ([] if reason is None else [reason])
