"""The map as a supervisor sees it, in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

import datetime as dt
import os
from pathlib import Path

import pytest

from enterprises.models import Category, Enterprise, RiskClass, RiskEventKind
from jiaxing_qs.tasks import run_pipeline
from regions.models import Region, Role

from .clock import TEST_TODAY
from .factories import EnterpriseFactory, RiskEventFactory, StaffProfileFactory, UserFactory
from .services import require_browser
from .test_check_browser import until

AS_OF = TEST_TODAY
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FILL = {"red": "#d73027", "orange": "#fc8d59", "yellow": "#fee08b", "green": "#1a9850", "too_few": "url(#hatch)"}
# county code → (active enterprises, risk enterprises): all four colours and "too few" under the defaults.
COUNTY_MIX = {
    "330402": (10, 0),  # green
    "330411": (10, 1),  # orange: exactly 10 %
    "330421": (20, 1),  # yellow: exactly 5 %
    "330424": (10, 3),  # red
    "330481": (3, 1),  # too few to colour
    "330482": (25, 1),  # green: 4 %
    "330483": (10, 2),  # red: exactly 20 %
}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coloured_jiaxing(jiaxing):
    for code, (total, risk) in COUNTY_MIX.items():
        county = Region.objects.get(code=code)
        town = county.children.order_by("code").first()
        for serial in range(total):
            enterprise = EnterpriseFactory(town=town, lat=county.label_lat + serial * 0.002, lon=county.label_lon)
            if serial < risk:
                RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.INCIDENT, occurred_on=AS_OF - dt.timedelta(days=10))
    run_pipeline(AS_OF)
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
        context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda message: print("browser console:", message.type, message.text))
        page.on("pageerror", lambda error: print("browser error:", error))
        yield page
        browser.close()


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/?next=/map/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery staple")
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/map/")


def click_inside(page, feature):
    """Click the county at its label point, which lies inside its polygon (a bounding-box centre may not)."""
    x, y = page.evaluate(
        """([lat, lon]) => {
            const point = window.jqsMap.map.latLngToContainerPoint([lat, lon]);
            const box = document.getElementById("map").getBoundingClientRect();
            return [box.left + point.x, box.top + point.y];
        }""",
        feature["properties"]["label"],
    )
    page.mouse.click(x, y)


def test_supervisor_sees_the_seven_counties_in_their_colours_and_drills_into_one(page, live_server, coloured_jiaxing, client):
    StaffProfileFactory(user=UserFactory(username="city_supervisor"), role=Role.SUPERVISOR, jurisdiction=coloured_jiaxing)
    log_in(page, live_server, "city_supervisor")
    page.wait_for_selector("#map[data-loaded=county]")

    client.force_login(coloured_jiaxing.staff.get().user)
    features = client.get("/api/regions/map/", {"level": "county"}).json()["features"]
    assert len(features) == 7
    for feature in features:
        code, colour = feature["properties"]["code"], feature["properties"]["colour"]
        path = page.locator(f"path.region-{code}")
        assert path.count() == 1, f"county {code} is drawn once"
        assert path.get_attribute("fill") == FILL[colour], f"county {code} is drawn {colour}"
    assert {feature["properties"]["colour"] for feature in features} == {"red", "orange", "yellow", "green", "too_few"}

    click_inside(page, next(f for f in features if f["properties"]["code"] == "330424"))
    page.wait_for_selector("#panel[data-code='330424']")
    counts = page.inner_text("[data-testid=panel-counts]")
    assert "3" in counts and "10" in counts
    assert "30.0%" in page.inner_text("[data-testid=panel-share]")
    page.wait_for_selector("#panel-orders .order-counts")  # today's rectification orders, from their own endpoint
    assert page.inner_text("#panel-orders [data-count=open]") == "0"
    assert page.get_attribute("#panel-orders a", "href") == "/orders/?county=330424"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-county.png"))
    page.select_option("#level", "town")
    page.wait_for_selector("#map[data-loaded=town]")
    assert page.locator("path.region").count() >= 7  # the towns with enterprises, as coloured markers
    page.screenshot(path=str(ARTIFACTS / "map-town.png"))


def test_the_browser_keeps_a_map_ticket_scripts_cannot_read_and_the_map_data_comes_by_the_fast_path(page, live_server, coloured_jiaxing):
    """The real browser's cookie rules: the ticket is HttpOnly and sent to the map data URL only; a map request
    after the first is answered by the fast path (regions/map_cache.py), and after a logout nothing is."""
    county = Region.objects.get(code="330424")
    StaffProfileFactory(user=UserFactory(username="county_supervisor"), role=Role.SUPERVISOR, jurisdiction=county)
    answers = []
    page.on("response", lambda r: answers.append((r.url, r.status, r.headers.get("x-map-cache"))) if "/api/regions/map/" in r.url else None)
    log_in(page, live_server, "county_supervisor")
    page.wait_for_selector("#map[data-loaded=county]")
    ticket = next(cookie for cookie in page.context.cookies() if cookie["name"] == "jqs_map_ticket")
    assert ticket["path"] == "/api/regions/map/" and ticket["httpOnly"] and ticket["sameSite"] == "Lax"
    assert "jqs_map_ticket" not in page.evaluate("document.cookie")
    assert page.locator("path.region").count() == 1  # a county supervisor's map: their county only
    page.select_option("#level", "town")
    page.wait_for_selector("#map[data-loaded=town]")
    page.select_option("#level", "county")
    page.wait_for_selector("#map[data-loaded=county]")
    page.wait_for_timeout(200)
    county_answers = [answer for answer in answers if "level=county" in answer[0]]
    assert county_answers[0][1] == 200 and county_answers[-1][1] in (200, 304) and county_answers[-1][2] == "hit", answers
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-county-ticket.png"))

    page.click("form.logout button")  # in the top bar
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    after = page.request.get(f"{live_server.url}/api/regions/map/?level=county")
    assert after.status in (401, 403) and after.headers.get("x-map-cache") is None


def test_the_priorities_layer_explains_its_own_marks_over_regions_not_coloured_by_risk(page, live_server, coloured_jiaxing):
    """On 重点 the colours on the screen are the enterprises' code colours only: grey regions, squares in the
    code colour, clusters in the accent colour, and a legend saying so (the risk legend is hidden)."""
    Enterprise.objects.filter(risk_class=RiskClass.RISK).update(category=Category.TIGHTENED)
    Enterprise.objects.filter(risk_class=RiskClass.NON_RISK, town__parent__code="330402").update(category=Category.ROUTINE)
    key = Enterprise.objects.filter(category__in=(Category.TIGHTENED, Category.ROUTINE)).count()
    StaffProfileFactory(user=UserFactory(username="city_supervisor"), role=Role.SUPERVISOR, jurisdiction=coloured_jiaxing)
    log_in(page, live_server, "city_supervisor")
    page.wait_for_selector("#map[data-loaded=county]")
    assert page.is_visible("#legend") and not page.is_visible("#legend-priorities")

    page.check("input[name=layer][value=priorities]")
    page.wait_for_selector(".leaflet-marker-icon.priority-cluster")
    assert not page.is_visible("#legend") and page.is_visible("#legend-priorities")
    fills = set(page.eval_on_selector_all("path.region", "paths => paths.map(p => p.getAttribute('fill'))"))
    assert fills.isdisjoint(FILL.values()), fills
    # every key-supervised enterprise once, alone or in a cluster (once the clusters have settled after their animation)
    shown = """document.querySelectorAll('.leaflet-marker-icon.priority-marker').length +
        [...document.querySelectorAll('.leaflet-marker-icon.priority-cluster')].reduce((n, c) => n + Number(c.textContent), 0)"""
    until(page, f"({shown}) === {key}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-priorities.png"))

    page.check("input[name=layer][value=risk]")
    assert page.is_visible("#legend") and not page.is_visible("#legend-priorities")
    assert set(page.eval_on_selector_all("path.region", "paths => paths.map(p => p.getAttribute('fill'))")) <= set(FILL.values())
