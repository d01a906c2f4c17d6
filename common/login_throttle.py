"""The seam through which a login door of an app (DingTalk's 免登, inspections.dingtalk_views) obeys the login
throttle of the top floor (jiaxing_qs.login): refused logins lock the caller's address for a while.

The rule, its counters and its settings belong to the top floor, which apps cannot import; the top floor hands
its two functions over at start-up (jiaxing_qs.apps) and apps call them here. Not handed over, they fail loudly:
no login door without the lock.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

_throttle: dict[str, Callable] = {}


def login_throttle_register(*, refusal: Callable[[object], str], failure_record: Callable[[object], None]) -> None:
    _throttle.update(refusal=refusal, failure_record=failure_record)


def _function(name: str) -> Callable:
    if name not in _throttle:
        raise ImproperlyConfigured("No login throttle registered (jiaxing_qs.apps registers jiaxing_qs.login's)")
    return _throttle[name]


def login_refusal(request) -> str:
    """The message refusing this caller while their address is locked; "" when they may try."""
    return _function("refusal")(request)


def login_failure_record(request) -> None:
    """Count a refused login against the caller's address."""
    _function("failure_record")(request)
