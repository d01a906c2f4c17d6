"""A broker that cannot be reached loses nothing: the write it followed stays and no page fails (common.queue
logs the call), and the beat's sweep (inspections.tasks.requeue_unqueued) queues the work again once it has
waited REQUEUE_AFTER_SECONDS — each plan dispatched once, each notification sent once, whatever the sweep repeats.
"""

import datetime as dt

import pytest
from celery import current_app
from django.contrib.messages import get_messages
from kombu.exceptions import OperationalError

from inspections.models import Notification, NotificationStatus, PlanStatus
from inspections.planning.services import plan_dispatch
from inspections.tasks import requeue_unqueued

from .test_plans import chief, fast_passwords, new_plan, officers, targets  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def broker_down(monkeypatch):
    """Every send of these tasks is refused as Celery refuses it when Redis does not answer."""
    refused = []

    def refuse(self, args=None, kwargs=None, **options):
        refused.append((self.name, args))
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for name in ("inspections.tasks.dispatch_plan", "inspections.tasks.send_notification"):
        monkeypatch.setattr(type(current_app.tasks[name]), "apply_async", refuse)
    return refused


@pytest.fixture
def approved_while_down(client, county, chief, officers, targets, django_capture_on_commit_callbacks, monkeypatch, broker_down):  # noqa: F811
    """A plan of six targets approved on the page while the broker refuses; then the broker is back."""
    plan = new_plan(county, chief)
    client.force_login(chief)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/plans/{plan.pk}/approve/", {"confirm": "dispatch"})
    monkeypatch.undo()
    return plan, answer, list(broker_down)


def test_approving_while_the_broker_is_down_answers_and_keeps_the_approval(approved_while_down):
    plan, answer, refused = approved_while_down
    assert answer.status_code == 302 and refused == [("inspections.tasks.dispatch_plan", (plan.pk,))]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED and not plan.tasks.exists()


def test_the_sweep_dispatches_a_plan_the_broker_missed_once_it_has_waited(client, approved_while_down, targets, clock, settings):  # noqa: F811
    plan, _answer, _refused = approved_while_down
    assert requeue_unqueued() == {"plans": 0, "notifications": 0}  # just approved: its dispatch may be on its way
    assert 'data-testid="dispatch-waiting"' not in client.get(f"/plans/{plan.pk}/").content.decode()

    clock.shift(dt.timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1))
    assert 'data-testid="dispatch-waiting"' in client.get(f"/plans/{plan.pk}/").content.decode()  # the supervisor is told
    assert requeue_unqueued()["plans"] == 1
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED and plan.tasks.count() == len(targets)
    sent = Notification.objects.filter(task__plan=plan)
    assert sent.count() == 2 * len(targets) and set(sent.values_list("status", "attempts")) == {(NotificationStatus.SENT, 1)}

    clock.shift(dt.timedelta(hours=1))
    assert requeue_unqueued() == {"plans": 0, "notifications": 0}  # nothing twice
    assert plan.tasks.count() == len(targets) and set(sent.values_list("attempts", flat=True)) == {1}


def test_the_sweep_sends_notifications_left_pending_or_claimed_by_a_dead_worker_but_not_failed_ones(approved_while_down, clock, settings):
    plan, _answer, _refused = approved_while_down
    pending = plan_dispatch(plan_id=plan.pk)  # dispatched by hand: its notifications are made, none queued
    notifications = Notification.objects.filter(pk__in=pending).order_by("pk")
    dead, failed = notifications[0], notifications[1]
    # claimed by a worker at once, which died before it finished
    Notification.objects.filter(pk=dead.pk).update(status=NotificationStatus.SENDING, claimed_at=dead.created_at)
    Notification.objects.filter(pk=failed.pk).update(status=NotificationStatus.FAILED, attempts=5, last_error="DingTalk: 500")

    clock.shift(dt.timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1))
    assert requeue_unqueued() == {"plans": 0, "notifications": len(pending) - 1}
    assert Notification.objects.get(pk=failed.pk).status == NotificationStatus.FAILED  # left for a supervisor
    sent = notifications.exclude(pk=failed.pk)
    assert set(sent.values_list("status", flat=True)) == {NotificationStatus.SENT}
    assert requeue_unqueued() == {"plans": 0, "notifications": 0}


def test_the_sweep_is_on_the_beats_schedule():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="inspections.tasks.requeue_unqueued")
    assert task.enabled and (task.interval.every, task.interval.period) == (5, "minutes")


def test_a_supervisor_sends_the_failed_notifications_again_and_each_is_sent_once(
    client, approved_while_down, clock, settings, django_capture_on_commit_callbacks
):
    plan, _answer, _refused = approved_while_down
    clock.shift(dt.timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1))
    requeue_unqueued()
    notifications = Notification.objects.filter(task__plan=plan).order_by("pk")
    assert set(notifications.values_list("status", flat=True)) == {NotificationStatus.SENT}
    failed = list(notifications.values_list("pk", flat=True)[:2])
    Notification.objects.filter(pk__in=failed).update(status=NotificationStatus.FAILED, attempts=6, last_error="DingTalk: 60020")
    page = client.get(f"/plans/{plan.pk}/").content.decode()  # the approving supervisor, still logged in
    assert "DingTalk: 60020" in page and 'data-testid="resend-failed"' in page

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/plans/{plan.pk}/notifications/resend/")
    assert answer.status_code == 302
    assert [str(m) for m in get_messages(answer.wsgi_request)] == ["2 条失败的通知正在重新发送。"]  # the site language
    assert set(Notification.objects.filter(pk__in=failed).values_list("status", "attempts")) == {(NotificationStatus.SENT, 7)}
    assert set(notifications.exclude(pk__in=failed).values_list("attempts", flat=True)) == {1}  # the others untouched
    assert 'data-testid="resend-failed"' not in client.get(f"/plans/{plan.pk}/").content.decode()
