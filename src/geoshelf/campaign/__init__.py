"""Conversion campaigns: a declarative spec run on Dask, resumable, with progress and a report.

    from geoshelf.campaign import run_campaign
    summary = run_campaign("converters/era5.yaml", cluster="pbs")

Modules: :mod:`.spec` (the YAML spec), :mod:`.plan` (units and batches), :mod:`.work`
(what a Dask task runs), :mod:`.state` (SQLite), :mod:`.run` (the driver), :mod:`.commit`
(the catalog commit), :mod:`.report`, :mod:`.cli`.
"""

from __future__ import annotations

from .plan import Plan, Unit, build_plan
from .run import RunSummary, campaign_report, campaign_status, describe_plan, plan_campaign, run_campaign
from .spec import CampaignSpec, load_spec
from .state import State

__all__ = ["CampaignSpec", "Plan", "RunSummary", "State", "Unit", "build_plan", "campaign_report",
           "campaign_status", "describe_plan", "load_spec", "plan_campaign", "run_campaign"]
