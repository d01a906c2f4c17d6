"""Celery tasks of the closed loop: thin, take ids, bounded retries with back-off."""

import datetime as dt

from celery import shared_task
from django.conf import settings

from .models import Channel, Notification, NotificationStatus
from .notifications import NotificationError, left_unqueued, notification_delivery_check, notification_send
from .planning.selectors import plans_awaiting_dispatch
from .planning.services import plan_dispatch
from .rectification.daily import daily_check as run_daily_check


@shared_task(time_limit=900, soft_time_limit=840, autoretry_for=(ConnectionError,), max_retries=3, retry_backoff=True)
def dispatch_plan(plan_id: int) -> dict:
    """Create the plan's tasks (once) and queue one notification task per officer and task."""
    pending = plan_dispatch(plan_id=plan_id)
    for notification_id in pending:
        send_notification.delay(notification_id)
    return {"plan": plan_id, "notifications_queued": len(pending)}


@shared_task(bind=True, time_limit=60, soft_time_limit=50, max_retries=5)
def send_notification(self, notification_id: int) -> str:
    """Send one notification; on failure retry after 30 s, 60 s, 120 s … (at most 30 min), five times.

    The failure is recorded on the notification row each time, so the supervisor sees it. Run eagerly
    (no broker) there is no later to retry in: the failure is left recorded instead of breaking the caller.
    A permanent failure (no DingTalk userid, no app configured) is recorded and not retried. A work notification
    DingTalk accepted is checked for delivery DINGTALK_DELIVERY_CHECK_SECONDS later.
    """
    try:
        status = notification_send(notification_id=notification_id)
    except NotificationError as error:
        if self.request.is_eager or error.permanent:
            return "failed"
        raise self.retry(exc=error, countdown=min(1800, 30 * 2**self.request.retries)) from error
    delay = settings.DINGTALK_DELIVERY_CHECK_SECONDS
    if delay and Notification.objects.filter(pk=notification_id, channel=Channel.DINGTALK_APP, status=NotificationStatus.SENT).exists():
        check_notification_delivery.apply_async((notification_id,), countdown=delay)
    return status


@shared_task(bind=True, time_limit=60, soft_time_limit=50, max_retries=3)
def check_notification_delivery(self, notification_id: int) -> str:
    """Ask DingTalk whether a work notification reached its officer (notifications.notification_delivery_check);
    DingTalk unreachable: retried after 60 s, 120 s, 240 s, then left as sent (DingTalk keeps results 24 hours)."""
    try:
        return notification_delivery_check(notification_id=notification_id)
    except NotificationError as error:
        if self.request.is_eager:
            return NotificationStatus.SENT
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(name="inspections.tasks.daily_check", time_limit=1800, soft_time_limit=1700, max_retries=2, autoretry_for=(ConnectionError,))
def daily_check(today: str | None = None) -> dict:
    """The daily beat job: flag overdue tasks and rectifications, remind, escalate (idempotent; inspections.daily)."""
    return run_daily_check(today=dt.date.fromisoformat(today) if today else None)


@shared_task(name="inspections.tasks.requeue_unqueued", time_limit=300, soft_time_limit=280)
def requeue_unqueued() -> dict:
    """The beat's sweep, every few minutes: queue again the dispatches and notifications whose message never
    reached a worker (the broker was down when they were queued: common.queue logs and leaves them) or was lost
    with a dead worker. Both tasks are idempotent: a plan is dispatched once, a notification sent once."""
    older_than = dt.timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    plans = plans_awaiting_dispatch(older_than=older_than)
    for plan_id in plans:
        dispatch_plan.delay(plan_id)
    notifications = list(left_unqueued(older_than=older_than).order_by("pk").values_list("pk", flat=True)[:2000])
    for notification_id in notifications:
        send_notification.delay(notification_id)
    return {"plans": len(plans), "notifications": len(notifications)}
