"""Every target of geoshelf passes the shipped conformance suite, ``geoshelf.testing.ConverterTests``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from geoshelf.testing import Case, ConverterTests


class TestZarr(ConverterTests):
    target = "zarr"

    @pytest.fixture
    def case(self, catalog_path: Path) -> Case:
        return Case(catalog=catalog_path, entry="sst", options={"layout": "map"})


class TestReferences(ConverterTests):
    target = "references"

    @pytest.fixture
    def case(self, catalog_path: Path) -> Case:
        return Case(catalog=catalog_path, entry="sst")


#: Found by the conformance suite: rio-cogeo does not forward a band's unit type, so the COG of a
#: GeoTIFF with `units: metres` opens without it, and it adds an OVERVIEW_RESAMPLING tag the source
#: does not have (a fix belongs to the cog target, issue #10).  Strict: passes once fixed -> fails here.
COG_ATTRS = pytest.mark.xfail(strict=True, raises=AssertionError,
                              reason="cog drops the band units and adds OVERVIEW_RESAMPLING (issue #10)")


class TestCog(ConverterTests):
    target = "cog"

    @pytest.fixture
    def case(self, catalog_path: Path) -> Case:
        return Case(catalog=catalog_path, entry="elevation")

    @COG_ATTRS
    def test_round_trip(self, case: Case) -> None:
        super().test_round_trip(case)

    @COG_ATTRS
    @pytest.mark.parametrize("phase", ["write", "validation"])
    def test_kill_publishes_nothing(self, case: Case, phase: str) -> None:
        super().test_kill_publishes_nothing(case, phase)


class TestParquet(ConverterTests):
    target = "parquet"

    @pytest.fixture
    def case(self, catalog_path: Path) -> Case:
        return Case(catalog=catalog_path, entry="stations", options={"partition": "none"})

    def open_source(self, case: Case) -> Any:
        """The CSV rows with their time column parsed, as the parquet target declares it stores them."""
        import dask.dataframe as dd

        df = super().open_source(case)
        return df.assign(time=dd.to_datetime(df["time"]))
