"""The daily check (a django-celery-beat job, 01:30 Asia/Shanghai): flag what is overdue, remind, escalate.

Every rule below acts on what has become due since the last run and marks what it acted on, so running it
twice on the same day — or again after a crash — changes nothing. A deadline is met on its own day: the
check runs on the day after (``deadline < today``).

What "overdue" means, and why:

1. **A task** (a plan's spot check or an order's re-inspection) still assigned without a result after its
   due date is overdue: flagged once (``overdue_flagged_on``), each of its officers reminded once.
2. **A rectification** is overdue — a risk event that keeps the enterprise a risk enterprise for the risk
   window — when the re-inspection has not confirmed it by the end of the re-inspection window: the order is
   still RECTIFYING the day after ``reinspect_by`` (day 76) with no re-inspection result. Not the day after
   ``rectify_by`` (day 61): the enterprise has rectified by day 60 as far as anyone knows until the bureau
   re-inspects, which it may do until day 75 (Order 18 gives the bureau 15 days after the rectification
   period), and the system records no rectification report from the enterprise that could show earlier
   that the enterprise missed its own deadline. So:
   - a re-inspection that passes — even after day 60 — closes the order; it is never overdue;
   - a re-inspection that fails is a failed re-inspection (its own risk event), not also an overdue one;
   - no re-inspection by day 75: the rectification was not shown within the legal window — flagged once
     (``overdue_flagged_on``) with one OVERDUE_RECTIFICATION event "逾期 <order number>", dated the day after
     ``rectify_by`` (when the rectification fell due, whatever day the job ran). A conforming re-inspection
     that still comes later closes the order; the flag and the event stay, as history.
   The overdue re-inspection task itself is flagged and its officers reminded by rule 1 on the same day.
3. **A second re-inspection window** that closes (the day after ``second_reinspect_by``) on an order still
   ANNOUNCED — no second result — escalates the order for suspension (ESCALATED), cancels the open
   re-inspection (an escalated order takes no more results) and notifies the county's supervisors. It runs
   first, so a cancelled re-inspection is not also reminded about.

Enterprises that got a new risk event are re-classed (and their regions re-coloured) after commit. Every row the
job changes or creates gets a history row (no user: the system; the rule as the reason), written in bulk.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history

from common.signals import enterprise_outcome_recorded
from enterprises.models import RiskEvent, RiskEventKind

from ..models import CheckResult, InspectionTask, Notification, OrderStatus, RectificationOrder, TaskAssignment, TaskStatus
from ..notifications import channel_for
from .services import SECOND_REINSPECTION_MISSED, notifications_queue, supervisors_notify

OVERDUE_PREFIX = "逾期 "
# The change reasons of the history rows the job writes, one per rule.
ESCALATED_REASON = gettext_lazy("daily job: second re-inspection window missed, escalated for suspension")
CANCELLED_REASON = gettext_lazy("daily job: order escalated, re-inspection cancelled")
ORDER_OVERDUE_REASON = gettext_lazy("daily job: rectification overdue, flagged")
TASK_OVERDUE_REASON = gettext_lazy("daily job: task overdue, flagged")


def _in_site_language(reason) -> str:
    """A stored text is in the site language, whatever the caller's."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(reason)


def _update_with_history(objects: list, reason, **values) -> None:
    """Set ``values`` on these loaded (and locked) rows with one UPDATE, then write their history rows in one
    INSERT: a queryset update alone bypasses simple-history's signals. No user: the job runs outside any request."""
    model = type(objects[0])
    model._default_manager.filter(pk__in=[obj.pk for obj in objects]).update(**values)
    for obj in objects:
        for name, value in values.items():
            setattr(obj, name, value)
    model.history.bulk_history_create(objects, update=True, default_change_reason=_in_site_language(reason))


@transaction.atomic
def daily_check(*, today: dt.date | None = None) -> dict:
    """The daily overdue check, by the rules in the module docstring. Idempotent; returns counts and a message."""
    today = today or timezone.localdate()
    escalated = orders_escalate_missed_second_reinspection(today=today)
    overdue_orders = orders_flag_overdue(today=today)
    overdue_tasks, reminders = tasks_flag_overdue(today=today)
    return {
        "day": today.isoformat(),
        "orders_escalated": escalated,
        "orders_overdue": overdue_orders,
        "tasks_overdue": overdue_tasks,
        "reminders": reminders,
        "message": _(
            "%(day)s: %(escalated)d orders escalated, %(orders)d rectifications overdue, %(tasks)d tasks overdue (%(reminders)d reminders)"
        )
        % {"day": today, "escalated": escalated, "orders": overdue_orders, "tasks": overdue_tasks, "reminders": reminders},
    }


def orders_escalate_missed_second_reinspection(*, today: dt.date) -> int:
    """Rule 3: an ANNOUNCED order past ``second_reinspect_by`` is escalated (an announced order has no second
    result: recording one moves it on). A few statements plus the supervisors' notifications."""
    due = RectificationOrder.objects.filter(status=OrderStatus.ANNOUNCED, second_reinspect_by__lt=today)
    orders = list(due.select_for_update(of=("self",)).select_related("enterprise__town", "product"))
    if not orders:
        return 0
    _update_with_history(orders, ESCALATED_REASON, status=OrderStatus.ESCALATED, escalated_on=today)
    open_tasks = InspectionTask.objects.filter(order__in=orders, status__in=[TaskStatus.ASSIGNED, TaskStatus.UNSTAFFED])
    tasks = list(open_tasks.select_for_update())
    if tasks:
        _update_with_history(tasks, CANCELLED_REASON, status=TaskStatus.CANCELLED)
    supervisors_notify(orders=orders, why=SECOND_REINSPECTION_MISSED)
    return len(orders)


def orders_flag_overdue(*, today: dt.date) -> int:
    """Rule 2: RECTIFYING past ``reinspect_by`` with no re-inspection result → flagged once, one risk event."""
    reinspected = CheckResult.objects.filter(task__order=OuterRef("pk"))
    due = RectificationOrder.objects.filter(status=OrderStatus.RECTIFYING, reinspect_by__lt=today, overdue_flagged_on__isnull=True)
    orders = list(due.filter(~Exists(reinspected)).select_for_update(of=("self",)).select_related("enterprise", "product"))
    if not orders:
        return 0
    _update_with_history(orders, ORDER_OVERDUE_REASON, overdue_flagged_on=today)
    # The description is data only (order and product): the kind says "overdue" in each reader's language.
    events = [
        RiskEvent(
            enterprise_id=order.enterprise_id,
            kind=RiskEventKind.OVERDUE_RECTIFICATION,
            occurred_on=order.rectify_by + dt.timedelta(days=1),
            source_ref=f"{OVERDUE_PREFIX}{order.number}",
            product_id=order.product_id,
            description=f"{order.number} · {order.product.name}"[:500],
            is_demo=order.enterprise.is_demo,
        )
        for order in orders
    ]
    _events_create_with_history(events)
    for enterprise_id in sorted({order.enterprise_id for order in orders}):
        enterprise_outcome_recorded.send(sender=RectificationOrder, enterprise_id=enterprise_id)
    return len(orders)


def _events_create_with_history(events: list[RiskEvent]) -> None:
    """One event per order — (enterprise, kind, source ref) is unique —, each with its history row: an event
    already stored (say, imported) is left alone, as ``ignore_conflicts`` would, but only the new ones get one."""
    stored = set(
        RiskEvent.objects.filter(
            kind=RiskEventKind.OVERDUE_RECTIFICATION, source_ref__in=[event.source_ref for event in events]
        ).values_list("enterprise_id", "source_ref")
    )
    new = [event for event in events if (event.enterprise_id, event.source_ref) not in stored]
    if new:
        bulk_create_with_history(new, RiskEvent, default_change_reason=_in_site_language(ORDER_OVERDUE_REASON))


def tasks_flag_overdue(*, today: dt.date) -> tuple[int, int]:
    """Rule 1: assigned tasks past their due date without a result → flagged once, each officer reminded once.
    Returns (tasks flagged, reminders written)."""
    due = InspectionTask.objects.filter(status=TaskStatus.ASSIGNED, due_date__lt=today, overdue_flagged_on__isnull=True).filter(
        ~Exists(CheckResult.objects.filter(task=OuterRef("pk")))
    )
    tasks = list(due.select_for_update(of=("self",)).select_related("enterprise__town", "product"))
    if not tasks:
        return 0, 0
    _update_with_history(tasks, TASK_OVERDUE_REASON, overdue_flagged_on=today)
    officers: dict[int, list[int]] = {}
    for task_id, officer_id in (
        TaskAssignment.objects.filter(task__in=tasks).order_by("task_id", "position").values_list("task_id", "officer_id")
    ):
        officers.setdefault(task_id, []).append(officer_id)
    channels: dict[int, str] = {}
    notifications = []
    with translation.override(settings.LANGUAGE_CODE):
        for task in tasks:
            town = task.enterprise.town
            if town.pk not in channels:
                channels[town.pk] = channel_for(town)
            title = _("Overdue %(kind)s task: %(enterprise)s") % {"kind": task.get_kind_display(), "enterprise": task.enterprise.name}
            body = _("The %(kind)s of %(enterprise)s (%(town)s), product %(product)s, was due on %(due)s and has no result yet.") % {
                "kind": task.get_kind_display(),
                "enterprise": task.enterprise.name,
                "town": town.name,
                "product": task.product.name if task.product else "—",
                "due": task.due_date.isoformat(),
            }
            notifications += [
                Notification(
                    task=task,
                    recipient_id=officer_id,
                    channel=channels[town.pk],
                    purpose="reminder",
                    dedupe_key=f"reminder:{task.pk}:{officer_id}",
                    title=title[:200],
                    body=body,
                )
                for officer_id in officers.get(task.pk, [])
            ]
    return len(tasks), notifications_queue(notifications)
