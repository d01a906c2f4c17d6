"""The three-division pipeline: each stage is a set-based, idempotent service, chained in order.

grade products → class enterprises (+ reasons) → supervision categories → colour towns and counties → index
    → fit a risk score model (once a month) → score enterprises with the adopted model

Stages run as one Celery chain: in-process when no broker is configured, on workers otherwise. Each
stage returns a summary dict (with a human ``message``) that the chain accumulates into a report.

The stages whose work is per enterprise and heavy at a province's million (classing, categorising) are split
by county: one task per county-level division, run by whichever workers are free on whichever hosts, then
joined (a chord) before the next stage. A county's part is the same rule limited to that county's enterprises,
idempotent, so a part delivered twice (a worker lost mid-run, ``acks_late``) leaves the same state, and the
parts together leave what one run over every enterprise leaves. Each part's progress is kept (PipelineStep).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from enterprises.models import SupervisionPolicy
from enterprises.selectors import town_risk_counts
from enterprises.services import (
    categorise_report,
    classify_report,
    enterprises_categorise,
    enterprises_classify,
    towns_place_at_enterprise_centres,
)
from inspections.scoring.services import enterprises_score, risk_model_fit_monthly
from inspections.spotchecks.selectors import town_quality_counts
from inspections.spotchecks.services import products_failure_rates_refresh, risk_events_record_from_spot_checks
from jiaxing_qs.models import PipelineRun, PipelineStep, StageName, StepState
from products.models import GradingPolicy
from products.services import products_grade
from regions.models import ColourThresholds, IndexWeights
from regions.periods import months_before, period_of
from regions.selectors import counties_with_towns
from regions.services import region_indexes_update, region_snapshots_update


def _record_spot_check_events(as_of: dt.date) -> dict:
    return risk_events_record_from_spot_checks()


def _refresh_failure_rates(as_of: dt.date) -> dict:
    return products_failure_rates_refresh(as_of=as_of, policy=GradingPolicy.in_force_on(as_of))


def _grade_products(as_of: dt.date) -> dict:
    return products_grade(policy=GradingPolicy.in_force_on(as_of))


def _classify_enterprises(as_of: dt.date, county_id: int | None = None) -> dict:
    return enterprises_classify(as_of=as_of, policy=SupervisionPolicy.in_force_on(as_of), county_id=county_id)


def _classify_joined(as_of: dt.date, parts: list[dict]) -> dict:
    return classify_report(as_of, **{key: sum(part[key] for part in parts) for key in ("became_risk", "became_non_risk")})


def _categorise_enterprises(as_of: dt.date, county_id: int | None = None) -> dict:
    return enterprises_categorise(policy=SupervisionPolicy.in_force_on(as_of), as_of=as_of, county_id=county_id)


def _categorise_joined(as_of: dt.date, parts: list[dict]) -> dict:
    return categorise_report(changed=sum(part["changed"] for part in parts))


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
    name: StageName  # the identifier in task arguments, stored steps and the benchmark's tables
    run: Callable[..., dict]  # (as_of) → summary; a split stage's also takes county_id (one county's part)
    # A split stage: the summaries of its county parts → the stage's summary (None: the stage runs as one task).
    join: Callable[[dt.date, list[dict]], dict] | None = None

    @property
    def split(self) -> bool:
        return self.join is not None


STAGES = (
    Stage(StageName.RECORD_SPOT_CHECK_EVENTS, _record_spot_check_events),
    Stage(StageName.REFRESH_FAILURE_RATES, _refresh_failure_rates),
    Stage(StageName.GRADE_PRODUCTS, _grade_products),
    Stage(StageName.CLASSIFY_ENTERPRISES, _classify_enterprises, join=_classify_joined),
    Stage(StageName.CATEGORISE_ENTERPRISES, _categorise_enterprises, join=_categorise_joined),
    Stage(StageName.PLACE_TOWNS, _place_towns),
    Stage(StageName.COLOUR_REGIONS, _colour_regions),
    Stage(StageName.COMPUTE_INDEX, _compute_index),
    Stage(StageName.FIT_RISK_MODEL, _fit_risk_model),
    Stage(StageName.SCORE_ENTERPRISES, _score_enterprises),
)
STAGES_BY_NAME = {stage.name: stage for stage in STAGES}

# Where a step ran when no broker is configured (stored as the step's host; hosts are otherwise worker names).
IN_PROCESS = "in-process"


def stage_label(name: str) -> str:
    """A stage as a reader is shown it; a stage no longer in the pipeline (an old run's step) by its identifier."""
    return str(StageName(name).label) if name in StageName.values else name


def host_label(host: str) -> str:
    return str(_("in-process")) if host == IN_PROCESS else host


def run_stage(name: str, as_of: dt.date) -> dict:
    """A whole stage in this process (a split stage over every enterprise at once)."""
    return {"stage": name, **STAGES_BY_NAME[name].run(as_of)}


def run_stage_part(name: str, as_of: dt.date, county_id: int) -> dict:
    """One county's part of a split stage."""
    return STAGES_BY_NAME[name].run(as_of, county_id=county_id)


def join_stage(name: str, as_of: dt.date, parts: list[dict]) -> dict:
    return {"stage": name, **STAGES_BY_NAME[name].join(as_of, parts)}


def stage_parts() -> list[int]:
    """The county-level divisions a split stage is cut into: those with towns (every enterprise is in a town)."""
    return counties_with_towns()


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


# --- Progress: every stage and county part reports where it ran and how it ended (PipelineStep). ----------------


def pipeline_run_begin(as_of: dt.date, *, trigger: str = "", parts: int = 0) -> PipelineRun:
    return PipelineRun.objects.create(as_of=as_of, trigger=trigger[:100], parts=parts)


def _step(run_id: int, stage: str, county_id: int | None):
    return PipelineStep.objects.filter(run_id=run_id, stage=stage, county_id=county_id)


def step_started(run_id: int | None, stage: str, county_id: int | None, *, host: str) -> None:
    """A stage or part begins (again, when redelivered: one more attempt on the same row)."""
    if run_id is None:
        return
    now = timezone.now()
    with transaction.atomic():
        _row, created = PipelineStep.objects.select_for_update().get_or_create(
            run_id=run_id, stage=stage, county_id=county_id, defaults={"host": host, "started_at": now, "attempts": 1}
        )
        if not created:
            _step(run_id, stage, county_id).update(
                state=StepState.RUNNING, host=host, started_at=now, finished_at=None, error="", attempts=F("attempts") + 1
            )


def step_finished(run_id: int | None, stage: str, county_id: int | None, summary: dict) -> None:
    if run_id is not None:
        _step(run_id, stage, county_id).update(state=StepState.DONE, finished_at=timezone.now(), summary=summary)


def step_failed(run_id: int | None, stage: str, county_id: int | None, error: BaseException) -> None:
    if run_id is not None:
        _step(run_id, stage, county_id).update(state=StepState.FAILED, finished_at=timezone.now(), error=repr(error)[:2000])


def parts_done(run_id: int, stage: str) -> dict[int, dict]:
    """The summaries of a split stage's county parts that have finished, by county."""
    steps = PipelineStep.objects.filter(run_id=run_id, stage=stage, county__isnull=False, state=StepState.DONE)
    return dict(steps.values_list("county_id", "summary"))


def pipeline_run_finished(run_id: int | None) -> None:
    if run_id is not None:
        PipelineRun.objects.filter(pk=run_id).update(finished_at=timezone.now())


def run_progress(run_id: int) -> list[dict]:
    """Each stage of a run as far as it has come: state, parts done of all, the workers that ran them."""
    return steps_progress(PipelineStep.objects.filter(run_id=run_id).select_related("county"))


def steps_progress(steps) -> list[dict]:
    """``run_progress`` of a run's steps already read (with their counties), e.g. prefetched for a list of runs."""
    progress = []
    for stage in STAGES:
        mine = [step for step in steps if step.stage == stage.name]
        parts = [step for step in mine if step.county_id is not None]
        progress.append(
            {
                "stage": stage.name,
                "split": stage.split,
                "done": sum(step.state == StepState.DONE for step in (parts or mine)),
                "running": sorted(step.county.name if step.county else stage.name for step in mine if step.state == StepState.RUNNING),
                "failed": sum(step.state == StepState.FAILED for step in mine),
                "hosts": sorted({step.host for step in mine if step.host}),
                "redelivered": sum(step.attempts > 1 for step in mine),
            }
        )
    return progress
