"""Demo data and the `geoshelf demo` command."""

from .data import SIZES, DemoSize, generate_demo, make_air, make_sst, make_stations, make_tiles

__all__ = ["SIZES", "DemoSize", "generate_demo", "make_air", "make_sst", "make_stations", "make_tiles"]
