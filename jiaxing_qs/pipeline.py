"""The three-division pipeline: each stage is a set-based, idempotent service, chained in order.

grade products → class enterprises (+ reasons) → supervision categories → colour towns and counties → index
    → fit a risk score model (once a month) → score enterprises with the adopted model

Stages run as one Celery chain: in-process when no broker is configured, on workers otherwise. Each
stage returns a summary dict (with a human ``message``) that the chain accumulates into a report.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from enterprises.models import SupervisionPolicy
from enterprises.selectors import town_risk_counts
from enterprises.services import enterprises_categorise, enterprises_classify, towns_place_at_enterprise_centres
from inspections.scoring.services import enterprises_score, risk_model_fit_monthly
from inspections.spotchecks.selectors import town_quality_counts
from inspections.spotchecks.services import products_failure_rates_refresh, risk_events_record_from_spot_checks
from products.models import GradingPolicy
from products.services import products_grade
from regions.models import ColourThresholds, IndexWeights
from regions.periods import months_before, period_of
from regions.services import region_indexes_update, region_snapshots_update


def _record_spot_check_events(as_of: dt.date) -> dict:
    return risk_events_record_from_spot_checks()


def _refresh_failure_rates(as_of: dt.date) -> dict:
    return products_failure_rates_refresh(as_of=as_of, policy=GradingPolicy.in_force_on(as_of))


def _grade_products(as_of: dt.date) -> dict:
    return products_grade(policy=GradingPolicy.in_force_on(as_of))


def _classify_enterprises(as_of: dt.date) -> dict:
    return enterprises_classify(as_of=as_of, policy=SupervisionPolicy.in_force_on(as_of))


def _categorise_enterprises(as_of: dt.date) -> dict:
    return enterprises_categorise(policy=SupervisionPolicy.in_force_on(as_of), as_of=as_of)


def _place_towns(as_of: dt.date) -> dict:
    return towns_place_at_enterprise_centres()


def _colour_regions(as_of: dt.date) -> dict:
    thresholds = ColourThresholds.in_force_on(as_of)
    report = region_snapshots_update(period=period_of(as_of), town_counts=town_risk_counts(), thresholds=thresholds)
    return report.as_dict()


def _compute_index(as_of: dt.date) -> dict:
    weights = IndexWeights.in_force_on(as_of)
    start = months_before(as_of, weights.window_months) + dt.timedelta(days=1)
    return region_indexes_update(period=period_of(as_of), town_inputs=town_quality_counts(start=start, end=as_of), weights=weights)


def _fit_risk_model(as_of: dt.date) -> dict:
    return risk_model_fit_monthly(as_of=as_of)


def _score_enterprises(as_of: dt.date) -> dict:
    return enterprises_score(as_of=as_of)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[dt.date], dict]


STAGES = (
    Stage("record_spot_check_events", _record_spot_check_events),
    Stage("refresh_failure_rates", _refresh_failure_rates),
    Stage("grade_products", _grade_products),
    Stage("classify_enterprises", _classify_enterprises),
    Stage("categorise_enterprises", _categorise_enterprises),
    Stage("place_towns", _place_towns),
    Stage("colour_regions", _colour_regions),
    Stage("compute_index", _compute_index),
    Stage("fit_risk_model", _fit_risk_model),
    Stage("score_enterprises", _score_enterprises),
)
STAGES_BY_NAME = {stage.name: stage for stage in STAGES}


def run_stage(name: str, as_of: dt.date) -> dict:
    return {"stage": name, **STAGES_BY_NAME[name].run(as_of)}


def month_ends_before(day: dt.date, months: int) -> list[dt.date]:
    """The last day of each of the ``months`` months before ``day``'s month, oldest first."""
    first_of_month = period_of(day)
    return [period_of(months_before(first_of_month, back - 1)) - dt.timedelta(days=1) for back in range(months, 0, -1)]


def enterprise_feedback(enterprise_id: int, as_of: dt.date | None = None, *, recolour: bool = True) -> dict:
    """Every outcome feeds back: a new result or event re-classes its enterprise at once (the same rules,
    limited to it), then the region colours and the index of the period are recomputed (``regions_recolour``;
    the Celery task passes ``recolour=False`` and queues one coalesced recolouring instead)."""
    as_of = as_of or timezone.localdate()
    risk_events_record_from_spot_checks(enterprise_ids=[enterprise_id])
    policy = SupervisionPolicy.in_force_on(as_of)
    classified = enterprises_classify(as_of=as_of, policy=policy, enterprise_ids=[enterprise_id])
    categorised = enterprises_categorise(policy=policy, enterprise_ids=[enterprise_id], as_of=as_of)
    report = {"enterprise": enterprise_id, "classified": classified["message"], "categorised": categorised["message"]}
    if recolour:
        report["colours"] = regions_recolour(as_of)["colours"]
    return report


def regions_recolour(as_of: dt.date) -> dict:
    """Re-colour the regions and recompute the index of ``as_of``'s period (the last two pipeline stages)."""
    colours = _colour_regions(as_of)
    _compute_index(as_of)
    return {"as_of": as_of.isoformat(), "colours": colours["message"]}
