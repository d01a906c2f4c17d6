"""The demo's closed loop: one plan per county, approved and dispatched, and results reported on part of its tasks.

Everything goes through the services an officer's clicks go through, never through rows made up beside them:
``plan_create`` and ``plan_approve`` (which queues the dispatch on commit: the draw, the two officers per
task, the notifications), then ``check_result_submit`` for the reported tasks (which stores the spot-check
result and its risk event, opens the rectification order of a non-conforming result with its re-inspection
task, and feeds the outcome back to the enterprise's class and its regions' colours).

Each plan draws with a fresh seed, as every plan does (a draw seed must not be guessable), so the drawn
enterprises differ from one seeding to the next. Which tasks get a result and the results themselves come
from the demo's seed: ``REPORTED_SHARE`` of the staffed tasks, non-conforming with a probability that
depends on the enterprise's risk class at dispatch. The checks took place on ``as_of`` (never after today).
The services date what they do themselves by today's clock — orders, their deadlines and the feedback — so
no order is past its deadline yet.

Plans are flagged ``is_demo``; their tasks, results, orders, re-inspection tasks and notifications hang off
them or off the demo enterprises, so a demo reset removes them with them.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.utils import timezone

from enterprises.models import Enterprise, RiskClass, Status
from inspections.fieldwork.services import check_result_submit
from inspections.models import (
    CheckResult,
    Conclusion,
    InspectionPlan,
    InspectionTask,
    ItemOutcome,
    Notification,
    PlanStatus,
    RectificationOrder,
    TaskStatus,
)
from inspections.planning.services import plan_approve, plan_create
from inspections.tasks import dispatch_plan
from jiaxing_qs.tasks import recolours_deferred
from regions.models import Level, Region, Role, StaffProfile

PLAN_SHARE = 0.04  # each county's budget: 4 % of its active demo enterprises …
MIN_BUDGET = 10  # … and at least this many batches
REPORTED_SHARE = 0.4  # share of the staffed tasks whose result is reported
NONCONFORMING_RISK = 0.25  # chance of a non-conforming result for a risk enterprise
NONCONFORMING_OTHER = 0.06  # … and for any other
GPS_ACCURACY_M = (5.0, 30.0)


@dataclass
class LoopReport:
    plans: list[InspectionPlan] = field(default_factory=list)
    without_supervisor: list[str] = field(default_factory=list)  # counties skipped: their demo supervisor is missing
    results: int = 0
    nonconforming: int = 0


def plan_name(county: Region, year: int) -> str:
    return f"{county.name} {year} 年度产品质量监督抽查计划（演示）"


def _county_supervisors(city_code: str) -> dict[Region, object]:
    """Each county of the city with its demo supervisor (None when a real user holds that login)."""
    counties = Region.objects.filter(level=Level.COUNTY, parent__code=city_code).order_by("code")
    profiles = StaffProfile.objects.filter(is_demo=True, role=Role.SUPERVISOR, jurisdiction__in=counties).select_related("user")
    supervisor_of = {profile.jurisdiction_id: profile.user for profile in profiles.order_by("user__username")}
    return {county: supervisor_of.get(county.pk) for county in counties}


def _plan_dispatched(county: Region, supervisor, as_of: dt.date) -> InspectionPlan:
    """The county's demo plan for ``as_of``'s year, created and approved by its supervisor, then dispatched."""
    active = Enterprise.objects.filter(is_demo=True, status=Status.ACTIVE, town__parent=county).count()
    plan = plan_create(
        name=plan_name(county, as_of.year),
        scope=county,
        period_start=dt.date(as_of.year, 1, 1),
        period_end=dt.date(as_of.year, 12, 31),
        batch_budget=max(MIN_BUDGET, round(active * PLAN_SHARE)),
        created_by=supervisor,
        is_demo=True,
    )
    plan_approve(plan=plan, approved_by=supervisor)
    plan.refresh_from_db()
    if plan.status != PlanStatus.DISPATCHED:
        # The dispatch queued on commit has not run: a worker has it (with a broker), or an enclosing transaction
        # holds it back (a test). The dispatch is idempotent, so run it here: the results need its tasks.
        dispatch_plan(plan.pk)
        plan.refresh_from_db()
    return plan


def _answers(rng, task: InspectionTask, failing: bool) -> list[tuple[int, str, str]]:
    """Every check point conforming, or one (sometimes two) of them not, with what was found."""
    checklist = sorted(task.product.checklist_items.all(), key=lambda item: item.order)
    failed = set()
    if failing:
        failed = {item.pk for item in rng.sample(checklist, min(len(checklist), 2 if rng.random() < 0.3 else 1))}
    return [
        (item.pk, ItemOutcome.NONCONFORMING, f"{item.text}：现场检查不符合要求（演示）")
        if item.pk in failed
        else (item.pk, ItemOutcome.CONFORMING, "")
        for item in checklist
    ]


def _result_report(rng, task: InspectionTask, checked_on: dt.date) -> bool:
    """Report one task's result as its two officers would from their phones; True when it is non-conforming."""
    risk = task.enterprise.risk_class == RiskClass.RISK
    failing = rng.random() < (NONCONFORMING_RISK if risk else NONCONFORMING_OTHER)
    officers = [assignment.officer for assignment in sorted(task.assignments.all(), key=lambda a: a.position)]
    enterprise = task.enterprise
    placed = enterprise.lat is not None and enterprise.lon is not None
    check_result_submit(
        task=task,
        submitted_by=officers[0],
        co_inspector=officers[1],
        submission_key=uuid.UUID(int=rng.getrandbits(128), version=4),
        conclusion=Conclusion.NONCONFORMING if failing else Conclusion.CONFORMING,
        items=_answers(rng, task, failing),
        checked_on=checked_on,
        lat=enterprise.lat if placed else None,
        lon=enterprise.lon if placed else None,
        accuracy=round(rng.uniform(*GPS_ACCURACY_M), 1) if placed else None,
        position_source="gps" if placed else "",
    )
    return failing


def _results_report(rng, plans: list[InspectionPlan], as_of: dt.date, report: LoopReport) -> None:
    checked_on = min(as_of, timezone.localdate())  # a check cannot be dated in the future
    if not plans or checked_on < plans[0].period_start:
        return
    staffed = (
        InspectionTask.objects.filter(plan__in=plans, status=TaskStatus.ASSIGNED, product__isnull=False)
        .select_related("enterprise", "product")
        .prefetch_related("assignments__officer", "product__checklist_items")
        .order_by("plan__scope__code", "enterprise__credit_code")
    )
    tasks = list(staffed)
    chosen = sorted(rng.sample(range(len(tasks)), round(len(tasks) * REPORTED_SHARE)))
    for index in chosen:
        report.nonconforming += _result_report(rng, tasks[index], checked_on)
        report.results += 1


@contextmanager
def _notifications_unlogged() -> Iterator[None]:
    """The log channel (the default, without a bureau's setting) writes each notification to the console: the
    demo's hundreds would bury its summary. They are still sent, and recorded as sent, on their rows."""
    logger = logging.getLogger("inspections.notifications")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def demo_loop(rng, *, as_of: dt.date, city_code: str) -> LoopReport:
    """Plan, approve and dispatch one plan per county, then report results on part of the tasks."""
    report = LoopReport()
    with _notifications_unlogged(), recolours_deferred():
        for county, supervisor in _county_supervisors(city_code).items():
            if supervisor is None:
                report.without_supervisor.append(county.name)
                continue
            report.plans.append(_plan_dispatched(county, supervisor, as_of))
        _results_report(rng, report.plans, as_of, report)
    return report


def demo_loop_counts() -> dict[str, int]:
    """What the demo's closed loop holds now: its plans, their tasks and results, and the orders they opened."""
    plans = InspectionPlan.objects.filter(is_demo=True)
    results = CheckResult.objects.filter(task__plan__in=plans)
    return {
        "plans": plans.count(),
        "plans_dispatched": plans.filter(status=PlanStatus.DISPATCHED).count(),
        "tasks": InspectionTask.objects.filter(plan__in=plans).count(),
        "tasks_unstaffed": InspectionTask.objects.filter(plan__in=plans, status=TaskStatus.UNSTAFFED).count(),
        "results": results.count(),
        "results_nonconforming": results.filter(conclusion=Conclusion.NONCONFORMING).count(),
        "orders": RectificationOrder.objects.filter(result__in=results).count(),
        "notifications": Notification.objects.filter(task__enterprise__is_demo=True).count(),
    }
