"""The dashboard and simulator pages: who may open them, what each jurisdiction sees, the Excel export, the links
behind the figures, and both pages rendered in headless Chromium."""

import datetime as dt
import io
import os
import random
import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook

from enterprises.models import Category, Enterprise
from inspections.evaluation import selectors as kpis
from inspections.models import CheckResult, Conclusion, DrawArm, InspectionTask, OrderStatus, RectificationOrder, TaskAssignment, TaskStatus
from jiaxing_qs.tasks import run_pipeline
from regions.models import Region, Role

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, SpotCheckResultFactory, StaffProfileFactory, UserFactory
from .services import require_browser

PAGES = ("/dashboard/", "/dashboard/export.xlsx", "/simulator/")
PERIODS = {"a": "2024", "b": "2025"}


@pytest.fixture
def two_counties(region_tree):
    """Spot checks in both counties: county A 10 in 2024 and 8 in 2025, county B 3 in 2025 (100 yuan each)."""
    product = ProductFactory(spot_check_cost=Decimal("100"))
    ours, theirs = EnterpriseFactory(town=region_tree.town_a1), EnterpriseFactory(town=region_tree.town_b1)
    for n in range(10):
        SpotCheckResultFactory(enterprise=ours, product=product, checked_on=dt.date(2024, 3, 1) + dt.timedelta(days=n))
    for n in range(8):
        SpotCheckResultFactory(enterprise=ours, product=product, checked_on=dt.date(2025, 3, 1) + dt.timedelta(days=n))
    for n in range(3):
        SpotCheckResultFactory(enterprise=theirs, product=product, checked_on=dt.date(2025, 3, 1) + dt.timedelta(days=n))
    return region_tree


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_inspectors_are_refused_and_strangers_sent_to_log_in(client, inspector, url):
    assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(inspector)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_a_county_supervisors_figures_exclude_the_other_county(client, supervisor, outsider, two_counties):
    client.force_login(supervisor)
    batches = client.get("/dashboard/", PERIODS).context["report"].figures[1]
    assert (batches.a, batches.b, str(batches.change)) == (10, 8, "-20.00")
    client.force_login(outsider)
    batches = client.get("/dashboard/", PERIODS).context["report"].figures[1]
    assert (batches.a, batches.b, batches.change) == (0, 3, None)


@pytest.mark.django_db
def test_the_dashboard_shows_the_figures_their_definitions_and_links_to_the_records(client, supervisor, two_counties):
    client.force_login(supervisor)
    page = client.get("/dashboard/", PERIODS)
    html = page.content.decode()
    assert page.status_code == 200
    assert "−20.00%" in html  # the change, with a real minus sign
    batches = next(item for item in page.context["figures"] if item["figure"].key == "batches")
    link_b = urlparse(batches["links"][1]["url"])
    assert link_b.path == "/admin/inspections/spotcheckresult/"
    assert parse_qs(link_b.query)["checked_on__gte"] == ["2025-01-01"] and parse_qs(link_b.query)["checked_on__lte"] == ["2025-12-31"]
    assert str(batches["figure"].definition) in html
    assert 'id="dashboard-data"' in html and "js/charts.js" in html


@pytest.mark.django_db
def test_every_link_behind_a_figure_opens_in_the_administration(client, supervisor, two_counties):
    client.force_login(supervisor)
    page = client.get("/dashboard/", PERIODS)
    links = [link["url"] for item in page.context["figures"] for link in item["links"] if link]
    links += [page.context["overdue_link"]["url"]] + [
        row[kind]["url"] for row in page.context["loop_links"] for kind in ("closed", "opened")
    ]
    supervisor.is_superuser = supervisor.is_staff = True
    supervisor.save()
    for url in links:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "?e=1" not in response.get("Location", ""), url  # the admin did not refuse a filter


@pytest.mark.django_db
def test_an_unreadable_period_is_reported_and_the_defaults_shown(client, supervisor, two_counties):
    client.force_login(supervisor)
    page = client.get("/dashboard/", {"a": "last year", "b": "2025"})
    assert page.status_code == 200 and page.context["form"].errors["a"]
    assert page.context["report"].a == kpis.default_periods()[0]


@pytest.mark.django_db
def test_the_export_is_a_workbook_of_the_figures_loop_arms_and_inspectors(client, supervisor, two_counties):
    client.force_login(supervisor)
    response = client.get("/dashboard/export.xlsx", PERIODS)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "dashboard-2024-vs-2025.xlsx" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.sheetnames) == 4
    figures = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert figures[0][2:4] == ("A 2024", "B 2025")
    assert figures[2][2:5] == (10, 8, -20.0)  # spot-check batches
    assert figures[3][2:5] == (1000, 800, -20.0)  # spending, 100 yuan a batch
    assert len(list(workbook.worksheets[2].iter_rows())) == 1 + 2 * 2  # header + (risk, control) × "all" × A, B


# --- In the browser ------------------------------------------------------------------------------------------

SCREENSHOTS = "/tmp"


def checked_task(enterprise, officers, *, arm, stratum, conclusion, checked_on):
    task = InspectionTask.objects.create(
        enterprise=enterprise, arm=arm, stratum=stratum, reason="demo", due_date=checked_on, status=TaskStatus.SUBMITTED
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=o, position=i) for i, o in enumerate(officers, start=1)])
    return CheckResult.objects.create(
        task=task,
        submission_key=uuid.uuid4(),
        number=f"JC-{task.pk:06d}",
        conclusion=conclusion,
        submitted_by=officers[0],
        co_inspector=officers[1],
        checked_on=checked_on,
    )


@pytest.fixture
def demo_like_city(jiaxing):
    """Jiaxing with 240 enterprises, two years of spot checks, two years of drawn tasks (risk and control arms)
    checked by six officers (one of whom finds far more than the others), and their rectification orders."""
    rng = random.Random(2026)
    counties = list(Region.objects.filter(parent=jiaxing).order_by("code"))
    products = [ProductFactory(spot_check_cost=Decimal(cost), harm_severity=3, vulnerable_users=True) for cost in (2400, 3600, 4200)]
    products += [ProductFactory(spot_check_cost=Decimal(cost)) for cost in (1800, 2600)]
    enterprises = []
    for serial in range(240):
        county = counties[serial % len(counties)]
        town = county.children.order_by("code")[serial % 3]
        made = EnterpriseFactory(town=town)
        EnterpriseProductFactory(enterprise=made, product=rng.choice(products))
        enterprises.append(made)
    for year, checks in ((2022, 240), (2023, 250), (2024, 260), (2025, 215)):
        for _ in range(checks):
            SpotCheckResultFactory(
                enterprise=rng.choice(enterprises[: 200 if year == 2025 else 240]),
                product=rng.choice(products),
                checked_on=dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365)),
                conforming=rng.random() > 0.12,
                is_demo=True,
            )
    for as_of in (dt.date(2024, 12, 31), dt.date(2025, 12, 31), dt.date(2026, 11, 26)):
        run_pipeline(as_of)  # snapshots at the end of A and B, then today's classes
    enterprises = list(Enterprise.objects.filter(pk__in=[made.pk for made in enterprises]).order_by("pk"))  # with their categories
    officers = [
        StaffProfileFactory(user=UserFactory(username=f"officer{n}", first_name=name), role=Role.INSPECTOR, jurisdiction=jiaxing).user
        for n, name in enumerate(("张伟", "王芳", "李强", "刘洋", "陈静", "杨磊"), start=1)
    ]
    rates = {Category.TIGHTENED: 0.3, Category.ROUTINE: 0.14, Category.RESPONSIBILITY: 0.07, Category.CREDIT: 0.04}
    for year in (2024, 2025):
        for made in rng.sample(enterprises, 200):
            control = rng.random() < 0.4
            category = made.category or Category.CREDIT
            pair = rng.sample(officers, 2)
            rate = (0.06 if control else rates[Category(category)]) * (2.5 if officers[0] in pair else 1)
            checked_on = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(330))
            result = checked_task(
                made,
                pair,
                arm=DrawArm.CONTROL if control else DrawArm.RISK,
                stratum="control" if control else f"{category}/yellow",
                conclusion=Conclusion.NONCONFORMING if rng.random() < rate else Conclusion.CONFORMING,
                checked_on=checked_on,
            )
            if result.conclusion == Conclusion.NONCONFORMING:
                closed = rng.random() < 0.8
                RectificationOrder.objects.create(
                    number=f"ZG-{result.pk:06d}",
                    enterprise=made,
                    product=products[0],
                    result=result,
                    status=OrderStatus.CLOSED if closed else rng.choice([OrderStatus.ANNOUNCED, OrderStatus.RECTIFYING]),
                    ordered_on=checked_on,
                    rectify_by=checked_on + dt.timedelta(days=60),
                    reinspect_by=checked_on + dt.timedelta(days=75),
                    objection_by=checked_on + dt.timedelta(days=15),
                    closed_on=checked_on + dt.timedelta(days=rng.randrange(35, 110)) if closed else None,
                )
    StaffProfileFactory(user=UserFactory(username="city_supervisor"), role=Role.SUPERVISOR, jurisdiction=jiaxing)
    return jiaxing


@pytest.fixture
def page(live_server):
    require_browser()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN").new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(error))
        page.errors = errors
        yield page
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_and_simulator_render_in_chromium(page, live_server, demo_like_city):
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/%3Fa%3D2024%26b%3D2025")
    page.fill("#id_username", "city_supervisor")
    page.fill("#id_password", "correct horse battery staple")
    page.click(".login-card button[type=submit]")
    page.wait_for_selector("body[data-charts-drawn=true]")
    assert page.locator("[data-testid^=figure-]").count() == 4
    assert page.locator("[data-chart=monthly] svg polyline").count() == 2
    assert page.locator("[data-chart=arms] svg circle").count() >= 4
    assert page.locator("[data-testid=outlier]").count() >= 1  # officer 1 finds 2.5 times as much
    page.screenshot(path=f"{SCREENSHOTS}/jqs-dashboard.png", full_page=True)

    page.goto(f"{live_server.url}/simulator/")
    page.fill("#id_red_from", "12")
    page.select_option("#id_medium_non_risk", "routine")
    page.click("form[data-testid=draft-form] button[type=submit]")
    page.wait_for_selector("[data-testid=comparison]")
    assert page.locator("[data-testid=adopt] textarea[name=reason]").count() == 1
    page.screenshot(path=f"{SCREENSHOTS}/jqs-simulator.png", full_page=True)
    assert page.errors == []
