"""Chinese first: the interface is in Simplified Chinese unless the user switches to English."""

import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

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


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(("url", "field"), [("/risk-models/", "as_of"), ("/plans/new/", "period_start")])
def test_date_inputs_come_filled_in_whatever_the_language(client, city_supervisor, language, url, field):
    """A date input reads ISO dates only: a localised date (2025/11/26 in Chinese) leaves it empty."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(city_supervisor)
    page = client.get(url).content.decode()
    assert re.search(rf'type="date" name="{field}" value="\d{{4}}-\d{{2}}-\d{{2}}"', page), page


def test_run_pipeline_speaks_the_site_language_and_the_active_one(jiaxing):
    """Outside a request a command speaks settings.LANGUAGE_CODE (Chinese), and the language a caller activated."""
    out = StringIO()
    call_command("run_pipeline", "--as-of", "2026-06-30", stdout=out)
    printed = out.getvalue()
    assert "按 2026-06-30 运行系统计算（本进程内）" in printed and "个区域颜色变化" in printed
    assert not re.search(r"\b(?:regions|enterprises|products|changed|computed)\b", printed)
    out = StringIO()
    with translation.override("en"):
        call_command("run_pipeline", "--as-of", "2026-06-30", stdout=out)
    assert "Pipeline as of 2026-06-30 (in-process)" in out.getvalue() and not re.search(r"[\u3400-\u9fff]", out.getvalue())
