"""Rectification orders (SAMR Order 18, chapter 6): every state, deadline and transition of an order, in one place.

    RECTIFYING ──conforming re-inspection──────────────────────────────→ CLOSED
        │ failed re-inspection
        ↓
    ANNOUNCED ──conforming second re-inspection────────────────────────→ CLOSED
        │ failed second re-inspection, or no second result by its deadline (daily job)
        ↓
    ESCALATED (suspension for rectification; licence revocation is decided outside the system)

- ``order_open``: a non-conforming spot-check result orders the enterprise to stop producing and selling the
  product at once and to rectify within 60 days; the bureau re-inspects within 75 days (the re-inspection
  task is created at once, staffed by the two officers of the check); an objection may be filed within
  15 days of the result.
- ``reinspection_recorded``: the re-inspection's result moves the order on (table above). A failed
  re-inspection is reported for public announcement and a second re-inspection follows 60–90 days after the
  announcement.
- ``objection_record``: accepted until the 15th day inclusive; it never pauses the order.
- The clock-driven transitions (overdue flags, reminders, escalation when the second window closes without a
  result) are the daily job's, in ``daily.py``; they use the helpers below.

The day counts are statutory (Order 18), not bureau defaults, so they are constants here, not rule rows. Every
date is an argument (default: today in the bureau's time zone), so the rules are tested with a frozen clock.
Stored texts (order text, task reasons, risk events, notifications) are written in the site language.
"""

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.queue import queue_each_on_commit
from common.signals import enterprise_outcome_recorded
from enterprises.models import RiskEvent, RiskEventKind
from regions.models import Region, Role, StaffProfile

from ..models import (
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
    task_reason,
    task_reason_text,
)
from ..notifications import channel_for
from ..planning.assignment import OFFICERS_PER_TASK
from ..planning.services import task_notifications

RECTIFY_DAYS = 60  # the enterprise rectifies within 60 days of the order
REINSPECT_DAYS = 75  # the bureau re-inspects within 75 days of the order
OBJECTION_DAYS = 15  # the enterprise may object within 15 days of receiving the result
SECOND_REINSPECT_FROM_DAYS = 60  # the second re-inspection: 60 …
SECOND_REINSPECT_BY_DAYS = 90  # … to 90 days after the announcement

SECOND_REINSPECTION_FAILED = gettext_lazy("The second re-inspection failed")
SECOND_REINSPECTION_MISSED = gettext_lazy("No second re-inspection result by the end of its window")


def _days(day: dt.date, n: int) -> dt.date:
    return day + dt.timedelta(days=n)


def order_number(result: CheckResult, on: dt.date) -> str:
    """ZG-<order date>-<result id, 6 digits>: unique because an order has exactly one result."""
    return f"ZG-{on:%Y%m%d}-{result.pk:06d}"


def order_text(order: RectificationOrder) -> str:
    """The order as the enterprise receives it: stop at once, rectify, re-inspection, objection."""
    return _(
        "Rectification order %(number)s: stop producing and selling %(product)s at once. Rectify within %(rectify_days)d days, "
        "by %(rectify_by)s; the bureau re-inspects by %(reinspect_by)s. An objection may be filed until %(objection_by)s; "
        "it does not pause this order."
    ) % {
        "number": order.number,
        "product": order.product.name,
        "rectify_days": RECTIFY_DAYS,
        "rectify_by": order.rectify_by.isoformat(),
        "reinspect_by": order.reinspect_by.isoformat(),
        "objection_by": order.objection_by.isoformat(),
    }


# --- Transitions ---------------------------------------------------------------------------------------------


@transaction.atomic
def order_open(*, result: CheckResult, on: dt.date | None = None) -> RectificationOrder:
    """SAMR Order 18: a non-conforming spot-check result orders the enterprise to stop producing and selling the
    product at once (status RECTIFYING) and to rectify within 60 days; the bureau re-inspects within 75 days —
    a re-inspection task due on that day goes to the two officers of the check, who are notified; an objection
    may be filed within 15 days. One order per result: a second call returns the first order.
    """
    on = on or timezone.localdate()
    result = CheckResult.objects.select_for_update(of=("self",)).select_related("task__enterprise", "task__product").get(pk=result.pk)
    existing = RectificationOrder.objects.filter(result=result).first()
    if existing is not None:
        return existing
    task = result.task
    if result.conclusion != Conclusion.NONCONFORMING:
        raise ValidationError(_("Only a non-conforming result opens a rectification order."))
    if task.kind != TaskKind.SPOT_CHECK:
        raise ValidationError(_("A re-inspection result opens no new order: it is recorded on its own order."))
    product = task.product or (result.spot_check.product if result.spot_check_id else None)
    if product is None:
        raise ValidationError(_("The checked task names no product: an order must say which product to stop."))
    order = RectificationOrder.objects.create(
        number=order_number(result, on),
        enterprise=task.enterprise,
        product=product,
        result=result,
        status=OrderStatus.RECTIFYING,
        ordered_on=on,
        rectify_by=_days(on, RECTIFY_DAYS),
        reinspect_by=_days(on, REINSPECT_DAYS),
        objection_by=_days(on, OBJECTION_DAYS),
    )
    reason = task_reason("reinspection", number=order.number, result=result.number, day=order.reinspect_by.isoformat())
    _reinspection_task_create(order=order, staffed_like=task, due_date=order.reinspect_by, reason=reason)
    return order


@transaction.atomic
def reinspection_recorded(*, result: CheckResult, on: dt.date | None = None) -> RectificationOrder:
    """SAMR Order 18: the re-inspection decides the order. Conforming → CLOSED. Failed first re-inspection →
    ANNOUNCED (reported for public announcement on ``on``), a failed-re-inspection risk event, and a second
    re-inspection 60–90 days after the announcement (task due on the 90th day, same officers). Failed second
    re-inspection → ESCALATED for suspension, a risk event, the county's supervisors notified.

    Refused: a result on a closed or escalated order; a result of a re-inspection that is not the order's
    current one; a second re-inspection checked before the 60th day after the announcement.
    """
    on = on or timezone.localdate()
    task = result.task
    if task.kind != TaskKind.REINSPECTION or task.order_id is None:
        raise ValidationError(_("This result is not a re-inspection of a rectification order."))
    order = RectificationOrder.objects.select_for_update().get(pk=task.order_id)
    if order.status == OrderStatus.CLOSED:
        raise ValidationError(
            _("Rectification order %(number)s was closed on %(day)s: no further re-inspection result can be recorded on it.")
            % {"number": order.number, "day": order.closed_on.isoformat()}
        )
    if order.status == OrderStatus.ESCALATED:
        raise ValidationError(
            _(
                "Rectification order %(number)s was escalated for suspension on %(day)s: "
                "no further re-inspection result can be recorded on it."
            )
            % {"number": order.number, "day": order.escalated_on.isoformat()}
        )
    current = order.reinspection_tasks.order_by("-id").values_list("id", flat=True).first()
    if task.pk != current:
        raise ValidationError(_("This re-inspection of order %(number)s has been superseded by a later one.") % {"number": order.number})
    first = order.status == OrderStatus.RECTIFYING
    if not first and result.checked_on < order.second_reinspect_from:
        raise ValidationError(
            _("The second re-inspection of order %(number)s may take place from %(day)s (60 days after the announcement).")
            % {"number": order.number, "day": order.second_reinspect_from.isoformat()}
        )
    if result.conclusion == Conclusion.CONFORMING:
        order.status, order.closed_on = OrderStatus.CLOSED, on
        order.save(update_fields=["status", "closed_on"])
    elif first:
        _announce(order=order, task=task, on=on)
    else:
        order_escalate(order=order, on=on, why=SECOND_REINSPECTION_FAILED)
        _risk_event(order=order, kind=RiskEventKind.FAILED_REINSPECTION, source_ref=f"二次复查 {order.number}", on=on)
    return order


@transaction.atomic
def objection_record(*, order: RectificationOrder, text: str, filed_on: dt.date | None = None) -> RectificationOrder:
    """SAMR Order 18: the enterprise may object within 15 days of receiving the result (until ``objection_by``
    inclusive). The objection is recorded once; it does not pause the order — no deadline moves.
    """
    filed_on = filed_on or timezone.localdate()
    order = RectificationOrder.objects.select_for_update().get(pk=order.pk)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the objection.")})
    if order.objection_filed_on is not None:
        if order.objection_text == text:
            return order  # the same objection sent twice
        raise ValidationError(_("An objection was already recorded on %(day)s.") % {"day": order.objection_filed_on.isoformat()})
    if filed_on > order.objection_by:
        raise ValidationError(
            _("The objection period of order %(number)s ended on %(day)s (15 days after the result); it can no longer be recorded.")
            % {"number": order.number, "day": order.objection_by.isoformat()}
        )
    order.objection_filed_on, order.objection_text = filed_on, text
    order.save(update_fields=["objection_filed_on", "objection_text"])
    return order


def order_escalate(*, order: RectificationOrder, on: dt.date, why) -> None:
    """ESCALATED (suspension for rectification): open re-inspections of the order are cancelled — no result can
    be recorded on an escalated order — and the supervisors of the enterprise's county are notified.
    Called inside the caller's transaction, on a locked order."""
    order.status, order.escalated_on = OrderStatus.ESCALATED, on
    order.save(update_fields=["status", "escalated_on"])
    order.reinspection_tasks.filter(status__in=[TaskStatus.ASSIGNED, TaskStatus.UNSTAFFED]).update(status=TaskStatus.CANCELLED)
    supervisors_notify(orders=[order], why=why)


def _announce(*, order: RectificationOrder, task: InspectionTask, on: dt.date) -> None:
    order.status, order.announced_on = OrderStatus.ANNOUNCED, on
    order.second_reinspect_from = _days(on, SECOND_REINSPECT_FROM_DAYS)
    order.second_reinspect_by = _days(on, SECOND_REINSPECT_BY_DAYS)
    order.save(update_fields=["status", "announced_on", "second_reinspect_from", "second_reinspect_by"])
    _risk_event(order=order, kind=RiskEventKind.FAILED_REINSPECTION, source_ref=f"复查 {order.number}", on=on)
    reason = task_reason(
        "second_reinspection", number=order.number, start=order.second_reinspect_from.isoformat(), end=order.second_reinspect_by.isoformat()
    )
    _reinspection_task_create(order=order, staffed_like=task, due_date=order.second_reinspect_by, reason=reason)


# --- Helpers shared with the daily job -----------------------------------------------------------------------


def _risk_event(*, order: RectificationOrder, kind: str, source_ref: str, on: dt.date) -> None:
    """One risk event per order and step (unique source reference); the enterprise is re-classed on commit."""
    with translation.override(settings.LANGUAGE_CODE):
        description = f"{RiskEventKind(kind).label}: {order.number} · {order.product.name}"
    RiskEvent.objects.get_or_create(
        enterprise_id=order.enterprise_id,
        kind=kind,
        source_ref=source_ref,
        defaults={"occurred_on": on, "product_id": order.product_id, "description": description[:500], "is_demo": order.enterprise.is_demo},
    )
    enterprise_outcome_recorded.send(sender=RectificationOrder, enterprise_id=order.enterprise_id)


def _site_text(render, *args) -> str:
    """A stored text in the site language, whatever the caller's."""
    with translation.override(settings.LANGUAGE_CODE):
        return render(*args)


def _reinspection_task_create(
    *, order: RectificationOrder, staffed_like: InspectionTask, due_date: dt.date, reason: dict
) -> InspectionTask:
    """A re-inspection task outside any plan, staffed by the officers of ``staffed_like``, each notified."""
    officers = list(staffed_like.assignments.values_list("officer_id", "position"))
    task = InspectionTask.objects.create(
        plan=None,
        enterprise_id=order.enterprise_id,
        product_id=order.product_id,
        kind=TaskKind.REINSPECTION,
        arm=DrawArm.FOLLOW_UP,
        reason=_site_text(task_reason_text, reason)[:300],
        reason_params=reason,
        due_date=due_date,
        order=order,
        status=TaskStatus.ASSIGNED if len(officers) >= OFFICERS_PER_TASK else TaskStatus.UNSTAFFED,
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer_id=officer_id, position=pos) for officer_id, pos in officers])
    if task.status == TaskStatus.ASSIGNED:
        _reinspection_notify(task=task, order=order)
    return task


def _reinspection_notify(*, task: InspectionTask, order: RectificationOrder) -> None:
    related = InspectionTask.objects.select_related("enterprise__town__parent", "product").prefetch_related("assignments__officer")
    task = related.get(pk=task.pk)
    with translation.override(settings.LANGUAGE_CODE):
        notifications = task_notifications([task])
        text = order_text(order)
    for notification in notifications:
        notification.dedupe_key = f"reinspection:{task.pk}:{notification.recipient_id}"
        notification.body = f"{notification.body}\n{text}"
    notifications_queue(notifications)


def notifications_queue(notifications: Iterable[Notification]) -> int:
    """Write notifications once (their once-only keys are unique) and queue the new ones after commit; returns how
    many were new. An existing row is never queued again: its own sending task (with retries) owns it."""
    by_key = {notification.dedupe_key: notification for notification in notifications}
    existing = set(Notification.objects.filter(dedupe_key__in=by_key).values_list("dedupe_key", flat=True))
    new_keys = [key for key in by_key if key not in existing]
    Notification.objects.bulk_create([by_key[key] for key in new_keys], ignore_conflicts=True)
    pending = list(Notification.objects.filter(dedupe_key__in=new_keys, status=NotificationStatus.PENDING).values_list("id", flat=True))

    queue_each_on_commit("inspections.tasks.send_notification", [(notification_id,) for notification_id in pending])
    return len(pending)


def supervisors_of(county_ids: Iterable[int]) -> dict[int, list[int]]:
    """The active supervisors of each county; a county with none falls back to those of its city (two queries)."""
    county_ids = set(county_ids)
    parent = dict(Region.objects.filter(id__in=county_ids).values_list("id", "parent_id"))
    by_region: dict[int, list[int]] = {}
    rows = StaffProfile.objects.filter(
        role=Role.SUPERVISOR, user__is_active=True, jurisdiction_id__in=county_ids | {p for p in parent.values() if p}
    ).order_by("user_id")
    for region_id, user_id in rows.values_list("jurisdiction_id", "user_id"):
        by_region.setdefault(region_id, []).append(user_id)
    return {county: by_region.get(county) or by_region.get(parent.get(county), []) for county in county_ids}


def supervisors_notify(*, orders: list[RectificationOrder], why) -> int:
    """Tell the supervisors of each order's county that the order is escalated for suspension (once per order)."""
    orders = list(orders)
    counties = {order.pk: order.enterprise.town.parent_id for order in orders}
    supervisors = supervisors_of(counties.values())
    task_of = dict(
        InspectionTask.objects.filter(order__in=orders).order_by("order_id", "id").values_list("order_id", "id")
    )  # the latest task wins: the notification is filed under the order's last re-inspection
    notifications = []
    channels: dict[int, str] = {}
    with translation.override(settings.LANGUAGE_CODE):
        for order in orders:
            town = order.enterprise.town
            if town.pk not in channels:
                channels[town.pk] = channel_for(town)
            channel = channels[town.pk]
            title = _("Rectification order %(number)s escalated: %(enterprise)s") % {
                "number": order.number,
                "enterprise": order.enterprise.name,
            }
            body = _("%(why)s. Decide on suspension for rectification of %(enterprise)s (%(product)s), order %(number)s.") % {
                "why": str(why),
                "enterprise": order.enterprise.name,
                "product": order.product.name,
                "number": order.number,
            }
            notifications += [
                Notification(
                    task_id=task_of.get(order.pk),
                    recipient_id=user_id,
                    channel=channel,
                    purpose="escalation",
                    dedupe_key=f"escalation:{order.pk}:{user_id}",
                    title=title[:200],
                    body=body,
                )
                for user_id in supervisors[counties[order.pk]]
            ]
    return notifications_queue(notifications)
