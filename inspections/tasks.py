"""Celery tasks of the closed loop: thin, take ids, bounded retries with back-off."""

import datetime as dt

from celery import shared_task

from .notifications import NotificationError, notification_send
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
    """
    try:
        return notification_send(notification_id=notification_id)
    except NotificationError as error:
        if self.request.is_eager:
            return "failed"
        raise self.retry(exc=error, countdown=min(1800, 30 * 2**self.request.retries)) from error


@shared_task(name="inspections.tasks.daily_check", time_limit=1800, soft_time_limit=1700, max_retries=2, autoretry_for=(ConnectionError,))
def daily_check(today: str | None = None) -> dict:
    """The daily beat job: flag overdue tasks and rectifications, remind, escalate (idempotent; inspections.daily)."""
    return run_daily_check(today=dt.date.fromisoformat(today) if today else None)
