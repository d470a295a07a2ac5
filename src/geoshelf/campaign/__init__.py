"""Conversion campaigns: a declarative spec run on Dask, resumable, with progress and a report.

    from geoshelf.campaign import run_campaign
    summary = run_campaign("converters/era5.yaml", cluster="pbs")

Modules: :mod:`.spec` (the YAML spec), :mod:`.plan` (units and batches), :mod:`.work`
(what a Dask task runs), :mod:`.state` (SQLite), :mod:`.run` (the driver), :mod:`.commit`
(the catalog commit), :mod:`.report`, :mod:`.cli`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import Plan, Unit, build_plan
    from .run import RunSummary, campaign_report, campaign_status, describe_plan, plan_campaign, run_campaign
    from .spec import CampaignSpec, load_spec
    from .state import State

_LAZY = {"Plan": ".plan", "Unit": ".plan", "build_plan": ".plan", "RunSummary": ".run", "campaign_report": ".run",
         "campaign_status": ".run", "describe_plan": ".run", "plan_campaign": ".run", "run_campaign": ".run",
         "CampaignSpec": ".spec", "load_spec": ".spec", "State": ".state"}


def __getattr__(name: str) -> Any:
    """Import the module behind a name on first use: ``geoshelf --help`` and the catalog commands do not pay
    for dask and distributed."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = ["CampaignSpec", "Plan", "RunSummary", "State", "Unit", "build_plan", "campaign_report",
           "campaign_status", "describe_plan", "load_spec", "plan_campaign", "run_campaign"]
