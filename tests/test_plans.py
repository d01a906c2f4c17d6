"""Inspection plans: created with the policy's ratios and a fresh seed, approved only from draft, dispatched on
commit (eagerly here) into one task per plan and enterprise, two officers and one notification per officer and
task — and a dispatch re-run after a crash creates nothing twice.
"""

import datetime as dt
import hashlib
import hmac
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from enterprises.models import Category, SupervisionPolicy
from inspections.models import (
    DrawArm,
    InspectionTask,
    Notification,
    NotificationStatus,
    PlanStatus,
    TaskAssignment,
    TaskStatus,
)
from inspections.planning.selectors import plan_preview
from inspections.planning.services import plan_approve, plan_create, plan_dispatch
from inspections.tasks import dispatch_plan
from products.models import Grade
from regions.models import Region, Role

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def chief(county):
    return StaffProfileFactory(user=UserFactory(username="chief"), role=Role.SUPERVISOR, jurisdiction=county).user


@pytest.fixture
def officers(county) -> list:
    return [StaffProfileFactory(user=UserFactory(username=f"officer{i}"), role=Role.INSPECTOR, jurisdiction=county).user for i in range(4)]


@pytest.fixture
def targets(region_tree) -> list:
    """Six tightened enterprises of the county (all drawn at 100 %), each making a low and a high product."""
    made = []
    for _ in range(6):
        enterprise = EnterpriseFactory(town=region_tree.town_a1, category=Category.TIGHTENED)
        EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(grade=Grade.LOW))
        EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(grade=Grade.HIGH))
        made.append(enterprise)
    return made


def new_plan(scope: Region, created_by, **overrides):
    return plan_create(
        name="2026 年度监督抽查",
        scope=scope,
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        batch_budget=20,
        created_by=created_by,
        **overrides,
    )


def approved_and_dispatched(plan, chief, capture):
    with capture(execute=True):
        plan_approve(plan=plan, approved_by=chief)
    plan.refresh_from_db()
    return plan


def counts(plan) -> tuple[int, int, int]:
    return (
        plan.tasks.count(),
        TaskAssignment.objects.filter(task__plan=plan).count(),
        Notification.objects.filter(task__plan=plan).count(),
    )


# --- Creating and approving ------------------------------------------------------------------------------------


def test_plan_create_copies_the_policy_ratios_and_draws_a_fresh_seed(county, chief):
    SupervisionPolicy.objects.create(reason="2026 年度调整", ratio_routine=Decimal("25"), multiplier_red=Decimal("2"))

    plan = new_plan(county, chief)
    other = new_plan(county, chief)

    assert plan.status == PlanStatus.DRAFT
    assert (plan.ratio_tightened, plan.ratio_routine, plan.ratio_responsibility, plan.ratio_credit) == (100, 25, 10, 3)
    assert (plan.multiplier_red, plan.multiplier_orange, plan.multiplier_yellow, plan.multiplier_green) == (
        Decimal("2"),
        Decimal("1.2"),
        Decimal("1"),
        Decimal("0.8"),
    )
    assert re.fullmatch(r"[0-9a-f]{32}", plan.seed)
    assert other.seed != plan.seed
    assert plan.draw_method == "JQS-DRAW-1"


def test_the_ratios_are_copied_so_a_later_policy_change_leaves_the_plan_alone(county, chief):
    plan = new_plan(county, chief, ratio_credit=Decimal("5"))
    SupervisionPolicy.objects.create(reason="later", ratio_credit=Decimal("9"), ratio_tightened=Decimal("80"))
    plan.refresh_from_db()
    assert (plan.ratio_credit, plan.ratio_tightened) == (Decimal("5"), Decimal("100"))


def test_a_plan_covers_a_county_or_a_city_not_a_town(town, chief):
    with pytest.raises(ValidationError) as error:
        new_plan(town, chief)
    assert "scope" in error.value.message_dict


def test_only_a_draft_plan_can_be_approved(county, chief):
    plan = new_plan(county, chief)
    approved = plan_approve(plan=plan, approved_by=chief)  # the dispatch waits for a commit that never comes here
    assert (approved.status, approved.approved_by) == (PlanStatus.APPROVED, chief)
    assert approved.approved_at is not None

    with pytest.raises(ValidationError, match="Only a draft plan can be approved"):
        plan_approve(plan=plan, approved_by=chief)


def test_a_draft_plan_cannot_be_dispatched(county, chief):
    plan = new_plan(county, chief)
    with pytest.raises(ValidationError):
        plan_dispatch(plan_id=plan.pk)
    assert counts(plan) == (0, 0, 0)


# --- Dispatch --------------------------------------------------------------------------------------------------


def test_approval_dispatches_once_the_transaction_commits(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = new_plan(county, chief)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        plan_approve(plan=plan, approved_by=chief)
        assert counts(plan) == (0, 0, 0), "nothing is dispatched before the approval commits"
    assert len(callbacks) == 1

    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED
    assert plan.dispatched_at is not None
    assert set(plan.tasks.values_list("enterprise_id", flat=True)) == {e.pk for e in targets}
    for task in plan.tasks.all():
        assert task.status == TaskStatus.ASSIGNED
        assert task.assignments.count() == 2
        assert task.due_date == plan.period_end
        assert task.product.grade == Grade.HIGH, "the enterprise's highest-grade product is the one checked"
        assert task.arm in (DrawArm.RISK, DrawArm.CONTROL)
        assert task.reason and task.stratum and task.draw_rank and len(task.draw_key) == 64


def test_dispatched_tasks_and_officers_are_what_the_preview_showed(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = new_plan(county, chief)
    preview = plan_preview(plan)
    plan = approved_and_dispatched(plan, chief, django_capture_on_commit_callbacks)

    assert {(t.enterprise_id, t.arm, t.rank, t.key) for t in preview.draw.targets} == set(
        plan.tasks.values_list("enterprise_id", "arm", "draw_rank", "draw_key")
    )
    for task in plan.tasks.all():
        recorded = list(task.assignments.order_by("position").values_list("officer_id", "draw_key"))
        assert recorded == [tuple(pair) for pair in preview.staffing.officers[task.enterprise_id]]


def test_the_assignment_draw_is_recorded_with_its_published_keys(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = approved_and_dispatched(new_plan(county, chief), chief, django_capture_on_commit_callbacks)
    for assignment in TaskAssignment.objects.filter(task__plan=plan).select_related("task__enterprise", "officer"):
        message = f"officer:{assignment.task.enterprise.credit_code}:{assignment.officer.username}"
        assert assignment.draw_key == hmac.new(plan.seed.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_the_database_holds_one_task_per_plan_and_enterprise(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = approved_and_dispatched(new_plan(county, chief), chief, django_capture_on_commit_callbacks)
    with pytest.raises(IntegrityError), transaction.atomic():
        InspectionTask.objects.create(plan=plan, enterprise=targets[0], arm=DrawArm.RISK, reason="重复", due_date=plan.period_end)


def test_dispatching_again_after_a_crash_creates_nothing_twice(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = approved_and_dispatched(new_plan(county, chief), chief, django_capture_on_commit_callbacks)
    before = counts(plan)
    ids = (
        set(plan.tasks.values_list("id", flat=True)),
        set(TaskAssignment.objects.filter(task__plan=plan).values_list("id", flat=True)),
        set(Notification.objects.filter(task__plan=plan).values_list("id", flat=True)),
    )
    EnterpriseFactory(town=targets[0].town, category=Category.TIGHTENED)  # a re-run must not draw again

    assert plan_dispatch(plan_id=plan.pk) == [], "everything was sent: nothing left to queue"
    assert dispatch_plan.delay(plan.pk).get() == {"plan": plan.pk, "notifications_queued": 0}

    assert counts(plan) == before == (6, 12, 12)
    assert ids == (
        set(plan.tasks.values_list("id", flat=True)),
        set(TaskAssignment.objects.filter(task__plan=plan).values_list("id", flat=True)),
        set(Notification.objects.filter(task__plan=plan).values_list("id", flat=True)),
    )


def test_a_rerun_queues_again_only_the_notifications_not_yet_sent(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = approved_and_dispatched(new_plan(county, chief), chief, django_capture_on_commit_callbacks)
    unsent = list(Notification.objects.filter(task__plan=plan).order_by("id").values_list("id", flat=True)[:3])
    Notification.objects.filter(id__in=unsent).update(status=NotificationStatus.PENDING, sent_at=None)

    assert sorted(plan_dispatch(plan_id=plan.pk)) == unsent
    assert counts(plan) == (6, 12, 12)


def test_each_officer_of_each_task_gets_one_notification(county, chief, officers, targets, django_capture_on_commit_callbacks):
    plan = approved_and_dispatched(new_plan(county, chief), chief, django_capture_on_commit_callbacks)

    notifications = Notification.objects.filter(task__plan=plan).select_related("task__enterprise", "recipient")
    pairs = [(n.task_id, n.recipient_id) for n in notifications]
    assert sorted(pairs) == sorted(TaskAssignment.objects.filter(task__plan=plan).values_list("task_id", "officer_id"))
    for notification in notifications:
        assert notification.status == NotificationStatus.SENT  # no bureau setting: the log backend
        assert notification.dedupe_key == f"dispatch:{notification.task_id}:{notification.recipient_id}"
        assert notification.task.enterprise.name in notification.title
        partner = notification.task.assignments.exclude(officer=notification.recipient).get().officer
        assert partner.username in notification.body, "the message names the co-inspector"
