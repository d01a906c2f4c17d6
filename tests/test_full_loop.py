"""The closed loop end to end: plan → approval and dispatch → two officers notified → non-conforming check →
rectification order → re-inspection task → conforming re-inspection → order closed; the enterprise became a
risk enterprise on the way. Celery runs eagerly; the clock is frozen at each step's day."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.utils import translation

from enterprises.models import Enterprise, RiskClass, RiskEvent, RiskEventKind
from inspections.fieldwork.services import check_result_submit
from inspections.models import (
    CheckResult,
    Conclusion,
    DrawArm,
    InspectionTask,
    ItemOutcome,
    Notification,
    NotificationStatus,
    OrderStatus,
    PlanStatus,
    RectificationOrder,
    TaskKind,
    TaskStatus,
)
from inspections.planning.services import plan_approve, plan_create
from inspections.rectification.daily import daily_check
from jiaxing_qs.tasks import run_pipeline
from products.models import ChecklistItem
from regions.models import Role

from .clock import SHANGHAI
from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


def at(day: dt.date):
    """The clock frozen at 10:00 on ``day`` in Jiaxing."""
    return time_machine.travel(dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI), tick=False)


@pytest.fixture
def county_with_makers(region_tree):
    for n in range(1, 4):
        StaffProfileFactory(user=UserFactory(username=f"officer{n}"), role=Role.INSPECTOR, jurisdiction=region_tree.county_a)
    heater = ProductFactory(name="电暖器")
    ChecklistItem.objects.create(product=heater, order=1, text="标志和说明")
    ChecklistItem.objects.create(product=heater, order=2, text="防触电保护")
    for _ in range(10):
        EnterpriseProductFactory(enterprise=EnterpriseFactory(town=region_tree.town_a1), product=heater)
    return region_tree.county_a


def answers(task: InspectionTask, failing: set[int] = frozenset()) -> list[tuple[int, str, str]]:
    return [
        (item.pk, ItemOutcome.NONCONFORMING, "标签缺少额定功率") if item.order in failing else (item.pk, ItemOutcome.CONFORMING, "")
        for item in task.product.checklist_items.order_by("order")
    ]


def submit(task: InspectionTask, *, conclusion: str, checked_on: dt.date, failing=frozenset(), key=None) -> tuple[CheckResult, bool]:
    first, second = [assignment.officer for assignment in task.assignments.order_by("position")]
    return check_result_submit(
        task=task,
        submitted_by=first,
        submission_key=key or uuid.uuid4(),
        conclusion=conclusion,
        items=answers(task, failing),
        co_inspector=second,
        checked_on=checked_on,
        lat=30.75,
        lon=120.75,
        accuracy=12.0,
        position_source="gps",
    )


def test_plan_to_closed_rectification(county_with_makers, supervisor, client, django_capture_on_commit_callbacks):
    # 1. A supervisor plans and approves; the approval dispatches (on commit, eagerly here).
    with at(dt.date(2027, 1, 4)):
        run_pipeline()
        plan = plan_create(
            name="2027年上半年监督抽查",
            scope=county_with_makers,
            period_start=dt.date(2027, 1, 1),
            period_end=dt.date(2027, 6, 30),
            batch_budget=4,
            created_by=supervisor,
            control_share=Decimal("25"),
            ratio_credit=Decimal("50"),
        )
        with django_capture_on_commit_callbacks(execute=True):
            plan_approve(plan=plan, approved_by=supervisor)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED and plan.staffing_problems == []

    # 2. Every task has at least two officers, and each officer got one notification per task.
    tasks = list(plan.tasks.select_related("enterprise", "product").prefetch_related("assignments"))
    assert len(tasks) == 4 and {t.arm for t in tasks} == {DrawArm.RISK, DrawArm.CONTROL}
    for task in tasks:
        officers = {a.officer_id for a in task.assignments.all()}
        assert len(officers) >= 2 and task.status == TaskStatus.ASSIGNED
        sent = Notification.objects.filter(task=task, purpose="dispatch", status=NotificationStatus.SENT)
        assert set(sent.values_list("recipient_id", flat=True)) == officers

    # 3. The inspectors find the product non-conforming; a retried submission stores one result.
    task = tasks[0]
    enterprise = task.enterprise
    assert Enterprise.objects.get(pk=enterprise.pk).risk_class == RiskClass.NON_RISK
    key = uuid.uuid4()
    with at(dt.date(2027, 3, 1)), django_capture_on_commit_callbacks(execute=True):
        result, created = submit(task, conclusion=Conclusion.NONCONFORMING, checked_on=dt.date(2027, 3, 1), failing={1}, key=key)
        again, created_again = submit(task, conclusion=Conclusion.NONCONFORMING, checked_on=dt.date(2027, 3, 1), failing={1}, key=key)
    assert created and not created_again and again.pk == result.pk
    assert CheckResult.objects.filter(task=task).count() == 1

    # 4. The result opened one rectification order and its re-inspection task, due 75 days later.
    order = RectificationOrder.objects.get()
    assert order.result == result and order.status == OrderStatus.RECTIFYING
    assert (order.ordered_on, order.rectify_by, order.reinspect_by) == (dt.date(2027, 3, 1), dt.date(2027, 4, 30), dt.date(2027, 5, 15))
    reinspection = InspectionTask.objects.get(order=order)
    assert (reinspection.kind, reinspection.due_date) == (TaskKind.REINSPECTION, order.reinspect_by)
    assert reinspection.status == TaskStatus.ASSIGNED
    assert set(reinspection.assignments.values_list("officer", flat=True)) == set(task.assignments.values_list("officer", flat=True))
    assert Notification.objects.filter(task=reinspection, status=NotificationStatus.SENT).count() == 2

    # 5. The outcome fed back: the enterprise is a risk enterprise now.
    enterprise.refresh_from_db()
    assert enterprise.risk_class == RiskClass.RISK
    assert RiskEvent.objects.filter(enterprise=enterprise, kind=RiskEventKind.NONCONFORMING_SPOT_CHECK).count() == 1

    # 6. Past the rectification deadline, before the re-inspection deadline: nothing is overdue yet.
    with at(dt.date(2027, 5, 1)), django_capture_on_commit_callbacks(execute=True):
        assert daily_check()["orders_overdue"] == 0

    # 7. The re-inspection finds it rectified: the order is closed.
    with at(dt.date(2027, 5, 10)), django_capture_on_commit_callbacks(execute=True):
        closing, created = submit(reinspection, conclusion=Conclusion.CONFORMING, checked_on=dt.date(2027, 5, 10))
    assert created and order.reinspection_tasks.get().result == closing
    order.refresh_from_db()
    assert (order.status, order.closed_on) == (OrderStatus.CLOSED, dt.date(2027, 5, 10))
    reinspection.refresh_from_db()
    assert reinspection.status == TaskStatus.SUBMITTED

    # 8. Nothing more for the daily job; the public page shows the outcome and the closed order.
    with at(dt.date(2027, 5, 20)), django_capture_on_commit_callbacks(execute=True):
        summary = daily_check()
    assert (summary["orders_overdue"], summary["orders_escalated"]) == (0, 0)
    html = client.get(f"/public/plans/{plan.pk}/").content.decode()
    assert enterprise.credit_code in html and "2027-03-01" in html
    with translation.override("zh-hans"):
        assert str(OrderStatus.CLOSED.label) in html
    assert "officer1" not in html and "标签缺少额定功率" not in html
