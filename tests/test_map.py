"""The one-map page (一图) and the data behind it: GeoJSON per level and period, side panel, markers."""

import datetime as dt
import gzip
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enterprises.models import KEY_SUPERVISED, Category, Enterprise, RiskEventKind, Status
from jiaxing_qs.tasks import run_pipeline
from regions.models import Colour

from .clock import TEST_TODAY
from .factories import EnterpriseFactory, RiskEventFactory, TownFactory

AS_OF = TEST_TODAY
MAP_URL = "/api/regions/map/"

pytestmark = pytest.mark.django_db


def populate(town, *, enterprises: int, risk: int, lat: float = 30.7, lon: float = 120.7):
    made = [EnterpriseFactory(town=town, lat=lat + i * 0.001, lon=lon) for i in range(enterprises)]
    for enterprise in made[:risk]:
        RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.PENALTY, occurred_on=AS_OF - dt.timedelta(days=40))
    return made


@pytest.fixture
def coloured(region_tree):
    """County A: 10 enterprises, 3 risk (red); county B: 21 enterprises, 1 risk (green, 4.8%)."""
    populate(region_tree.town_a1, enterprises=6, risk=3)
    populate(region_tree.town_a2, enterprises=4, risk=0, lat=30.8)
    populate(region_tree.town_b1, enterprises=21, risk=1, lat=30.5, lon=120.5)
    run_pipeline(AS_OF)
    return region_tree


def features_by_code(response):
    return {feature["properties"]["code"]: feature for feature in response.json()["features"]}


def test_county_map_carries_the_colour_share_and_counts_of_each_county(client, coloured, administrator):
    client.force_login(administrator)  # an administrator of county A
    features = features_by_code(client.get(MAP_URL, {"level": "county", "period": "2026-11"}))
    county_a = features[coloured.county_a.code]["properties"]
    assert county_a["colour"] == Colour.RED
    assert (county_a["risk_count"], county_a["enterprise_count"]) == (3, 10)
    assert county_a["risk_share"] == 30.0
    assert county_a["index"] is not None
    assert set(county_a) >= {"code", "name", "level", "colour", "risk_share", "enterprise_count", "risk_count", "index"}


def test_a_county_user_sees_only_their_county(client, coloured, supervisor):
    client.force_login(supervisor)
    assert set(features_by_code(client.get(MAP_URL, {"level": "county"}))) == {coloured.county_a.code}
    towns = features_by_code(client.get(MAP_URL, {"level": "town"}))
    assert set(towns) == {coloured.town_a1.code, coloured.town_a2.code}


def test_a_superuser_without_jurisdiction_sees_every_county(client, coloured, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x" * 12))
    features = features_by_code(client.get(MAP_URL, {"level": "county"}))
    assert {coloured.county_a.code, coloured.county_b.code} <= set(features)
    assert features[coloured.county_b.code]["properties"]["colour"] == Colour.GREEN


def test_towns_without_boundaries_are_points_at_the_centre_of_their_enterprises(client, coloured, supervisor):
    client.force_login(supervisor)
    town = features_by_code(client.get(MAP_URL, {"level": "town"}))[coloured.town_a2.code]
    assert town["geometry"]["type"] == "Point"
    lon, lat = town["geometry"]["coordinates"]
    assert lat == pytest.approx(30.8015, abs=1e-4)
    assert lon == pytest.approx(120.7, abs=1e-4)
    assert town["properties"]["colour"] == Colour.TOO_FEW  # 4 enterprises, below the minimum of 5


def test_response_is_gzipped_and_revalidates_with_its_etag(client, coloured, supervisor):
    client.force_login(supervisor)
    first = client.get(MAP_URL, {"level": "county"}, HTTP_ACCEPT_ENCODING="gzip, br")
    assert first["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(first.content))["type"] == "FeatureCollection"
    assert first["ETag"] and first["Last-Modified"]
    again = client.get(MAP_URL, {"level": "county"}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_recomputing_the_period_changes_the_etag(client, coloured, supervisor):
    client.force_login(supervisor)
    before = client.get(MAP_URL, {"level": "county"})["ETag"]
    populate(coloured.town_a1, enterprises=1, risk=1)
    run_pipeline(AS_OF)
    after = client.get(MAP_URL, {"level": "county"}, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200
    assert after["ETag"] != before


def test_bad_level_or_period_is_refused_with_a_reason(client, coloured, supervisor):
    client.force_login(supervisor)
    assert "level" in client.get(MAP_URL, {"level": "village"}).json()["error"]["details"]
    assert "period" in client.get(MAP_URL, {"period": "11/2026"}).json()["error"]["details"]


def test_map_data_needs_a_login(client, coloured):
    assert client.get(MAP_URL).status_code in (401, 403)


def map_queries(client, level):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(MAP_URL, {"level": level, "period": "2026-11"}, HTTP_X_NOCACHE="1").status_code == 200
    return len(queries)


def test_map_query_count_does_not_grow_with_regions_or_enterprises(client, coloured, supervisor, settings):
    settings.CACHES = settings.CACHES | {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    client.force_login(supervisor)
    small = map_queries(client, "town")
    for _ in range(5):
        populate(TownFactory(parent=coloured.county_a), enterprises=7, risk=2)
    run_pipeline(AS_OF)
    assert map_queries(client, "town") == small


def test_panel_shows_counts_reasons_key_enterprises_and_trend(client, coloured, supervisor):
    client.force_login(supervisor)
    panel = client.get(f"/api/regions/{coloured.county_a.code}/panel/", {"period": "2026-11"}).json()
    assert (panel["risk_count"], panel["enterprise_count"], panel["colour"]) == (3, 10, Colour.RED)
    assert panel["top_reasons"][0]["kind"] == RiskEventKind.PENALTY
    assert panel["top_reasons"][0]["count"] == 3
    assert panel["trend"][-1]["period"] == "2026-11"
    assert panel["index_formula"]
    assert panel["key_total"] == len(panel["key_enterprises"]) or panel["key_total"] > 10


def test_panel_of_another_county_is_not_found(client, coloured, supervisor):
    client.force_login(supervisor)
    assert client.get(f"/api/regions/{coloured.county_b.code}/panel/").status_code == 404


def test_priority_markers_are_key_supervised_enterprises_inside_the_bounds(client, region_tree, supervisor, product_factory):
    from products.models import HarmSeverity, LicenceType

    # 3 (severe) + 1 (CCC) + 1 (vulnerable users) = 5 points: high grade
    heater = product_factory(harm_severity=HarmSeverity.SEVERE, licence_type=LicenceType.CCC, vulnerable_users=True)
    inside, outside = populate(region_tree.town_a1, enterprises=2, risk=2, lat=30.7)
    outside.lat = 31.5
    outside.save()
    for enterprise in (inside, outside):
        enterprise.made.create(product=heater, licence_number="2021010701234567", licence_expiry=AS_OF + dt.timedelta(days=400))
    run_pipeline(AS_OF)
    client.force_login(supervisor)
    data = client.get("/api/enterprises/priorities/", {"bbox": "120.0,30.0,121.0,31.0"}).json()
    assert [marker["id"] for marker in data["markers"]] == [inside.id]
    assert data["markers"][0]["category"] == Category.TIGHTENED
    assert client.get("/api/enterprises/priorities/", {"bbox": "1,2,3"}).status_code == 400


def test_map_page_needs_a_login_and_loads_leaflet_from_our_own_static_files(client, coloured, supervisor):
    assert client.get("/map/").status_code == 302
    client.force_login(supervisor)
    page = client.get("/map/").content.decode()
    assert "leaflet/leaflet.js" in page
    assert "vendor/leaflet.markercluster/leaflet.markercluster.js" in page
    assert 'src="http' not in page and 'href="http' not in page


def test_enterprise_page_shows_the_class_reasons_and_is_limited_to_the_jurisdiction(client, coloured, supervisor, outsider):
    enterprise = coloured.town_a1.enterprises.filter(risk_class="risk").first()
    client.force_login(supervisor)
    page = client.get(f"/enterprises/{enterprise.pk}/").content.decode()
    assert enterprise.name in page and "× 1" in page
    client.force_login(outsider)
    assert client.get(f"/enterprises/{enterprise.pk}/").status_code == 404


def test_map_reports_the_thresholds_its_period_was_coloured_with(client, coloured, supervisor):
    from regions.models import ColourThresholds

    client.force_login(supervisor)
    assert client.get(MAP_URL).json()["thresholds"]["red_from"] == 20.0
    ColourThresholds.objects.create(yellow_from=5, orange_from=10, red_from=35, min_enterprises=5, reason="试行新阈值")
    run_pipeline(AS_OF)
    collection = client.get(MAP_URL).json()
    assert collection["thresholds"]["red_from"] == 35.0
    assert features_by_code(client.get(MAP_URL))[coloured.county_a.code]["properties"]["colour"] == Colour.ORANGE  # 30 % < 35 %


def test_the_panels_key_list_leads_to_every_key_supervised_enterprise_of_the_region(client, coloured, supervisor, monkeypatch):
    """The panel shows the first ten and the total; its link lists them all, in the panel's order, page by page."""
    made = populate(coloured.town_a2, enterprises=12, risk=0, lat=30.9)
    Enterprise.objects.filter(pk__in=[e.pk for e in made[:5]]).update(category=Category.TIGHTENED)
    Enterprise.objects.filter(pk__in=[e.pk for e in made[5:]]).update(category=Category.ROUTINE)
    Enterprise.objects.filter(town=coloured.town_a1, risk_class="risk").update(category=Category.TIGHTENED)  # 3 risk ones
    client.force_login(supervisor)
    panel = client.get(f"/api/regions/{coloured.county_a.code}/panel/").json()
    key = Enterprise.objects.filter(town__parent=coloured.county_a, status=Status.ACTIVE, category__in=KEY_SUPERVISED)
    assert panel["key_total"] == key.count() == 15 and len(panel["key_enterprises"]) == 10
    page = client.get(panel["key_list_url"])
    assert page.status_code == 200
    listed = [int(pk) for pk in re.findall(r'data-enterprise="(\d+)"', page.content.decode())]
    assert listed[:10] == [e["id"] for e in panel["key_enterprises"]] and sorted(listed) == sorted(key.values_list("pk", flat=True))
    monkeypatch.setattr("enterprises.views.PAGE_SIZE", 10)
    second = client.get(panel["key_list_url"], {"page": 2}).content.decode()
    assert [int(pk) for pk in re.findall(r'data-enterprise="(\d+)"', second)] == listed[10:]


def test_the_key_list_reads_a_page_in_as_many_queries_however_many_enterprises(client, coloured, supervisor):
    client.force_login(supervisor)
    url = f"/enterprises/key-supervised/{coloured.county_a.code}/"
    Enterprise.objects.filter(pk=Enterprise.objects.filter(town=coloured.town_a1).first().pk).update(category=Category.ROUTINE)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    made = populate(coloured.town_a2, enterprises=20, risk=0, lat=30.9)
    Enterprise.objects.filter(pk__in=[e.pk for e in made]).update(category=Category.ROUTINE)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(re.findall(r"data-enterprise=", page)) == 21 and len(many) == len(few)


def test_the_key_list_of_a_region_outside_the_jurisdiction_is_not_found(client, coloured, supervisor):
    client.force_login(supervisor)
    assert client.get(f"/enterprises/key-supervised/{coloured.county_b.code}/").status_code == 404
    assert client.get("/enterprises/key-supervised/999999/").status_code == 404
