"""A read-only STAC API over the catalog (landing page, conformance, collections, items, ``/search``).

Collections and Items are those of ``geoshelf stac export``, with every asset href rewritten to this
server's URLs (assets the server does not publish are left out).  ``/search`` takes ``bbox``,
``datetime``, ``ids``, ``collections``, ``q`` (free text) and ``limit``, by GET or POST, as
pystac-client sends them.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

import pystac

from ..catalog.search import Query
from ..errors import GeoshelfError
from ..stac.export import ExportSummary, entry_collection
from .shelf import Shelf

CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#free-text",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
DEFAULT_LIMIT = 100


class StacAPI:
    """Builds the API's JSON documents from a :class:`Shelf` (collections cached per catalog state)."""

    def __init__(self, shelf: Shelf) -> None:
        self.shelf = shelf
        self._cache: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _collection(self, name: str, base: str) -> tuple[dict[str, Any], dict[str, Any]]:
        cat = self.shelf.catalog()
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit[0] is cat:
                return hit[1], hit[2]
        pub = self.shelf.published(name)
        coll = entry_collection(name, pub.entry, ExportSummary(root=self.shelf.path))
        item = next(iter(coll.get_items()))
        item_d = item.to_dict(include_self_link=False, transform_hrefs=False)
        coll_d = coll.to_dict(include_self_link=False, transform_hrefs=False)
        item_d["assets"] = self._assets(name, pub, item_d["assets"], base)
        with self._lock:
            self._cache[name] = (cat, coll_d, item_d)
        return coll_d, item_d

    def _assets(self, name: str, pub: Any, assets: dict[str, Any], base: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        q = urllib.parse.quote(name)
        by_local = {path: rel for rel, path in pub.sources.items()}
        for key, asset in assets.items():
            href = asset["href"]
            kind = "cog" if key.startswith("cog") else "source" if key.startswith("source") else key
            if kind == "source" and href in by_local:
                asset["href"] = f"{base}/data/{q}/original/{urllib.parse.quote(by_local[href])}"
            elif kind == "zarr" and "zarr" in pub.representations:
                asset["href"] = f"{base}/data/{q}/zarr"
            elif kind == "references" and "references" in pub.representations:
                asset["href"] = f"{base}/data/{q}/references/references.json"
                asset.setdefault("xarray:open_kwargs", {}).setdefault("storage_options", {})["remote_protocol"] = "http"
            elif kind == "cog" and "cog" in pub.representations:
                rel = href.rsplit("/", 1)[-1]
                asset["href"] = f"{base}/data/{q}/cog/{urllib.parse.quote(rel)}"
            else:
                continue  # not published by this server
            out[key] = asset
        return out

    def _links(self, coll: dict[str, Any], name: str, base: str) -> dict[str, Any]:
        coll = dict(coll)
        q = urllib.parse.quote(name)
        coll["links"] = [
            {"rel": "self", "href": f"{base}/stac/collections/{q}", "type": "application/json"},
            {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
            {"rel": "parent", "href": f"{base}/stac", "type": "application/json"},
            {"rel": "items", "href": f"{base}/stac/collections/{q}/items", "type": "application/geo+json"},
        ]
        return coll

    def _item_links(self, item: dict[str, Any], name: str, base: str) -> dict[str, Any]:
        item = dict(item)
        q = urllib.parse.quote(name)
        item["collection"] = name
        item["links"] = [
            {"rel": "self", "href": f"{base}/stac/collections/{q}/items/{q}", "type": "application/geo+json"},
            {"rel": "collection", "href": f"{base}/stac/collections/{q}", "type": "application/json"},
            {"rel": "parent", "href": f"{base}/stac/collections/{q}", "type": "application/json"},
            {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
        ]
        return item

    # -- documents ----------------------------------------------------------------------------------
    def landing(self, base: str) -> dict[str, Any]:
        cat = self.shelf.catalog()
        return {
            "type": "Catalog", "stac_version": pystac.get_stac_version(), "id": cat.name,
            "title": cat.description or cat.name, "description": cat.description or f"geoshelf catalog {cat.name}",
            "conformsTo": CONFORMS,
            "links": [
                {"rel": "self", "href": f"{base}/stac", "type": "application/json"},
                {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
                {"rel": "conformance", "href": f"{base}/stac/conformance", "type": "application/json"},
                {"rel": "data", "href": f"{base}/stac/collections", "type": "application/json"},
                {"rel": "search", "href": f"{base}/stac/search", "type": "application/geo+json", "method": "GET"},
                {"rel": "search", "href": f"{base}/stac/search", "type": "application/geo+json", "method": "POST"},
            ] + [{"rel": "child", "href": f"{base}/stac/collections/{urllib.parse.quote(n)}",
                  "type": "application/json"} for n in self.shelf.entries()],
        }

    def conformance(self) -> dict[str, Any]:
        return {"conformsTo": CONFORMS}

    def collections(self, base: str) -> dict[str, Any]:
        colls = [self._links(self._collection(n, base)[0], n, base) for n in self.shelf.entries()]
        return {"collections": colls, "links": [{"rel": "self", "href": f"{base}/stac/collections"},
                                                {"rel": "root", "href": f"{base}/stac"}]}

    def collection(self, name: str, base: str) -> dict[str, Any]:
        if name not in self.shelf.entries():
            raise KeyError(name)
        return self._links(self._collection(name, base)[0], name, base)

    def items(self, name: str, base: str) -> dict[str, Any]:
        if name not in self.shelf.entries():
            raise KeyError(name)
        item = self._item_links(self._collection(name, base)[1], name, base)
        return {"type": "FeatureCollection", "features": [item], "numberMatched": 1, "numberReturned": 1,
                "links": [{"rel": "self", "href": f"{base}/stac/collections/{urllib.parse.quote(name)}/items"}]}

    def item(self, name: str, item_id: str, base: str) -> dict[str, Any]:
        if name not in self.shelf.entries() or item_id != name:
            raise KeyError(item_id)
        return self._item_links(self._collection(name, base)[1], name, base)

    def search(self, params: dict[str, Any], base: str) -> dict[str, Any]:
        """Items matching bbox / datetime / ids / collections / q, in catalog order, ``limit`` at most."""
        def listed(value: Any) -> list[str] | None:
            if value is None:
                return None
            return [str(v) for v in (value.split(",") if isinstance(value, str) else value)]

        bbox = params.get("bbox")
        if isinstance(bbox, str):
            bbox = bbox.split(",")
        if bbox is not None and len(bbox) == 6:  # 3-D boxes: drop the heights
            bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
        time = None
        if params.get("datetime"):
            start, _, end = str(params["datetime"]).partition("/")
            clean = [None if v in ("", "..") else v.replace("Z", "")[:19] for v in (start, end or start)]
            time = (clean[0], clean[1])
        try:
            limit = int(params.get("limit") or DEFAULT_LIMIT)
        except (TypeError, ValueError):
            raise GeoshelfError(f"limit {params.get('limit')!r} is not a number") from None
        query = Query.build(params.get("q") if isinstance(params.get("q"), str) else
                            " ".join(params.get("q") or []) or None, time=time, bbox=bbox)
        ids = listed(params.get("ids"))
        colls = listed(params.get("collections"))
        feats = []
        for name, entry in self.shelf.entries().items():
            if ids is not None and name not in ids or colls is not None and name not in colls:
                continue
            if not query.matches(entry, name):
                continue
            feats.append(self._item_links(self._collection(name, base)[1], name, base))
        return {"type": "FeatureCollection", "features": feats[:max(limit, 0)], "numberMatched": len(feats),
                "numberReturned": min(len(feats), max(limit, 0)),
                "links": [{"rel": "root", "href": f"{base}/stac"}]}
