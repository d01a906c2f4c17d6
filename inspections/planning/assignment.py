"""Inspector assignment: at least two officers per task, drawn from the jurisdiction's pool, with 回避.

Rule (行政处罚法 Art. 42, 43): each task gets ``OFFICERS_PER_TASK`` enforcement officers. The pool is the
inspectors of the enterprise's county, widened to the inspectors of the city above it only when the county
cannot staff the task. Excluded: an officer with a declared conflict with the enterprise, and an officer who
was assigned to it in the previous cycle (a task due within ``PREVIOUS_CYCLE_DAYS`` before the plan starts).
Workload stays balanced: tasks are staffed in draw order, each taking the eligible officers with the fewest
tasks so far, ties broken by HMAC-SHA256(seed, "officer:" + credit code + ":" + username) — so the
assignment is as reproducible and checkable as the target draw. A task that cannot get two eligible
officers is not dispatched and is reported.
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from enterprises.models import Enterprise
from regions.models import Region, Role, StaffProfile

from ..models import InspectionPlan, OfficerConflict, TaskAssignment, TaskStatus
from .draw import DrawnTarget, draw_key

OFFICERS_PER_TASK = 2
PREVIOUS_CYCLE_DAYS = 365


@dataclass
class Staffing:
    officers: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # enterprise id → [(user id, key)]
    problems: list[dict] = field(default_factory=list)
    load: Counter = field(default_factory=Counter)


def _pools(enterprise_ids: list[int]) -> tuple[dict[int, int], dict[int, list]]:
    """Each enterprise's county id, and the active inspectors per jurisdiction (two queries)."""
    county_of = dict(Enterprise.objects.filter(id__in=enterprise_ids).values_list("id", "town__parent_id"))
    by_region: dict[int, list] = defaultdict(list)
    for profile in StaffProfile.objects.filter(role=Role.INSPECTOR, user__is_active=True).select_related("user").order_by("user__username"):
        by_region[profile.jurisdiction_id].append(profile.user)
    return county_of, by_region


def _excluded(plan: InspectionPlan, enterprise_ids: list[int]) -> dict[int, set[int]]:
    """Officers each enterprise must not get: declared conflicts and last cycle's inspectors."""
    excluded: dict[int, set[int]] = defaultdict(set)
    for officer_id, enterprise_id in OfficerConflict.objects.filter(enterprise_id__in=enterprise_ids).values_list(
        "officer_id", "enterprise_id"
    ):
        excluded[enterprise_id].add(officer_id)
    cycle_start = plan.period_start - dt.timedelta(days=PREVIOUS_CYCLE_DAYS)
    previous = TaskAssignment.objects.filter(
        task__enterprise_id__in=enterprise_ids, task__due_date__gte=cycle_start, task__due_date__lt=plan.period_start
    ).exclude(task__plan=plan)
    for officer_id, enterprise_id in previous.values_list("officer_id", "task__enterprise_id"):
        excluded[enterprise_id].add(officer_id)
    return excluded


def assign_officers(plan: InspectionPlan, targets: list[DrawnTarget]) -> Staffing:
    """Staff the drawn targets by the rule in the module docstring. Reads, never writes."""
    ids = [target.enterprise_id for target in targets]
    county_of, by_region = _pools(ids)
    excluded = _excluded(plan, ids)
    county_city = dict(Region.objects.filter(id__in=set(county_of.values())).values_list("id", "parent_id"))
    staffing = Staffing()
    open_tasks = (
        TaskAssignment.objects.filter(task__status=TaskStatus.ASSIGNED).exclude(task__plan=plan).values_list("officer_id", flat=True)
    )
    staffing.load.update(open_tasks)
    for target in sorted(targets, key=lambda t: (t.arm != "control", t.key)):
        county = county_of.get(target.enterprise_id)
        banned = excluded.get(target.enterprise_id, set())
        eligible = [user for user in by_region.get(county, []) if user.id not in banned]
        if len(eligible) < OFFICERS_PER_TASK:
            eligible += [user for user in by_region.get(county_city.get(county), []) if user.id not in banned]
        if len(eligible) < OFFICERS_PER_TASK:
            staffing.problems.append(
                {
                    "enterprise_id": target.enterprise_id,
                    "enterprise": target.name,
                    "credit_code": target.credit_code,
                    "message": _("only %(n)d eligible officer(s) after conflicts and last cycle's inspectors are excluded")
                    % {"n": len(eligible)},
                }
            )
            continue
        keyed = [
            (staffing.load[user.id], draw_key(plan.seed, "officer", f"{target.credit_code}:{user.username}"), user) for user in eligible
        ]
        chosen = sorted(keyed, key=lambda item: (item[0], item[1]))[:OFFICERS_PER_TASK]
        staffing.officers[target.enterprise_id] = [(user.id, key) for _load, key, user in chosen]
        for _load, _key, user in chosen:
            staffing.load[user.id] += 1
    return staffing


def officers_named(user_ids: list[int]) -> list[str]:
    users = get_user_model().objects.in_bulk(user_ids)
    return [users[pk].get_full_name() or users[pk].username for pk in user_ids if pk in users]
