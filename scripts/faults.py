#!/usr/bin/env python
"""The long form of the fault battery: `python scripts/faults.py --kills 200` (see docs/reliability.md)."""

import sys

from geoshelf.testing.battery import main

if __name__ == "__main__":
    sys.exit(main())
