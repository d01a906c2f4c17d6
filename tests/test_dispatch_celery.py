"""A plan from approval to notifications delivered, on a real Celery worker over Redis sharing the PostgreSQL test
database: approving (in another process) queues the dispatch on commit; the worker draws, staffs and creates the
tasks, then sends one DingTalk message per officer and task to a local robot that verifies every signature.
"""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid

import pytest

from enterprises.models import Category
from inspections.models import Channel, Notification, NotificationSetting, NotificationStatus, PlanStatus, TaskAssignment, TaskStatus
from inspections.planning.selectors import plan_preview
from inspections.planning.services import plan_create
from regions.models import Role

from .factories import EnterpriseFactory, StaffProfileFactory, UserFactory
from .services import require_postgres, require_redis, shared_database_url
from .test_celery_integration import ROOT, start_worker, wait_until_ready
from .test_notifications import DingTalkRobot

pytestmark = [pytest.mark.services, pytest.mark.real_clock, pytest.mark.django_db(transaction=True)]

SECRET = "SECdispatch0123456789"
APPROVE = """
from django.contrib.auth import get_user_model
from inspections.models import InspectionPlan
from inspections.planning.services import plan_approve
plan_approve(plan=InspectionPlan.objects.get(pk={plan_id}), approved_by=get_user_model().objects.get(username="chief"))
print("approved")
"""


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def county_plan(region_tree, dingtalk_userids=("",) * 4):
    """A draft plan of county A drawing its five tightened enterprises, staffed from four officers (two per task:
    ten messages), made by its supervisor "chief" (whom APPROVE approves as)."""
    county = region_tree.county_a
    chief = StaffProfileFactory(user=UserFactory(username="chief"), role=Role.SUPERVISOR, jurisdiction=county).user
    for i, userid in enumerate(dingtalk_userids):
        StaffProfileFactory(user=UserFactory(username=f"officer{i}"), role=Role.INSPECTOR, jurisdiction=county, dingtalk_userid=userid)
    for _ in range(5):
        EnterpriseFactory(town=region_tree.town_a1, category=Category.TIGHTENED)
    return plan_create(
        name="2026 年度监督抽查",
        scope=county,
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        batch_budget=10,
        created_by=chief,
    )


def test_an_approved_plan_is_dispatched_by_a_worker_and_every_officer_gets_a_signed_message(region_tree, settings, tmp_path):
    require_postgres()
    broker = require_redis()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    county = region_tree.county_a
    plan = county_plan(region_tree)
    expected_messages = 2 * len(plan_preview(plan).staffing.officers)
    assert expected_messages == 10

    with DingTalkRobot(SECRET) as robot:
        NotificationSetting.objects.create(bureau=county, channel=Channel.DINGTALK, webhook_url=robot.url, secret=SECRET)
        queue = f"jqs-dispatch-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker can take these tasks
        env = {**os.environ, "DATABASE_URL": shared_database_url(), "CELERY_BROKER_URL": broker, "CELERY_TASK_DEFAULT_QUEUE": queue}
        log_path = tmp_path / "worker.log"
        worker = start_worker(env, log_path)
        try:
            wait_until_ready(log_path, worker)
            approve = subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", APPROVE.format(plan_id=plan.pk)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert approve.returncode == 0, approve.stderr
            assert "approved" in approve.stdout

            def all_sent() -> bool:
                sent = Notification.objects.filter(task__plan=plan, status=NotificationStatus.SENT).count()
                return len(robot.received) >= expected_messages and sent >= expected_messages

            delivered = wait_for(all_sent, seconds=90)
            time.sleep(1)  # anything sent twice would arrive now
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    log = log_path.read_text()
    assert delivered, f"received {len(robot.received)} of {expected_messages}; rejected {robot.rejected}\n{log}"
    assert robot.rejected == []
    assert len(robot.received) == expected_messages, "one message per officer and task, none twice"
    assert "inspections.tasks.dispatch_plan" in log and "inspections.tasks.send_notification" in log, "the worker did the work"

    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED
    assert plan.tasks.count() == 5
    assert set(plan.tasks.values_list("status", flat=True)) == {TaskStatus.ASSIGNED}
    notifications = Notification.objects.filter(task__plan=plan)
    assert sorted(notifications.values_list("task_id", "recipient_id")) == sorted(
        TaskAssignment.objects.filter(task__plan=plan).values_list("task_id", "officer_id")
    )
    assert {(n.channel, n.status, n.attempts) for n in notifications} == {(Channel.DINGTALK, NotificationStatus.SENT, 1)}
    titles = sorted(message["markdown"]["title"] for message in robot.received)
    assert titles == sorted(notifications.values_list("title", flat=True))
