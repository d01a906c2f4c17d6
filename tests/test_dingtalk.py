"""DingTalk as the bureau's internal app uses it, against a local server that follows DingTalk's published protocol
(tests/dingtalk_server.py): the access token cached in the database and refreshed before it ends or when DingTalk
calls it expired, the work notification's request and body, its delivery check, the 免登 exchange, a failing
DingTalk shown on the plan's notifications with its error and attempts, and never a message sent twice."""

import dataclasses
import datetime as dt
import functools
import io
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from celery.exceptions import Retry
from django.db import IntegrityError
from django.utils import timezone

from inspections import dingtalk
from inspections.models import (
    Channel,
    DingTalkAccessToken,
    DrawArm,
    InspectionPlan,
    InspectionTask,
    Notification,
    NotificationSetting,
    NotificationStatus,
    PlanStatus,
    TaskAssignment,
)
from inspections.notifications import NotificationError, notification_send
from inspections.tasks import check_notification_delivery, dispatch_plan, send_notification
from jiaxing_qs.tasks import run_pipeline
from regions.imports import staff_dingtalk_import
from regions.models import Role, StaffProfile

from .dingtalk_server import TOKEN_SECONDS, DingTalkServer
from .factories import EnterpriseFactory, StaffProfileFactory, UserFactory
from .test_plan_pages import plan_form

pytestmark = pytest.mark.django_db

APP_KEY, APP_SECRET, AGENT_ID, CORP_ID = "dingqs7xk2m4p9", "GT-app-secret-0123456789", 3308472615, "ding5f0e1c2d3b4a"
PUBLIC = "https://zlaq.jiaxing.example"
TOKEN_PATH, SEND_PATH = "/gettoken", "/topapi/message/corpconversation/asyncsend_v2"
RESULT_PATH, USERINFO_PATH = "/topapi/message/corpconversation/getsendresult", "/topapi/v2/user/getuserinfo"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def server(settings):
    directory = {"ding-wang": "王某", "ding-li": "李某", "ding-zhao": "赵某"}
    with DingTalkServer(app_key=APP_KEY, app_secret=APP_SECRET, agent_id=AGENT_ID, directory=directory) as running:
        settings.DINGTALK_API_URL = running.url
        settings.PUBLIC_BASE_URL = PUBLIC
        yield running


@pytest.fixture
def app_setting(county) -> NotificationSetting:
    return NotificationSetting.objects.create(
        bureau=county, channel=Channel.DINGTALK_APP, corp_id=CORP_ID, agent_id=AGENT_ID, app_key=APP_KEY, app_secret=APP_SECRET
    )


@pytest.fixture
def app(app_setting) -> dingtalk.DingTalkApp:
    return dingtalk.DingTalkApp.of(app_setting)


def linked(user, userid: str):
    StaffProfile.objects.filter(user=user).update(dingtalk_userid=userid)
    user.refresh_from_db()
    return user


@pytest.fixture
def task(town, inspector):
    enterprise = EnterpriseFactory(town=town, name="海宁某某皮革有限公司")
    task = InspectionTask.objects.create(enterprise=enterprise, arm=DrawArm.RISK, reason="风险分层抽取", due_date=dt.date(2026, 12, 31))
    TaskAssignment.objects.create(task=task, officer=inspector, position=1)
    return task


def notification_for(task, officer) -> Notification:
    return Notification.objects.create(
        task=task,
        recipient=officer,
        channel=Channel.DINGTALK_APP,
        dedupe_key=f"dispatch:{task.pk}:{officer.pk}",
        title=f"新抽查任务：{task.enterprise.name}",
        body="海宁某某皮革有限公司（测试镇），产品：皮革服装，2026-12-31 前完成。",
    )


def run_on_a_worker(notification_id: int, retries: int):
    """send_notification as a Celery worker runs it (not eagerly), its retry replaced by a marker."""
    send_notification.push_request(retries=retries, is_eager=False, called_directly=False)
    try:
        with mock.patch.object(send_notification, "retry", side_effect=Retry("again later")) as retry:
            try:
                return send_notification.run(notification_id), retry
            except Retry:
                return "retry", retry
    finally:
        send_notification.pop_request()


# --- The access token ------------------------------------------------------------------------------------------


def test_the_access_token_is_fetched_once_kept_in_the_database_and_renewed_before_it_ends(server, app, clock):
    token = dingtalk.access_token(app)
    assert dingtalk.access_token(app) == token
    (request,) = server.api_calls(TOKEN_PATH)
    assert (request["method"], request["query"]) == ("GET", {"appkey": APP_KEY, "appsecret": APP_SECRET})
    stored = DingTalkAccessToken.objects.get(app_key=APP_KEY)
    assert stored.access_token == token, "every worker reads the one stored token"
    assert abs((stored.expires_at - timezone.now()).total_seconds() - TOKEN_SECONDS) < 5

    clock.shift(dt.timedelta(seconds=TOKEN_SECONDS) - dt.timedelta(minutes=5, seconds=10))
    assert dingtalk.access_token(app) == token and server.token_requests == 1, "still well within its two hours"
    clock.shift(dt.timedelta(seconds=20))
    dingtalk.access_token(app)
    assert server.token_requests == 2, "renewed in the last five minutes, before DingTalk would refuse it"
    assert DingTalkAccessToken.objects.get().expires_at > stored.expires_at


@pytest.mark.parametrize(("break_token", "errcode"), [("expire", 42001), ("revoke", 40014)])
def test_a_token_dingtalk_calls_expired_or_invalid_is_fetched_anew_and_the_call_made_again(
    server, app, task, inspector, break_token, errcode
):
    old = dingtalk.access_token(app)
    if break_token == "expire":
        server.tokens[old] = 0  # DingTalk ended it early; the stored copy still looks valid
    else:
        server.revoke_tokens()  # the app secret was reset
    linked(inspector, "ding-wang")

    notification_send(notification_id=notification_for(task, inspector).pk)

    first, second = server.api_calls(SEND_PATH)
    assert first["query"]["access_token"] == old and first["answer"]["errcode"] == errcode
    assert second["query"]["access_token"] == DingTalkAccessToken.objects.get().access_token != old
    assert server.token_requests == 2
    assert second["answer"]["errcode"] == 0 and len(server.inbox["ding-wang"]) == 1


def test_wrong_app_credentials_fail_with_dingtalks_error(server, county, task, inspector):
    NotificationSetting.objects.create(
        bureau=county, channel=Channel.DINGTALK_APP, corp_id=CORP_ID, agent_id=AGENT_ID, app_key=APP_KEY, app_secret="GT-old-secret"
    )
    notification = notification_for(task, linked(inspector, "ding-wang"))
    with pytest.raises(NotificationError, match="40089"):
        notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and "40089" in notification.last_error
    assert server.api_calls(SEND_PATH) == []


# --- The work notification -----------------------------------------------------------------------------------------


def test_the_work_notification_goes_to_the_officers_userid_as_an_action_card_opening_the_task_inside_dingtalk(
    server, app_setting, task, inspector, county
):
    notification = notification_for(task, linked(inspector, "ding-wang"))

    assert send_notification.delay(notification.pk).get() == NotificationStatus.SENT

    (request,) = server.api_calls(SEND_PATH)
    assert request["method"] == "POST" and request["content_type"].startswith("application/json")
    assert request["query"] == {"access_token": DingTalkAccessToken.objects.get().access_token}
    body = request["body"]
    assert set(body) == {"agent_id", "userid_list", "msg"}
    assert (body["agent_id"], body["userid_list"]) == (AGENT_ID, "ding-wang")
    card = body["msg"]["action_card"]
    assert body["msg"]["msgtype"] == "action_card"
    assert card["title"] == notification.title and notification.body in card["markdown"]
    assert card["single_title"] == "打开任务", "in the site's language"
    link = urlsplit(card["single_url"])
    assert (link.scheme, link.netloc, link.path) == ("dingtalk", "dingtalkclient", "/page/link")
    opened = parse_qs(link.query)
    assert opened["pc_slide"] == ["true"], "inside the PC client too, where the JSAPI works"
    page = urlsplit(opened["url"][0])
    assert f"{page.scheme}://{page.netloc}{page.path}" == f"{PUBLIC}/dingtalk/login/"
    assert parse_qs(page.query) == {"bureau": [county.code], "next": [f"/tasks/{task.pk}/"]}

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == (NotificationStatus.SENT, 1, "")
    assert notification.remote_id == str(server.sent[0].task_id), "DingTalk's task_id is kept"
    assert server.api_calls(RESULT_PATH)[0]["body"] == {"agent_id": AGENT_ID, "task_id": server.sent[0].task_id}
    assert server.inbox == {"ding-wang": [body["msg"]]}


def test_a_userid_dingtalk_does_not_know_turns_the_notification_to_failed_after_the_delivery_check(server, app_setting, task, inspector):
    notification = notification_for(task, linked(inspector, "ding-left-the-bureau"))

    send_notification.delay(notification.pk).get()

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert notification.last_error == "DingTalk does not know the userid: ding-left-the-bureau"
    assert notification.remote_id and server.inbox == {}


def test_a_delivery_check_that_cannot_reach_dingtalk_is_retried_and_leaves_the_notification_sent(server, app_setting, task, inspector):
    notification = notification_for(task, linked(inspector, "ding-wang"))
    notification_send(notification_id=notification.pk)
    server.fail_next(1)

    check_notification_delivery.push_request(retries=0, is_eager=False, called_directly=False)
    try:
        with mock.patch.object(check_notification_delivery, "retry", side_effect=Retry("later")) as retry, pytest.raises(Retry):
            check_notification_delivery.run(notification.pk)
    finally:
        check_notification_delivery.pop_request()
    assert retry.call_args.kwargs["countdown"] == 60
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT
    assert check_notification_delivery.delay(notification.pk).get() == NotificationStatus.SENT


def test_a_message_held_back_for_another_reason_is_a_failure(server, app, app_setting, task, inspector, monkeypatch):
    notification = notification_for(task, linked(inspector, "ding-wang"))
    notification_send(notification_id=notification.pk)
    result = {"forbidden_user_id_list": ["ding-wang"], "forbidden_list": [{"code": "143105", "count": 500, "userid": "ding-wang"}]}
    monkeypatch.setattr(server, "_getsendresult", lambda body: {"errcode": 0, "errmsg": "ok", "send_result": result})
    assert check_notification_delivery.delay(notification.pk).get() == NotificationStatus.FAILED
    notification.refresh_from_db()
    assert notification.last_error.startswith("DingTalk held the message back") and "(143105)" in notification.last_error


def test_an_officer_without_a_dingtalk_userid_fails_at_once_and_is_not_retried(server, app_setting, task, inspector):
    notification = notification_for(task, inspector)

    outcome, retry = run_on_a_worker(notification.pk, retries=0)

    assert outcome == "failed" and not retry.called, "retrying cannot help until an administrator enters the userid"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == (
        NotificationStatus.FAILED,
        1,
        "inspector has no DingTalk userid",
    )
    assert server.requests == []


def test_a_message_too_long_for_dingtalk_is_refused_before_sending(server, app_setting, task, inspector):
    notification = notification_for(task, linked(inspector, "ding-wang"))
    Notification.objects.filter(pk=notification.pk).update(body="很长的说明。" * 200)
    with pytest.raises(NotificationError, match="2048 bytes"):
        notification_send(notification_id=notification.pk)
    assert server.api_calls(SEND_PATH) == []


# --- Failures, retries and no duplicates -------------------------------------------------------------------------


@pytest.mark.parametrize(("failure", "shown"), [({"status": 500}, "HTTP Error 500"), ({"errcode": -1}, "-1 系统繁忙")])
def test_a_failing_dingtalk_is_retried_with_back_off_and_sends_once_when_it_recovers(server, app_setting, task, inspector, failure, shown):
    notification = notification_for(task, linked(inspector, "ding-wang"))
    server.fail_next(3, **failure)

    countdowns = []
    for retries in range(3):
        outcome, retry = run_on_a_worker(notification.pk, retries=retries)
        assert outcome == "retry"
        countdowns.append(retry.call_args.kwargs["countdown"])
        notification.refresh_from_db()
        assert notification.status == NotificationStatus.FAILED and shown in notification.last_error
        assert notification.attempts == retries + 1
    assert countdowns == [30, 60, 120]

    assert run_on_a_worker(notification.pk, retries=3)[0] == NotificationStatus.SENT
    assert run_on_a_worker(notification.pk, retries=0)[0] == NotificationStatus.SENT, "a redelivered task sends nothing"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == (NotificationStatus.SENT, 4, "")
    assert len(server.sent) == 1 and len(server.inbox["ding-wang"]) == 1


def test_the_retries_are_bounded(server, app_setting, task, inspector):
    notification = notification_for(task, linked(inspector, "ding-wang"))
    server.fail_next(10)
    send_notification.push_request(retries=send_notification.max_retries, is_eager=False, called_directly=False)
    try:
        with pytest.raises(NotificationError, match="HTTP Error 500"):
            send_notification.run(notification.pk)
    finally:
        send_notification.pop_request()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and send_notification.max_retries == 5


def test_a_send_whose_answer_was_lost_is_retried_without_a_second_message(server, app_setting, task, inspector):
    """DingTalk took the message but the answer never came: the retry is sent, DingTalk holds back the same content
    to the same member (once a day), and the delivery check takes that as delivered by the first attempt."""
    notification = notification_for(task, linked(inspector, "ding-wang"))
    server.lose_next_answer()

    outcome, _retry = run_on_a_worker(notification.pk, retries=0)
    assert outcome == "retry"
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and "unreachable" in notification.last_error

    assert send_notification.delay(notification.pk).get() == NotificationStatus.SENT
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == (NotificationStatus.SENT, 2, "")
    assert [sent.forbidden for sent in server.sent] == [[], ["ding-wang"]]
    assert len(server.inbox["ding-wang"]) == 1, "the member got it once"


@pytest.fixture
def dispatched_county(region_tree):
    """Three inspectors with DingTalk userids, twelve enterprises, the pipeline run; the bureau uses work notices."""
    county = region_tree.county_a
    for number, userid in enumerate(["ding-wang", "ding-li", "ding-zhao"], start=1):
        StaffProfileFactory(user=UserFactory(username=f"officer{number}"), role=Role.INSPECTOR, jurisdiction=county, dingtalk_userid=userid)
    for _ in range(12):
        EnterpriseFactory(town=region_tree.town_a1)
    run_pipeline(dt.date(2026, 11, 26))
    NotificationSetting.objects.create(
        bureau=county, channel=Channel.DINGTALK_APP, corp_id=CORP_ID, agent_id=AGENT_ID, app_key=APP_KEY, app_secret=APP_SECRET
    )
    return county


def test_a_failing_dingtalk_shows_on_the_plans_notifications_and_a_rerun_sends_no_duplicate(
    server, dispatched_county, supervisor, client_en, django_capture_on_commit_callbacks
):
    client_en.force_login(supervisor)
    client_en.post("/plans/new/", plan_form(dispatched_county, batch_budget=2))
    plan = InspectionPlan.objects.get()
    server.fail_next(100, status=500)
    with django_capture_on_commit_callbacks(execute=True):
        client_en.post(f"/plans/{plan.pk}/approve/", {"confirm": "dispatch"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED
    notifications = Notification.objects.filter(task__plan=plan)
    assert notifications.count() == 4 and {n.status for n in notifications} == {NotificationStatus.FAILED}

    page = client_en.get(f"/plans/{plan.pk}/").content.decode()
    assert "Notifications that failed" in page and 'id="notifications"' in page
    assert page.count('class="notification-failed"') == 4
    assert "DingTalk unreachable" in page and "HTTP Error 500" in page
    assert "DingTalk work notification (internal app)" in page

    server.recover()  # DingTalk is back; the dispatch is run again (as a re-run of the dispatch task does)
    dispatch_plan.delay(plan.pk).get()
    dispatch_plan.delay(plan.pk).get()
    assert {(n.status, n.attempts) for n in notifications.all()} == {(NotificationStatus.SENT, 2)}
    received = sorted(userid for sent in server.sent for userid in sent.delivered)
    assert len(received) == 4 and all(len(messages) == len(set(map(str, messages))) for messages in server.inbox.values())
    page = client_en.get(f"/plans/{plan.pk}/").content.decode()
    assert page.count('class="notification-sent"') == 4 and "Notifications that failed" not in page


# --- 免登 --------------------------------------------------------------------------------------------------------


def test_the_login_page_inside_dingtalk_carries_the_bureaus_corp_id_and_offers_the_password_login(server, app_setting, client, county):
    response = client.get("/dingtalk/login/", {"bureau": county.code, "next": "/tasks/7/"})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'data-corp-id="{CORP_ID}"' in page
    assert "vendor/dingtalk-jsapi/dingtalk-jsapi-3.2.9.min.js" in page and "js/dingtalk-login.js" in page
    assert 'href="/accounts/login/?next=%2Ftasks%2F7%2F"' in page, "password login stays available"
    assert "https://" not in page.split("<body", 1)[1].replace(PUBLIC, ""), "nothing loaded from outside"


def test_a_valid_auth_code_logs_the_mapped_staff_member_in_and_opens_the_task(server, app_setting, client, county, inspector, task):
    linked(inspector, "ding-wang")
    code = server.issue_auth_code("ding-wang")

    response = client.post("/dingtalk/login/", {"code": code, "bureau": county.code, "next": f"/tasks/{task.pk}/"})

    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.pk}/"
    assert int(client.session["_auth_user_id"]) == inspector.pk
    assert client.get(f"/tasks/{task.pk}/").status_code == 200
    (request,) = server.api_calls(USERINFO_PATH)
    assert request["body"] == {"code": code} and request["query"]["access_token"] == DingTalkAccessToken.objects.get().access_token
    assert client.get("/dingtalk/login/", {"bureau": county.code, "next": "/tasks/"})["Location"] == "/tasks/", "already in"


def test_a_used_or_unknown_code_is_refused(server, app_setting, client, county, inspector):
    linked(inspector, "ding-wang")
    code = server.issue_auth_code("ding-wang")
    client.post("/dingtalk/login/", {"code": code, "bureau": county.code})
    client.logout()

    for attempt in (code, "not-a-code"):
        response = client.post("/dingtalk/login/", {"code": attempt, "bureau": county.code, "next": "/tasks/"})
        assert response.status_code == 403
        assert "40078" in response.content.decode() and "_auth_user_id" not in client.session


def test_a_dingtalk_member_not_linked_to_a_staff_account_is_refused_in_both_languages(server, app_setting, client, county, inspector):
    linked(inspector, "ding-wang")
    for language, text in (("zh-hans", "未关联到本局在职的工作人员账号"), ("en", "is not linked to an active staff account")):
        client.cookies["django_language"] = language
        response = client.post("/dingtalk/login/", {"code": server.issue_auth_code("ding-zhao"), "bureau": county.code})
        page = response.content.decode()
        assert response.status_code == 403 and text in page and "ding-zhao" in page
        assert 'class="topbar"' in page, "in the site's layout"
        assert "/accounts/login/" in page
        assert "_auth_user_id" not in client.session


def test_only_active_staff_of_the_bureau_are_logged_in(server, app_setting, client, county, inspector, outsider):
    linked(inspector, "ding-wang")
    inspector.is_active = False
    inspector.save()
    response = client.post("/dingtalk/login/", {"code": server.issue_auth_code("ding-wang"), "bureau": county.code})
    assert response.status_code == 403

    linked(outsider, "ding-li")  # staff of another county, reaching this bureau's app
    response = client.post("/dingtalk/login/", {"code": server.issue_auth_code("ding-li"), "bureau": county.code})
    assert response.status_code == 403 and "_auth_user_id" not in client.session


def test_a_bureau_without_a_dingtalk_app_and_a_foreign_next_page_are_handled(server, client, county, inspector, client_en):
    page = client_en.get("/dingtalk/login/", {"bureau": county.code}).content.decode()
    assert "DingTalk login is not set up for this bureau." in page and 'data-corp-id=""' in page
    assert client.post("/dingtalk/login/", {"code": "x", "bureau": county.code}).status_code == 403

    NotificationSetting.objects.create(
        bureau=county, channel=Channel.DINGTALK_APP, corp_id=CORP_ID, agent_id=AGENT_ID, app_key=APP_KEY, app_secret=APP_SECRET
    )
    linked(inspector, "ding-wang")
    response = client.post(
        "/dingtalk/login/", {"code": server.issue_auth_code("ding-wang"), "bureau": county.code, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/tasks/", "never sent on to another site"


def test_refused_auth_codes_lock_the_address_like_failed_password_logins(server, app_setting, client, county, inspector, settings):
    """The password login's rule (jiaxing_qs.login): LOGIN_IP_FAILURE_LIMIT refusals from one address lock it; while
    locked, even a valid code is refused without being sent to DingTalk."""
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    linked(inspector, "ding-wang")
    for attempt in range(3):
        assert client.post("/dingtalk/login/", {"code": f"made-up-{attempt}", "bureau": county.code}).status_code == 403
    exchanges = len(server.api_calls(USERINFO_PATH))
    client.cookies["django_language"] = "en"
    response = client.post("/dingtalk/login/", {"code": server.issue_auth_code("ding-wang"), "bureau": county.code})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed login attempts. Try again in 15 minutes." in response.content.decode()
    assert len(server.api_calls(USERINFO_PATH)) == exchanges, "no exchange while locked"


def test_the_lock_ends_and_dingtalk_and_password_failures_share_the_addresss_count(
    server, app_setting, client, county, inspector, settings, clock
):
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    linked(inspector, "ding-wang")
    client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    assert client.post("/dingtalk/login/", {"code": "made-up", "bureau": county.code}).status_code == 403  # the 2nd failure: locked
    assert client.post("/dingtalk/login/", {"code": server.issue_auth_code("ding-wang"), "bureau": county.code}).status_code == 429
    clock.shift(dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES, seconds=1))
    response = client.post("/dingtalk/login/", {"code": server.issue_auth_code("ding-wang"), "bureau": county.code, "next": "/tasks/"})
    assert response.status_code == 302 and int(client.session["_auth_user_id"]) == inspector.pk


def test_password_login_still_works(client, inspector):
    response = client.post("/accounts/login/", {"username": "inspector", "password": "correct horse battery staple"})
    assert response.status_code == 302 and int(client.session["_auth_user_id"]) == inspector.pk


# --- The administrators' side ----------------------------------------------------------------------------------


@pytest.fixture
def city_admin(region_tree):
    user = UserFactory(username="cityadmin", is_staff=True, is_superuser=True)
    return user


def test_the_app_secret_is_written_but_never_shown_back_and_kept_when_left_empty(client, city_admin, county, app_setting):
    client.force_login(city_admin)
    url = f"/admin/inspections/notificationsetting/{app_setting.pk}/change/"
    page = client.get(url).content.decode()
    assert APP_SECRET not in page and APP_KEY in page

    form = {
        "bureau": county.pk,
        "channel": Channel.DINGTALK_APP,
        "enabled": "on",
        "webhook_url": "",
        "secret": "",
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "app_key": APP_KEY,
        "app_secret": "",
    }
    assert client.post(url, form).status_code == 302
    app_setting.refresh_from_db()
    assert app_setting.app_secret == APP_SECRET, "left empty: kept"

    assert client.post(url, form | {"app_secret": "GT-new-secret"}).status_code == 302
    app_setting.refresh_from_db()
    assert app_setting.app_secret == "GT-new-secret"
    assert "GT-new-secret" not in str(list(app_setting.history.values()))

    response = client.post(url, form | {"app_secret_clear": "on"})
    assert response.status_code == 200, "work notifications need the secret: refused beside the field"
    app_setting.refresh_from_db()
    assert app_setting.app_secret == "GT-new-secret"


def test_administrators_import_the_dingtalk_userids_of_their_staff(english, county, other_county, inspector, supervisor, outsider):
    linked(supervisor, "ding-old")
    sheet = "用户名,钉钉用户ID\ninspector,ding-wang\nSUPERVISOR,\n".encode()

    report = staff_dingtalk_import(io.BytesIO(sheet), filename="staff.csv", dry_run=True)
    assert report.ok and (report.updated, report.unchanged) == (2, 0) and not report.written
    assert StaffProfile.objects.get(user=inspector).dingtalk_userid == ""

    report = staff_dingtalk_import(io.BytesIO(sheet), filename="staff.csv")
    assert report.ok and report.written
    assert StaffProfile.objects.get(user=inspector).dingtalk_userid == "ding-wang"
    assert StaffProfile.objects.get(user=supervisor).dingtalk_userid == "", "an empty cell clears it"
    assert StaffProfile.objects.get(user=inspector).history.latest().dingtalk_userid == "ding-wang"
    assert staff_dingtalk_import(io.BytesIO(sheet), filename="staff.csv").unchanged == 2

    bad = "用户名,钉钉用户ID\nnobody,ding-x\noutsider,ding-wang\nsupervisor,ding-wang\n".encode()
    report = staff_dingtalk_import(io.BytesIO(bad), filename="bad.csv")
    assert not report.ok and not report.written
    assert sorted(report.problem_lines()) == [
        "row 2, column A 用户名: no staff member with the username nobody",
        "row 3, column B 钉钉用户ID: the DingTalk userid ding-wang belongs to another staff member",
        "row 4, column B 钉钉用户ID: ding-wang already appears on row 3",
    ]
    assert StaffProfile.objects.get(user=outsider).dingtalk_userid == ""

    # In the admin a county administrator's import reaches their county only (common.import_admin).
    within_county = dataclasses.replace(staff_dingtalk_import, run=functools.partial(staff_dingtalk_import.run, jurisdiction=county))
    report = within_county(io.BytesIO("用户名,钉钉用户ID\noutsider,ding-zhao\n".encode()), filename="x.csv")
    assert report.problem_lines() == ["row 2, column A 用户名: outsider works outside your jurisdiction"]


def test_a_userid_can_move_from_one_member_to_another_in_one_file(inspector, supervisor):
    linked(inspector, "ding-wang")
    sheet = "用户名,钉钉用户ID\nsupervisor,ding-wang\ninspector,ding-wang-2\n".encode()
    report = staff_dingtalk_import(io.BytesIO(sheet), filename="move.csv")
    assert report.ok and report.updated == 2
    assert StaffProfile.objects.get(user=supervisor).dingtalk_userid == "ding-wang"


def test_the_userid_is_unique_among_staff(inspector, supervisor):
    linked(inspector, "ding-wang")
    profile = StaffProfile.objects.get(user=supervisor)
    profile.dingtalk_userid = "ding-wang"
    with pytest.raises(IntegrityError):
        profile.save()
