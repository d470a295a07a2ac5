#!/usr/bin/env python
"""Benchmarks: see geoshelf.bench (also `geoshelf bench`). Writes docs/benchmarks.md and .json."""

import sys

from geoshelf.bench import main

if __name__ == "__main__":  # worker processes of the campaigns' LocalCluster re-import this file
    sys.exit(main())
