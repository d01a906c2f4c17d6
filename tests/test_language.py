"""Chinese first: the interface is in Simplified Chinese unless the user switches to English."""

import re
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

from regions.models import Role

from .factories import StaffProfileFactory, UserFactory

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
    translation.deactivate()  # as in a shell: no language activated (an earlier test in this thread may have left one)
    out = StringIO()
    call_command("run_pipeline", "--as-of", "2026-06-30", stdout=out)
    printed = out.getvalue()
    assert "按 2026-06-30 运行系统计算（本进程内）" in printed and "个区域颜色变化" in printed
    assert "  区域着色: " in printed and "[本进程内 ×" in printed  # stages and where they ran named in Chinese too
    assert not re.search(r"[A-Za-z]{3,}", printed), printed  # no stage identifier, no "in-process"
    out = StringIO()
    with translation.override("en"):
        call_command("run_pipeline", "--as-of", "2026-06-30", stdout=out)
    assert "Pipeline as of 2026-06-30 (in-process)" in out.getvalue() and not re.search(r"[\u3400-\u9fff]", out.getvalue())
    assert "  region colours: " in out.getvalue() and "[in-process ×" in out.getvalue()


# --- No language leftovers: the pages and the admin in English show no Chinese but names and data, and the Chinese
# admin no English sentence (issue 14). Text is read as a person sees it: the page's text nodes, outside scripts.

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]+")
ENGLISH = re.compile(r"\b[A-Za-z][a-z]+(?: [A-Za-z][a-z]+)+\b")  # two English words in a row
# What the Chinese admin may show in English: data and identifiers (e-mail, user names), file formats, product
# and method names, django-celery-beat's crontab notation and the names of the beat's periodic tasks (data).
ENGLISH_ALLOWED = re.compile(
    r"@|\.csv|Excel|CSV|DingTalk|Webhook|JQS-|SHA-256|system defaults|Celery|Asia/|Etc/|\(m/h/dM/MY/d\)|"
    r"daily overdue check|nightly pipeline|requeue what the broker missed"
)
# Chinese terms the English method texts keep beside their translation, as the published method names them.
GLOSSES = {"双随机", "风险评分", "一公开", "一码", "一图", "一指数", "生产许可证", "系统默认值"}  # and the defaults' bilingual reason


class PageText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.skip, self.texts = 0, []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "svg", "textarea", "select")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "svg", "textarea", "select")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def page_texts(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    parser = PageText()
    parser.feed(response.content.decode())
    return parser.texts


def names_in_data() -> set[str]:
    """Every run of Chinese characters the data holds (names, addresses, checklist texts, plan names)."""
    from django.contrib.auth import get_user_model

    from enterprises.models import Enterprise, RiskEvent
    from inspections.models import InspectionPlan
    from products.models import ChecklistItem, Product, ProductClass
    from regions.models import Region

    values = [
        *Region.objects.values_list("name", flat=True),
        *Product.objects.values_list("name", flat=True),
        *ProductClass.objects.values_list("name", flat=True),
        *ChecklistItem.objects.values_list("text", flat=True),
        *ChecklistItem.objects.values_list("legal_basis", flat=True),
        *Enterprise.objects.values_list("name", flat=True),
        *Enterprise.objects.values_list("address", flat=True),
        *InspectionPlan.objects.values_list("name", flat=True),
    ]
    for user in get_user_model().objects.all():
        values += [user.first_name, user.last_name, user.get_full_name()]
    values += RiskEvent.objects.values_list("source_ref", flat=True)  # case and report numbers: identifiers
    return {run for value in values if value for run in CJK.findall(value)} | GLOSSES | {"中"}  # 中: the language switch


@pytest.fixture
def loop(two_county_cases, district_and_city_supervisors):
    """The whole loop in county A, its task drawn by the draw's reason, and the pipeline run over it."""
    from inspections.models import task_reason
    from jiaxing_qs.tasks import run_pipeline

    case = two_county_cases["a"]
    case.task.reason_params = task_reason("stratum_pps", stratum="routine/green", rank=1, n=118, p=4.8, quota=8)
    case.task.save()
    run_pipeline(case.result.checked_on)
    return case


@pytest.fixture
def district_and_city_supervisors(region_tree):
    return StaffProfileFactory(user=UserFactory(username="leftover_supervisor"), role=Role.SUPERVISOR, jurisdiction=region_tree.city).user


def test_in_english_the_pages_show_no_chinese_but_names_and_data(client_en, loop, district_and_city_supervisors):
    client_en.force_login(district_and_city_supervisors)
    urls = [
        "/map/",
        f"/enterprises/{loop.enterprise.pk}/",
        f"/plans/{loop.plan.pk}/",
        f"/tasks/{loop.task.pk}/",
        "/plans/",
        "/dashboard/",
    ]
    allowed = names_in_data()
    county = loop.county.code
    panel = client_en.get(f"/api/regions/{county}/panel/").json()
    assert panel["index_formula"] and not CJK.search(panel["index_formula"])
    leftovers = {url: [text for text in page_texts(client_en.get(url)) if set(CJK.findall(text)) - allowed] for url in urls}
    assert leftovers == {url: [] for url in urls}


def admin_pages(client) -> list[str]:
    """Every registered model's changelist, and the change page of its first row."""
    from django.contrib import admin

    urls = []
    for model in admin.site._registry:
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls.append(changelist)
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            urls.append(f"{changelist}{first}/change/")
    return urls


def test_the_admin_shows_no_english_sentence_in_chinese_and_no_chinese_but_data_in_english(admin_client, loop):
    urls = admin_pages(admin_client)
    assert len(urls) > 40
    chinese = {
        url: [
            text
            for text in page_texts(admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans"))
            if ENGLISH.search(text) and not ENGLISH_ALLOWED.search(text)
        ]
        for url in urls
    }
    assert {url: texts for url, texts in chinese.items() if texts} == {}
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    allowed = names_in_data()
    english = {url: [text for text in page_texts(admin_client.get(url)) if set(CJK.findall(text)) - allowed] for url in urls}
    assert {url: texts for url, texts in english.items() if texts} == {}


def test_the_permission_pickers_name_each_permission_in_the_readers_language(admin_client, admin_user):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="督导组")
    pages = (f"/admin/auth/group/{group.pk}/change/", f"/admin/auth/user/{admin_user.pk}/change/")
    for language, expected, absent in (("zh-hans", "企业 | 企业 | 可以添加企业", "Can add"), ("en", "Can add enterprise", "可以添加")):
        admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        for url in pages:
            page = admin_client.get(url).content.decode()
            assert expected in page and absent not in page, (language, url)


def test_the_beats_schedules_are_said_in_the_readers_language(admin_client):
    from django_celery_beat.models import CrontabSchedule

    from jiaxing_qs.admin import crontab_in_words

    crontab = CrontabSchedule.objects.create(minute="30", hour="2", timezone="Asia/Shanghai")
    with translation.override("zh-hans"):
        assert crontab_in_words(crontab) == "在 02:30 Asia/Shanghai"
    with translation.override("en"):
        assert crontab_in_words(crontab) == "At 02:30 Asia/Shanghai"
    page = admin_client.get(f"/admin/django_celery_beat/crontabschedule/{crontab.pk}/change/").content.decode()
    assert "在 02:30 Asia/Shanghai" in page and "文字说明" in page
