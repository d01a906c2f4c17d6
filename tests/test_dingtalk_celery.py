"""Work notifications from a real Celery worker (Redis broker, the PostgreSQL test database shared): the worker uses
the access token another process stored (one gettoken for every process), sends one work notification per officer
and task to the local DingTalk server, records DingTalk's task_id and checks each delivery afterwards."""

import os
import subprocess
import sys
import uuid

import pytest

from inspections import dingtalk
from inspections.models import Channel, Notification, NotificationSetting, NotificationStatus

from .dingtalk_server import DingTalkServer
from .services import require_postgres, require_redis, shared_database_url
from .test_celery_integration import ROOT, start_worker, wait_until_ready
from .test_dispatch_celery import APPROVE, county_plan, wait_for

pytestmark = [pytest.mark.services, pytest.mark.real_clock, pytest.mark.django_db(transaction=True)]

APP = {"corp_id": "ding5f0e1c2d3b4a", "agent_id": 3308472615, "app_key": "dingqs7xk2m4p9", "app_secret": "GT-app-secret-0123456789"}
RESULT_PATH = "/topapi/message/corpconversation/getsendresult"


def test_a_worker_sends_the_work_notifications_with_the_shared_token_once_each_and_checks_them(region_tree, settings, tmp_path):
    require_postgres()
    broker = require_redis()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    county = region_tree.county_a
    userids = [f"ding-officer-{i}" for i in range(4)]
    plan = county_plan(region_tree, dingtalk_userids=userids)
    setting = NotificationSetting.objects.create(bureau=county, channel=Channel.DINGTALK_APP, **APP)

    with DingTalkServer(
        directory=dict.fromkeys(userids, "执法人员"), **{k: APP[k] for k in ("app_key", "app_secret", "agent_id")}
    ) as server:
        settings.DINGTALK_API_URL = server.url
        token = dingtalk.access_token(dingtalk.DingTalkApp.of(setting))  # stored by this process
        queue = f"jqs-dingtalk-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "DATABASE_URL": shared_database_url(),
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "DINGTALK_API_URL": server.url,
            "DINGTALK_DELIVERY_CHECK_SECONDS": "1",
            "PUBLIC_BASE_URL": "https://zlaq.jiaxing.example",
        }
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
            delivered = wait_for(lambda: len(server.api_calls(RESULT_PATH)) >= 10, seconds=90)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    log = log_path.read_text()
    assert delivered, f"{len(server.sent)} sent, {len(server.api_calls(RESULT_PATH))} checked\n{log}"
    assert server.token_requests == 1, "the worker used the token this process stored"
    assert {call["query"]["access_token"] for call in server.requests if call["path"] != "/gettoken"} == {token}
    assert len(server.sent) == 10 and sum(len(messages) for messages in server.inbox.values()) == 10, "once each"
    notifications = Notification.objects.filter(task__plan=plan)
    assert {(n.channel, n.status, n.attempts) for n in notifications} == {(Channel.DINGTALK_APP, NotificationStatus.SENT, 1)}
    assert sorted(notifications.values_list("remote_id", flat=True)) == sorted(str(sent.task_id) for sent in server.sent)
    assert "inspections.tasks.check_notification_delivery" in log
