"""HTML representations for Jupyter (``_repr_html_``): escaped, self-contained, no scripts."""

from __future__ import annotations

from html import escape as _escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import Catalog
    from .model import Entry

_STYLE = (
    "<style>.geoshelf table{border-collapse:collapse;font-size:12px}"
    ".geoshelf th,.geoshelf td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
    ".geoshelf th{background:#f0f0f0}.geoshelf .rep{display:inline-block;margin-right:4px;padding:0 4px;"
    "border-radius:3px;background:#e0ecff}</style>"
)


def escape(value: Any) -> str:
    """Any value as HTML text: everything a catalog holds is escaped, whatever its type."""
    return _escape(str(value), quote=True)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _row(name: str, e: Entry) -> str:
    reps = "".join(f'<span class="rep">{escape(r.kind)}</span>' for r in e.representations) or "original"
    time = " &ndash; ".join(escape(t[:10]) for t in e.time_range) if e.time_range else ""
    return (
        f"<tr><td><b>{escape(name)}</b></td><td>{escape(e.description)}</td>"
        f"<td>{escape(', '.join(e.variables))}</td><td>{time}</td>"
        f"<td>{escape(e.files)}</td><td>{escape(_size(e.bytes))}</td><td>{reps}</td>"
        f"<td>{escape(', '.join(e.tags))}</td></tr>"
    )


def entries_html(items: list[tuple[str, Any]], title: str) -> str:
    """A table of entries (included catalogs shown as one row)."""
    rows = []
    for name, item in items:
        if hasattr(item, "walk"):
            rows.append(f"<tr><td><b>{escape(name)}</b></td><td colspan=7>catalog: {escape(str(item.path))}"
                        f" ({len(item)} entries)</td></tr>")
        else:
            rows.append(_row(name, item))
    head = "".join(f"<th>{h}</th>" for h in ("name", "description", "variables", "time", "files", "size",
                                             "representations", "tags"))
    return (f'<div class="geoshelf">{_STYLE}<p><b>{escape(title)}</b></p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def catalog_html(cat: Catalog) -> str:
    """The catalog as a table of its usable entries (an unusable one is skipped with a warning)."""
    items = [(n, item) for n in cat if (item := cat.usable(n)) is not None]
    return entries_html(items, title=f"geoshelf catalog {cat.path} ({len(cat)} entries)")


def entry_html(e: Entry) -> str:
    """One entry: its fields and representations."""
    fields = [
        ("description", escape(e.description)), ("format", escape(e.format)),
        ("variables", escape(", ".join(e.variables))),
        ("dims", escape(", ".join(f"{k}: {v}" for k, v in e.dims.items()))),
        ("time", escape(" to ".join(e.time_range)) if e.time_range else ""),
        ("bbox", escape(", ".join(f"{x:g}" for x in e.bbox)) if e.bbox else ""),
        ("crs", escape(e.crs or "")), ("files", escape(e.files)), ("size", escape(_size(e.bytes))),
        ("tags", escape(", ".join(e.tags))), ("contact", escape(e.contact)), ("license", escape(e.license)),
        ("fingerprint", f"<code>{escape(e.fingerprint[:23])}</code>"),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in fields if v)
    reps = "".join(
        f"<tr><th>{escape(r.kind)}</th><td><code>{escape(r.path)}</code> {escape(r.format)}"
        + (f" &middot; {escape(_size(r.provenance.bytes_out))}, {escape(r.provenance.files_out)} files, "
           f"made {escape(str(r.provenance.finished)[:19])}" if r.provenance else "")
        + "</td></tr>"
        for r in [e.original, *e.representations]
    )
    return (f'<div class="geoshelf">{_STYLE}<p><b>{escape(e.name)}</b></p><table>{rows}</table>'
            f"<p>representations</p><table>{reps}</table></div>")
