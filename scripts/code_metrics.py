"""Code metrics for the package: longest functions, function-level imports, `Any`, suppressions.

Usage: python scripts/code_metrics.py [SRC_DIR]   (default: src/geoshelf)
       python scripts/code_metrics.py --unexplained [SRC_DIR]   (list function-level imports without a reason)

A function-level import states why it is not at the top of its module with a comment that starts
``# deferred:``, on its own line or on the line just above (one comment may head a run of imports).
tests/test_import_direction.py fails on an import without one.

To measure an older commit:
    git archive COMMIT src | tar -x -C /tmp/old && python scripts/code_metrics.py /tmp/old/src/geoshelf
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

#: the comment that gives the reason for a function-level import
DEFERRED = re.compile(r"#\s*deferred:\s*\S")


@dataclass(frozen=True)
class LocalImport:
    """One import statement inside a function."""

    line: int
    module: str
    own: bool
    reason: bool


@dataclass(frozen=True)
class Metrics:
    """What `measure` counts."""

    longest: list[tuple[int, str]]
    local_imports: int
    local_imports_own: int
    local_imports_reason: int
    any: int
    noqa: int
    type_ignore: int


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _qualnames(tree: ast.Module, module: str) -> dict[ast.AST, str]:
    names: dict[ast.AST, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}.{child.name}"
                names[child] = name
                visit(child, name)
            else:
                visit(child, prefix)

    visit(tree, module)
    return names


def _comments(text: str) -> list[str]:
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []


def local_imports(text: str) -> list[LocalImport]:
    """Every import statement inside a function of a module's source, each once, in line order.

    ``reason`` is whether a ``# deferred:`` comment is on its line, on the line above, or heads the
    run of import lines it belongs to.
    """
    tree = ast.parse(text)
    lines = text.splitlines()
    found: dict[int, ast.Import | ast.ImportFrom] = {}
    for fn in _functions(tree):
        for node in ast.walk(fn):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found[node.lineno] = node
    out = []
    for line, node in sorted(found.items()):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            own = node.level > 0 or (node.module or "").split(".")[0] == "geoshelf"
        else:
            module = ", ".join(a.name for a in node.names)
            own = any(a.name.split(".")[0] == "geoshelf" for a in node.names)
        out.append(LocalImport(line, module, own, _has_reason(lines, node)))
    return out


def _has_reason(lines: list[str], node: ast.stmt) -> bool:
    end = node.end_lineno or node.lineno
    if any(DEFERRED.search(lines[i - 1]) for i in range(node.lineno, end + 1)):
        return True
    i = node.lineno - 1  # walk up through the run of imports (and comments) just above
    while i >= 1:
        above = lines[i - 1].strip()
        if DEFERRED.search(above):
            return True
        if not (above.startswith(("import ", "from ", "#")) or above.endswith(")") or above.startswith(")")):
            return False
        i -= 1
    return False


def measure(src: Path) -> Metrics:
    """Return the metrics of the package whose directory is ``src``."""
    lengths: list[tuple[int, str]] = []
    n_local = 0
    local_own = 0
    local_reason = 0
    any_count = 0
    noqa = 0
    type_ignore = 0
    for path in sorted(src.rglob("*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        module = ".".join(path.relative_to(src.parent).with_suffix("").parts)
        names = _qualnames(tree, module)
        for fn in _functions(tree):
            assert fn.end_lineno is not None
            lengths.append((fn.end_lineno - fn.lineno + 1, names[fn]))
        for imp in local_imports(text):
            n_local += 1
            local_own += imp.own
            local_reason += imp.reason
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "Any":
                any_count += 1
            elif isinstance(node, ast.Attribute) and node.attr == "Any":
                any_count += 1
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # string annotations ("dict[str, Any]") count too
                any_count += len(re.findall(r"\bAny\b", node.value)) if _looks_like_annotation(node.value) else 0
        for comment in _comments(text):
            noqa += bool(re.search(r"#\s*noqa\b", comment, re.I))
            type_ignore += bool(re.search(r"#\s*type:\s*ignore\b", comment))
    lengths.sort(key=lambda x: (-x[0], x[1]))
    return Metrics(lengths[:10], n_local, local_own, local_reason, any_count, noqa, type_ignore)


def _looks_like_annotation(text: str) -> bool:
    return bool(re.fullmatch(r"[\w\[\], .|]*\bAny\b[\w\[\], .|]*", text))


def unexplained(src: Path) -> list[str]:
    """``path:line module`` of every function-level import under ``src`` without a ``# deferred:`` reason."""
    return [f"{path}:{imp.line} {imp.module}" for path in sorted(src.rglob("*.py"))
            for imp in local_imports(path.read_text()) if not imp.reason]


def main(argv: list[str]) -> int:
    args = argv[1:]
    if args[:1] == ["--unexplained"]:
        bad = unexplained(Path(args[1] if len(args) > 1 else "src/geoshelf"))
        print("\n".join(bad) or "every function-level import gives its reason")
        return 1 if bad else 0
    src = Path(args[0] if args else "src/geoshelf")
    m = measure(src)
    print(f"metrics of {src}")
    print("longest functions (lines):")
    for n, name in m.longest:
        print(f"  {n:4d}  {name}")
    print(f"function-level imports: {m.local_imports} (of geoshelf's own modules: {m.local_imports_own}; "
          f"with a `# deferred:` reason: {m.local_imports_reason})")
    print(f"`Any` occurrences: {m.any}")
    print(f"`# noqa` comments: {m.noqa}")
    print(f"`# type: ignore` comments: {m.type_ignore}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
