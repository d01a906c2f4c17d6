"""The offline-first field app in Debian's Chromium on a phone (390 × 844): the draft survives an offline reload and a
closed browser, the outbox sends once when the network returns, a lost answer or a second sending stores one
result, a re-used key shows a conflict, a task cancelled meanwhile holds the work, the task list opens offline,
and logging out leaves nothing of one inspector on the phone for the next. Screenshots in test-artifacts/."""

import contextlib
import os

import pytest

from inspections.fieldwork.services import check_result_submit
from inspections.models import CheckResult, Conclusion, FieldPhoto, HeldCheck, ItemOutcome, TaskStatus

from .services import require_browser
from .test_check_browser import (  # noqa: F401
    ANSWER_LOST_ONCE,
    ARTIFACTS,
    PHONE,
    POSITION,
    fill_the_form,
    media_in_tmp,
    no_sideways_scroll,
    photo,
    task,
    until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def playwright_driver(live_server):
    require_browser()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


class Phone:
    """One phone: a browser with its own profile directory, so IndexedDB and the service worker outlive a closed
    browser (Playwright's storage_state does not carry IndexedDB)."""

    def __init__(self, playwright, profile, live_server):
        self.playwright, self.profile, self.url = playwright, str(profile), live_server.url
        self.context = self.page = None

    def open(self, *, offline=False):
        self.context = self.playwright.chromium.launch_persistent_context(
            self.profile,
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            geolocation=POSITION,
            permissions=["geolocation"],
            offline=offline,
        )
        self.context.on("dialog", lambda dialog: dialog.accept())
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("console", lambda message: print("browser console:", message.type, message.text))
        self.page.on("pageerror", lambda error: print("browser error:", error))
        return self.page

    def close(self):
        self.context.close()

    def offline(self, offline=True):
        self.context.set_offline(offline)

    def log_in(self, username):
        page = self.page
        page.goto(f"{self.url}/accounts/login/?next=/tasks/")
        page.fill("#id_username", username)
        page.fill("#id_password", "correct horse battery staple")
        page.click(".login-card button[type=submit]")
        page.wait_for_url(f"{self.url}/tasks/")
        # The service worker controls the pages from now on; the tasks and their pages are kept on the phone.
        until(page, "navigator.serviceWorker.controller !== null", seconds=15)
        page.reload()
        until(page, "window.jqsStore && jqsStore.all('tasks').then(t => t.length > 0)")
        until(
            page,
            """(async () => { const names = (await caches.keys()).filter(n => n.startsWith('jqs-pages-u'));
               if (names.length !== 1) return false;
               const kept = await (await caches.open(names[0])).keys(); return kept.length >= 6; })()""",
        )

    def draft(self, task_id):
        return self.page.evaluate(
            f"jqsStore.get('drafts', {task_id}).then(d => d && {{key: d.key, values: d.values, photos: d.photos.length}})"
        )

    def outbox(self):
        return self.page.evaluate(
            "jqsStore.all('outbox').then(items => items.map(i => ({key: i.key, state: i.state, message: i.message})))"
        )


def outbox_empty(page):
    until(page, "jqsStore.all('outbox').then(items => items.length === 0)")


@pytest.fixture
def phone(playwright_driver, tmp_path, live_server):
    phone = Phone(playwright_driver, tmp_path / "profile", live_server)
    phone.open()
    yield phone
    with contextlib.suppress(Exception):  # already closed by the test
        phone.close()


def open_form(phone, the_task):
    page = phone.page
    page.goto(f"{phone.url}/tasks/{the_task.pk}/check/")
    page.wait_for_selector("#check-form[data-draft]")
    return page


def fill_and_keep(phone, the_task, tmp_path):
    page = open_form(phone, the_task)
    page.wait_for_selector("#position-status[data-state=ok]")
    fill_the_form(page, the_task, tmp_path)
    page.set_input_files("input[type=file][multiple]", [photo(tmp_path, "big.png", (3000, 2000), "PNG")])
    until(page, "document.querySelectorAll('#thumbs li').length === 1")
    until(page, f"jqsStore.get('drafts', {the_task.pk}).then(d => d && d.photos.length === 1 && d.values.note !== '')")
    return page


def test_a_draft_survives_an_offline_reload_and_a_closed_browser_and_is_stored_once(phone, task, tmp_path):  # noqa: F811
    phone.log_in("inspector")
    page = open_form(phone, task)
    items = list(task.product.checklist_items.order_by("order"))

    # Checked on the phone before sending: every problem at once, beside its field and named in the banner.
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a photo at all")
    page.set_input_files("input[type=file][capture]", str(fake))
    page.wait_for_selector("#photos.has-error .field-error")
    assert "notes.jpg" in page.inner_text("#photos") and page.locator("#thumbs li").count() == 0
    page.click(f"#item-{items[0].pk} label.opt-nonconforming")
    page.click("#submit-button")
    banner = page.locator("#error-summary-js")
    banner.wait_for()
    assert banner.locator("li").count() >= len(items), "each unanswered check point and the missing note, all at once"
    assert page.locator(f"#item-{items[0].pk} .field-error").count() == 1 and page.locator(f"#item-{items[1].pk} .field-error").count() == 1
    assert not page.locator("[data-photos-lost]").is_visible()
    page.screenshot(path=str(ARTIFACTS / "field-errors.png"), full_page=True)
    assert CheckResult.objects.count() == 0

    page.click(f"#item-{items[0].pk} label.opt-conforming")
    page = fill_and_keep(phone, task, tmp_path)
    key = page.input_value("input[name=submission_key]")
    before = phone.draft(task.pk)
    assert before["key"] == key and before["photos"] == 1

    phone.offline()
    page.reload()
    page.wait_for_selector("#check-form[data-draft=restored]")
    assert page.input_value("input[name=submission_key]") == key
    assert page.is_checked(f"#item-{items[2].pk} input[value=nonconforming]")
    assert page.input_value(f"#item-{items[2].pk} input.item-note") == "2026年10月起无进货查验记录"
    assert page.input_value("textarea[name=note]") == "已责令立即停止销售该批次产品"
    assert page.locator("#thumbs li").count() == 1

    # The task list opens offline, from the phone's IndexedDB (in this browser, whose service worker was running
    # when the network went: a browser started offline may start its worker before Playwright's offline
    # emulation reaches it, and the worker would then fetch from the test server).
    page.goto(f"{phone.url}/tasks/")
    page.wait_for_selector("#offline-tasks li")
    assert page.locator("#offline-tasks li").count() == 3
    assert task.enterprise.name in page.inner_text("#offline-tasks")
    assert no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "field-offline-tasks.png"), full_page=True)
    page.click(f"a.task-row[href='/tasks/{task.pk}/']")
    page.wait_for_url(f"**/tasks/{task.pk}/")
    assert task.enterprise.name in page.inner_text("main")

    phone.close()  # the browser is closed (or the phone restarted) while there is no network
    page = phone.open(offline=True)
    page.goto(f"{phone.url}/tasks/{task.pk}/check/")
    page.wait_for_selector("#check-form[data-draft=restored]")
    assert page.input_value("input[name=submission_key]") == key
    assert page.input_value("textarea[name=note]") == "已责令立即停止销售该批次产品"
    assert page.locator("#thumbs li").count() == 1
    assert float(page.input_value("input[name=lat]")) == pytest.approx(POSITION["latitude"])

    page.click("#submit-button")
    page.wait_for_selector("#outbox .outbox-item[data-state=waiting]")
    assert "1" in page.inner_text("#outbox h2")
    page.screenshot(path=str(ARTIFACTS / "field-outbox.png"), full_page=True)
    assert CheckResult.objects.count() == 0

    phone.offline(False)  # back online: sent on the `online` event
    page.goto(f"{phone.url}/tasks/")
    outbox_empty(page)
    result = CheckResult.objects.get()
    assert str(result.submission_key) == key and result.photos.count() == 1
    assert result.conclusion == Conclusion.NONCONFORMING and FieldPhoto.objects.count() == 0
    assert phone.draft(task.pk) is None, "the draft goes once the server has confirmed it"


def test_a_lost_answer_and_a_second_sending_store_one_result(phone, task, tmp_path):  # noqa: F811
    phone.log_in("inspector")
    page = fill_and_keep(phone, task, tmp_path)
    key = page.input_value("input[name=submission_key]")
    page.evaluate(ANSWER_LOST_ONCE)
    page.click("#submit-button")
    until(page, "window.jqsLostAnswer !== undefined")
    page.wait_for_selector("#outbox .outbox-message")
    assert page.evaluate("window.jqsLostAnswer") == 201, "the server stored it; its answer never arrived"
    assert CheckResult.objects.count() == 1

    body = page.evaluate(f"jqsStore.get('outbox', '{key}').then(item => item.body)")

    # Sent again with "Send now": the same confirmation, and the page moves on to it.
    page.click("#send-now")
    page.wait_for_url(f"**/tasks/{task.pk}/done/")
    number = CheckResult.objects.get().number
    assert page.inner_text("[data-testid=result-number]").strip() == number
    outbox_empty(page)

    # And the very same request once more (a second tab, an old outbox): the same answer, no second result.
    again = page.evaluate(
        """async (body) => { const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
           const response = await fetch("/api/field/checks/", {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json", "X-CSRFToken": token}, body: JSON.stringify(body)});
           return [response.status, (await response.json()).number]; }""",
        body,
    )
    assert again == [200, number]
    assert CheckResult.objects.count() == 1 and str(CheckResult.objects.get().submission_key) == key


def test_a_re_used_key_shows_a_conflict_and_overwrites_nothing(phone, task, inspector, tmp_path):  # noqa: F811
    phone.log_in("inspector")
    page = fill_and_keep(phone, task, tmp_path)
    key = page.input_value("input[name=submission_key]")
    # Meanwhile the same key arrived with other content (another tab of the same draft, edited).
    items = [(item.pk, ItemOutcome.CONFORMING, "") for item in task.product.checklist_items.all()]
    partner = task.assignments.get(position=2).officer
    check_result_submit(
        task=task, submitted_by=inspector, submission_key=key, conclusion=Conclusion.CONFORMING, items=items, co_inspector=partner,
        checked_on=CheckResult._meta.get_field("checked_on").to_python(page.input_value("input[name=checked_on]")), note="另一份",
    )  # fmt: skip
    page.click("#submit-button")
    page.wait_for_selector("#outbox .outbox-item[data-state=conflict]")
    assert "nothing was overwritten" in page.inner_text("#outbox") or "没有覆盖" in page.inner_text("#outbox")
    page.screenshot(path=str(ARTIFACTS / "field-conflict.png"), full_page=True)
    result = CheckResult.objects.get()
    assert (result.note, result.conclusion) == ("另一份", Conclusion.CONFORMING)


def test_a_task_cancelled_while_offline_is_explained_and_the_work_held(phone, task, tmp_path):  # noqa: F811
    phone.log_in("inspector")
    page = fill_and_keep(phone, task, tmp_path)
    phone.offline()
    page.click("#submit-button")
    page.wait_for_selector("#outbox .outbox-item[data-state=waiting]")
    task.status = TaskStatus.CANCELLED
    task.save(update_fields=["status"])
    phone.offline(False)
    page.wait_for_selector("#outbox .outbox-item[data-state=held]", timeout=20000)
    text = page.inner_text("#outbox")
    assert "取消" in text or "cancelled" in text
    page.screenshot(path=str(ARTIFACTS / "field-held.png"), full_page=True)
    held = HeldCheck.objects.get()
    assert held.photos.count() == 1 and held.payload["note"] == "已责令立即停止销售该批次产品"
    assert CheckResult.objects.count() == 0


def test_logging_out_leaves_nothing_of_one_inspector_for_the_next(phone, task, tmp_path):  # noqa: F811
    phone.log_in("inspector")
    fill_and_keep(phone, task, tmp_path)
    page = phone.page
    page.goto(f"{phone.url}/tasks/")
    page.click("form.logout button")
    page.wait_for_url("**/accounts/login/**")
    left = page.evaluate(
        """async () => ({dbs: (await indexedDB.databases()).map(d => d.name).filter(n => n.startsWith('jqs-field')),
                         caches: (await caches.keys()).filter(n => n.startsWith('jqs-pages'))})"""
    )
    assert left == {"dbs": [], "caches": []}
    phone.log_in("partner")
    phone.offline()
    page.goto(f"{phone.url}/tasks/{task.pk}/check/")
    page.wait_for_selector("#check-form[data-draft=new]")
    assert page.input_value("textarea[name=note]") == "", "the first inspector's draft is gone"
