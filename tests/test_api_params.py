"""Every API query parameter is validated: a bad value is a 400 in the one error shape naming the parameter,
never a 500, never silently ignored or clipped; good values work. The inputs below include those that
schemathesis found giving 500s or accepted against the schema (issue 14); ``.ci/run`` fuzzes the whole schema.
"""

import pytest

from common.api_query import MAX_ID, STRICT_FILTERS, ApiFilterSet, BoundedPageNumberPagination, OrderingFilter
from jiaxing_qs.api_urls import router
from regions.api.params import PeriodFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, region_tree, django_user_model):
    """A city-wide superuser's client over the test city's regions (enough to be refused)."""
    client.force_login(django_user_model.objects.create_superuser("root", password=None))  # no hashing: force_login
    return client


@pytest.fixture
def staff(root, two_county_cases):
    """The same, over the loop in both counties (``staff.cases``)."""
    root.cases = two_county_cases
    return root


def assert_invalid(response, *names: str) -> dict:
    """A 400 in the error shape whose details name exactly ``names``."""
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "invalid" and error["message"]
    assert set(error["details"]) == set(names), error["details"]
    assert all(isinstance(messages, list) and messages for messages in error["details"].values())
    return error


def ids(response) -> set:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- The 500s schemathesis found: huge or fractional numbers for an id ---------------------------------------


@pytest.mark.parametrize(
    ("url", "params", "bad"),
    [
        ("/api/inspection-tasks/", {"enterprise": "-6.441565754375032e+126"}, ["enterprise"]),
        ("/api/risk-events/", {"enterprise": "-1.7976931348623155e+308"}, ["enterprise"]),
        ("/api/rectification-orders/", {"enterprise": "5.913728886513785e+99", "ordering": "É)"}, ["enterprise"]),
        ("/api/spot-checks/", {"enterprise": "-1.78e+183", "ordering": "checked_on", "page": "22314741015"}, ["enterprise"]),
        ("/api/inspection-tasks/", {"plan": "-6.193643064003127e+47"}, ["plan"]),
        ("/api/inspection-tasks/", {"officer": str(2**64)}, ["officer"]),
        ("/api/spot-checks/", {"enterprise": str(MAX_ID + 1)}, ["enterprise"]),
        ("/api/spot-checks/", {"enterprise": "0"}, ["enterprise"]),
        ("/api/spot-checks/", {"enterprise": "1.5"}, ["enterprise"]),
        ("/api/spot-checks/", {"enterprise": "1_000"}, ["enterprise"]),
        ("/api/spot-checks/", {"enterprise": "７"}, ["enterprise"]),  # a full-width digit: int() would take it
    ],
)
def test_an_id_that_is_not_a_whole_number_in_range_is_a_400(root, url, params, bad):
    assert_invalid(root.get(url, params), *bad)


def test_the_ordering_is_checked_before_anything_reaches_the_database(root):
    assert_invalid(root.get("/api/rectification-orders/", {"ordering": "É)"}), "ordering")


def test_an_id_filter_in_range_filters(staff):
    case = staff.cases["a"]
    assert ids(staff.get("/api/spot-checks/", {"enterprise": case.enterprise.pk})) == {case.spot_check.pk}
    assert ids(staff.get("/api/spot-checks/", {"enterprise": MAX_ID})) == set()
    assert ids(staff.get("/api/inspection-tasks/", {"plan": case.plan.pk})) == {case.task.pk}


def test_a_path_id_out_of_range_or_not_a_number_is_a_404_in_the_error_shape(root):
    for path in (f"{MAX_ID}", f"{2**70}", "abc", "0.5"):
        response = root.get(f"/api/spot-checks/{path}/")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --- Ordering -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["nope", "name,", "", "-", "--name", "name,nope", "town__code", "password"])
def test_ordering_by_a_field_not_offered_is_a_400_listing_those_that_are(root, ordering):
    error = assert_invalid(root.get("/api/enterprises/", {"ordering": ordering}), "ordering")
    assert "credit_code" in error["details"]["ordering"][0]


def test_ordering_by_several_fields_and_descending_works(staff):
    response = staff.get("/api/enterprises/", {"ordering": "-risk_class,name"})
    rows = [(row["risk_class"], row["name"]) for row in response.json()["results"]]
    assert rows == sorted(sorted(rows, key=lambda row: row[1]), key=lambda row: row[0], reverse=True)
    newest_first = [row["id"] for row in staff.get("/api/spot-checks/", {"ordering": "-id"}).json()["results"]]
    assert newest_first == sorted(newest_first, reverse=True) and len(newest_first) == 2


# --- Pages --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"page_size": "null"}, {"page_size": "false"}, {"page_size": "0"}, {"page_size": "-103"}, {"page_size": "501"}, {"page_size": ""}],
)
def test_a_page_size_outside_1_to_500_is_a_400(root, params):
    assert_invalid(root.get("/api/enterprises/", params), "page_size")


@pytest.mark.parametrize("page", ["0", "-1115", "abc", "last", "", "1.0"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_400(root, page):
    assert_invalid(root.get("/api/enterprises/", {"page": page}), "page")


def test_a_page_past_the_end_is_still_a_404_and_a_valid_page_works(staff):
    assert staff.get("/api/enterprises/", {"page": "22314741015"}).status_code == 404
    second = staff.get("/api/enterprises/", {"page": 2, "page_size": 1}).json()
    assert second["previous"] and len(second["results"]) == 1


# --- Empty values, codes, choices, booleans, dates, free text -----------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/inspection-plans/", "starts_to"),
        ("/api/regions/", "colour"),
        ("/api/regions/", "period"),
        ("/api/regions/map/", "period"),
        ("/api/regions/map/", "level"),
        ("/api/enterprises/", "town"),
        ("/api/enterprises/", "key_supervised"),
        ("/api/enterprises/", "max_grade"),
        ("/api/spot-checks/", "enterprise"),
        ("/api/enterprises/priorities/", "bbox"),
    ],
)
def test_a_parameter_given_empty_is_a_400_not_no_filter(root, url, name):
    assert_invalid(root.get(url, {name: ""}), name)


@pytest.mark.parametrize(
    ("url", "query", "name"),
    [
        ("/api/risk-events/", "enterprise=abc&enterprise=1", "enterprise"),  # Django would keep the last, a good one
        ("/api/enterprises/", "status=active&status=closed", "status"),
        ("/api/enterprises/", "ordering=name&ordering=-id", "ordering"),
        ("/api/enterprises/", "page=1&page=2", "page"),
        ("/api/enterprises/", "page_size=5&page_size=10", "page_size"),
        ("/api/regions/map/", "period=2026-10&period=2026-11", "period"),
        ("/api/enterprises/priorities/", "bbox=0,0,1,1&bbox=0,0,2,2", "bbox"),
    ],
)
def test_a_parameter_given_twice_is_a_400(root, url, query, name):
    assert_invalid(root.get(f"{url}?{query}"), name)


def test_an_empty_search_means_no_filter(staff):
    assert len(ids(staff.get("/api/enterprises/", {"q": ""}))) == 2


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/enterprises/", {"town": "3499"}),
        ("/api/enterprises/", {"county": "349901001"}),  # a town's code where a county's is asked
        ("/api/rectification-orders/", {"county": "\x00|"}),
        ("/api/inspection-plans/", {"scope": "34990１"}),
        ("/api/regions/", {"parent": "abc"}),
        ("/api/spot-checks/", {"product": "x" * 21}),
        ("/api/products/", {"product_class": "x" * 11}),
    ],
)
def test_a_code_of_the_wrong_form_is_a_400(root, url, params):
    assert_invalid(root.get(url, params), *params)


def test_codes_of_the_right_form_filter(staff, region_tree):
    case = staff.cases["a"]
    assert ids(staff.get("/api/enterprises/", {"town": case.town.code})) == {case.enterprise.pk}
    assert ids(staff.get("/api/enterprises/", {"county": case.county.code})) == {case.enterprise.pk}
    assert ids(staff.get("/api/spot-checks/", {"product": case.product.code})) == {case.spot_check.pk}
    assert ids(staff.get("/api/enterprises/", {"town": "349901999"})) == set()  # well formed, no such town: empty
    assert ids(staff.get("/api/inspection-plans/", {"scope": case.county.code})) == {case.plan.pk}


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/enterprises/", {"risk_class": "dangerous"}),
        ("/api/enterprises/", {"max_grade": "4"}),
        ("/api/enterprises/", {"max_grade": "01"}),
        ("/api/products/", {"grade": "high"}),
        ("/api/regions/map/", {"level": "province"}),
        ("/api/inspection-tasks/", {"mine": "yes"}),
        ("/api/spot-checks/", {"conforming": "1"}),
        ("/api/rectification-orders/", {"open": "null"}),
    ],
)
def test_a_choice_or_boolean_not_offered_is_a_400(root, url, params):
    assert_invalid(root.get(url, params), *params)


def test_choices_and_booleans_filter(staff):
    case = staff.cases["a"]
    assert ids(staff.get("/api/spot-checks/", {"conforming": "false", "town": case.town.code})) == {case.spot_check.pk}
    assert ids(staff.get("/api/spot-checks/", {"conforming": "true"})) == set()
    assert ids(staff.get("/api/rectification-orders/", {"open": "true", "status": "rectifying", "county": case.county.code})) == {
        case.order.pk
    }
    assert staff.get("/api/products/", {"grade": 3, "is_active": "true"}).status_code == 200


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/spot-checks/", {"checked_from": "yesterday"}),
        ("/api/spot-checks/", {"checked_from": "11/02/2026"}),  # Django's DateField takes it; the schema says YYYY-MM-DD
        ("/api/risk-events/", {"occurred_to": "2026-02-30"}),
        ("/api/inspection-tasks/", {"due_from": "2026-11-02T00:00"}),
        ("/api/regions/", {"period": "2026-1"}),
        ("/api/regions/", {"period": "0000-00"}),
        ("/api/regions/349901/", {"period": "2026-13"}),
        ("/api/regions/349901/panel/", {"period": "Ä\x02ån"}),
        ("/api/regions/349901/snapshots/", {"period_from": "ä%ß%"}),  # a "%" once broke the error message: a 500
        ("/api/regions/349901/snapshots/", {"period_to": "2026-11-01"}),
    ],
)
def test_a_date_or_period_not_written_as_documented_is_a_400(root, url, params):
    assert_invalid(root.get(url, params), *params)


def test_dates_and_periods_filter(staff):
    case = staff.cases["a"]
    day = case.spot_check.checked_on.isoformat()
    assert ids(staff.get("/api/spot-checks/", {"checked_from": day, "checked_to": day, "town": case.town.code})) == {case.spot_check.pk}
    assert ids(staff.get("/api/risk-events/", {"occurred_from": "2100-01-01"})) == set()
    assert staff.get("/api/regions/349901/snapshots/", {"period_from": "2026-01", "period_to": "2026-12"}).status_code == 200
    assert staff.get("/api/regions/map/", {"level": "town", "period": "2026-11"}).status_code == 200


@pytest.mark.parametrize("q", ["\x00;", "x" * 101])
def test_free_text_with_a_nul_or_too_long_is_a_400(root, q):
    assert_invalid(root.get("/api/products/", {"q": q}), "q")


@pytest.mark.parametrize("bbox", ["1,2,3", "1,2,3,4,5", "nan,0,1,1", "inf,0,1,1", "1e999,0,1,1", "200,0,1,1", "a,b,c,d", "1, 2,3,4"])
def test_bounds_that_are_not_four_numbers_in_range_are_a_400(root, bbox):
    assert_invalid(root.get("/api/enterprises/priorities/", {"bbox": bbox}), "bbox")


def test_bounds_as_the_map_sends_them_work(staff):
    assert staff.get("/api/enterprises/priorities/", {"bbox": "120.2000,30.2000,121.3000,31.0000"}).status_code == 200
    assert staff.get("/api/enterprises/priorities/", {"bbox": "-1e-05,0,1.5E+2,90"}).status_code == 200


# --- URLs and bodies ----------------------------------------------------------------------------------------


def test_a_post_to_no_endpoint_is_a_json_404_not_the_csrf_page(client, supervisor):
    client.force_login(supervisor)
    response = client.post("/api/risk-models/0.5/adopt/", {"reason": ""}, content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_path_with_a_newline_is_a_json_404(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/api/enterprises/.\x83\n\xb8z/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_an_adoption_reason_of_white_space_nul_or_too_long_is_a_400_and_the_model_stays_fitted(client, history, city_supervisor):
    from inspections.scoring.services import risk_model_fit

    from .clock import TEST_TODAY

    model = risk_model_fit(as_of=TEST_TODAY)
    client.force_login(city_supervisor)
    for reason in ["   ", "\u3000\n", "a\x00b", "x" * 501, 7]:
        response = client.post(f"/api/risk-models/{model.pk}/adopt/", {"reason": reason}, content_type="application/json")
        assert_invalid(response, "reason")
    model.refresh_from_db()
    assert model.status == "fitted"


# --- Every list is built from the strict pieces ---------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "viewset"), [(prefix, viewset) for prefix, viewset, _basename in router.registry], ids=str)
def test_every_api_list_validates_its_filters_ordering_and_pages(prefix, viewset):
    filterset = getattr(viewset, "filterset_class", None)
    if filterset is not None:
        assert issubclass(filterset, ApiFilterSet)
        loose = [name for name, filter_ in filterset.base_filters.items() if not isinstance(filter_, (*STRICT_FILTERS, PeriodFilter))]
        assert loose == [], f"{prefix}: use common.api_query's filters for {loose}"
    assert OrderingFilter in viewset.filter_backends
    assert isinstance(viewset.ordering_fields, list)
    assert issubclass(viewset.pagination_class, BoundedPageNumberPagination)
