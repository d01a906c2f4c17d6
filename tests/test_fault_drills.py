"""Fault drills.

Redis stopped while a supervisor approves a plan, then started again (empty, as this deployment's
Redis keeps nothing on disk). The approval answers and stays; the dispatch it queued never reached the broker; the
beat's sweep queues it again once Redis answers, and a real worker dispatches the plan and sends every officer's
message exactly once — however often the sweep runs. Then Redis is stopped again while an inspector submits a
non-conforming check, twice (the phone's outbox sends again when it hears nothing): one result, its re-inspection
task made, and the re-inspection's messages sent once Redis is back. Real processes: a Redis of this test's own
(the shared one is not stopped), a Celery worker and the approving and submitting processes, on the PostgreSQL
test database.

And PostgreSQL restarted, first between requests, then for two seconds while three phones send checks to gunicorn
(2 processes × 4 threads, a cluster of the test's own): no request fails after a quiet restart (connections are
health-checked before reuse), what fails in the outage is sent again by the phone until answered, and each check
is stored once with the confirmation it was first given.

And a worker killed (SIGKILL) while it sends a plan's messages: another worker and the sweep send the rest once the
dead worker's claim has lapsed; every officer's message arrives, none twice but possibly the one in flight.
"""

import contextlib
import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

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


# --- PostgreSQL restarted while inspectors submit checks ---------------------------------------------------------

TASKS = 24
SEED = """
import datetime as dt, json
from django.utils import timezone
from inspections.models import ChecklistItem, DrawArm, InspectionTask, TaskAssignment
from regions.models import Role
from tests.factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, TownFactory, UserFactory
town = TownFactory()
first, second = (
    StaffProfileFactory(user=UserFactory(username=name), role=Role.INSPECTOR, jurisdiction=town.parent).user
    for name in ("drill_first", "drill_second")
)
product = ProductFactory(name="皮革服装")
item = ChecklistItem.objects.create(product=product, order=1, text="标志标识")
tasks = []
for _ in range({tasks}):
    enterprise = EnterpriseFactory(town=town)
    EnterpriseProductFactory(enterprise=enterprise, product=product)
    task = InspectionTask.objects.create(
        enterprise=enterprise, product=product, arm=DrawArm.RISK, reason="drill", due_date=timezone.localdate() + dt.timedelta(days=10)
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=o, position=n) for n, o in enumerate((first, second), 1)])
    tasks.append(task.pk)
print(json.dumps({{"tasks": tasks, "item": item.pk, "partner": second.pk, "today": timezone.localdate().isoformat()}}))
"""


class OwnPostgres:
    """A PostgreSQL cluster of this test's own on a free loopback port (the suite's own database stays up)."""

    def __init__(self):
        self.binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.data = Path(tempfile.mkdtemp(prefix="jqs-drill-pg-"))  # not under pytest's root-only tmp_path
        shutil.chown(self.data, "postgres")
        self.port = free_port()
        self.pg_ctl = ("runuser", "-u", "postgres", "--", str(self.binaries / "pg_ctl"), "-D", str(self.data))

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> None:
        run("runuser", "-u", "postgres", "--", str(self.binaries / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run(*self.pg_ctl, "-o", options, "-l", str(self.data / "server.log"), "-w", "start")

    def stop(self) -> None:
        run(*self.pg_ctl, "-m", "fast", "-w", "stop", check=False)

    def remove(self) -> None:
        run(*self.pg_ctl, "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.data, ignore_errors=True)


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Phone:
    """An inspector's phone as the outbox drives it: logged in, each check sent until the server confirms it (a
    2xx), again and again through server errors and refused connections, with the same submission key."""

    def __init__(self, base: str, username: str):
        self.base, self.jar = base, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.statuses: list[object] = []
        self.opener.open(f"{base}/accounts/login/", timeout=10).read()
        form = urllib.parse.urlencode({"username": username, "password": "correct horse battery staple", "csrfmiddlewaretoken": self.csrf})
        self.opener.open(urllib.request.Request(f"{base}/accounts/login/", data=form.encode(), headers=self.headers()), timeout=10)

    @property
    def csrf(self) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")

    def headers(self) -> dict:
        return {"X-CSRFToken": self.csrf, "Referer": f"{self.base}/"}

    def send_until_confirmed(self, body: dict, deadline: float) -> dict:
        data = json.dumps(body).encode()
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                f"{self.base}/api/field/checks/", data=data, headers={**self.headers(), "Content-Type": "application/json"}
            )
            try:
                with self.opener.open(request, timeout=10) as answer:
                    self.statuses.append(answer.status)
                    return json.loads(answer.read())
            except urllib.error.HTTPError as error:
                self.statuses.append(error.code)
                if error.code < 500:
                    raise AssertionError(f"refused: {error.code} {error.read()[:500]!r}") from None
            except OSError as error:  # refused or reset while the server or its database is away
                self.statuses.append(type(error).__name__)
            time.sleep(0.2)
        raise AssertionError(f"not confirmed in time: {self.statuses[-10:]}")


def test_postgresql_restarted_while_checks_are_submitted_stores_each_once_and_fails_only_during_the_outage(tmp_path):
    if os.environ.get("REQUIRE_SERVICES") != "1":
        pytest.skip("the PostgreSQL drill runs with REQUIRE_SERVICES=1 (.ci/run's services step): it starts a cluster of its own")
    if os.geteuid() != 0 or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        _unavailable("needs root and PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
    postgres = OwnPostgres()
    server = None
    try:
        postgres.init()
        postgres.start()
        run(*postgres.pg_ctl[:4], str(postgres.binaries / "createdb"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "jqs")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url("jqs"),
            "CELERY_BROKER_URL": "",
            "DEBUG": "false",
            "HTTPS": "false",
            "SECRET_KEY": "drill-" + uuid.uuid4().hex,
            "PYTHONUNBUFFERED": "1",
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=600)
        seeded = manage_shell(env, SEED.format(tasks=TASKS))
        assert seeded.returncode == 0, seeded.stderr
        world = json.loads(seeded.stdout.strip().splitlines()[-1])
        command = [sys.executable, "-m", "gunicorn", "jiaxing_qs.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread"]
        server = subprocess.Popen(
            [*command, "--threads", "4", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / "gunicorn.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/accounts/login/", timeout=2):
                break
            assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.3)

        phones = [Phone(base, "drill_first") for _ in range(3)]  # three of the first officer's sessions, in turn
        keys = {task: str(uuid.uuid4()) for task in world["tasks"]}
        confirmations, outage = {}, {}
        finish = time.monotonic() + 240

        def body(task: int) -> dict:
            return {
                "submission_key": keys[task], "task": task, "conclusion": "conforming",
                "items": [{"item": world["item"], "outcome": "conforming", "note": ""}], "co_inspector": world["partner"],
                "checked_on": world["today"], "lat": 30.5, "lon": 120.7, "accuracy": 12, "position_source": "gps", "note": "", "photos": [],
            }  # fmt: skip

        def submit(tasks: list[int], phone: Phone) -> None:
            for task in tasks:
                confirmations[task] = phone.send_until_confirmed(body(task), finish)

        # 1. A restart between requests (nothing in flight) costs no request: each worker thread's connection
        # is checked before it is used again, not found dead by the next phone's check.
        quiet, loud = world["tasks"][:8], world["tasks"][8:]
        for n, task in enumerate(quiet[:4]):
            submit([task], phones[n % 3])
        postgres.stop()
        postgres.start()
        sent_before = [len(phone.statuses) for phone in phones]
        for n, task in enumerate(quiet[4:]):
            submit([task], phones[n % 3])
        after_quiet_restart = [phone.statuses[before:] for phone, before in zip(phones, sent_before, strict=True)]

        # 2. PostgreSQL away for two seconds while three phones send: what fails is sent again until answered.
        def restart() -> None:
            while len(confirmations) < len(quiet) + 4:
                time.sleep(0.05)
            outage["stopped"] = len(confirmations)
            postgres.stop()
            time.sleep(2)  # the phones keep sending meanwhile
            postgres.start()
            outage["started"] = len(confirmations)

        threads = [threading.Thread(target=submit, args=(loud[n::3], phone)) for n, phone in enumerate(phones)]
        threads.append(threading.Thread(target=restart))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        # Again after the restart, as a phone that never heard the answer: the same confirmations, nothing new.
        again = {task: phones[0].send_until_confirmed(body(task), time.monotonic() + 30) for task in world["tasks"]}
        stored = manage_shell(
            env,
            "import json\nfrom inspections.models import CheckResult\n"
            "print(json.dumps(sorted([t, str(k)] for t, k in CheckResult.objects.values_list('task_id', 'submission_key'))))",
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        postgres.remove()

    log = (tmp_path / "gunicorn.log").read_text()[-3000:]
    statuses = [phone.statuses for phone in phones]
    assert set(confirmations) == set(world["tasks"]), statuses
    assert {task: answer["number"] for task, answer in again.items()} == {task: answer["number"] for task, answer in confirmations.items()}
    assert not any(answer["created"] for answer in again.values())  # every key answered with its first result
    rows = json.loads(stored.stdout.strip().splitlines()[-1])
    assert sorted(map(tuple, rows)) == sorted(keys.items()), "each check stored once, none lost"
    assert [status for sent in after_quiet_restart for status in sent] == [201] * 4, after_quiet_restart  # each answered at once
    assert 0 < outage["stopped"] < TASKS, outage
    assert any(status not in (200, 201) for sent in statuses for status in sent), "the drill must catch requests in the outage"
    for sent in statuses:
        # Once a phone is answered after the outage, it is answered every time: no worker thread reuses a
        # connection the restart killed (CONN_HEALTH_CHECKS).
        failed = [n for n, status in enumerate(sent) if status not in (200, 201)]
        if failed:
            recovered = next(n for n in range(failed[0], len(sent)) if sent[n] in (200, 201))
            assert all(status in (200, 201) for status in sent[recovered:]), (sent, log)


# --- A worker killed while it sends a plan's messages -------------------------------------------------------------


class SlowRobot(DingTalkRobot):
    """DingTalk's robot answering each message a second after it has taken it (as on a slow link), so that a worker
    can be killed while it waits for an answer."""

    def verify(self, path: str, content_type: str, body: bytes) -> dict:
        answer = super().verify(path, content_type, body)
        time.sleep(1)
        return answer


def test_a_worker_killed_while_it_sends_a_plans_messages_leaves_none_unsent_and_at_most_the_one_in_flight_twice(
    region_tree, settings, tmp_path
):
    require_postgres()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    plan = county_plan(region_tree)
    redis = OwnRedis(tmp_path / "redis.log")
    redis.start()
    workers = []
    with SlowRobot(SECRET) as robot:
        NotificationSetting.objects.create(bureau=region_tree.county_a, channel=Channel.DINGTALK, webhook_url=robot.url, secret=SECRET)
        env = {
            **os.environ,
            "DATABASE_URL": shared_database_url(),
            "CELERY_BROKER_URL": redis.url,
            "CELERY_TASK_DEFAULT_QUEUE": f"jqs-kill-{uuid.uuid4().hex[:8]}",
            "REQUEUE_AFTER_SECONDS": "0",
            "NOTIFICATION_SEND_LEASE_SECONDS": "3",  # a claim older than this belongs to a dead worker
            "CELERY_VISIBILITY_TIMEOUT": "5",  # the dead worker's unacknowledged message goes to another after this
        }
        try:
            workers.append(start_worker(env, tmp_path / "worker1.log"))
            wait_until_ready(tmp_path / "worker1.log", workers[0])
            approve = manage_shell(env, APPROVE.format(plan_id=plan.pk))
            assert approve.returncode == 0, approve.stderr
            assert wait_for(lambda: len(robot.received) >= 3, seconds=60), (tmp_path / "worker1.log").read_text()[-3000:]
            os.kill(workers[0].pid, signal.SIGKILL)  # in the middle of sending: one message taken, not yet answered
            workers[0].wait(timeout=10)
            in_flight = Notification.objects.filter(task__plan=plan, status=NotificationStatus.SENDING).count()

            workers.append(start_worker(env, tmp_path / "worker2.log"))
            wait_until_ready(tmp_path / "worker2.log", workers[1])
            time.sleep(4)  # past the send lease
            swept = manage_shell(env, SWEEP)
            assert swept.returncode == 0, swept.stderr

            def all_sent() -> bool:
                return Notification.objects.filter(task__plan=plan, status=NotificationStatus.SENT).count() == 10

            delivered = wait_for(all_sent, seconds=120)
            time.sleep(6)  # past the visibility timeout: the dead worker's own message is delivered again, and finds it sent
        finally:
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    worker.kill()
                worker.wait(timeout=30)
            redis.stop()

    logs = "".join((tmp_path / f"worker{n}.log").read_text()[-2000:] for n in (1, 2))
    assert delivered, logs
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED and plan.tasks.count() == 5  # the dispatch made its tasks once
    titles = [(message["markdown"]["title"], message["markdown"]["text"]) for message in robot.received]
    assert len(set(titles)) == 10, "every officer's message arrived"
    assert in_flight == 1, "killed while a message was in flight (claimed, sent, not yet answered)"
    assert len(titles) - len(set(titles)) <= 1, "none twice but the one in flight at the kill (at least once, never lost)"
