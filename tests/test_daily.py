"""The daily check: overdue flagged the day after a deadline (never on it), reminders and escalation once, idempotent."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask

from enterprises.models import RiskClass, RiskEvent, RiskEventKind
from inspections.models import Conclusion, Notification, OrderStatus, RectificationOrder, TaskStatus
from inspections.rectification.daily import daily_check
from inspections.rectification.services import order_open, reinspection_recorded
from inspections.tasks import daily_check as daily_check_task

from .factories import EnterpriseFactory, ProductFactory
from .test_rectification import DAY0, SHANGHAI, current_reinspection, day, reinspect, result_of, staffed_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def officers(county):
    from regions.models import Role

    from .factories import StaffProfileFactory, UserFactory

    return [StaffProfileFactory(user=UserFactory(username=f"officer{n}"), role=Role.INSPECTOR, jurisdiction=county).user for n in (1, 2)]


@pytest.fixture
def enterprise(town):
    return EnterpriseFactory(town=town)


@pytest.fixture
def order(enterprise, officers, django_capture_on_commit_callbacks) -> RectificationOrder:
    failed = result_of(staffed_task(enterprise=enterprise, officers=officers), Conclusion.NONCONFORMING, DAY0)
    with django_capture_on_commit_callbacks(execute=True):
        return order_open(result=failed, on=DAY0)


def run(today: dt.date, capture) -> dict:
    """The job as beat runs it: at 01:30 on ``today`` (the clock frozen there), its on-commit work executed."""
    with time_machine.travel(dt.datetime.combine(today, dt.time(1, 30), tzinfo=SHANGHAI), tick=False), capture(execute=True):
        return daily_check()


def nothing_done(summary: dict) -> bool:
    return (summary["orders_escalated"], summary["orders_overdue"], summary["tasks_overdue"], summary["reminders"]) == (0, 0, 0, 0)


# --- Tasks -------------------------------------------------------------------------------------------------------


def test_a_task_is_overdue_the_day_after_its_due_date_not_on_it(enterprise, officers, django_capture_on_commit_callbacks):
    task = staffed_task(enterprise=enterprise, officers=officers, due_date=DAY0)
    assert nothing_done(run(DAY0, django_capture_on_commit_callbacks))
    task.refresh_from_db()
    assert task.overdue_flagged_on is None

    summary = run(day(1), django_capture_on_commit_callbacks)
    task.refresh_from_db()
    assert (summary["tasks_overdue"], summary["reminders"], task.overdue_flagged_on) == (1, 2, day(1))
    reminders = Notification.objects.filter(purpose="reminder").order_by("recipient_id")
    assert [n.dedupe_key for n in reminders] == [f"reminder:{task.pk}:{o.pk}" for o in officers]
    assert {n.status for n in reminders} == {"sent"}


def test_a_submitted_or_cancelled_task_is_never_overdue(enterprise, officers, django_capture_on_commit_callbacks):
    submitted = staffed_task(enterprise=enterprise, officers=officers, due_date=DAY0)
    result_of(submitted, Conclusion.CONFORMING, DAY0)
    staffed_task(enterprise=EnterpriseFactory(town=enterprise.town), officers=officers, due_date=DAY0, status=TaskStatus.CANCELLED)
    assert nothing_done(run(day(5), django_capture_on_commit_callbacks))


def test_running_twice_the_same_day_changes_nothing(order, enterprise, officers, django_capture_on_commit_callbacks):
    staffed_task(enterprise=EnterpriseFactory(town=enterprise.town), officers=officers, due_date=day(10))
    first = run(day(76), django_capture_on_commit_callbacks)
    assert (first["orders_overdue"], first["tasks_overdue"], first["reminders"]) == (1, 2, 4)
    state = (
        list(RectificationOrder.objects.values()),
        list(RiskEvent.objects.values()),
        list(Notification.objects.values("dedupe_key", "status")),
    )
    second = run(day(76), django_capture_on_commit_callbacks)
    assert nothing_done(second)
    assert state == (
        list(RectificationOrder.objects.values()),
        list(RiskEvent.objects.values()),
        list(Notification.objects.values("dedupe_key", "status")),
    )
    assert nothing_done(run(day(77), django_capture_on_commit_callbacks))  # and the next day: flagged once only


# --- Rectification overdue ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("today", [day(60), day(61), day(75)])
def test_a_rectification_is_not_overdue_while_the_reinspection_may_still_confirm_it(order, today, django_capture_on_commit_callbacks):
    assert nothing_done(run(today, django_capture_on_commit_callbacks))
    order.refresh_from_db()
    assert order.overdue_flagged_on is None
    assert not RiskEvent.objects.filter(kind=RiskEventKind.OVERDUE_RECTIFICATION).exists()


def test_an_unconfirmed_rectification_is_overdue_the_day_after_the_reinspection_deadline(
    order, enterprise, django_capture_on_commit_callbacks
):
    summary = run(day(76), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert (summary["orders_overdue"], order.overdue_flagged_on, order.status) == (1, day(76), OrderStatus.RECTIFYING)
    event = RiskEvent.objects.get(kind=RiskEventKind.OVERDUE_RECTIFICATION)
    assert (event.enterprise, event.source_ref, event.occurred_on) == (enterprise, f"逾期 {order.number}", day(61))
    assert event.description == f"{order.number} · {order.product.name}"  # data only: the kind is said in the reader's language
    reinspection = current_reinspection(order)
    assert reinspection.overdue_flagged_on == day(76)  # the overdue re-inspection is reminded about the same day
    assert Notification.objects.filter(dedupe_key__startswith=f"reminder:{reinspection.pk}:").count() == 2
    enterprise.refresh_from_db()
    assert enterprise.risk_class == RiskClass.RISK  # the feedback re-classed it


def test_a_late_conforming_reinspection_still_closes_an_overdue_order(order, django_capture_on_commit_callbacks):
    run(day(76), django_capture_on_commit_callbacks)
    reinspect(order, Conclusion.CONFORMING, day(80))
    order.refresh_from_db()
    assert (order.status, order.closed_on, order.overdue_flagged_on) == (OrderStatus.CLOSED, day(80), day(76))
    assert RiskEvent.objects.filter(kind=RiskEventKind.OVERDUE_RECTIFICATION).count() == 1  # history stays


def test_a_reinspection_after_day_60_that_passes_is_never_overdue(order, django_capture_on_commit_callbacks):
    reinspect(order, Conclusion.CONFORMING, day(70))
    assert nothing_done(run(day(76), django_capture_on_commit_callbacks))
    assert not RiskEvent.objects.filter(kind=RiskEventKind.OVERDUE_RECTIFICATION).exists()


def test_a_failed_reinspection_is_not_also_an_overdue_rectification(order, django_capture_on_commit_callbacks):
    reinspect(order, Conclusion.NONCONFORMING, day(75))
    summary = run(day(76), django_capture_on_commit_callbacks)
    assert summary["orders_overdue"] == 0
    assert not RiskEvent.objects.filter(kind=RiskEventKind.OVERDUE_RECTIFICATION).exists()


# --- Escalation --------------------------------------------------------------------------------------------------


@pytest.fixture
def announced(order) -> RectificationOrder:
    reinspect(order, Conclusion.NONCONFORMING, day(70))  # second window: day 130 to day 160
    order.refresh_from_db()
    return order


def test_an_announced_order_is_escalated_the_day_after_its_second_window_closes(announced, supervisor, django_capture_on_commit_callbacks):
    assert run(day(160), django_capture_on_commit_callbacks)["orders_escalated"] == 0
    announced.refresh_from_db()
    assert announced.status == OrderStatus.ANNOUNCED

    summary = run(day(161), django_capture_on_commit_callbacks)
    announced.refresh_from_db()
    assert (summary["orders_escalated"], announced.status, announced.escalated_on) == (1, OrderStatus.ESCALATED, day(161))
    second = current_reinspection(announced)
    assert second.status == TaskStatus.CANCELLED and second.overdue_flagged_on is None  # cancelled, not reminded about
    alert = Notification.objects.get(purpose="escalation")
    assert (alert.recipient, alert.dedupe_key, alert.status) == (supervisor, f"escalation:{announced.pk}:{supervisor.pk}", "sent")
    assert announced.number in alert.body  # stored in the site language, whatever the caller's

    assert nothing_done(run(day(161), django_capture_on_commit_callbacks))
    assert Notification.objects.filter(purpose="escalation").count() == 1


def test_a_late_second_reinspection_of_an_escalated_order_is_refused(announced, supervisor, django_capture_on_commit_callbacks, english):
    run(day(161), django_capture_on_commit_callbacks)
    late = result_of(current_reinspection(announced), Conclusion.CONFORMING, day(165))
    with pytest.raises(ValidationError, match="escalated for suspension on 2027-05-06"):
        reinspection_recorded(result=late, on=day(165))


def test_escalation_falls_back_to_the_city_supervisors_when_the_county_has_none(announced, region_tree, django_capture_on_commit_callbacks):
    from regions.models import Role

    from .factories import StaffProfileFactory, UserFactory

    city_supervisor = StaffProfileFactory(user=UserFactory(username="city-sup"), role=Role.SUPERVISOR, jurisdiction=region_tree.city).user
    run(day(161), django_capture_on_commit_callbacks)
    assert list(Notification.objects.filter(purpose="escalation").values_list("recipient", flat=True)) == [city_supervisor.pk]


# --- The job itself ----------------------------------------------------------------------------------------------


def test_the_check_uses_the_local_day_by_default(enterprise, officers, django_capture_on_commit_callbacks):
    task = staffed_task(enterprise=enterprise, officers=officers, due_date=DAY0)
    with time_machine.travel(dt.datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI), tick=False):
        assert daily_check()["tasks_overdue"] == 0
    with time_machine.travel(dt.datetime(2026, 11, 27, 1, 30, tzinfo=SHANGHAI), tick=False):  # 17:30 UTC the day before
        assert daily_check()["tasks_overdue"] == 1
    task.refresh_from_db()
    assert task.overdue_flagged_on == day(1)


def test_the_celery_task_runs_the_check(enterprise, officers, django_capture_on_commit_callbacks, english):
    staffed_task(enterprise=enterprise, officers=officers, due_date=DAY0)
    with django_capture_on_commit_callbacks(execute=True):
        summary = daily_check_task.delay(day(1).isoformat()).get()
    assert summary["tasks_overdue"] == 1 and "1 tasks overdue" in summary["message"]


def test_the_beat_schedule_runs_the_check_at_01_30_shanghai_time():
    periodic = PeriodicTask.objects.get(name="inspections: daily overdue check")
    assert periodic.task == daily_check_task.name == "inspections.tasks.daily_check"
    assert (periodic.crontab.minute, periodic.crontab.hour, str(periodic.crontab.timezone)) == ("30", "1", "Asia/Shanghai")
    assert periodic.enabled


def test_many_overdue_tasks_take_a_bounded_number_of_queries(town, officers, django_assert_max_num_queries):
    product = ProductFactory()
    for _ in range(30):
        staffed_task(enterprise=EnterpriseFactory(town=town), officers=officers, product=product, due_date=DAY0)
    with django_assert_max_num_queries(15):
        summary = daily_check(today=day(1))
    assert (summary["tasks_overdue"], summary["reminders"]) == (30, 60)


def test_overdue_events_stored_before_lose_the_kind_label_in_front_of_their_description(enterprise):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("enterprises.migrations.0006_overdue_event_description_as_data")
    kinds_and_texts = [
        (RiskEventKind.OVERDUE_RECTIFICATION, "逾期未整改: ZG-2026-0001 · 童装"),
        (RiskEventKind.OVERDUE_RECTIFICATION, "rectification overdue: ZG-2026-0002 · 童装"),
        (RiskEventKind.NONCONFORMING_SPOT_CHECK, "逾期未整改: 不是此类事件"),
    ]
    events = [
        RiskEvent.objects.create(enterprise=enterprise, kind=kind, occurred_on=day(1), source_ref=f"ref-{n}", description=text)
        for n, (kind, text) in enumerate(kinds_and_texts)
    ]
    migration.drop_label_prefix(apps, None)
    assert [RiskEvent.objects.get(pk=event.pk).description for event in events] == [
        "ZG-2026-0001 · 童装",
        "ZG-2026-0002 · 童装",
        "逾期未整改: 不是此类事件",
    ]
