"""The catalog's HTML repr as a person sees it: rendered by a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from geoshelf.catalog import Catalog, Entry, add_entry

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def render(html: str, tmp_path: Path) -> tuple[str, Path]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium when run as root")
    tmp_path.mkdir(parents=True, exist_ok=True)
    page = tmp_path / "repr.html"
    page.write_text(f"<!doctype html><html><head><title>geoshelf</title></head><body>{html}</body></html>",
                    encoding="utf-8")
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    png = tmp_path / "repr.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,500",
                    page.as_uri()], capture_output=True, timeout=120)
    return dom.stdout, png


def test_catalog_html_repr_renders_in_chromium(tmp_path: Path, catalog: Catalog) -> None:
    # a hostile description must be shown as text, not run
    add_entry(catalog.path, Entry(name="evil", urlpath="/x.nc", description="<script>document.title='pwned'</script>"))
    cat = Catalog(catalog.path)
    dom, png = render(cat._repr_html_(), tmp_path)
    assert "<title>geoshelf</title>" in dom  # the injected script did not run (it would retitle the page)
    assert "&lt;script&gt;" in dom  # escaped, so the browser shows it as text
    for name in ("sst", "air", "elevation", "stations", "evil"):
        assert f"<b>{name}</b>" in dom
    assert dom.count("<tr>") >= 6  # header + 5 entries
    assert png.exists() and png.stat().st_size > 5000  # a real, non-empty rendering
    entry_dom, _ = render(cat.sst._repr_html_(), tmp_path / "e")
    assert "representations" in entry_dom and "sha256:" in entry_dom
