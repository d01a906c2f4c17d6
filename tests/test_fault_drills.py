"""Fault drill: Redis stopped while a supervisor approves a plan, then started again (empty, as this deployment's
Redis keeps nothing on disk). The approval answers and stays; the dispatch it queued never reached the broker; the
beat's sweep queues it again once Redis answers, and a real worker dispatches the plan and sends every officer's
message exactly once — however often the sweep runs. Then Redis is stopped again while an inspector submits a
non-conforming check, twice (the phone's outbox sends again when it hears nothing): one result, its re-inspection
task made, and the re-inspection's messages sent once Redis is back. Real processes: a Redis of this test's own
(the shared one is not stopped), a Celery worker and the approving and submitting processes, on the PostgreSQL
test database.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from enterprises.models import Enterprise
from inspections.models import Channel, Notification, NotificationSetting, NotificationStatus, PlanStatus

from .factories import EnterpriseProductFactory, ProductFactory
from .services import _unavailable, require_postgres, shared_database_url
from .test_celery_integration import ROOT, start_worker, wait_until_ready
from .test_dispatch_celery import APPROVE, county_plan, wait_for
from .test_notifications import DingTalkRobot

pytestmark = [pytest.mark.services, pytest.mark.real_clock, pytest.mark.django_db(transaction=True)]

SECRET = "SECdrill0123456789"
SUBMIT = """
import uuid
from django.utils import timezone
from inspections.fieldwork.services import check_result_submit
from inspections.models import CheckResult, InspectionTask
task = InspectionTask.objects.filter(plan_id={plan_id}).order_by("pk").first()
first, second = (a.officer for a in task.assignments.order_by("position"))
for attempt in range(2):
    result, created = check_result_submit(
        task=task, submitted_by=first, co_inspector=second, submission_key=uuid.UUID("{key}"), conclusion="nonconforming",
        items=[], note="标签缺失", checked_on=timezone.localdate(), lat=30.75, lon=120.75, accuracy=8, position_source="gps",
    )
    print("stored", result.number, created)
print("results", CheckResult.objects.filter(task=task).count())
"""
SWEEP = """
from inspections.tasks import requeue_unqueued
print("swept", requeue_unqueued.delay().get(timeout=60))
"""


class OwnRedis:
    """A redis-server on a free port of loopback, stopped and started again on the same port."""

    def __init__(self, log):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log, self.process = log, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.1)
        pytest.fail(f"redis-server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def manage_shell(env: dict, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_redis_stopped_while_a_plan_is_approved_loses_nothing_and_sends_nothing_twice(region_tree, settings, tmp_path):
    require_postgres()
    if not any(os.access(os.path.join(path, "redis-server"), os.X_OK) for path in os.environ["PATH"].split(os.pathsep)):
        _unavailable("needs redis-server")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    county = region_tree.county_a
    plan = county_plan(region_tree)
    for enterprise in Enterprise.objects.filter(town=region_tree.town_a1):
        EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory())  # a task checks a product
    redis = OwnRedis(tmp_path / "redis.log")
    redis.start()
    with DingTalkRobot(SECRET) as robot:
        NotificationSetting.objects.create(bureau=county, channel=Channel.DINGTALK, webhook_url=robot.url, secret=SECRET)
        env = {
            **os.environ,
            "DATABASE_URL": shared_database_url(),
            "CELERY_BROKER_URL": redis.url,
            "CELERY_TASK_DEFAULT_QUEUE": f"jqs-drill-{uuid.uuid4().hex[:8]}",
            "REQUEUE_AFTER_SECONDS": "0",  # the sweep takes what it finds at once (its wait is tested in test_requeue)
        }
        log_path = tmp_path / "worker.log"
        worker = start_worker(env, log_path)
        try:
            wait_until_ready(log_path, worker)
            redis.stop()
            approve = manage_shell(env, APPROVE.format(plan_id=plan.pk))
            assert approve.returncode == 0 and "approved" in approve.stdout, approve.stderr
            assert "left for the sweep" in approve.stderr  # logged, not raised
            plan.refresh_from_db()
            assert plan.status == PlanStatus.APPROVED and not plan.tasks.exists()

            redis.start()  # empty: the dispatch message is gone for good, only the plan's state tells
            swept = manage_shell(env, SWEEP)
            assert swept.returncode == 0, swept.stderr + log_path.read_text()[-3000:]
            assert "'plans': 1" in swept.stdout, swept.stdout

            def all_sent() -> bool:
                sent = Notification.objects.filter(task__plan=plan, status=NotificationStatus.SENT).count()
                return sent == 10 and len(robot.received) >= 10

            delivered = wait_for(all_sent, seconds=90)
            again = manage_shell(env, SWEEP)  # the next sweeps find nothing left
            assert "{'plans': 0, 'notifications': 0}" in again.stdout, again.stdout + again.stderr
            assert delivered, f"received {len(robot.received)} of 10\n{log_path.read_text()[-4000:]}"

            redis.stop()
            submitted = manage_shell(env, SUBMIT.format(plan_id=plan.pk, key=uuid.uuid4()))
            assert submitted.returncode == 0, submitted.stderr
            stored = [line for line in submitted.stdout.splitlines() if line.startswith(("stored", "results"))]
            assert [line.split()[-1] for line in stored[:2]] == ["True", "False"] and stored[2] == "results 1", stored
            redis.start()
            swept = manage_shell(env, SWEEP)
            assert "'notifications': 2" in swept.stdout, swept.stdout + swept.stderr  # the re-inspection's two officers
            reinspected = wait_for(lambda: len(robot.received) >= 12, seconds=60)
            time.sleep(1)  # anything sent twice would arrive now
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            with contextlib.suppress(Exception):
                redis.stop()

    assert reinspected, f"received {len(robot.received)} of 12\n{log_path.read_text()[-4000:]}"
    assert len(robot.received) == 12 and robot.rejected == [], "one message per officer and task, none twice"
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED and plan.tasks.count() == 5
    assert set(Notification.objects.filter(task__plan=plan).values_list("attempts", flat=True)) == {1}
