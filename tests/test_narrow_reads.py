"""Rows that show a division's name never load its boundary: the enterprise API (list and detail) and the admin's
enterprise and risk-event lists select no boundary column, in a number of queries that does not grow with the
rows; the admin's county filter lists the counties of the user's reach; an unfiltered big table is counted from
PostgreSQL's estimate ("about N"), anything filtered exactly."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import admin_utils
from common.admin_utils import EstimatedCountPaginator, estimated_rows
from enterprises.models import Enterprise, RiskEvent, RiskEventKind
from regions.models import Region

from .factories import EnterpriseFactory, RiskEventFactory

pytestmark = pytest.mark.django_db

SQUARE = {"type": "Polygon", "coordinates": [[[120.0, 30.0], [121.0, 30.0], [121.0, 31.0], [120.0, 30.0]]]}
ADMIN_APPS = ("regions", "products", "enterprises", "inspections")
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")


@pytest.fixture
def bounded(region_tree):
    """Every division with a boundary, as after importing the real ones."""
    Region.objects.update(boundary=SQUARE, boundary_simplified=SQUARE)
    return region_tree


def enterprises_in(towns, n: int) -> None:
    for i in range(n):
        enterprise = EnterpriseFactory(town=towns[i % len(towns)])
        RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.VERIFIED_COMPLAINT, source_ref=f"TS-{enterprise.pk}")


def run_queries(client, url, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
        assert response.status_code == 200
    return [query["sql"] for query in captured]


def boundary_reads(queries: list[str]) -> list[str]:
    return [sql for sql in queries if "boundary" in sql]


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x" * 16))
    return client


@pytest.fixture
def county_admin(client, administrator):
    administrator.is_staff = True
    administrator.save(update_fields=["is_staff"])
    administrator.user_permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    client.force_login(administrator)
    return client


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


# --- The API ---------------------------------------------------------------------------------------------------


def test_enterprise_api_list_reads_no_boundary_in_constant_queries(root, bounded):
    towns = [bounded.town_a1, bounded.town_a2, bounded.town_b1]
    enterprises_in(towns, 3)
    root.get("/api/enterprises/")  # warm up: the session's first read is not what is measured
    few = run_queries(root, "/api/enterprises/")
    enterprises_in(towns, 27)
    many = run_queries(root, "/api/enterprises/", {"page_size": 100})
    assert boundary_reads(few) == boundary_reads(many) == []
    assert len(many) == len(few)
    rows = root.get("/api/enterprises/", {"page_size": 100}).json()["results"]
    assert len(rows) == 30
    assert {(row["town"], row["county"], row["county_name"]) for row in rows} >= {("349901001", "349901", "甲区")}


def test_enterprise_api_detail_reads_no_boundary(root, bounded):
    enterprise = EnterpriseFactory(town=bounded.town_b1)
    queries = run_queries(root, f"/api/enterprises/{enterprise.pk}/")
    assert boundary_reads(queries) == []
    assert root.get(f"/api/enterprises/{enterprise.pk}/").json()["county_name"] == "乙县"


# --- The admin -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Enterprise, RiskEvent], ids=["enterprises", "risk events"])
def test_admin_lists_read_no_boundary_in_constant_queries(root, bounded, model):
    towns = [bounded.town_a1, bounded.town_b2]
    enterprises_in(towns, 3)
    root.get(changelist(model))
    few = run_queries(root, changelist(model))
    enterprises_in(towns, 27)
    many = run_queries(root, changelist(model))
    assert boundary_reads(few) == boundary_reads(many) == []
    assert len(many) == len(few)
    assert root.get(changelist(model)).context["cl"].result_count == 30


def test_admin_region_list_says_which_have_a_boundary_without_reading_them(root, bounded):
    Region.objects.filter(pk=bounded.town_b2.pk).update(boundary=None, boundary_simplified=None)
    root.get(changelist(Region))
    queries = run_queries(root, changelist(Region))
    assert [sql for sql in boundary_reads(queries) if '"boundary",' in sql or '."boundary" FROM' in sql] == []
    cl = root.get(changelist(Region)).context["cl"]
    assert {region.code: region.has_boundary_value for region in cl.result_list}["349902002"] is False
    assert sum(region.has_boundary_value for region in cl.result_list) == Region.objects.count() - 1
    parents = next(f for f in cl.filter_specs if f.field_path == "parent")
    assert [name for _pk, name in parents.lookup_choices] == [str(bounded.city), str(bounded.county_a), str(bounded.county_b)]


def test_admin_enterprise_export_reads_no_boundary(root, bounded):
    enterprises_in([bounded.town_a1], 3)
    queries = run_queries(root, reverse("admin:enterprises_enterprise_export"))
    assert boundary_reads(queries) == []


def test_admin_county_filter_lists_the_counties_within_reach(client, county_admin, django_user_model, bounded):
    enterprises_in([bounded.town_a1, bounded.town_b1], 4)
    url = changelist(Enterprise)

    def county_choices() -> list[str]:
        spec = next(f for f in client.get(url).context["cl"].filter_specs if f.field_path == "town__parent")
        return [name for _pk, name in spec.lookup_choices]

    assert county_choices() == [str(bounded.county_a)]
    client.force_login(django_user_model.objects.create_superuser("root", password="x" * 16))
    assert county_choices() == [str(bounded.county_a), str(bounded.county_b)]
    filtered = client.get(url, {"town__parent__id__exact": bounded.county_b.pk}).context["cl"]
    assert filtered.result_count == 2
    assert not filtered.paginator.estimated


def test_an_exact_count_on_sqlite_and_for_small_tables(root, bounded):
    enterprises_in([bounded.town_a1], 3)
    cl = root.get(changelist(Enterprise)).context["cl"]
    assert (cl.result_count, cl.paginator.estimated) == (3, False)


def test_only_a_whole_table_is_estimated(bounded):
    everything = Enterprise.objects.all()
    assert estimated_rows(everything.filter(status="active")) is None
    assert estimated_rows(everything.distinct()) is None
    assert estimated_rows(everything[:10]) is None
    if connection.vendor != "postgresql":
        assert estimated_rows(everything) is None


@on_postgresql
def test_a_big_unfiltered_list_shows_the_estimate_and_a_filtered_one_the_exact_count(client_en, django_user_model, bounded, monkeypatch):
    enterprises_in([bounded.town_a1, bounded.town_b1], 6)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Enterprise._meta.db_table}")  # what autovacuum keeps up to date
    monkeypatch.setattr(admin_utils, "ESTIMATE_FROM", 5)  # a "big" table of six rows
    client_en.force_login(django_user_model.objects.create_superuser("root", password="x" * 16))
    response = client_en.get(changelist(Enterprise))
    cl = response.context["cl"]
    assert cl.paginator.estimated and cl.result_count == 6  # ANALYZE of a small table reads every row
    assert "about 6 enterprises (estimated)" in response.content.decode()
    assert "about 6 results (estimated)" in response.content.decode()
    filtered = client_en.get(changelist(Enterprise), {"q": "测试"}).context["cl"]
    assert not filtered.paginator.estimated and filtered.result_count == 6


def test_the_paginator_counts_a_list_exactly(bounded):
    enterprises_in([bounded.town_a1], 2)
    paginator = EstimatedCountPaginator([1, 2, 3], 2)
    assert (paginator.count, paginator.estimated) == (3, False)
    paginator = EstimatedCountPaginator(Enterprise.objects.order_by("pk"), 1)
    assert paginator.count == 2 and paginator.num_pages == 2
