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


class TestCog(ConverterTests):
    target = "cog"

    @pytest.fixture
    def case(self, catalog_path: Path) -> Case:
        return Case(catalog=catalog_path, entry="elevation")


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
