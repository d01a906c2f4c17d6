"""Notifying officers: one interface, three backends (DingTalk group robot, e-mail, log), per-bureau settings.

A Notification row is written once per (purpose, task, officer) — its ``dedupe_key`` is unique — and sent by
a Celery task that retries with back-off; a failure stays visible on the row (status, attempts, last error).
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
from django.utils import timezone

from regions.models import Region

from .models import Channel, Notification, NotificationSetting, NotificationStatus

logger = logging.getLogger(__name__)


class NotificationError(Exception):
    """Sending failed; the Celery task retries it with back-off."""


# Longer than any send can take (the HTTP and SMTP timeouts are seconds), short enough to recover soon from a
# worker killed mid-send.
SEND_LEASE = dt.timedelta(minutes=5)


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signing: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
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


BACKENDS = {Channel.DINGTALK: DingTalkBackend, Channel.EMAIL: EmailBackend, Channel.LOG: LogBackend}


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
    stale = timezone.now() - SEND_LEASE
    return notifications.filter(
        Q(status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED]) | Q(status=NotificationStatus.SENDING, claimed_at__lt=stale)
    )


def notification_send(*, notification_id: int) -> str:
    """Send one notification through its channel; mark it sent, or count the failed attempt and re-raise.

    The send is claimed first (status "sending", under a row lock): a second task for the same notification —
    a dispatch re-run while this one is in flight — finds the claim and sends nothing. A claim older than
    SEND_LEASE belongs to a worker that died mid-send and may be taken over.
    """
    with transaction.atomic():
        notification = Notification.objects.select_for_update().select_related("recipient").get(pk=notification_id)
        if not unsent(Notification.objects.filter(pk=notification.pk)).exists():
            return notification.status  # sent already (a retried task after success), or being sent by another worker
        notification.attempts += 1
        notification.status, notification.claimed_at = NotificationStatus.SENDING, timezone.now()
        notification.save(update_fields=["attempts", "status", "claimed_at"])
    region = notification.task.enterprise.town if notification.task_id else None
    setting = setting_for(region)
    backend = BACKENDS[notification.channel](setting)
    try:
        backend.send(notification)
    except NotificationError as error:
        Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.FAILED, last_error=str(error)[:500])
        raise
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="")
    return NotificationStatus.SENT


def channel_for(region: Region | None) -> str:
    setting = setting_for(region)
    return setting.channel if setting else Channel.LOG
