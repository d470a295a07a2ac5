"""The HTML pages people browse: the catalog with search and facets, and one page per entry.

Everything taken from a catalog is escaped (a catalog is untrusted input).  The same functions
write the static site of ``geoshelf html OUT/`` (``links`` says where pages and images live).
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog import Entry
from ..catalog.html import _size
from .maps import bbox_svg

#: Facet columns offered as filters when they have at most this many distinct values.
MAX_FACET_VALUES = 40

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#fafbfc}
header{background:#1f4e79;color:#fff;padding:.8em 1.5em}header a{color:#fff;text-decoration:none}
main{display:flex;gap:1.5em;padding:1em 1.5em}aside{min-width:15em;max-width:18em}
section{flex:1;min-width:0}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e7ec;padding:.35em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#eef2f6}code,pre{background:#eef2f6;padding:.15em .35em;border-radius:3px}
pre{padding:.6em;overflow-x:auto}.facet{margin-bottom:.8em}.facet label{display:block;font-size:.9em}
.muted{color:#6b7785}.pill{display:inline-block;background:#e1ecf7;border-radius:9px;padding:0 .5em;
margin:0 .2em .2em 0;font-size:.85em}input[type=search]{width:100%;padding:.4em;font-size:1em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(22em,1fr));gap:1em}
.card{background:#fff;border:1px solid #e3e7ec;border-radius:6px;padding:.8em}
img.quicklook{max-width:100%;image-rendering:pixelated;border:1px solid #ccd}
"""


def e(value: Any) -> str:
    """Escape any value for HTML text or attribute."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Links:
    """Where things are: the live server and the static site link differently."""

    home: str
    entry: Callable[[str], str]
    quicklook: Callable[[str, str | None, int], str] | None
    #: The line an analyst pastes, for one entry name.
    paste: Callable[[str], str]


def page(title: str, body: str, links: Links) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
            f"<meta name=viewport content='width=device-width'><style>{STYLE}</style></head><body>"
            f"<header><a href='{e(links.home)}'><b>geoshelf</b></a> &middot; {e(title)}</header>{body}</body></html>")


def _time(entry: Entry) -> str:
    return f"{entry.time_range[0][:10]} .. {entry.time_range[1][:10]}" if entry.time_range else "—"


def catalog_page(title: str, hits: Mapping[str, Entry], facets: Mapping[str, Sequence[Any]],
                 chosen: Mapping[str, Sequence[str]], text: str, links: Links, *, search: bool = True,
                 total: int | None = None) -> str:
    """The catalog: a search box and facet filters (a GET form) beside the table of matching entries."""
    side = ""
    if search:
        boxes = []
        for col, values in facets.items():
            if not values or len(values) > MAX_FACET_VALUES:
                continue
            items = "".join(
                f"<label><input type=checkbox name='{e(col)}' value='{e(v)}'"
                f"{' checked' if str(v) in chosen.get(col, ()) else ''} onchange='this.form.submit()'> {e(v)}</label>"
                for v in values)
            boxes.append(f"<div class=facet data-facet='{e(col)}'><b>{e(col)}</b>{items}</div>")
        side = (f"<aside><form method=get action='{e(links.home)}' id=search>"
                f"<input type=search name=q value='{e(text)}' placeholder='search: words, variables, names'>"
                f"<p><button type=submit>Search</button></p>{''.join(boxes)}</form></aside>")
    rows = []
    for name, entry in hits.items():
        variables = "".join(f"<span class=pill>{e(v)}</span>" for v in entry.variables[:12])
        reps = ", ".join(["original"] + [r.kind for r in entry.representations])
        rows.append(f"<tr class=entry data-name='{e(name)}'><td><a href='{e(links.entry(name))}'><b>{e(name)}</b></a>"
                    f"<div class=muted>{e(entry.description)}</div></td><td>{e(entry.format)}</td>"
                    f"<td>{e(_time(entry))}</td><td>{variables}</td><td>{e(reps)}</td>"
                    f"<td>{e(entry.files)} / {e(_size(entry.bytes))}</td></tr>")
    count = f"{len(hits)} of {total} entries" if total is not None and total != len(hits) else f"{len(hits)} entries"
    table = (f"<p class=muted id=count>{e(count)}</p><table><thead><tr><th>entry</th><th>format</th><th>time</th>"
             f"<th>variables</th><th>representations</th><th>files / size</th></tr></thead>"
             f"<tbody>{''.join(rows) or '<tr><td colspan=6>no matching entries</td></tr>'}</tbody></table>")
    return page(title, f"<main>{side}<section>{table}</section></main>", links)


def entry_page(name: str, entry: Entry, links: Links, *, quicklook: tuple[str, str | None, int] | None = None,
               variables_dims: Mapping[str, Sequence[str]] | None = None, time_values: Sequence[str] = ()) -> str:
    """One entry: what it holds, where it is, a map, a quicklook, its representations and provenance."""
    vattrs = entry.variable_attrs
    var_rows = "".join(
        f"<tr><td><code>{e(v)}</code></td><td>{e(vattrs.get(v, {}).get('long_name', ''))}</td>"
        f"<td>{e(vattrs.get(v, {}).get('standard_name', ''))}</td><td>{e(vattrs.get(v, {}).get('units', ''))}</td>"
        f"<td>{e(', '.join((variables_dims or {}).get(v, ())))}</td></tr>" for v in entry.variables)
    dims = ", ".join(f"{e(k)}: {e(v)}" for k, v in entry.dims.items()) or "—"
    facets = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in entry.facets.items())
    bbox = ", ".join(f"{x:g}" for x in entry.bbox) if entry.bbox else "—"
    about = (f"<table class=about><tr><th>description</th><td>{e(entry.description)}</td></tr>"
             f"<tr><th>format</th><td>{e(entry.format)}</td></tr><tr><th>dimensions</th><td>{dims}</td></tr>"
             f"<tr><th>time</th><td>{e(_time(entry))}</td></tr><tr><th>bbox (W,S,E,N)</th><td>{e(bbox)}</td></tr>"
             f"<tr><th>CRS</th><td>{e(entry.crs or '—')}</td></tr>"
             f"<tr><th>files</th><td>{e(entry.files)} ({e(_size(entry.bytes))})</td></tr>"
             f"<tr><th>tags</th><td>{''.join(f'<span class=pill>{e(t)}</span>' for t in entry.tags) or '—'}</td></tr>"
             f"{facets}</table>")
    reps = []
    for rep in entry.representations:
        prov = rep.provenance
        detail = ""
        if prov is not None:
            detail = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in prov.to_dict().items()
                             if k not in ("versions", "parameters"))
            detail += f"<tr><th>parameters</th><td><code>{e(prov.parameters)}</code></td></tr>"
        reps.append(f"<div class='card rep' data-kind='{e(rep.kind)}'><b>{e(rep.kind)}</b> "
                    f"<span class=muted>{e(rep.format)}</span><div><code>{e(rep.path)}</code></div>"
                    f"<table>{detail}</table></div>")
    look = ""
    if quicklook is not None and links.quicklook is not None and entry.variables:
        var, when, index = quicklook
        options = "".join(f"<option{' selected' if v == var else ''}>{e(v)}</option>" for v in entry.variables)
        times = "".join(f"<option value='{i}'{' selected' if i == index else ''}>{e(t)}</option>"
                        for i, t in enumerate(time_values))
        time_select = f"<select name=time>{times}</select>" if time_values else ""
        look = (f"<div class=card><b>quicklook</b><form method=get><select name=variable>{options}</select> "
                f"{time_select} <button type=submit>show</button></form>"
                f"<img class=quicklook alt='quicklook of {e(var)}' src='{e(links.quicklook(name, var, index))}'>"
                f"<div class=muted>{e(var)} {e(when or '')}</div></div>")
    body = (f"<main><section><h2>{e(name)}</h2><p>Open it:</p><pre id=paste>{e(links.paste(name))}</pre>"
            f"<div class=grid><div class=card>{about}</div><div class=card><b>where</b>{bbox_svg(entry.bbox)}</div>"
            f"{look}</div><h3>variables</h3><table><tr><th>name</th><th>long_name</th><th>standard_name</th>"
            f"<th>units</th><th>dimensions</th></tr>{var_rows}</table>"
            f"<h3>representations</h3><div class=grid>{''.join(reps) or '<p>the original files only</p>'}</div>"
            f"</section></main>")
    return page(name, body, links)


def quicklook_href(base: str, name: str, variable: str | None, index: int) -> str:
    """The URL of a quicklook image on the server."""
    query = urllib.parse.urlencode({k: v for k, v in (("variable", variable), ("time", index)) if v is not None})
    return f"{base}/entry/{urllib.parse.quote(name)}/quicklook.png?{query}"
