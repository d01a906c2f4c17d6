"""Login hardening: repeated failures lock a username (and an address) on the site's login page and the admin's;
the refusal never tells whether the username exists; sessions and CSRF cookies as Django intends."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from jiaxing_qs.login import client_address
from jiaxing_qs.models import LoginFailures

from .concurrency import SharedDatabase
from .factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

PASSWORD = "correct horse battery staple"
SITE, ADMIN = "/accounts/login/", "/admin/login/"
LOCKED = "Too many failed login attempts. Try again in 15 minutes."
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def english_and_fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def staff_user(db):
    return UserFactory(username="zhang.wei", is_staff=True)


def attempt(client, url: str, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


@pytest.mark.parametrize("url", [SITE, ADMIN])
def test_five_failures_lock_the_username_even_with_the_right_password(client, staff_user, url):
    for _ in range(4):
        assert errors(attempt(client, url, "zhang.wei", "wrong")) != [LOCKED]
    assert errors(attempt(client, url, "zhang.wei", "wrong")) == [LOCKED]  # the fifth says so at once
    response = attempt(client, url, "zhang.wei", PASSWORD)
    assert response.status_code == 200 and errors(response) == [LOCKED]
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", [SITE, ADMIN])
def test_after_the_lockout_the_right_password_works_again(client, staff_user, url):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            attempt(client, url, "zhang.wei", "wrong")
        clock.shift(dt.timedelta(minutes=14))
        assert errors(attempt(client, url, "zhang.wei", PASSWORD)) == ["Too many failed login attempts. Try again in 1 minute."]
        clock.shift(dt.timedelta(minutes=1, seconds=1))
        assert attempt(client, url, "zhang.wei", PASSWORD).status_code == 302
        assert client.session["_auth_user_id"] == str(staff_user.pk)


def test_the_site_and_the_admin_share_one_count(client, staff_user):
    for url in (SITE, ADMIN, SITE, ADMIN, SITE):
        attempt(client, url, "zhang.wei", "wrong")
    assert errors(attempt(client, ADMIN, "zhang.wei", PASSWORD)) == [LOCKED]


def test_failures_spread_beyond_the_window_do_not_lock(client, staff_user):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(4):
            attempt(client, SITE, "zhang.wei", "wrong")
        clock.shift(dt.timedelta(minutes=16))
        for _ in range(4):
            attempt(client, SITE, "zhang.wei", "wrong")
        assert attempt(client, SITE, "zhang.wei", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_count(client, staff_user):
    for _ in range(4):
        attempt(client, SITE, "zhang.wei", "wrong")
    assert attempt(client, SITE, "zhang.wei", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, SITE, "zhang.wei", "wrong")
    assert attempt(client, SITE, "zhang.wei", PASSWORD).status_code == 302


def test_the_username_is_locked_from_every_address(client, staff_user):
    for n in range(5):
        attempt(client, SITE, "zhang.wei", "wrong", address=f"10.0.0.{n}")
    assert errors(attempt(client, SITE, "zhang.wei", PASSWORD, address="10.9.9.9")) == [LOCKED]


def test_one_address_trying_many_usernames_is_locked(client, staff_user, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 20
    for n in range(20):
        attempt(client, SITE, f"guess{n}", "wrong", address="10.6.6.6")
    assert errors(attempt(client, SITE, "zhang.wei", PASSWORD, address="10.6.6.6")) == [LOCKED]
    assert attempt(client, SITE, "zhang.wei", PASSWORD, address="10.7.7.7").status_code == 302  # another address is not


def test_a_wrong_username_and_a_wrong_password_read_the_same(client, staff_user):
    unknown = errors(attempt(client, SITE, "nobody.here", "wrong"))
    wrong_password = errors(attempt(client, SITE, "zhang.wei", "wrong"))
    assert unknown == wrong_password and "correct username and password" in unknown[0]
    for _ in range(4):
        attempt(client, SITE, "nobody.here", "wrong", address="10.0.0.2")
        attempt(client, SITE, "zhang.wei", "wrong", address="10.0.0.3")
    # Unknown usernames are counted and locked like real ones: a lockout does not reveal an account.
    assert errors(attempt(client, SITE, "nobody.here", "wrong")) == errors(attempt(client, SITE, "zhang.wei", "wrong")) == [LOCKED]


def test_a_worker_that_never_saw_the_failures_still_counts_them(client, staff_user):
    """Each gunicorn worker has its own memory (the default cache): emptying it between attempts changes nothing."""
    for _ in range(4):
        attempt(client, SITE, "zhang.wei", "wrong")
        cache.clear()
    assert errors(attempt(client, SITE, "zhang.wei", "wrong")) == [LOCKED]
    cache.clear()
    assert errors(attempt(client, SITE, "zhang.wei", PASSWORD)) == [LOCKED]
    assert LoginFailures.objects.filter(key__startswith="user:", locked_until__isnull=False).count() == 1


SECOND_SERVER = """
import django
django.setup()
from django.test import Client
client = Client()
for _ in range(2):
    response = client.post("/accounts/login/", {"username": "zhang.wei", "password": "wrong"}, REMOTE_ADDR="10.0.0.2")
    print(response.status_code)
"""


@pytest.mark.real_clock  # the second server runs on the machine's clock
@pytest.mark.django_db(transaction=True)
def test_failures_on_two_app_servers_add_up_to_one_lock(staff_user, tmp_path):
    """Three failures here, two on another process: the account is locked here, even with the right password."""
    database = SharedDatabase(tmp_path)
    database.read(lambda: [attempt(Client(), SITE, "zhang.wei", "wrong") for _ in range(3)])
    environment = {
        **os.environ,
        "DATABASE_URL": database.url,
        "JQS_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "jiaxing_qs.settings",
    }
    second = subprocess.run([sys.executable, "-c", SECOND_SERVER], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["200", "200"]

    response = database.read(lambda: attempt(Client(), SITE, "zhang.wei", PASSWORD))
    assert response.status_code == 200 and errors(response) == [LOCKED]


def test_the_login_page_shows_the_lockout(client, staff_user):
    for _ in range(5):
        attempt(client, SITE, "zhang.wei", "wrong")
    assert LOCKED in attempt(client, SITE, "zhang.wei", PASSWORD).content.decode()


def test_a_non_staff_user_at_the_admin_is_refused_without_counting(client):
    UserFactory(username="li.na", is_staff=False)
    for _ in range(6):
        response = attempt(client, ADMIN, "li.na", PASSWORD)
        assert LOCKED not in errors(response)


def test_the_client_address_behind_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.9"  # no proxy: the header is the client's to forge
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.7"  # what our one proxy saw, not what the client claimed


# --- Sessions, CSRF, deployment checks ------------------------------------------------------------------------


def test_session_and_csrf_cookies_are_http_only_and_sessions_last_a_working_day(client, staff_user, settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    page = client.get(SITE)
    assert page.cookies["csrftoken"]["httponly"]
    response = attempt(client, SITE, "zhang.wei", PASSWORD)
    assert response.cookies["sessionid"]["httponly"]


def test_check_deploy_passes_with_debug_off(tmp_path):
    """`manage.py check --deploy` with DEBUG off and a real secret key: no warning left."""
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "HTTPS")},
        "DEBUG": "false",
        "SECRET_KEY": "k" * 10 + "-a-long-random-production-secret-key-0123456789-xyz",
        "JQS_VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "zlaq.example.gov.cn",
        "PUBLIC_BASE_URL": "https://zlaq.example.gov.cn",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
