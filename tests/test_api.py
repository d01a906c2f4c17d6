"""The read API: every list paginates, filters and sorts in a constant number of queries; every record is limited
to the caller's jurisdiction; sessions and tokens both work; every failure has the same error shape.

The jurisdiction matrix is generated from ``RESOURCES``, and a test checks that every route of the router is
in it (or exempted with a reason), so a new endpoint cannot be added without its access tests.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from common.api_errors import api_exception_handler
from enterprises.models import RiskReason
from jiaxing_qs.api_urls import router
from products.models import ChecklistItem
from regions.models import Colour, ColourThresholds, Level, Region, RegionSnapshot, Role
from regions.selectors import within

from .conftest import Case, case_make, county_inspectors
from .factories import (
    EnterpriseFactory,
    StaffProfileFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 11, 2)
PERIODS = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


# --- The records: the loop once per enterprise (conftest.Case), and what the API shows beyond it ----------


def with_details(case: Case) -> Case:
    """Add what the enterprise detail shows beyond the loop: the product's checklist, the product made (with its
    licence) and the risk reason its failed spot check gave."""
    ChecklistItem.objects.bulk_create([ChecklistItem(product=case.product, order=n, text=f"检查项 {n}") for n in (1, 2)])
    case.enterprise.made.create(product=case.product, licence_number="XK-001", licence_expiry=ON + dt.timedelta(days=300))
    RiskReason.objects.create(enterprise=case.enterprise, kind="nonconforming", count=1, last_on=ON)
    return case


def detailed_case(town: Region, officers) -> Case:
    return with_details(case_make(town, officers, on=ON))


def snapshot(region: Region, period: dt.date, *, colour=Colour.GREEN, enterprises=10, risk=0):
    return RegionSnapshot.objects.create(
        region=region,
        period=period,
        enterprise_count=enterprises,
        risk_count=risk,
        risk_share=Decimal(100 * risk) / enterprises,
        colour=colour,
        thresholds=ColourThresholds.in_force(),
        index=Decimal("88.5"),
    )


@pytest.fixture
def officers(db):
    """Two officers for every task (made once: hashing a password per user would dominate the run)."""
    return [UserFactory(username="officer1"), UserFactory(username="officer2")]


@pytest.fixture
def world(region_tree, two_county_cases):
    """The loop in a town of each county; county A red, county B green, over two periods."""
    for period in PERIODS:
        snapshot(region_tree.county_a, period, colour=Colour.RED, risk=3)
        snapshot(region_tree.county_b, period, colour=Colour.GREEN, risk=0)
    return {key: with_details(case) for key, case in two_county_cases.items()}


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="x" * 16)


@pytest.fixture
def api(client):
    """The test client logged in as ``user``: ``api(user).get(url).json()``."""

    def login(user):
        client.force_login(user)
        return client

    return login


# --- What each endpoint shows, and which of a case's records it is ------------------------------------


@dataclass(frozen=True)
class Resource:
    basename: str
    url: str
    key: str  # the field that identifies a row in the response
    ident: object  # Case → the key of its record
    narrow: object  # Case → query parameters that keep only that case's record

    def detail(self, case: Case) -> str:
        return f"{self.url}{self.ident(case)}/"


RESOURCES = [
    Resource("api-region", "/api/regions/", "code", lambda b: b.county.code, lambda b: {"level": "county", "q": b.county.code}),
    Resource("api-enterprise", "/api/enterprises/", "id", lambda b: b.enterprise.pk, lambda b: {"county": b.county.code}),
    Resource("api-risk-event", "/api/risk-events/", "id", lambda b: b.risk_event.pk, lambda b: {"county": b.county.code}),
    Resource("api-spot-check", "/api/spot-checks/", "id", lambda b: b.spot_check.pk, lambda b: {"town": b.town.code}),
    Resource("api-inspection-plan", "/api/inspection-plans/", "id", lambda b: b.plan.pk, lambda b: {"scope": b.county.code}),
    Resource("api-inspection-task", "/api/inspection-tasks/", "id", lambda b: b.task.pk, lambda b: {"enterprise": b.enterprise.pk}),
    Resource("api-rectification-order", "/api/rectification-orders/", "id", lambda b: b.order.pk, lambda b: {"county": b.county.code}),
]
# Routes outside the matrix, and why.
NOT_IN_MATRIX = {
    "api-product": "the catalogue is the city's, shared by every jurisdiction (tested below)",
    "api-region-snapshot": "nested under a region; its jurisdiction tests are below",
    "api-risk-model": "a risk score model is a city-wide rule, readable by all staff (tests/test_risk_score_pages.py)",
}
ALL_LISTS = [*RESOURCES, Resource("api-product", "/api/products/", "id", lambda b: b.product.pk, lambda b: {"q": b.product.code})]


def keys(response, resource: Resource) -> set:
    assert response.status_code == 200, response.content
    return {row[resource.key] for row in response.json()["results"]}


def test_every_route_of_the_router_is_in_the_access_matrix():
    routed = {basename for _prefix, _viewset, basename in router.registry}
    assert routed == {resource.basename for resource in RESOURCES} | set(NOT_IN_MATRIX)


# --- Jurisdiction ------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.basename)
def test_a_county_supervisor_lists_only_their_countys_records(api, world, supervisor, resource):
    listed = keys(api(supervisor).get(resource.url), resource)
    if resource.basename == "api-region":
        county = world["a"].county
        assert listed == set(Region.objects.filter(code__startswith=county.code).values_list("code", flat=True))
    else:
        assert listed == {resource.ident(world["a"])}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.basename)
def test_the_outsider_gets_404_on_a_record_of_another_county(api, world, outsider, resource):
    client = api(outsider)
    assert client.get(resource.detail(world["b"])).status_code == 200  # their own
    response = client.get(resource.detail(world["a"]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.basename)
def test_a_superuser_sees_every_county(api, world, superuser, resource):
    listed = keys(api(superuser).get(resource.url, {"page_size": 500}), resource)
    assert {resource.ident(world["a"]), resource.ident(world["b"])} <= listed


def test_the_catalogue_is_shared_but_only_with_staff(api, world, outsider, django_user_model):
    listed = keys(api(outsider).get("/api/products/"), ALL_LISTS[-1])
    assert {world["a"].product.pk, world["b"].product.pk} <= listed
    detail = api(outsider).get(f"/api/products/{world['a'].product.pk}/").json()
    assert [item["order"] for item in detail["checklist_items"]] == [1, 2]
    nobody = django_user_model.objects.create_user("nobody", password="x" * 16)
    assert api(nobody).get("/api/products/").status_code == 403


def test_snapshots_of_another_countys_region_are_not_found(api, world, supervisor, outsider):
    county_a = world["a"].county
    assert api(outsider).get(f"/api/regions/{county_a.code}/snapshots/").status_code == 404
    rows = api(supervisor).get(f"/api/regions/{county_a.code}/snapshots/").json()["results"]
    assert [row["period"] for row in rows] == ["2026-11", "2026-10"]


def test_staff_without_a_profile_are_refused_not_shown_everything(api, world, django_user_model):
    """A login without a StaffProfile has no jurisdiction; superusers aside, that is a 403, never "all"."""
    nobody = django_user_model.objects.create_user("nobody", password="x" * 16)
    for resource in RESOURCES:
        response = api(nobody).get(resource.url)
        assert response.status_code == 403, resource.url
        assert response.json()["error"]["code"] == "permission_denied"
    assert api(nobody).get("/api/regions/map/").status_code == 403  # the map data too


def test_inspectors_do_not_see_plans_as_on_the_plan_pages(api, world, inspector):
    assert api(inspector).get("/api/inspection-plans/").status_code == 403
    assert api(inspector).get("/api/inspection-tasks/").status_code == 200


# --- Pagination, filters, ordering -------------------------------------------------------------------


@pytest.mark.parametrize("resource", ALL_LISTS, ids=lambda r: r.basename)
def test_every_list_paginates(api, world, superuser, resource):
    page = api(superuser).get(resource.url, {"page_size": 1}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] >= 2 and len(page["results"]) == 1
    assert "page=2" in page["next"] and "page_size=1" in page["next"]


@pytest.mark.parametrize("resource", ALL_LISTS, ids=lambda r: r.basename)
def test_every_list_filters(api, world, superuser, resource):
    client = api(superuser)
    for case, other in ((world["a"], world["b"]), (world["b"], world["a"])):
        listed = keys(client.get(resource.url, resource.narrow(case)), resource)
        assert resource.ident(case) in listed
        assert resource.ident(other) not in listed


def test_page_size_is_at_most_500_and_a_larger_one_is_refused_not_clipped(api, world, superuser):
    client = api(superuser)
    assert client.get("/api/enterprises/", {"page_size": 500}).status_code == 200
    error = assert_error(client.get("/api/enterprises/", {"page_size": 501}), 400, "invalid")
    assert list(error["details"]) == ["page_size"]


def test_enterprises_filter_by_class_category_status_and_search(api, region_tree, supervisor):
    risky = EnterpriseFactory(town=region_tree.town_a1, name="嘉善胶合板厂", risk_class="risk", category="tightened")
    calm = EnterpriseFactory(town=region_tree.town_a2, name="平湖箱包厂", category="credit")
    closed = EnterpriseFactory(town=region_tree.town_a2, name="已关闭工厂", status="closed")
    client = api(supervisor)

    def ids(**params):
        return {row["id"] for row in client.get("/api/enterprises/", params).json()["results"]}

    assert ids(risk_class="risk") == {risky.pk}
    assert ids(category="credit") == {calm.pk}
    assert ids(status="closed") == {closed.pk}
    assert ids(town=region_tree.town_a1.code) == {risky.pk}
    assert ids(q="胶合板") == {risky.pk}
    assert ids(q=calm.credit_code[-8:]) == {calm.pk}
    assert ids(key_supervised="true") == {risky.pk}
    names = [row["name"] for row in client.get("/api/enterprises/", {"ordering": "-name"}).json()["results"]]
    assert names == sorted(names, reverse=True)


def test_enterprise_detail_lists_products_made_and_risk_reasons(api, world, supervisor):
    case = world["a"]
    detail = api(supervisor).get(f"/api/enterprises/{case.enterprise.pk}/").json()
    assert detail["county"] == case.county.code and detail["town"] == case.town.code
    assert [made["product"] for made in detail["products"]] == [case.product.code]
    assert detail["products"][0]["licence_number"] == "XK-001"
    assert [(reason["kind"], reason["count"]) for reason in detail["risk_reasons"]] == [("nonconforming", 1)]


def test_regions_carry_the_latest_snapshot_or_the_one_asked_for(api, world, supervisor):
    county_a = world["a"].county
    client = api(supervisor)
    rows = {row["code"]: row for row in client.get("/api/regions/").json()["results"]}
    assert rows[county_a.code]["period"] == "2026-11"
    assert (rows[county_a.code]["colour"], rows[county_a.code]["risk_count"]) == (Colour.RED, 3)
    assert rows[world["a"].town.code]["colour"] is None  # no snapshot for the town
    older = client.get(f"/api/regions/{county_a.code}/", {"period": "2026-10"}).json()
    assert older["period"] == "2026-10" and older["risk_share"] == 30.0
    assert client.get("/api/regions/", {"colour": "red"}).json()["count"] == 1
    assert client.get("/api/regions/", {"period": "2020-01"}).json()["results"][0]["colour"] is None


def test_tasks_list_their_officers_and_can_be_narrowed_to_mine(api, world):
    case = world["a"]
    officer = case.task.assignments.get(position=1).officer  # an inspector of county A
    client = api(officer)
    task = client.get("/api/inspection-tasks/", {"mine": "true"}).json()["results"]
    assert [row["id"] for row in task] == [case.task.pk]
    assert [o["position"] for o in task[0]["officers"]] == [1, 2]
    assert task[0]["result"] == case.task.result.number
    assert client.get("/api/inspection-tasks/", {"mine": "false"}).json()["count"] == 0


# --- Query counts do not grow with rows --------------------------------------------------------------


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("resource", ALL_LISTS, ids=lambda r: r.basename)
def test_list_queries_do_not_grow_with_rows(api, region_tree, officers, superuser, resource, django_assert_max_num_queries):
    client = api(superuser)
    for town in (region_tree.town_a1, region_tree.town_a2, region_tree.town_b1):
        detailed_case(town, officers)
    client.get(resource.url)  # warm up: the session's first read is not what is measured
    few = queries_of(client, resource.url)
    for n in range(27):  # 27 more, each in a new town (so the regions list grows too)
        county = (region_tree.county_a, region_tree.county_b)[n % 2]
        detailed_case(Region.objects.create(code=f"{county.code}{100 + n:03d}", name=f"新镇{n}", level="town", parent=county), officers)
    with django_assert_max_num_queries(few):
        assert len(client.get(resource.url, {"page_size": 100}).json()["results"]) >= 30


def test_detail_queries_are_a_handful(api, world, supervisor, django_assert_max_num_queries):
    client = api(supervisor)
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/enterprises/{world['a'].enterprise.pk}/").status_code == 200


# --- Authentication -----------------------------------------------------------------------------------


def test_an_integration_authenticates_with_a_token(client, world, supervisor):
    token = Token.objects.create(user=supervisor)
    response = client.get("/api/enterprises/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [world["a"].enterprise.pk]  # still their county only


def test_a_bad_token_is_401_in_the_error_shape(client, world):
    response = client.get("/api/enterprises/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


# --- One error shape -----------------------------------------------------------------------------------


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_400_names_the_bad_fields(api, world, supervisor):
    client = api(supervisor)
    error = assert_error(client.get("/api/spot-checks/", {"checked_from": "yesterday"}), 400, "invalid")
    assert "checked_from" in error["details"]
    error = assert_error(client.get("/api/enterprises/", {"risk_class": "dangerous"}), 400, "invalid")
    assert "risk_class" in error["details"]
    error = assert_error(client.get("/api/regions/", {"period": "11/2026"}), 400, "invalid")
    assert "period" in error["details"]


def test_401_for_anonymous_callers(client, world):
    response = client.get("/api/enterprises/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")


def test_403_for_a_role_the_endpoint_refuses(api, world, inspector):
    assert_error(api(inspector).get("/api/inspection-plans/"), 403, "permission_denied")


def test_404_for_a_record_elsewhere_an_unknown_url_and_a_page_past_the_end(api, world, supervisor):
    client = api(supervisor)
    assert_error(client.get(f"/api/enterprises/{world['b'].enterprise.pk}/"), 404, "not_found")
    assert_error(client.get("/api/no-such-thing/"), 404, "not_found")
    assert_error(client.get("/api/enterprises/", {"page": 99}), 404, "not_found")


def test_405_for_writes(api, world, supervisor):
    client = api(supervisor)
    assert_error(client.post("/api/enterprises/", {}), 405, "method_not_allowed")
    assert_error(client.delete(f"/api/enterprises/{world['a'].enterprise.pk}/"), 405, "method_not_allowed")


def test_a_services_django_validation_error_is_a_400_in_the_shape():
    response = api_exception_handler(DjangoValidationError({"override_reason": ["A grade override needs a reason."]}), {})
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid"
    assert response.data["error"]["details"] == {"override_reason": ["A grade override needs a reason."]}
    bare = api_exception_handler(DjangoValidationError("Thresholds must rise."), {})
    assert bare.data["error"]["details"] == {"non_field_errors": ["Thresholds must rise."]}


def test_an_unexpected_error_is_a_500_in_the_shape(settings):
    settings.DEBUG = False
    response = api_exception_handler(RuntimeError("boom"), {"request": None})
    assert response.status_code == 500
    assert response.data["error"]["code"] == "server_error"
    assert "boom" not in str(response.data)


# --- The province: each level lists what lies inside it -------------------------------------------------------


@pytest.fixture
def province_world(world, region_tree):
    """The test city in a province beside a second city, with the loop once in the second city too."""
    province = Region.objects.create(code="340000", name="测试省", level=Level.PROVINCE)
    region_tree.city.parent = province
    region_tree.city.save()
    city_c = Region.objects.create(code="349800", name="丙市", level=Level.CITY, parent=province)
    county_c = Region.objects.create(code="349801", name="丙区", level=Level.COUNTY, parent=city_c)
    town_c = Region.objects.create(code="349801001", name="丙一街道", level=Level.TOWN, parent=county_c)
    cases = world | {"c": with_details(case_make(town_c, county_inspectors(county_c, "officer_c")))}
    staff = {
        level: StaffProfileFactory(user=UserFactory(username=f"{level}_sup"), role=Role.SUPERVISOR, jurisdiction=where).user
        for level, where in (("province", province), ("city", region_tree.city), ("county", region_tree.county_a))
    }
    return cases, staff


LEVEL_REACH = {"province": {"a", "b", "c"}, "city": {"a", "b"}, "county": {"a"}}


@pytest.mark.parametrize("level", sorted(LEVEL_REACH))
@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.basename)
def test_province_city_and_county_staff_list_what_lies_in_their_jurisdiction(api, province_world, resource, level):
    cases, staff = province_world
    client = api(staff[level])
    listed = keys(client.get(resource.url, {"page_size": 500}), resource)
    if resource.basename == "api-region":
        jurisdiction = staff[level].staff_profile.jurisdiction
        assert listed == set(Region.objects.filter(within(jurisdiction)).values_list("code", flat=True))
    else:
        assert {key for key, case in cases.items() if resource.ident(case) in listed} == LEVEL_REACH[level]
    for key, case in cases.items():
        assert client.get(resource.detail(case)).status_code == (200 if key in LEVEL_REACH[level] else 404), (key, level)


@pytest.mark.parametrize("level", sorted(LEVEL_REACH))
def test_the_map_shows_each_level_its_own_cities_counties_and_towns(api, province_world, level):
    cases, staff = province_world
    client = api(staff[level])
    codes = {"city": lambda c: c.county.parent.code, "county": lambda c: c.county.code, "town": lambda c: c.town.code}
    for map_level, code_of in codes.items():
        body = client.get("/api/regions/map/", {"level": map_level, "period": "2026-11"}).json()
        shown = {feature["properties"]["code"] for feature in body["features"]}
        expected = set() if (level, map_level) == ("county", "city") else LEVEL_REACH[level]  # nothing above one's jurisdiction
        assert {key for key, case in cases.items() if code_of(case) in shown} == expected, (map_level, level)
