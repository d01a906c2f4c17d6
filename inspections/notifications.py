"""Notifying officers: one interface, four backends (DingTalk group robot, DingTalk work notification from the
bureau's internal app, e-mail, log), per-bureau settings.

A Notification row is written once per (purpose, task, officer) — its ``dedupe_key`` is unique — and sent by
a Celery task that retries with back-off; a failure stays visible on the row (status, attempts, last error).
A work notification is checked for delivery afterwards (DingTalk sends asynchronously): a userid DingTalk does
not know turns the row to failed, with the reason.
"""

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from common.site import public_base_url
from regions.models import Region

from . import dingtalk
from .models import Channel, Notification, NotificationSetting, NotificationStatus

logger = logging.getLogger(__name__)


class NotificationError(Exception):
    """Sending failed; the Celery task retries it with back-off, unless it is ``permanent`` (trying again cannot
    help until someone changes a setting, e.g. an officer without a DingTalk userid)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def send_lease() -> dt.timedelta:
    """Longer than any send can take (the HTTP and SMTP timeouts are seconds), short enough to recover soon from a
    worker killed mid-send (NOTIFICATION_SEND_LEASE_SECONDS)."""
    return dt.timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signing: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), url-encoded into the query by
    dingtalk_signed_url; the timestamp (ms) must be within an hour of DingTalk's clock.
    https://open.dingtalk.com/document/robots/customize-robot-security-settings"""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_signed_url(webhook_url: str, secret: str, timestamp_ms: int | None = None) -> str:
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    if not secret:
        return webhook_url
    query = urllib.parse.urlencode({"timestamp": timestamp_ms, "sign": dingtalk_signature(secret, timestamp_ms)})
    return f"{webhook_url}{'&' if '?' in webhook_url else '?'}{query}"


class DingTalkBackend:
    def __init__(self, setting: NotificationSetting | None):
        # No setting (deleted or disabled since the notification was written): send() reports it as a failure.
        self.webhook_url, self.secret = (setting.webhook_url, setting.secret) if setting else ("", "")

    def send(self, notification: Notification) -> None:
        if not self.webhook_url:
            raise NotificationError("no DingTalk webhook URL configured for this bureau")
        mention = getattr(getattr(notification.recipient, "staff_profile", None), "phone", "")
        payload = {
            "msgtype": "markdown",
            "markdown": {"title": notification.title, "text": f"### {notification.title}\n\n{notification.body}"},
            "at": {"atMobiles": [mention] if mention else [], "isAtAll": False},
        }
        request = urllib.request.Request(
            dingtalk_signed_url(self.webhook_url, self.secret),
            data=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read() or b"{}")
        # OSError covers URLError and timeouts, and also a connection dropped before the answer (getresponse
        # raises RemoteDisconnected unwrapped); HTTPException a truncated answer. All are retried failures.
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise NotificationError(f"DingTalk webhook unreachable: {error}") from error
        if answer.get("errcode", 0) != 0:
            raise NotificationError(f"DingTalk refused the message: {answer.get('errcode')} {answer.get('errmsg', '')}")


def task_link(notification: Notification, setting: NotificationSetting) -> str:
    """Where a work notification's button leads: the task page (the officer's task list for a notice without a
    task), through the 免登 page of the bureau's app, opened inside DingTalk."""
    page = reverse("inspections:task-detail", args=[notification.task_id]) if notification.task_id else reverse("inspections:my-tasks")
    query = urllib.parse.urlencode({"bureau": setting.bureau.code, "next": page})
    return dingtalk.in_client_link(f"{public_base_url()}{reverse('inspections:dingtalk-login')}?{query}")


class DingTalkAppBackend:
    """Work notifications (工作通知) to the officer's own DingTalk, from the bureau's internal app (inspections.dingtalk)."""

    def __init__(self, setting: NotificationSetting | None):
        self.setting = setting
        self.app = dingtalk.DingTalkApp.of(setting)

    def send(self, notification: Notification) -> str:
        if self.app is None:
            raise NotificationError("no DingTalk internal app configured for this bureau", permanent=True)
        userid = getattr(getattr(notification.recipient, "staff_profile", None), "dingtalk_userid", "")
        if not userid:
            raise NotificationError(f"{notification.recipient.username} has no DingTalk userid", permanent=True)
        with override(settings.LANGUAGE_CODE):  # the officers read the site's language
            button = _("Open the task")
        msg = dingtalk.action_card(
            title=notification.title, text=notification.body, button=button, url=task_link(notification, self.setting)
        )
        try:
            return dingtalk.work_notice_send(self.app, userid=userid, msg=msg)
        except dingtalk.DingTalkError as error:
            raise NotificationError(str(error)) from error


class EmailBackend:
    def __init__(self, setting: NotificationSetting | None = None):
        pass

    def send(self, notification: Notification) -> None:
        if not notification.recipient.email:
            raise NotificationError(f"{notification.recipient.username} has no e-mail address")
        try:
            send_mail(notification.title, notification.body, settings.DEFAULT_FROM_EMAIL, [notification.recipient.email])
        except OSError as error:
            raise NotificationError(f"e-mail not sent: {error}") from error


class LogBackend:
    def __init__(self, setting: NotificationSetting | None = None):
        pass

    def send(self, notification: Notification) -> None:
        logger.info("notification to %s: %s — %s", notification.recipient.username, notification.title, notification.body)


BACKENDS = {
    Channel.DINGTALK: DingTalkBackend,
    Channel.DINGTALK_APP: DingTalkAppBackend,
    Channel.EMAIL: EmailBackend,
    Channel.LOG: LogBackend,
}


def setting_for(region: Region | None) -> NotificationSetting | None:
    """The bureau setting that covers a region: its own, else the nearest ancestor's."""
    chain = []
    while region is not None:
        chain.append(region.id)
        region = region.parent
    settings_by_region = {s.bureau_id: s for s in NotificationSetting.objects.filter(bureau_id__in=chain, enabled=True)}
    return next((settings_by_region[pk] for pk in chain if pk in settings_by_region), None)


def unsent(notifications):
    """Notifications still to send: pending, failed, or claimed by a worker that has not finished within the lease
    (it died mid-send)."""
    stale = timezone.now() - send_lease()
    return notifications.filter(
        Q(status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED]) | Q(status=NotificationStatus.SENDING, claimed_at__lt=stale)
    )


def left_unqueued(*, older_than: dt.timedelta):
    """Notifications still pending longer than ``older_than`` after they were made, or claimed by a worker that
    died mid-send: their send task never reached a worker, or was lost with it. Failed ones are not among them:
    their own task retries them with back-off, and after its last retry a supervisor sends them again."""
    cutoff = timezone.now() - older_than
    waiting = unsent(Notification.objects.exclude(status=NotificationStatus.FAILED))
    return waiting.filter(Q(status=NotificationStatus.SENDING) | Q(created_at__lt=cutoff))


def notification_send(*, notification_id: int) -> str:
    """Send one notification through its channel; mark it sent, or count the failed attempt and re-raise.

    The send is claimed first (status "sending", under a row lock): a second task for the same notification —
    a dispatch re-run while this one is in flight — finds the claim and sends nothing. A claim older than
    the send lease belongs to a worker that died mid-send and may be taken over.
    """
    with transaction.atomic():
        notification = Notification.objects.select_for_update().select_related("recipient").get(pk=notification_id)
        if not unsent(Notification.objects.filter(pk=notification.pk)).exists():
            return notification.status  # sent already (a retried task after success), or being sent by another worker
        notification.attempts += 1
        notification.status, notification.claimed_at = NotificationStatus.SENDING, timezone.now()
        notification.save(update_fields=["attempts", "status", "claimed_at"])
    backend = BACKENDS[notification.channel](setting_of(notification))
    try:
        remote_id = backend.send(notification)
    except NotificationError as error:
        Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.FAILED, last_error=str(error)[:500])
        raise
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="", remote_id=remote_id or ""
    )
    return NotificationStatus.SENT


def setting_of(notification: Notification) -> NotificationSetting | None:
    """The bureau setting a notification is sent under: the one covering its task's town (or the recipient's
    jurisdiction for a notice without a task)."""
    if notification.task_id:
        return setting_for(notification.task.enterprise.town)
    return setting_for(getattr(getattr(notification.recipient, "staff_profile", None), "jurisdiction", None))


# forbidden_list code for "this content already reached this user today" (单应用给单人推送重复消息超限).
DUPLICATE_CONTENT = "143106"


def notification_delivery_check(*, notification_id: int) -> str:
    """Ask DingTalk whether a sent work notification reached its officer; one it did not is marked failed, with
    DingTalk's reason, for the supervisor to see (a userid DingTalk does not know, a message held back).

    A message held back as a duplicate of content the officer already got today is taken as delivered: an earlier
    attempt whose answer was lost had reached DingTalk (the content names the task, so only this notification's
    own earlier attempt has the same content). Returns the notification's status.
    """
    notification = Notification.objects.select_related("recipient__staff_profile").get(pk=notification_id)
    if notification.channel != Channel.DINGTALK_APP or notification.status != NotificationStatus.SENT or not notification.remote_id:
        return notification.status
    app = dingtalk.DingTalkApp.of(setting_of(notification))
    userid = getattr(getattr(notification.recipient, "staff_profile", None), "dingtalk_userid", "")
    if app is None or not userid:
        return notification.status
    try:
        problem = dingtalk.work_notice_problem(app, task_id=notification.remote_id, userid=userid, accepted=(DUPLICATE_CONTENT,))
    except dingtalk.DingTalkError as error:
        raise NotificationError(str(error)) from error
    if not problem:
        return NotificationStatus.SENT
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENT).update(
        status=NotificationStatus.FAILED, last_error=problem[:500]
    )
    return NotificationStatus.FAILED


def channel_for(region: Region | None) -> str:
    setting = setting_for(region)
    return setting.channel if setting else Channel.LOG
