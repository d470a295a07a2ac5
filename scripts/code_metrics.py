"""Code metrics for the package: longest functions, function-level imports, `Any`, suppressions.

Usage: python scripts/code_metrics.py [SRC_DIR]   (default: src/geoshelf)

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


@dataclass(frozen=True)
class Metrics:
    """What `measure` counts."""

    longest: list[tuple[int, str]]
    local_imports: int
    local_imports_own: int
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


def measure(src: Path) -> Metrics:
    """Return the metrics of the package whose directory is ``src``."""
    lengths: list[tuple[int, str]] = []
    local_imports = 0
    local_own = 0
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
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    local_imports += 1
                    if isinstance(node, ast.ImportFrom):
                        own = node.level > 0 or (node.module or "").split(".")[0] == "geoshelf"
                    else:
                        own = any(a.name.split(".")[0] == "geoshelf" for a in node.names)
                    local_own += own
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
    return Metrics(lengths[:10], local_imports, local_own, any_count, noqa, type_ignore)


def _looks_like_annotation(text: str) -> bool:
    return bool(re.fullmatch(r"[\w\[\], .|]*\bAny\b[\w\[\], .|]*", text))


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else "src/geoshelf")
    m = measure(src)
    print(f"metrics of {src}")
    print("longest functions (lines):")
    for n, name in m.longest:
        print(f"  {n:4d}  {name}")
    print(f"function-level imports: {m.local_imports} (of geoshelf's own modules: {m.local_imports_own})")
    print(f"`Any` occurrences: {m.any}")
    print(f"`# noqa` comments: {m.noqa}")
    print(f"`# type: ignore` comments: {m.type_ignore}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
