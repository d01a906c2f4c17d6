"""The site's public address (PUBLIC_BASE_URL): what printed quality codes and DingTalk links point at."""

from django.conf import settings

DEMO_BASE_URL = "http://127.0.0.1:8000"  # used while PUBLIC_BASE_URL is unset: reachable from this machine only


def public_base_url_missing() -> bool:
    """True while PUBLIC_BASE_URL is unset: a printed code or a sent link would point at this machine."""
    return not settings.PUBLIC_BASE_URL.strip()


def public_base_url() -> str:
    """The address the public and the officers' phones reach the site at, without a trailing slash."""
    return (DEMO_BASE_URL if public_base_url_missing() else settings.PUBLIC_BASE_URL.strip()).rstrip("/")
