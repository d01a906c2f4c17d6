"""The 免登 page in headless Chromium on a phone (390 × 844): outside DingTalk it loads nothing and offers the
password; inside DingTalk (its user agent) it asks the JSAPI for a code and lands logged in on the task; refused,
it says why and does not loop. The vendored JSAPI itself loads from static/ and exposes requestAuthCode.

Chromium is not DingTalk: inside-DingTalk runs get a stand-in for the JSAPI file that answers requestAuthCode with
a code the local DingTalk server (tests/dingtalk_server.py) issued, as DingTalk's client would."""

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from inspections.models import Channel, DrawArm, InspectionTask, NotificationSetting, TaskAssignment
from regions.models import StaffProfile

from .dingtalk_server import DingTalkServer
from .factories import EnterpriseFactory
from .services import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DINGTALK_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 "
    "AliApp(DingTalk/7.6.10) com.alibaba.android.rimet/38193463 Channel/700159 language/zh-Hans-CN"
)
APP = {"corp_id": "ding5f0e1c2d3b4a", "agent_id": 3308472615, "app_key": "dingqs7xk2m4p9", "app_secret": "GT-app-secret-0123456789"}
JSAPI = "**/static/vendor/dingtalk-jsapi/*.js"


@pytest.fixture
def dingtalk(settings):
    with DingTalkServer(
        app_key=APP["app_key"], app_secret=APP["app_secret"], agent_id=APP["agent_id"], directory={"ding-wang": "王某", "ding-zhao": "赵某"}
    ) as server:
        settings.DINGTALK_API_URL = server.url
        yield server


@pytest.fixture
def task(county, town, inspector):
    NotificationSetting.objects.create(bureau=county, channel=Channel.DINGTALK_APP, **APP)
    StaffProfile.objects.filter(user=inspector).update(dingtalk_userid="ding-wang")
    enterprise = EnterpriseFactory(town=town, name="海宁某某皮革有限公司")
    task = InspectionTask.objects.create(
        enterprise=enterprise, arm=DrawArm.RISK, reason="风险分层抽取", due_date=dt.date.today() + dt.timedelta(days=5)
    )
    TaskAssignment.objects.create(task=task, officer=inspector, position=1)
    return task


@pytest.fixture
def browser(live_server):
    require_browser()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def phone(browser, *, user_agent=None):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN", user_agent=user_agent
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    return page


def stand_in_jsapi(page, code: str, asked: list):
    """DingTalk's client answering requestAuthCode({corpId}) with ``code``; records the corpId it was asked for."""
    script = f"""window.dd = {{ runtime: {{ permission: {{ requestAuthCode: function (params) {{
        window.jqsAskedCorpId = params.corpId; return Promise.resolve({{ code: {json.dumps(code)} }}); }} }} }} }};"""

    def answer(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="application/javascript", body=script)

    page.route(JSAPI, answer)


def login_url(live_server, county, task) -> str:
    return f"{live_server.url}/dingtalk/login/?bureau={county.code}&next=/tasks/{task.pk}/"


def test_outside_dingtalk_nothing_is_loaded_and_the_password_login_is_offered(browser, live_server, dingtalk, task, county):
    page = phone(browser)
    page.goto(login_url(live_server, county, task))
    assert "当前不在钉钉中" in page.inner_text("#dingtalk-status")
    assert not [url for url in page.requested if "dingtalk-jsapi" in url], "the JSAPI is loaded only inside DingTalk"
    assert all(url.startswith(live_server.url) for url in page.requested), "nothing from outside"
    link = page.locator("a.button", has_text="用密码登录")
    box = link.bounding_box()
    assert box["height"] >= 36 and page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dingtalk-login-outside.png"), full_page=True)
    link.click()
    page.wait_for_url(f"{live_server.url}/accounts/login/?next=%2Ftasks%2F{task.pk}%2F")


def test_inside_dingtalk_the_auth_code_logs_the_inspector_in_and_opens_the_task(browser, live_server, dingtalk, task, county):
    page = phone(browser, user_agent=DINGTALK_UA)
    asked = []
    stand_in_jsapi(page, dingtalk.issue_auth_code("ding-wang"), asked)

    page.goto(login_url(live_server, county, task))
    page.wait_for_url(f"{live_server.url}/tasks/{task.pk}/")

    assert "海宁某某皮革有限公司" in page.inner_text("h1")
    assert len(asked) == 1 and asked[0].endswith("/static/vendor/dingtalk-jsapi/dingtalk-jsapi-3.2.9.min.js")
    assert len(dingtalk.api_calls("/topapi/v2/user/getuserinfo")) == 1
    assert page.errors == []
    page.screenshot(path=str(ARTIFACTS / "dingtalk-login-task.png"), full_page=True)


def test_inside_dingtalk_an_unlinked_member_is_told_why_and_the_page_does_not_loop(browser, live_server, dingtalk, task, county):
    page = phone(browser, user_agent=DINGTALK_UA)
    stand_in_jsapi(page, dingtalk.issue_auth_code("ding-zhao"), [])
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    page.goto(login_url(live_server, county, task))
    page.wait_for_selector(".error[role=alert]")
    page.wait_for_timeout(500)

    assert "未关联到本局在职的工作人员账号" in page.inner_text(".error") and "ding-zhao" in page.inner_text(".error")
    assert len(posts) == 1, "refused once, not asked again by itself"
    assert page.locator("#dingtalk-retry").is_visible() and page.locator("a.button", has_text="用密码登录").is_visible()
    page.screenshot(path=str(ARTIFACTS / "dingtalk-login-refused.png"), full_page=True)


def test_the_vendored_jsapi_loads_from_static_and_offers_request_auth_code(browser, live_server):
    page = phone(browser)
    page.goto(f"{live_server.url}/accounts/login/")
    page.add_script_tag(url=f"{live_server.url}/static/vendor/dingtalk-jsapi/dingtalk-jsapi-3.2.9.min.js")
    found = page.evaluate("() => [typeof dd.runtime.permission.requestAuthCode, dd.env.platform, typeof dd.ready]")
    assert found == ["function", "notInDingTalk", "function"]
    assert page.errors == [] and all(url.startswith(live_server.url) for url in page.requested)
