"""Notifying officers: DingTalk group robot (timestamp + HMAC-SHA256 signature), e-mail and log backends behind one
interface, per-bureau settings, retries with back-off, and failures left visible on the notification row.

The DingTalk backend is tested against a local HTTP server that checks the signature the way DingTalk does.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from inspections.models import Channel, DrawArm, InspectionTask, Notification, NotificationSetting, NotificationStatus
from inspections.notifications import (
    DingTalkBackend,
    NotificationError,
    channel_for,
    dingtalk_signature,
    dingtalk_signed_url,
    notification_send,
    send_lease,
    setting_for,
    unsent,
)
from inspections.tasks import send_notification

from .factories import EnterpriseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

SECRET = "SEC0123456789abcdef"
ACCESS_TOKEN = "test-token"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- A local DingTalk group robot ---------------------------------------------------------------------------


class DingTalkRobot:
    """A stand-in for DingTalk's robot endpoint on 127.0.0.1 that verifies every request like DingTalk does.

    A request must carry the access token, a timestamp within an hour of now and
    sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) in its query string, and a JSON body with a
    message; otherwise it answers with DingTalk's error codes (310000 "sign not match").
    """

    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[dict] = []
        self.rejected: list[dict] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = robot.verify(self.path, self.headers.get("Content-Type", ""), body)
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/robot/send?access_token={ACCESS_TOKEN}"

    def verify(self, path: str, content_type: str, body: bytes) -> dict:
        query = parse_qs(urlsplit(path).query)
        timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        expected = base64.b64encode(hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest())
        if query.get("access_token") != [ACCESS_TOKEN]:
            return self.reject({"errcode": 300001, "errmsg": "token is not exist"})
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
            return self.reject({"errcode": 310000, "errmsg": "invalid timestamp"})
        if not hmac.compare_digest(sign.encode(), expected):
            return self.reject({"errcode": 310000, "errmsg": "sign not match"})
        try:
            message = json.loads(body)
            content = message[message["msgtype"]]
        except (ValueError, KeyError, TypeError):
            return self.reject({"errcode": 40035, "errmsg": "缺少参数 json"})
        if not content_type.startswith("application/json") or not (content.get("text") or content.get("content")):
            return self.reject({"errcode": 40035, "errmsg": "缺少参数 json"})
        self.received.append(message)
        return {"errcode": 0, "errmsg": "ok"}

    def reject(self, answer: dict) -> dict:
        self.rejected.append(answer)
        return answer

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    with DingTalkRobot(SECRET) as running:
        yield running


@pytest.fixture
def task(town):
    enterprise = EnterpriseFactory(town=town, name="嘉兴市示例电器有限公司")
    return InspectionTask.objects.create(enterprise=enterprise, arm=DrawArm.RISK, reason="测试", due_date=dt.date(2026, 12, 31))


def notification_for(task, recipient, channel=Channel.DINGTALK) -> Notification:
    return Notification.objects.create(
        task=task,
        recipient=recipient,
        channel=channel,
        dedupe_key=f"dispatch:{task.pk}:{recipient.pk}",
        title=f"新抽查任务：{task.enterprise.name}",
        body="请于 2026-12-31 前完成。",
    )


def dingtalk(bureau, url: str, secret: str = SECRET) -> NotificationSetting:
    return NotificationSetting.objects.create(bureau=bureau, channel=Channel.DINGTALK, webhook_url=url, secret=secret)


# --- Signing ------------------------------------------------------------------------------------------------


def test_dingtalk_signature_matches_a_known_vector():
    # printf '1700000000000\nSEC0123456789abcdef' | openssl dgst -sha256 -hmac SEC0123456789abcdef -binary | base64
    assert dingtalk_signature(SECRET, 1700000000000) == "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
    digest = hmac.new(b"another secret", b"1712345678901\nanother secret", hashlib.sha256).digest()
    assert dingtalk_signature("another secret", 1712345678901) == base64.b64encode(digest).decode()


def test_the_signed_url_carries_timestamp_and_sign_beside_the_access_token():
    url = dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET, 1700000000000)
    query = parse_qs(urlsplit(url).query)
    assert query == {"access_token": ["abc"], "timestamp": ["1700000000000"], "sign": ["TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="]}
    assert dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", "") == (
        "https://oapi.dingtalk.com/robot/send?access_token=abc"
    ), "a robot without signing (keyword or IP security) gets the plain URL"


# --- DingTalk backend ----------------------------------------------------------------------------------------


def test_dingtalk_backend_delivers_a_signed_message_the_robot_accepts(robot, county, task, inspector):
    inspector.staff_profile.phone = "13800000000"
    inspector.staff_profile.save()
    dingtalk(county, robot.url)
    notification = notification_for(task, inspector)

    assert notification_send(notification_id=notification.pk) == NotificationStatus.SENT

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == (NotificationStatus.SENT, 1, "")
    assert notification.sent_at is not None
    assert robot.rejected == []
    (message,) = robot.received
    assert message["msgtype"] == "markdown"
    assert message["markdown"]["title"] == notification.title
    assert notification.body in message["markdown"]["text"]
    assert message["at"]["atMobiles"] == ["13800000000"]


def test_a_wrong_secret_is_refused_by_the_robot_and_the_failure_stays_visible(robot, county, task, inspector):
    dingtalk(county, robot.url, secret="SEC-not-the-robots-secret")
    notification = notification_for(task, inspector)

    for _attempt in range(2):
        with pytest.raises(NotificationError, match="310000"):
            notification_send(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert notification.attempts == 2
    assert "310000" in notification.last_error and "sign not match" in notification.last_error
    assert robot.received == []
    assert robot.rejected == [{"errcode": 310000, "errmsg": "sign not match"}] * 2


def test_an_unreachable_webhook_is_a_failure(county, task, inspector):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dingtalk(county, f"http://127.0.0.1:{port}/robot/send?access_token={ACCESS_TOKEN}")
    notification = notification_for(task, inspector)

    with pytest.raises(NotificationError, match="unreachable"):
        notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED


def test_a_connection_dropped_before_the_answer_is_a_failure_not_a_crash(county, task, inspector):
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up():
        connection, _address = listener.accept()
        connection.recv(65536)
        connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    dingtalk(county, f"http://127.0.0.1:{listener.getsockname()[1]}/robot/send?access_token={ACCESS_TOKEN}")
    notification = notification_for(task, inspector)
    try:
        with pytest.raises(NotificationError, match="unreachable"):
            notification_send(notification_id=notification.pk)
    finally:
        thread.join(timeout=5)
        listener.close()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED


def test_a_dingtalk_notification_whose_bureau_setting_was_removed_fails_visibly(county, task, inspector):
    setting = dingtalk(county, "http://127.0.0.1:9/robot/send")
    notification = notification_for(task, inspector)
    setting.enabled = False
    setting.save()

    with pytest.raises(NotificationError, match="no DingTalk webhook URL"):
        notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.FAILED, 1)
    assert DingTalkBackend(None).webhook_url == ""


# --- E-mail and log backends ---------------------------------------------------------------------------------


def test_email_backend_sends_to_the_officers_address(settings, county, task, inspector):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationSetting.objects.create(bureau=county, channel=Channel.EMAIL)
    inspector.email = "inspector@example.org"
    inspector.save()
    notification = notification_for(task, inspector, channel=channel_for(task.enterprise.town))

    notification_send(notification_id=notification.pk)

    (message,) = mail.outbox
    assert (message.subject, message.body, message.to) == (notification.title, notification.body, ["inspector@example.org"])
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT


def test_email_to_an_officer_without_an_address_fails_visibly(settings, county, task, inspector):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notification = notification_for(task, inspector, channel=Channel.EMAIL)

    with pytest.raises(NotificationError, match="no e-mail address"):
        notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.last_error) == (NotificationStatus.FAILED, "inspector has no e-mail address")
    assert mail.outbox == []


def test_log_backend_is_the_default_when_no_bureau_configured_anything(task, inspector, caplog):
    assert channel_for(task.enterprise.town) == Channel.LOG
    notification = notification_for(task, inspector, channel=channel_for(task.enterprise.town))
    with caplog.at_level("INFO", logger="inspections.notifications"):
        notification_send(notification_id=notification.pk)
    assert notification.title in caplog.text
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT


# --- Per-bureau settings ---------------------------------------------------------------------------------------


def test_the_nearest_bureau_setting_applies_town_then_county_then_city(region_tree):
    tree = region_tree
    city = NotificationSetting.objects.create(bureau=tree.city, channel=Channel.LOG)
    county_a = NotificationSetting.objects.create(bureau=tree.county_a, channel=Channel.EMAIL)
    town_a2 = dingtalk(tree.town_a2, "http://127.0.0.1:9/robot/send")
    NotificationSetting.objects.create(bureau=tree.county_b, channel=Channel.EMAIL, enabled=False)

    assert setting_for(tree.town_a1) == county_a
    assert setting_for(tree.town_a2) == town_a2
    assert setting_for(tree.town_b1) == city, "a disabled setting is skipped"
    assert setting_for(tree.city) == city
    assert setting_for(None) is None
    assert channel_for(tree.town_a2) == Channel.DINGTALK


# --- Retries -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("retries", "countdown"), [(0, 30), (1, 60), (2, 120), (4, 480)])
def test_a_failed_send_on_a_worker_is_retried_with_back_off(robot, county, task, inspector, retries, countdown):
    dingtalk(county, robot.url, secret="SEC-wrong")
    notification = notification_for(task, inspector)

    send_notification.push_request(retries=retries, is_eager=False, called_directly=False)
    try:
        with mock.patch.object(send_notification, "retry", side_effect=Retry("again later")) as retry, pytest.raises(Retry):
            send_notification.run(notification.pk)
    finally:
        send_notification.pop_request()

    (call,) = retry.call_args_list
    assert call.kwargs["countdown"] == countdown
    assert isinstance(call.kwargs["exc"], NotificationError)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.FAILED, 1)


def test_after_the_last_retry_the_failure_is_raised_and_left_on_the_row(robot, county, task, inspector):
    dingtalk(county, robot.url, secret="SEC-wrong")
    notification = notification_for(task, inspector)

    send_notification.push_request(retries=send_notification.max_retries, is_eager=False, called_directly=False)
    try:
        with pytest.raises(NotificationError, match="sign not match"):
            send_notification.run(notification.pk)
    finally:
        send_notification.pop_request()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED


def test_run_eagerly_a_failed_send_is_recorded_without_breaking_the_caller(robot, county, task, inspector):
    dingtalk(county, robot.url, secret="SEC-wrong")
    notification = notification_for(task, inspector)

    assert send_notification.delay(notification.pk).get() == "failed"

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.FAILED, 1)
    assert "sign not match" in notification.last_error


def test_a_sent_notification_is_not_sent_again(robot, county, task, inspector):
    dingtalk(county, robot.url)
    notification = notification_for(task, inspector)

    assert send_notification.delay(notification.pk).get() == NotificationStatus.SENT
    assert send_notification.delay(notification.pk).get() == NotificationStatus.SENT

    assert len(robot.received) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_a_notification_being_sent_by_another_worker_is_not_sent_again(robot, county, task, inspector):
    """A dispatch re-run while the first run's sends are in flight: the second task finds the claim and stops."""
    dingtalk(county, robot.url)
    notification = notification_for(task, inspector)
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENDING, claimed_at=timezone.now(), attempts=1)

    assert notification_send(notification_id=notification.pk) == NotificationStatus.SENDING
    assert robot.received == []
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.SENDING, 1)
    assert list(unsent(Notification.objects.all())) == [], "a dispatch re-run does not queue it either"


def test_a_claim_older_than_the_lease_is_taken_over(robot, county, task, inspector):
    """The worker that claimed it died mid-send: after the lease the notification is sent (once)."""
    dingtalk(county, robot.url)
    notification = notification_for(task, inspector)
    died_at = timezone.now() - send_lease() - dt.timedelta(seconds=1)
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENDING, claimed_at=died_at, attempts=1)

    assert list(unsent(Notification.objects.all())) == [notification]
    assert notification_send(notification_id=notification.pk) == NotificationStatus.SENT
    assert len(robot.received) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 2)
