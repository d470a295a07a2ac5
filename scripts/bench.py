#!/usr/bin/env python
"""Benchmarks: see geoshelf.bench (also `geoshelf bench`). Writes docs/benchmarks.md and .json."""

import sys

from geoshelf.bench import main

sys.exit(main())
