"""Chinese first: the interface is in Simplified Chinese unless the user switches to English."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_interface_is_chinese_whatever_the_browser_asks_for(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "zh-hans"


def test_the_language_switch_turns_the_interface_english_and_back(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert client.get("/accounts/login/")["Content-Language"] == "en"
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"})
    assert client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "zh-hans"


def test_after_login_inspectors_land_on_their_tasks_and_supervisors_on_the_map(client, inspector, supervisor):
    client.force_login(inspector)
    assert client.get("/")["Location"] == "/tasks/"
    client.force_login(supervisor)
    assert client.get("/")["Location"] == "/map/"
