"""Rectification orders (SAMR Order 18): every deadline at its boundary, every transition, with a frozen clock."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from enterprises.codes import code_for
from enterprises.models import RiskEvent, RiskEventKind
from inspections.models import (
    CheckResult,
    Conclusion,
    DrawArm,
    InspectionTask,
    Notification,
    NotificationStatus,
    OrderStatus,
    RectificationOrder,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from inspections.rectification.services import objection_record, order_open, order_text, reinspection_recorded
from regions.models import Role

from .clock import SHANGHAI, TEST_TODAY
from .factories import EnterpriseFactory, ProductFactory, SpotCheckResultFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY0 = TEST_TODAY


def day(n: int) -> dt.date:
    """The n-th day after the order (day 0)."""
    return DAY0 + dt.timedelta(days=n)


def staffed_task(*, enterprise, officers, product=None, due_date=DAY0, **fields) -> InspectionTask:
    """A spot-check task of ``enterprise`` assigned to ``officers`` (as a plan's dispatch would leave it)."""
    task = InspectionTask.objects.create(
        enterprise=enterprise,
        product=product or ProductFactory(),
        kind=fields.pop("kind", TaskKind.SPOT_CHECK),
        arm=fields.pop("arm", DrawArm.RISK),
        reason="test",
        due_date=due_date,
        **fields,
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=o, position=i) for i, o in enumerate(officers, start=1)])
    return task


def result_of(task: InspectionTask, conclusion: str, checked_on: dt.date) -> CheckResult:
    """The stored result of a task (what inspections.fieldwork.services stores), without the feedback it triggers."""
    officers = [a.officer for a in task.assignments.order_by("position")]
    result = CheckResult.objects.create(
        task=task,
        submission_key=uuid.uuid4(),
        number=f"JC-{checked_on:%Y%m%d}-{task.pk:06d}",
        conclusion=conclusion,
        submitted_by=officers[0],
        co_inspector=officers[1],
        checked_on=checked_on,
        note="内部备注",
    )
    task.status = TaskStatus.SUBMITTED
    task.save(update_fields=["status"])
    return result


def current_reinspection(order: RectificationOrder) -> InspectionTask:
    return order.reinspection_tasks.order_by("-id").first()


def reinspect(order: RectificationOrder, conclusion: str, on: dt.date) -> RectificationOrder:
    """Record a re-inspection of ``order`` checked and recorded on ``on``."""
    return reinspection_recorded(result=result_of(current_reinspection(order), conclusion, on), on=on)


@pytest.fixture
def officers(county):
    users = [UserFactory(username=f"officer{n}", first_name=f"检查员{n}") for n in (1, 2)]
    return [StaffProfileFactory(user=user, role=Role.INSPECTOR, jurisdiction=county).user for user in users]


@pytest.fixture
def enterprise(town):
    return EnterpriseFactory(town=town, name="嘉兴测试电器有限公司")


@pytest.fixture
def failed_check(enterprise, officers) -> CheckResult:
    task = staffed_task(enterprise=enterprise, officers=officers, product=ProductFactory(name="电暖器"))
    return result_of(task, Conclusion.NONCONFORMING, DAY0)


@pytest.fixture
def order(failed_check, django_capture_on_commit_callbacks) -> RectificationOrder:
    with django_capture_on_commit_callbacks(execute=True):
        return order_open(result=failed_check, on=DAY0)


# --- Opening an order -------------------------------------------------------------------------------------------


def test_a_nonconforming_result_opens_an_order_with_the_statutory_deadlines(order, failed_check):
    assert order.status == OrderStatus.RECTIFYING
    assert order.ordered_on == DAY0
    assert order.rectify_by == day(60)
    assert order.reinspect_by == day(75)
    assert order.objection_by == day(15)
    assert order.number == f"ZG-20261126-{failed_check.pk:06d}"
    assert (order.enterprise, order.product.name) == (failed_check.task.enterprise, "电暖器")


def test_the_order_text_stops_production_and_sale_at_once(order, english):
    text = order_text(order)
    assert "stop producing and selling 电暖器 at once" in text
    assert "2027-01-25" in text and "2027-02-09" in text and "2026-12-11" in text  # day 60, 75, 15


def test_the_reinspection_task_is_due_exactly_on_day_75_with_the_same_two_officers(order, failed_check, officers):
    task = order.reinspection_tasks.get()
    assert (task.kind, task.arm, task.plan, task.status) == (TaskKind.REINSPECTION, DrawArm.FOLLOW_UP, None, TaskStatus.ASSIGNED)
    assert task.due_date == day(75) == order.reinspect_by
    assert task.product == failed_check.task.product and task.enterprise == order.enterprise
    assert list(task.assignments.order_by("position").values_list("officer", flat=True)) == [o.pk for o in officers]
    assert order.number in task.reason


def test_each_officer_is_notified_of_the_reinspection_once_and_it_is_sent_on_commit(order, officers):
    task = order.reinspection_tasks.get()
    notifications = Notification.objects.filter(task=task).order_by("recipient_id")
    assert [n.dedupe_key for n in notifications] == [f"reinspection:{task.pk}:{o.pk}" for o in officers]
    assert {n.status for n in notifications} == {NotificationStatus.SENT}  # the log backend, run by the on-commit send
    assert all(order.number in n.body for n in notifications)


def test_the_reinspection_is_not_sent_before_commit(failed_check, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order_open(result=failed_check, on=DAY0)
    assert len(callbacks) == 1
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.PENDING}


def test_opening_twice_gives_the_same_order_and_nothing_twice(order, failed_check):
    again = order_open(result=failed_check, on=day(3))
    assert again.pk == order.pk and again.ordered_on == DAY0
    assert InspectionTask.objects.filter(order=order).count() == 1
    assert Notification.objects.count() == 2


def test_the_order_date_defaults_to_the_local_day_not_the_utc_day(failed_check):
    with time_machine.travel(dt.datetime(2026, 11, 27, 0, 30, tzinfo=SHANGHAI), tick=False):  # still 11-26 in UTC
        order = order_open(result=failed_check)
    assert order.ordered_on == dt.date(2026, 11, 27)
    assert order.reinspect_by == dt.date(2027, 2, 10)


def test_a_conforming_result_opens_no_order(enterprise, officers, english):
    passed = result_of(staffed_task(enterprise=enterprise, officers=officers), Conclusion.CONFORMING, DAY0)
    with pytest.raises(ValidationError, match="Only a non-conforming result"):
        order_open(result=passed, on=DAY0)
    assert not RectificationOrder.objects.exists()


def test_a_reinspection_result_opens_no_new_order(order, english):
    failed_again = result_of(current_reinspection(order), Conclusion.NONCONFORMING, day(70))
    with pytest.raises(ValidationError, match="opens no new order"):
        order_open(result=failed_again, on=day(70))


# --- Objection ---------------------------------------------------------------------------------------------------


def test_an_objection_on_day_15_is_recorded_and_pauses_nothing(order):
    before = RectificationOrder.objects.filter(pk=order.pk).values().get()
    objection_record(order=order, text="检验样品非我司生产", filed_on=day(15))
    after = RectificationOrder.objects.filter(pk=order.pk).values().get()
    assert (after["objection_filed_on"], after["objection_text"]) == (day(15), "检验样品非我司生产")
    unchanged = ("status", "rectify_by", "reinspect_by", "objection_by")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert InspectionTask.objects.get(order=order).due_date == day(75)


def test_an_objection_on_day_16_is_refused_with_the_last_allowed_day(order, english):
    with pytest.raises(ValidationError, match="ended on 2026-12-11"):
        objection_record(order=order, text="逾期异议", filed_on=day(16))
    order.refresh_from_db()
    assert order.objection_filed_on is None


def test_the_objection_day_defaults_to_today(order):
    with time_machine.travel(dt.datetime(2026, 12, 11, 23, 59, tzinfo=SHANGHAI), tick=False):
        objection_record(order=order, text="异议")
    with time_machine.travel(dt.datetime(2026, 12, 12, 0, 1, tzinfo=SHANGHAI), tick=False), pytest.raises(ValidationError):
        objection_record(order=order, text="另一份异议")
    order.refresh_from_db()
    assert (order.objection_filed_on, order.objection_text) == (day(15), "异议")


def test_the_same_objection_sent_twice_is_recorded_once(order):
    objection_record(order=order, text="异议", filed_on=day(2))
    objection_record(order=order, text="异议", filed_on=day(3))
    order.refresh_from_db()
    assert order.objection_filed_on == day(2)


# --- Re-inspection -----------------------------------------------------------------------------------------------


def test_a_conforming_reinspection_closes_the_order(order):
    order = reinspect(order, Conclusion.CONFORMING, day(75))
    order.refresh_from_db()
    assert (order.status, order.closed_on) == (OrderStatus.CLOSED, day(75))
    assert not RiskEvent.objects.filter(kind=RiskEventKind.FAILED_REINSPECTION).exists()


def test_a_failed_reinspection_is_announced_and_schedules_the_second_60_to_90_days_later(
    order, officers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reinspect(order, Conclusion.NONCONFORMING, day(70))
    order.refresh_from_db()
    assert (order.status, order.announced_on) == (OrderStatus.ANNOUNCED, day(70))
    assert order.second_reinspect_from == day(130) and order.second_reinspect_by == day(160)
    event = RiskEvent.objects.get(kind=RiskEventKind.FAILED_REINSPECTION)
    assert (event.enterprise, event.source_ref, event.occurred_on) == (order.enterprise, f"复查 {order.number}", day(70))
    second = current_reinspection(order)
    assert (second.due_date, second.status, second.kind) == (day(160), TaskStatus.ASSIGNED, TaskKind.REINSPECTION)
    assert set(second.assignments.values_list("officer", flat=True)) == {o.pk for o in officers}
    assert Notification.objects.filter(dedupe_key__startswith=f"reinspection:{second.pk}:").count() == 2
    assert len(callbacks) == 2  # the enterprise's re-classing and the notifications


@pytest.fixture
def announced(order) -> RectificationOrder:
    reinspect(order, Conclusion.NONCONFORMING, day(70))
    order.refresh_from_db()
    return order


def test_a_second_reinspection_before_day_60_after_the_announcement_is_refused(announced, english):
    with pytest.raises(ValidationError, match="from 2027-04-05"):
        reinspect(announced, Conclusion.CONFORMING, day(70 + 59))
    announced.refresh_from_db()
    assert announced.status == OrderStatus.ANNOUNCED


def test_a_conforming_second_reinspection_on_day_60_after_the_announcement_closes_the_order(announced):
    reinspect(announced, Conclusion.CONFORMING, day(70 + 60))
    announced.refresh_from_db()
    assert (announced.status, announced.closed_on) == (OrderStatus.CLOSED, day(130))


def test_a_failed_second_reinspection_on_day_90_escalates_for_suspension(announced, supervisor, officers):
    reinspect(announced, Conclusion.NONCONFORMING, day(70 + 90))
    announced.refresh_from_db()
    assert (announced.status, announced.escalated_on) == (OrderStatus.ESCALATED, day(160))
    refs = set(RiskEvent.objects.filter(kind=RiskEventKind.FAILED_REINSPECTION).values_list("source_ref", flat=True))
    assert refs == {f"复查 {announced.number}", f"二次复查 {announced.number}"}
    alert = Notification.objects.get(purpose="escalation")
    assert (alert.recipient, alert.dedupe_key) == (supervisor, f"escalation:{announced.pk}:{supervisor.pk}")
    assert announced.number in alert.body
    assert not Notification.objects.filter(purpose="escalation", recipient__in=officers).exists()


def test_a_result_on_a_closed_order_is_refused(order, english):
    first = result_of(current_reinspection(order), Conclusion.CONFORMING, day(60))
    reinspection_recorded(result=first, on=day(60))
    with pytest.raises(ValidationError, match="was closed on 2027-01-25: no further re-inspection"):
        reinspection_recorded(result=first, on=day(61))


def test_a_result_of_a_superseded_reinspection_is_refused(announced, english):
    first = announced.reinspection_tasks.order_by("id").first().result
    with pytest.raises(ValidationError, match="superseded"):
        reinspection_recorded(result=first, on=day(80))


def test_a_spot_check_result_is_not_a_reinspection(failed_check, english):
    with pytest.raises(ValidationError, match="not a re-inspection"):
        reinspection_recorded(result=failed_check, on=DAY0)


# --- The public quality-code page during the objection window --------------------------------------------------


@pytest.fixture
def published_failure(order, failed_check):
    """The failed check as the spot-check record holds it (what a submitted field check leaves)."""
    record = SpotCheckResultFactory(enterprise=order.enterprise, product=order.product, checked_on=DAY0, conforming=False)
    failed_check.spot_check = record
    failed_check.save(update_fields=["spot_check"])
    return record


def public_page(client, enterprise) -> str:
    return client.get(reverse("inspections:quality-code", args=[code_for(enterprise=enterprise).token])).content.decode()


def test_the_public_page_withholds_the_outcome_until_the_objection_window_closes(client, order, published_failure):
    assert order.objection_by == day(15)
    for on in (DAY0, day(15)):  # the window includes its last day
        with time_machine.travel(dt.datetime.combine(on, dt.time(12), tzinfo=SHANGHAI)):
            text = public_page(client, order.enterprise)
        assert "结果待确认（异议期内）" in text and "不合格" not in text
    with time_machine.travel(dt.datetime.combine(day(16), dt.time(12), tzinfo=SHANGHAI)):
        text = public_page(client, order.enterprise)
    assert "不合格" in text and "结果待确认" not in text


def test_staff_see_the_outcome_during_the_objection_window(client, order, published_failure, supervisor):
    client.force_login(supervisor)
    page = client.get(reverse("enterprises:detail", args=[order.enterprise.pk]))
    assert page.status_code == 200 and "不合格" in page.content.decode()


def test_an_imported_result_without_an_order_is_public_at_once(client, enterprise):
    SpotCheckResultFactory(enterprise=enterprise, checked_on=DAY0, conforming=False)
    assert "不合格" in public_page(client, enterprise)
