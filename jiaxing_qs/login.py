"""Login throttling for the site's login page and the admin's: repeated failures lock the username and the address.

Rule: LOGIN_FAILURE_LIMIT failed attempts for one username (LOGIN_IP_FAILURE_LIMIT from one address) within
LOGIN_FAILURE_WINDOW_MINUTES lock that username (address) for LOGIN_LOCKOUT_MINUTES; while locked every attempt
is refused, even with the right password. A successful login clears the username's count. The address limit is
higher because a bureau's staff often share one address (NAT) and one person's typos must not lock the office
out; it stops one machine from trying many usernames. Not cleared by a success, or a guesser holding any
account could reset it between guesses.

DingTalk's 免登 (an auth code exchanged for the officer's userid, inspections.dingtalk_views) has no username: its
refused exchanges count against the address, on the same counter and limit (``address_refusal``,
``address_failure_record``, handed to the app through common.login_throttle), and a locked address gets no
exchange at all, so a machine posting made-up codes is bounded like one guessing passwords.

The counts live in the database (``jiaxing_qs.models.LoginFailures``), so every worker process and app server
counts the same attempts and honours the same lock, with or without a shared cache; rows whose window and
lock are over are deleted as new failures come in. The check sits in the form, before any authentication
backend runs, so it holds whatever backends are configured. The refusal reads the same whether the username exists or not, and
failures are counted for unknown usernames too, so a lockout tells nothing about which accounts exist.
"""

import datetime as dt
import hashlib
import logging
import math

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import ngettext

from .models import LoginFailures

logger = logging.getLogger(__name__)


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies the address the first
    of them saw (the N-th from the right in X-Forwarded-For, which the client cannot forge)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _user_key(username: str) -> tuple[str, int]:
    """A username's counter and its limit; usernames are hashed (no list of tried names is kept)."""
    return f"user:{hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]}", settings.LOGIN_FAILURE_LIMIT


def _address_key(address: str) -> tuple[str, int]:
    """An address's counter and its limit; an address too long for the key is hashed."""
    if len(address) > 64:
        address = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"ip:{address}", settings.LOGIN_IP_FAILURE_LIMIT


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    """The counters a password attempt touches, with their limits."""
    return [_user_key(username), _address_key(address)]


def _locked_for(counters: list[tuple[str, int]]) -> int:
    now = timezone.now()
    keys = [key for key, _limit in counters]
    until = LoginFailures.objects.filter(key__in=keys, locked_until__gt=now).aggregate(until=Max("locked_until"))["until"]
    return 0 if until is None else max(0, math.ceil((until - now).total_seconds()))


def locked_for(username: str, address: str) -> int:
    """Seconds until the username and the address may try again (0: not locked)."""
    return _locked_for(_keys(username, address))


def _counter_locked(key: str, now) -> LoginFailures:
    """The counter's row, locked until the transaction ends (created empty when missing; a racing creator wins)."""
    row = LoginFailures.objects.select_for_update().filter(key=key).first()
    if row is None:
        try:
            with transaction.atomic():
                row = LoginFailures.objects.create(key=key, window_ends=now)
        except IntegrityError:
            row = LoginFailures.objects.select_for_update().get(key=key)
    return row


def failure_record(username: str, address: str) -> None:
    """Count a failed attempt; a counter reaching its limit locks its username or address."""
    _failures_record(_keys(username, address))


def _failures_record(counters: list[tuple[str, int]]) -> None:
    now = timezone.now()
    window = dt.timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    lockout = dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    LoginFailures.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now), window_ends__lte=now).delete()
    for key, limit in counters:
        with transaction.atomic():
            row = _counter_locked(key, now)
            if row.window_ends <= now:  # the window starts at the first failure
                row.failures, row.window_ends = 0, now + window
            row.failures += 1
            if row.failures >= limit:
                logger.warning("Login locked for %d minutes after %d failures: %s", settings.LOGIN_LOCKOUT_MINUTES, row.failures, key)
                row.failures, row.window_ends, row.locked_until = 0, now, now + lockout
            row.save()


def success_record(username: str) -> None:
    user_key, _limit = _user_key(username)
    LoginFailures.objects.filter(key=user_key).exclude(locked_until__gt=timezone.now()).delete()


def lockout_error(seconds: int) -> ValidationError:
    minutes = max(1, math.ceil(seconds / 60))
    return ValidationError(
        ngettext(
            "Too many failed login attempts. Try again in %(minutes)d minute.",
            "Too many failed login attempts. Try again in %(minutes)d minutes.",
            minutes,
        )
        % {"minutes": minutes},
        code="locked",
    )


def address_refusal(request) -> str:
    """For a login without a username (DingTalk's 免登, through common.login_throttle): the refusal while the
    caller's address is locked, "" when it may try. The address's counter is the password login's: one machine
    has one allowance of failures whichever door it tries."""
    seconds = _locked_for([_address_key(client_address(request))])
    return lockout_error(seconds).messages[0] if seconds else ""


def address_failure_record(request) -> None:
    """Count a refused login without a username against the caller's address (see ``address_refusal``)."""
    _failures_record([_address_key(client_address(request))])


class ThrottledLoginMixin:
    """Refuse while locked, count failures, clear the username's count on success (see the module docstring)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        seconds = locked_for(username, address)
        if seconds:
            raise lockout_error(seconds)
        try:
            cleaned = super().clean()
        except ValidationError:
            if self.user_cache is None:  # wrong credentials, not e.g. a non-staff user at the admin
                failure_record(username, address)
                seconds = locked_for(username, address)
                if seconds:  # this failure used up the last attempt: say so now
                    raise lockout_error(seconds) from None
            raise
        success_record(username)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """The site's login form (/accounts/login/)."""


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's login form: the same throttle, and staff only."""
