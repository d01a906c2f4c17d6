"""One code (一码): an unguessable, revocable token per enterprise, its coloured QR, the public page a scan opens."""

import datetime as dt
import os
import re
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from enterprises.checks import public_base_url_check
from enterprises.codes import code_for, code_issue, code_revoke, code_url, codes_issue_missing
from enterprises.models import Category, Enterprise, QualityCode, RiskReason
from inspections.models import DrawArm, InspectionTask, TaskAssignment, TaskStatus
from regions.models import Role

from .factories import (
    EnterpriseFactory,
    EnterpriseProductFactory,
    ProductFactory,
    SpotCheckResultFactory,
    StaffProfileFactory,
    UserFactory,
)
from .services import require_browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CATEGORY_DARK = {
    Category.TIGHTENED: "#d73027",
    Category.ROUTINE: "#b8860b",
    Category.RESPONSIBILITY: "#4575b4",
    Category.CREDIT: "#1a9850",
}


def categorised(enterprise, category):
    # The category is derived by the pipeline (not editable); tests set it directly.
    Enterprise.objects.filter(pk=enterprise.pk).update(category=category)
    enterprise.refresh_from_db()
    return enterprise


@pytest.fixture
def enterprise(town):
    """A routine-supervision enterprise of ``county`` with an address, products, checks and a risk reason on record."""
    enterprise = EnterpriseFactory(town=town, name="嘉兴某某皮革有限公司", address="南湖区秘密路88号")
    for name in ("皮革服装", "皮手套"):
        EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(name=name))
    RiskReason.objects.create(enterprise=enterprise, kind="penalty", count=2, last_on=dt.date(2025, 3, 1))
    return categorised(enterprise, Category.ROUTINE)


def open_task(enterprise, *officers, status=TaskStatus.ASSIGNED):
    task = InspectionTask.objects.create(
        enterprise=enterprise, arm=DrawArm.RISK, reason="测试", due_date=dt.date(2026, 12, 20), status=status
    )
    for position, officer in enumerate(officers, start=1):
        TaskAssignment.objects.create(task=task, officer=officer, position=position)
    return task


# --- The token ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tokens_are_unguessable_and_unique(town):
    enterprises = EnterpriseFactory.create_batch(40, town=town)
    tokens = [code_for(enterprise=enterprise).token for enterprise in enterprises]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        # secrets.token_urlsafe(16): 128 random bits as 22 URL-safe characters, nothing derived from the enterprise.
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
    # Consecutive enterprises share no common prefix, as a counter or a hash of the id might.
    assert len({token[:4] for token in tokens}) > 35


@pytest.mark.django_db
def test_code_is_issued_lazily_once(enterprise):
    assert not QualityCode.objects.exists()
    first = code_for(enterprise=enterprise)
    assert code_for(enterprise=enterprise) == first
    assert QualityCode.objects.count() == 1


@pytest.mark.django_db
def test_database_allows_one_active_code_per_enterprise(enterprise):
    code_issue(enterprise=enterprise)
    with pytest.raises(IntegrityError), transaction.atomic():
        code_issue(enterprise=enterprise)


@pytest.mark.django_db
def test_revoking_invalidates_the_old_url_and_issues_a_new_token(client, enterprise, supervisor):
    old = code_for(enterprise=enterprise)
    assert client.get(f"/q/{old.token}/").status_code == 200

    new = code_revoke(enterprise=enterprise, by=supervisor, reason="卡片被冒用")

    assert new.token != old.token
    gone = client.get(f"/q/{old.token}/")
    assert gone.status_code == 404 and "qc-invalid" in gone.content.decode()
    assert client.get(f"/q/{new.token}/").status_code == 200
    old.refresh_from_db()  # kept for audit: who, when, why
    assert old.revoked_at is not None and old.revoked_by == supervisor and old.revoke_reason == "卡片被冒用"


@pytest.mark.django_db
def test_unknown_token_gets_the_friendly_404(client_en, english):
    response = client_en.get("/q/not-a-real-token/")
    assert response.status_code == 404
    assert "This quality code is not valid" in response.content.decode()


# --- The public page ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_public_page_shows_the_profile_and_nothing_confidential(client_en, enterprise, django_assert_max_num_queries):
    client = client_en
    for day in range(1, 7):  # six checks: the page shows the latest five
        SpotCheckResultFactory(
            enterprise=enterprise,
            product=enterprise.products.first(),
            checked_on=dt.date(2026, day, 10),
            conforming=day != 6,
            failed_items="秘密备注：标签缺失",
            lab_report_number=f"JX-2026-{day:04d}",
        )
    token = code_for(enterprise=enterprise).token

    with django_assert_max_num_queries(6):  # … and one for the bureau of the enterprise's city
        response = client.get(f"/q/{token}/")
    page = response.content.decode()

    assert response.status_code == 200
    assert enterprise.name in page and enterprise.credit_code in page
    assert "皮革服装" in page and "皮手套" in page
    assert 'class="qc-badge yellow"' in page and "routine supervision" in page
    assert "2026-06-10" in page and "non-conforming" in page  # the latest check and its outcome
    assert "2026-05-10" in page and "2026-01-10" not in page  # five checks only
    for secret in ("南湖区秘密路88号", enterprise.town.name, "秘密备注", "JX-2026-0006", "administrative penalty", "risk enterprise"):
        assert secret not in page
    assert response["X-Robots-Tag"] == "noindex"


@pytest.mark.django_db
def test_inspector_with_an_open_task_is_taken_to_its_check_form(client, enterprise, inspector):
    task = open_task(enterprise, inspector, StaffProfileFactory(role=Role.INSPECTOR).user)
    token = code_for(enterprise=enterprise).token
    client.force_login(inspector)

    response = client.get(f"/q/{token}/")

    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{task.pk}/check/"


@pytest.mark.django_db
def test_another_inspector_sees_the_public_page(client, enterprise, inspector):
    open_task(enterprise, inspector)
    colleague = StaffProfileFactory(user=UserFactory(username="colleague"), role=Role.INSPECTOR).user
    client.force_login(colleague)
    response = client.get(f"/q/{code_for(enterprise=enterprise).token}/")
    assert response.status_code == 200 and enterprise.name in response.content.decode()


@pytest.mark.django_db
def test_a_submitted_task_no_longer_redirects(client, enterprise, inspector):
    open_task(enterprise, inspector, status=TaskStatus.SUBMITTED)
    client.force_login(inspector)
    assert client.get(f"/q/{code_for(enterprise=enterprise).token}/").status_code == 200


# --- The QR ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("category", list(CATEGORY_DARK))
def test_svg_is_valid_xml_in_the_category_colour(client, enterprise, supervisor, category):
    categorised(enterprise, category)
    client.force_login(supervisor)
    response = client.get(f"/enterprises/{enterprise.pk}/code.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert CATEGORY_DARK[category] in response.content.decode()


@pytest.mark.django_db
def test_png_has_the_png_signature(client, enterprise, inspector):
    client.force_login(inspector)
    response = client.get(f"/enterprises/{enterprise.pk}/code.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.django_db
def test_qr_encodes_the_public_url(enterprise, settings):
    settings.PUBLIC_BASE_URL = "https://zlaq.example.gov.cn/"
    code = code_for(enterprise=enterprise)
    assert code_url(code) == f"https://zlaq.example.gov.cn/q/{code.token}/"


@pytest.mark.django_db
def test_without_a_public_address_codes_point_here_and_everyone_is_told(client, enterprise, inspector, settings):
    settings.PUBLIC_BASE_URL = ""
    code = code_for(enterprise=enterprise)
    assert code_url(code) == f"http://127.0.0.1:8000/q/{code.token}/"
    assert [message.id for message in public_base_url_check()] == ["enterprises.W001"]
    client.force_login(inspector)
    page = client.get(f"/enterprises/{enterprise.pk}/code/card/").content.decode()
    assert "请勿打印" in page and "PUBLIC_BASE_URL" in page


@pytest.mark.django_db
def test_with_a_public_address_the_card_has_no_warning(client, enterprise, inspector, settings):
    settings.PUBLIC_BASE_URL = "https://zlaq.example.gov.cn"
    assert public_base_url_check() == []
    client.force_login(inspector)
    assert "请勿打印" not in client.get(f"/enterprises/{enterprise.pk}/code/card/").content.decode()


# --- Staff pages: card and revocation, limited to the jurisdiction -------------------------------------------


@pytest.mark.django_db
def test_card_shows_bureau_enterprise_and_qr(client, enterprise, inspector, settings):
    client.force_login(inspector)
    response = client.get(f"/enterprises/{enterprise.pk}/code/card/")
    page = response.content.decode()
    assert response.status_code == 200
    assert settings.BUREAU_NAME in page and enterprise.name in page and enterprise.credit_code in page
    assert 'class="qr"' in page and 'stroke="#b8860b"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["code/card/", "code.svg", "code.png"])
def test_staff_of_another_county_get_404(client, enterprise, outsider, path):
    client.force_login(outsider)
    assert client.get(f"/enterprises/{enterprise.pk}/{path}").status_code == 404


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login_for_staff_downloads(client, enterprise):
    response = client.get(f"/enterprises/{enterprise.pk}/code/card/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_supervisor_revokes_with_a_reason(client, enterprise, supervisor):
    old = code_for(enterprise=enterprise)
    client.force_login(supervisor)

    refused = client.post(f"/enterprises/{enterprise.pk}/code/revoke/", {"reason": " "})
    assert refused.status_code == 302 and QualityCode.objects.get(pk=old.pk).revoked_at is None

    response = client.post(f"/enterprises/{enterprise.pk}/code/revoke/", {"reason": "印刷错误"})
    assert response.status_code == 302 and response["Location"] == f"/enterprises/{enterprise.pk}/"
    assert QualityCode.objects.get(pk=old.pk).revoke_reason == "印刷错误"
    assert QualityCode.objects.filter(enterprise=enterprise, revoked_at__isnull=True).exclude(pk=old.pk).exists()


@pytest.mark.django_db
def test_inspector_cannot_revoke_and_outsider_cannot_find(client, enterprise, inspector, outsider):
    code = code_for(enterprise=enterprise)
    client.force_login(inspector)
    assert client.post(f"/enterprises/{enterprise.pk}/code/revoke/", {"reason": "x"}).status_code == 403
    client.force_login(outsider)
    assert client.post(f"/enterprises/{enterprise.pk}/code/revoke/", {"reason": "x"}).status_code == 404
    assert client.get(f"/enterprises/{enterprise.pk}/code/revoke/").status_code == 405  # POST only
    code.refresh_from_db()
    assert code.revoked_at is None


@pytest.mark.django_db
def test_admin_action_revokes_and_reissues(admin_client, enterprise):
    old = code_for(enterprise=enterprise)
    other = EnterpriseFactory(town=enterprise.town)  # no code yet: the action issues one
    response = admin_client.post(
        "/admin/enterprises/enterprise/",
        {"action": "revoke_quality_codes", "_selected_action": [enterprise.pk, other.pk]},
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert QualityCode.objects.filter(revoked_at__isnull=True, enterprise__in=[enterprise, other]).count() == 2
    change_page = admin_client.get(f"/admin/enterprises/enterprise/{enterprise.pk}/change/").content.decode()
    assert old.token in change_page and f"/enterprises/{enterprise.pk}/code/card/" in change_page  # history and links inline


# --- Bulk issue -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_issue_codes_twice_creates_nothing_the_second_time(town, django_assert_max_num_queries, english):
    enterprises = EnterpriseFactory.create_batch(7, town=town)
    code_for(enterprise=enterprises[0])  # already has one

    out = StringIO()
    call_command("issue_codes", stdout=out)
    assert "Issued 6 " in out.getvalue()
    assert QualityCode.objects.filter(revoked_at__isnull=True).count() == 7
    assert all(code.created_at for code in QualityCode.objects.all())

    with django_assert_max_num_queries(3):  # set-based: one query for the missing, nothing to insert
        assert codes_issue_missing() == 0
    out = StringIO()
    call_command("issue_codes", stdout=out)
    assert "Issued 0 " in out.getvalue()
    assert QualityCode.objects.count() == 7


# --- In the browser, at phone width ----------------------------------------------------------------------------


@pytest.fixture
def phone(live_server):
    require_browser()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN")
        yield context.new_page()
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_public_page_and_card_fit_a_phone(phone, live_server, enterprise, supervisor):
    SpotCheckResultFactory(enterprise=enterprise, product=enterprise.products.first(), checked_on=dt.date(2026, 9, 3), conforming=False)
    SpotCheckResultFactory(enterprise=enterprise, product=enterprise.products.last(), checked_on=dt.date(2025, 8, 1), conforming=True)
    token = code_for(enterprise=enterprise).token
    ARTIFACTS.mkdir(exist_ok=True)

    phone.goto(f"{live_server.url}/q/{token}/")
    assert phone.locator(".qc-badge").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no horizontal scrolling
    phone.screenshot(path=str(ARTIFACTS / "code-public.png"), full_page=True)

    phone.goto(f"{live_server.url}/q/revoked-or-unknown/")
    phone.screenshot(path=str(ARTIFACTS / "code-invalid.png"), full_page=True)

    phone.goto(f"{live_server.url}/accounts/login/?next=/enterprises/{enterprise.pk}/code/card/")
    phone.fill("#id_username", supervisor.username)
    phone.fill("#id_password", "correct horse battery staple")
    phone.click(".login-card button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/enterprises/{enterprise.pk}/code/card/")
    assert phone.locator(".qc-card svg.qr").is_visible()
    phone.screenshot(path=str(ARTIFACTS / "code-card.png"), full_page=True)

    # Printed: only the card, filling an A6 sheet (105 × 148 mm ≈ 397 × 559 CSS px).
    phone.set_viewport_size({"width": 397, "height": 559})
    phone.emulate_media(media="print")
    assert not phone.locator(".topbar").is_visible() and not phone.locator(".code-card-tools").is_visible()
    phone.screenshot(path=str(ARTIFACTS / "code-card-print.png"))
    phone.emulate_media(media="screen")

    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"{live_server.url}/enterprises/{enterprise.pk}/")
    assert phone.locator("#quality-code img").evaluate("img => img.naturalWidth") > 0
    phone.locator("#quality-code").screenshot(path=str(ARTIFACTS / "code-detail.png"))
