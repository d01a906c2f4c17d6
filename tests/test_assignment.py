"""Inspector assignment (行政处罚法 Art. 42, 43): two distinct officers per task drawn from the jurisdiction's pool,
回避 for declared conflicts and last cycle's inspectors, balanced workload, reproducible from the plan's seed,
and a task the pool cannot staff is reported, never dispatched short-handed.
"""

import datetime as dt
import hashlib
import hmac
import random
from collections import Counter
from decimal import Decimal

import pytest

from enterprises.models import Category
from inspections.models import DrawArm, InspectionTask, Notification, OfficerConflict, TaskAssignment, TaskStatus
from inspections.planning.assignment import assign_officers
from inspections.planning.draw import plan_draw
from inspections.planning.services import plan_approve, plan_create
from regions.models import Region, Role

from .factories import EnterpriseFactory, StaffProfileFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

SEED = "a55e0000000000000000000000000001"
PLAN_START = dt.date(2026, 1, 1)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Many officers per test: hash their passwords cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def inspectors(region: Region, n: int, prefix: str) -> list:
    return [StaffProfileFactory(user=UserFactory(username=f"{prefix}{i}"), role=Role.INSPECTOR, jurisdiction=region).user for i in range(n)]


def tightened(town: Region, n: int) -> list:
    """Tightened enterprises: drawn at 100 %, so every one of them becomes a task."""
    return [EnterpriseFactory(town=town, category=Category.TIGHTENED) for _ in range(n)]


def new_plan(scope: Region, *, seed: str = SEED, budget: int = 100, start: dt.date = PLAN_START):
    plan = plan_create(
        name="抽查计划",
        scope=scope,
        period_start=start,
        period_end=start.replace(month=12, day=31),
        batch_budget=budget,
        created_by=UserFactory(username="planner"),
        control_share=Decimal("0"),
    )
    plan.seed = seed
    plan.save(update_fields=["seed"])
    return plan


def staff(plan):
    draw = plan_draw(plan)
    return draw, assign_officers(plan, draw.targets)


def officer_key(seed: str, credit_code: str, username: str) -> str:
    """The published tie-break key, recomputed from the rule's description."""
    return hmac.new(seed.encode(), f"officer:{credit_code}:{username}".encode(), hashlib.sha256).hexdigest()


def previous_task(enterprise, officer, *, due: dt.date) -> InspectionTask:
    """A task of last cycle's plan, done by ``officer``."""
    task = InspectionTask.objects.create(
        plan=None, enterprise=enterprise, arm=DrawArm.RISK, reason="上一周期", due_date=due, status=TaskStatus.SUBMITTED
    )
    TaskAssignment.objects.create(task=task, officer=officer, position=1)
    return task


def test_every_task_gets_two_distinct_officers(region_tree):
    inspectors(region_tree.county_a, 6, "a")
    made = tightened(region_tree.town_a1, 10)
    draw, staffing = staff(new_plan(region_tree.county_a))

    assert len(draw.targets) == 10
    assert set(staffing.officers) == {e.pk for e in made}
    for officers in staffing.officers.values():
        ids = [officer_id for officer_id, _key in officers]
        assert len(ids) == 2
        assert len(set(ids)) == 2
    assert staffing.problems == []


def test_an_officer_with_a_declared_conflict_is_never_assigned_to_that_enterprise(region_tree):
    conflicted, *_others = inspectors(region_tree.county_a, 3, "a")
    made = tightened(region_tree.town_a1, 10)
    for enterprise in made[:5]:
        OfficerConflict.objects.create(officer=conflicted, enterprise=enterprise, reason="亲属在该企业任职")

    _draw, staffing = staff(new_plan(region_tree.county_a))

    assigned_to = {pk for pk, officers in staffing.officers.items() if conflicted.pk in {o for o, _k in officers}}
    assert not assigned_to & {e.pk for e in made[:5]}
    assert assigned_to, "the exclusion is per enterprise: the officer still takes the others"
    assert len(staffing.officers) == 10


def test_last_cycles_inspector_is_excluded_for_365_days_before_the_plan_starts(region_tree):
    veteran, colleague = inspectors(region_tree.county_a, 2, "a")
    at_boundary, just_outside, last_month, never = tightened(region_tree.town_a1, 4)
    previous_task(at_boundary, veteran, due=PLAN_START - dt.timedelta(days=365))
    previous_task(just_outside, veteran, due=PLAN_START - dt.timedelta(days=366))
    previous_task(last_month, veteran, due=PLAN_START - dt.timedelta(days=30))

    _draw, staffing = staff(new_plan(region_tree.county_a))

    staffed = {pk: {o for o, _k in officers} for pk, officers in staffing.officers.items()}
    assert staffed == {just_outside.pk: {veteran.pk, colleague.pk}, never.pk: {veteran.pk, colleague.pk}}
    assert {p["enterprise_id"] for p in staffing.problems} == {at_boundary.pk, last_month.pk}


def test_workload_is_balanced_when_everyone_is_eligible(region_tree):
    pool = inspectors(region_tree.county_a, 5, "a")
    tightened(region_tree.town_a1, 7)

    _draw, staffing = staff(new_plan(region_tree.county_a))

    load = Counter(officer_id for officers in staffing.officers.values() for officer_id, _key in officers)
    assert sum(load.values()) == 14
    assert set(load) == {u.pk for u in pool}
    assert max(load.values()) - min(load.values()) <= 1


def test_open_tasks_of_other_plans_count_in_the_workload(region_tree):
    busy, *_rest = inspectors(region_tree.county_a, 3, "a")
    elsewhere = tightened(region_tree.town_a2, 2)
    for enterprise in elsewhere:  # two open tasks already
        task = InspectionTask.objects.create(
            enterprise=enterprise, arm=DrawArm.RISK, reason="另一计划", due_date=PLAN_START + dt.timedelta(days=400)
        )
        TaskAssignment.objects.create(task=task, officer=busy)
    made = tightened(region_tree.town_a1, 2)

    plan = new_plan(region_tree.county_a)
    draw = plan_draw(plan)
    staffing = assign_officers(plan, [t for t in draw.targets if t.enterprise_id in {e.pk for e in made}])

    assert all(busy.pk not in {o for o, _k in officers} for officers in staffing.officers.values())


def test_same_seed_gives_the_same_officers_in_any_target_order_and_the_draw_is_checkable(region_tree):
    pool = inspectors(region_tree.county_a, 6, "a")
    tightened(region_tree.town_a1, 10)
    plan = new_plan(region_tree.county_a)
    draw, first = staff(plan)
    again = assign_officers(plan, random.Random(3).sample(draw.targets, len(draw.targets)))
    other_seed = new_plan(region_tree.county_a, seed="a55e0000000000000000000000000002")

    assert first.officers == again.officers
    assert staff(other_seed)[1].officers != first.officers

    # The first task staffed (lowest draw key) takes, all loads being zero, the two smallest published keys.
    opening = min(draw.targets, key=lambda t: t.key)
    by_key = sorted(pool, key=lambda u: officer_key(SEED, opening.credit_code, u.username))[:2]
    assert first.officers[opening.enterprise_id] == [(u.pk, officer_key(SEED, opening.credit_code, u.username)) for u in by_key]


def test_the_county_pool_staffs_its_tasks_before_any_city_inspector(region_tree):
    county_pool = inspectors(region_tree.county_a, 2, "a")
    inspectors(region_tree.city, 3, "city")
    inspectors(region_tree.county_b, 2, "b")
    tightened(region_tree.town_a1, 6)

    _draw, staffing = staff(new_plan(region_tree.county_a))

    used = {o for officers in staffing.officers.values() for o, _k in officers}
    assert len(staffing.officers) == 6
    assert used == {u.pk for u in county_pool}


def test_city_inspectors_staff_a_task_only_when_the_county_cannot(region_tree):
    (local,) = inspectors(region_tree.county_a, 1, "a")
    city = inspectors(region_tree.city, 2, "city")
    neighbours = inspectors(region_tree.county_b, 3, "b")
    tightened(region_tree.town_a1, 4)

    _draw, staffing = staff(new_plan(region_tree.county_a))

    assert len(staffing.officers) == 4
    for officers in staffing.officers.values():
        ids = {o for o, _k in officers}
        assert len(ids) == 2
        assert ids <= {local.pk} | {u.pk for u in city}
        assert ids & {u.pk for u in city}
        assert not ids & {u.pk for u in neighbours}


def test_a_county_with_one_eligible_officer_leaves_the_task_unstaffed_and_says_so(region_tree, django_capture_on_commit_callbacks):
    (lonely,) = inspectors(region_tree.county_a, 1, "a")
    inspectors(region_tree.county_b, 3, "b")  # another county's officers are never borrowed
    (enterprise,) = tightened(region_tree.town_a1, 1)
    plan = new_plan(region_tree.county_a)

    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, approved_by=UserFactory(username="chief"))

    plan.refresh_from_db()
    task = plan.tasks.get()
    assert task.enterprise == enterprise
    assert task.status == TaskStatus.UNSTAFFED
    assert not task.assignments.exists()
    assert not Notification.objects.filter(recipient=lonely).exists()
    assert plan.staffing_problems == [
        {
            "enterprise_id": enterprise.pk,
            "enterprise": enterprise.name,
            "credit_code": enterprise.credit_code,
            "message": "only 1 eligible officer(s) after conflicts and last cycle's inspectors are excluded",
        }
    ]
