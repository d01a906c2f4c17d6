"""The check form on a phone (390 × 844, touch), in headless Chromium: filled, sent over a flaky network,
tapped twice, sent again from the back button — one result, one number. Screenshots in test-artifacts/."""

import contextlib
import datetime as dt
import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from enterprises.models import RiskEvent, RiskEventKind
from inspections.models import CheckPhoto, CheckResult, DrawArm, InspectionTask, SpotCheckResult, TaskAssignment, TaskKind
from products.models import ChecklistItem
from regions.models import Role

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory
from .services import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 390, "height": 844}
POSITION = {"latitude": 30.512345, "longitude": 120.681234, "accuracy": 15}
CHECK_POINTS = [
    "产品或者包装上的标志标识是否齐全（厂名、厂址、执行标准、规格型号）",
    "生产许可证是否在有效期内，证书信息与实际生产是否一致",
    "原材料进货查验记录是否完整",
    "出厂检验记录及检验设备是否有效",
]

# The next POST of a check is sent for real; its answer is then lost on the way back (the page sees a network error).
ANSWER_LOST_ONCE = """() => {
  const real = window.fetch;
  window.fetch = function (url, options) {
    if (String(url).indexOf("/api/field/checks/") < 0) { return real.apply(this, arguments); }
    window.fetch = real;
    return real(url, options).then((response) => { window.jqsLostAnswer = response.status; throw new TypeError("Failed to fetch"); });
  };
}"""


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def task(town, inspector, county):
    inspector.first_name, inspector.last_name = "王", "某"
    inspector.save()
    partner = StaffProfileFactory(
        user=UserFactory(username="partner", first_name="李", last_name="某"), role=Role.INSPECTOR, jurisdiction=county
    ).user
    product = ProductFactory(name="皮革服装")
    ChecklistItem.objects.bulk_create([ChecklistItem(product=product, order=n, text=text) for n, text in enumerate(CHECK_POINTS, 1)])
    enterprise = EnterpriseFactory(town=town, name="海宁某某皮革有限公司", address="许村镇工业园区 8 号")
    EnterpriseProductFactory(enterprise=enterprise, product=product)
    task = InspectionTask.objects.create(
        enterprise=enterprise, product=product, arm=DrawArm.RISK, reason="风险分层抽取", due_date=dt.date.today() + dt.timedelta(days=5)
    )
    TaskAssignment.objects.bulk_create(
        [TaskAssignment(task=task, officer=inspector, position=1), TaskAssignment(task=task, officer=partner, position=2)]
    )
    SpotCheckResult.objects.create(
        enterprise=enterprise,
        product=product,
        checked_on=dt.date(2025, 9, 12),
        conforming=False,
        lab_report_number="JX2025-0417",
        failed_items="标志标识不全",
    )
    RiskEvent.objects.create(
        enterprise=enterprise, kind=RiskEventKind.NONCONFORMING_SPOT_CHECK, occurred_on=dt.date(2025, 9, 12), source_ref="抽查 JX2025-0417"
    )
    # Other tasks of the officer, so the list shows its three states.
    for name, days, kind in [("桐乡某某毛衫有限公司", -6, TaskKind.SPOT_CHECK), ("平湖某某箱包有限公司", 12, TaskKind.REINSPECTION)]:
        other = InspectionTask.objects.create(
            enterprise=EnterpriseFactory(town=town, name=name),
            product=product,
            arm=DrawArm.RISK,
            kind=kind,
            reason="风险分层抽取",
            due_date=dt.date.today() + dt.timedelta(days=days),
        )
        TaskAssignment.objects.bulk_create(
            [TaskAssignment(task=other, officer=inspector, position=1), TaskAssignment(task=other, officer=partner, position=2)]
        )
    return task


@pytest.fixture
def browser(live_server):
    require_browser()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def phone_page(browser, *, javascript=True):
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation=POSITION,
        permissions=["geolocation"],
        java_script_enabled=javascript,
    )
    page = context.new_page()
    page.on("console", lambda message: print("browser console:", message.type, message.text))
    page.on("pageerror", lambda error: print("browser error:", error))
    return page


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/?next=/tasks/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery staple")
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/tasks/")


def until(page, expression, seconds=20):
    """Wait until a page expression (its promise awaited) is truthy. Not wait_for_function: it evaluates its string
    with eval() in the page, which the Content-Security-Policy (no 'unsafe-eval') refuses, and awaits no promise."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(200)


def photo(tmp_path, name, size, fmt) -> str:
    image = Image.new("RGB", size, (200, 180, 150))
    for x in range(0, size[0], 60):
        image.paste((90, 60, 40), (x, 0, x + 20, size[1]))
    path = tmp_path / name
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    path.write_bytes(buffer.getvalue())
    return str(path)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def fill_the_form(page, task, tmp_path):
    items = list(task.product.checklist_items.order_by("order"))
    for item in items[:2] + items[3:]:
        page.click(f"#item-{item.pk} label.opt-conforming")
    page.click(f"#item-{items[2].pk} label.opt-nonconforming")
    page.fill(f"#item-{items[2].pk} input.item-note", "2026年10月起无进货查验记录")
    page.fill("textarea[name=note]", "已责令立即停止销售该批次产品")


def test_the_check_form_on_a_phone_stores_one_result_whatever_the_network_and_the_taps(browser, live_server, task, tmp_path):
    page = phone_page(browser)
    log_in(page, live_server, "inspector")
    assert no_sideways_scroll(page), "my tasks fit the phone"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "my-tasks.png"))
    page.click(f"a.task-row[href='/tasks/{task.pk}/']")
    page.wait_for_url(f"**/tasks/{task.pk}/")
    page.wait_for_load_state("load")  # measured before the page's fonts and styles are in, it could seem wider
    assert no_sideways_scroll(page), "the task page fits the phone"
    page.screenshot(path=str(ARTIFACTS / "task.png"), full_page=True)
    page.click("[data-testid=open-form]")
    page.wait_for_selector("#position-status[data-state=ok]")
    assert float(page.input_value("input[name=lat]")) == pytest.approx(POSITION["latitude"])
    key = page.input_value("input[name=submission_key]")
    assert len(key) == 36

    fill_the_form(page, task, tmp_path)
    page.set_input_files(
        "input[type=file][multiple]", [photo(tmp_path, "big.png", (3000, 2000), "PNG"), photo(tmp_path, "small.jpg", (800, 600), "JPEG")]
    )
    until(page, "document.querySelectorAll('#thumbs li').length === 2")

    # A file that only looks like a photo: refused on the phone beside the photos, the good photos kept.
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a photo at all")
    page.set_input_files("input[type=file][capture]", str(fake))
    page.wait_for_selector("#photos.has-error .field-error")
    assert "notes.jpg" in page.inner_text("#photos")
    assert page.locator("#thumbs li").count() == 2, "the accepted photos are still selected"
    assert CheckResult.objects.count() == 0
    assert page.is_checked("input[name=conclusion][value=nonconforming]"), "a non-conforming check point suggests the conclusion"
    assert page.input_value("select[name=co_inspector]") == str(task.assignments.get(position=2).officer_id)
    page.screenshot(path=str(ARTIFACTS / "check-form.png"), full_page=True)
    assert no_sideways_scroll(page), "the check form fits the phone"

    # A flaky network: the check reaches the server whole, its answer never reaches the phone.
    page.evaluate(ANSWER_LOST_ONCE)
    page.click("#submit-button")
    # Read at once: the outbox's back-off timer sends it again within seconds, and the confirmation then replaces
    # the form (on a busy machine before a second look could be taken).
    until(page, "window.jqsLostAnswer !== undefined && document.querySelector('#outbox .outbox-message') !== null")
    seen = page.evaluate(
        """({answer: window.jqsLostAnswer, enabled: !document.querySelector('#submit-button').disabled,
             key: document.querySelector('input[name=submission_key]').value})"""
    )
    assert seen["answer"] == 201, "the server stored it and answered with the confirmation"
    assert seen["enabled"], "the officer can tap again"
    assert seen["key"] == key, "the retry carries the same key"
    assert CheckResult.objects.count() == 1

    # Tapping "Send now" twice in a hurry (unless the timer has already sent it again).
    from playwright.sync_api import Error as PlaywrightError

    if page.url.endswith("/check/"):
        with contextlib.suppress(PlaywrightError):  # the confirmation may replace the form between the two taps
            page.dblclick("#send-now", timeout=5000)
    page.wait_for_selector("[data-testid=result-number]")
    assert page.url == f"{live_server.url}/tasks/{task.pk}/done/"
    number = page.inner_text("[data-testid=result-number]").strip()
    result = CheckResult.objects.get()
    assert number == result.number and str(result.submission_key) == key
    assert result.photos.count() == 2 and max(CheckPhoto.objects.values_list("width", flat=True)) <= 1600
    assert (result.lat, result.position_source) == (pytest.approx(POSITION["latitude"]), "gps")
    assert no_sideways_scroll(page), "the confirmation fits the phone"
    page.screenshot(path=str(ARTIFACTS / "check-done.png"), full_page=True)

    # Back to the form, and submit it again. An old copy of a stored check's form goes on to its confirmation by
    # itself (static/js/field.js), possibly while it is being read; if a form is still shown (with its old key, or
    # a new draft's), submitting it lands on the same confirmation: a task never gets a second result.
    page.go_back()
    page.wait_for_load_state()
    with contextlib.suppress(PlaywrightError):  # the page navigated on while being read
        if page.evaluate("document.querySelector('#check-form') !== null"):
            page.click("#submit-button", timeout=5000)
    page.wait_for_url(f"{live_server.url}/tasks/{task.pk}/done/")
    page.wait_for_selector("[data-testid=result-number]")
    assert page.inner_text("[data-testid=result-number]").strip() == number
    assert CheckResult.objects.count() == 1


def test_the_check_form_works_without_javascript(browser, live_server, task, tmp_path):
    page = phone_page(browser, javascript=False)
    log_in(page, live_server, "inspector")
    page.goto(f"{live_server.url}/tasks/{task.pk}/check/")
    key = page.input_value("input[name=submission_key]")
    items = list(task.product.checklist_items.order_by("order"))
    for item in items:
        page.click(f"#item-{item.pk} label.opt-conforming")
    page.click(f"#item-{items[1].pk} label.opt-nonconforming")  # and no note: refused beside the check point
    page.click("label.opt-nonconforming:has(input[name=conclusion])")
    page.fill("textarea[name=note]", "现场检查")
    page.click("#manual-position summary")  # no geolocation without JavaScript: typed by hand
    page.fill("input[name=manual_lat]", "30.5")
    page.fill("input[name=manual_lon]", "120.7")
    page.set_input_files("input[type=file][capture]", photo(tmp_path, "shot.jpg", (1200, 900), "JPEG"))
    assert no_sideways_scroll(page)
    page.click("#submit-button")

    page.wait_for_selector(f"#item-{items[1].pk}.has-error .field-error")
    assert CheckResult.objects.count() == 0
    assert page.input_value("textarea[name=note]") == "现场检查" and page.input_value("input[name=manual_lat]") == "30.5"
    assert page.is_checked(f"#item-{items[1].pk} input[value=nonconforming]")
    assert page.input_value("input[name=submission_key]") == key
    assert page.locator("[data-photos-lost]").is_visible(), "the officer is told to select the photos again"
    assert no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "check-form-errors.png"), full_page=True)

    page.fill(f"#item-{items[1].pk} input.item-note", "吊牌缺少执行标准")
    page.set_input_files("input[type=file][capture]", photo(tmp_path, "shot.jpg", (1200, 900), "JPEG"))
    page.click("#submit-button")
    page.wait_for_url(f"{live_server.url}/tasks/{task.pk}/done/")
    number = page.inner_text("[data-testid=result-number]").strip()
    result = CheckResult.objects.get()
    assert (result.lat, result.lon, result.position_source, result.photos.count()) == (30.5, 120.7, "manual", 1)

    page.go_back()
    page.wait_for_load_state()
    if page.locator("#check-form").count():  # the page that came back with errors, as the browser kept it
        page.fill(f"#item-{items[1].pk} input.item-note", "吊牌缺少执行标准")
        page.click("#submit-button")
        page.wait_for_url(f"{live_server.url}/tasks/{task.pk}/done/")
    assert page.inner_text("[data-testid=result-number]").strip() == number
    assert CheckResult.objects.count() == 1
