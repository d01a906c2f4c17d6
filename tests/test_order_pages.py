"""Rectification where supervisors look: the order list (/orders/), the enterprise page's open orders and the map
panel's order figures. Dates are fixed: TEST_TODAY is "today", orders are opened days before it (tests/clock.py)."""

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from inspections.models import Conclusion, OrderStatus, TaskStatus
from inspections.rectification.daily import daily_check
from inspections.rectification.services import objection_record, order_open
from regions.models import Role

from .clock import TEST_TODAY
from .factories import EnterpriseFactory, ProductFactory, StaffProfileFactory, UserFactory
from .test_rectification import current_reinspection, reinspect, result_of, staffed_task

pytestmark = pytest.mark.django_db

TODAY = TEST_TODAY


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.fixture
def officers(county):
    return [StaffProfileFactory(user=UserFactory(username=f"officer{n}"), role=Role.INSPECTOR, jurisdiction=county).user for n in (1, 2)]


@pytest.fixture
def open_order(officers):
    """open_order(town, ordered_days_ago, name=…): a non-conforming check in ``town`` and the order it opened then."""

    def make(town, ago: int, name: str | None = None):
        enterprise = EnterpriseFactory(town=town, **({"name": name} if name else {}))
        task = staffed_task(enterprise=enterprise, officers=officers, product=ProductFactory(), due_date=days_ago(ago))
        return order_open(result=result_of(task, Conclusion.NONCONFORMING, days_ago(ago)), on=days_ago(ago))

    return make


def listed(client, **params) -> list[str]:
    """The order numbers of the list page, in the order shown."""
    response = client.get(reverse("inspections:order-list"), params)
    assert response.status_code == 200, response.content.decode()[:500]
    return [order.number for order in response.context["page"]]


# --- The list: open orders, overdue first, then by the deadline now --------------------------------------------


def test_an_order_not_reinspected_by_day_75_is_listed_overdue_first_from_the_daily_check_on_day_76(client, supervisor, town, open_order):
    late = open_order(town, 76)  # re-inspection due yesterday (day 75)
    soon = open_order(town, 70)  # due in 5 days
    later = open_order(town, 10)  # due in 65 days
    client.force_login(supervisor)
    assert listed(client) == [late.number, soon.number, later.number]  # the job has not run: by deadline only

    daily_check(today=TODAY)
    assert listed(client) == [late.number, soon.number, later.number]
    html = client.get(reverse("inspections:order-list"), {"overdue": "on"}).content.decode()
    assert listed(client, overdue="on") == [late.number]
    assert 'data-testid="overdue"' in html


def test_overdue_orders_come_before_any_deadline_even_an_earlier_one(client, supervisor, town, open_order):
    flagged = open_order(town, 80)
    daily_check(today=TODAY)
    reinspect(flagged, Conclusion.NONCONFORMING, TODAY)  # announced: the second re-inspection is 90 days away
    waiting = open_order(town, 74)  # due tomorrow
    client.force_login(supervisor)
    assert listed(client) == [flagged.number, waiting.number]
    flagged.refresh_from_db()
    row = client.get(reverse("inspections:order-list")).context["page"][0]
    assert (row.status, row.deadline, row.is_overdue) == (OrderStatus.ANNOUNCED, flagged.second_reinspect_by, True)


def test_closed_orders_leave_the_list_unless_asked_for_and_escalated_ones_stay(client, supervisor, town, open_order):
    closed = open_order(town, 30)
    reinspect(closed, Conclusion.CONFORMING, TODAY)
    escalated = open_order(town, 40)
    escalated.status, escalated.escalated_on = OrderStatus.ESCALATED, TODAY
    escalated.save(update_fields=["status", "escalated_on"])
    rectifying = open_order(town, 20)
    client.force_login(supervisor)
    assert listed(client) == [rectifying.number, escalated.number]  # no deadline now: last
    assert listed(client, status="closed") == [closed.number]
    assert set(listed(client, status="all")) == {closed.number, escalated.number, rectifying.number}


def test_a_county_supervisor_lists_their_county_only(client, supervisor, outsider, two_county_cases):
    client.force_login(supervisor)
    assert listed(client) == [two_county_cases["a"].order.number]
    client.force_login(outsider)
    assert listed(client) == [two_county_cases["b"].order.number]


def test_another_countys_filter_is_refused_by_name_and_lists_nothing(client_en, supervisor, two_county_cases):
    client_en.force_login(supervisor)
    response = client_en.get(reverse("inspections:order-list"), {"county": two_county_cases["b"].county.code})
    assert response.status_code == 400
    assert list(response.context["page"]) == []
    html = response.content.decode()
    assert "Correct the marked filters: County" in html and "Select a valid choice" in html
    assert two_county_cases["b"].enterprise.name not in html


def test_the_town_and_county_filters_narrow_the_list_and_must_agree(client_en, supervisor, region_tree, open_order):
    a1 = open_order(region_tree.town_a1, 10)
    a2 = open_order(region_tree.town_a2, 20)
    client_en.force_login(supervisor)
    assert listed(client_en, town=region_tree.town_a2.code) == [a2.number]
    assert listed(client_en, county=region_tree.county_a.code) == [a2.number, a1.number]  # a2, ordered earlier, is due first
    response = client_en.get(reverse("inspections:order-list"), {"county": region_tree.county_a.code, "town": region_tree.town_b1.code})
    assert response.status_code == 400  # a town of another county is no choice at all


def test_the_list_is_paginated_and_its_query_count_does_not_grow_with_the_rows(client, supervisor, town, open_order):
    client.force_login(supervisor)
    for ago in range(3):
        open_order(town, ago)
    client.get(reverse("inspections:order-list"))  # the session and the caches warmed up
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("inspections:order-list"))
    for ago in range(3, 30):
        open_order(town, ago)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("inspections:order-list")).context["page"]
    assert (len(page), page.paginator.num_pages) == (25, 2)
    assert len(many) == len(few)
    assert len(client.get(reverse("inspections:order-list"), {"page": 2}).context["page"]) == 5


def test_each_row_links_the_enterprise_and_its_reinspection_task(client, supervisor, town, open_order):
    order = open_order(town, 5, name="嘉兴链接测试有限公司")
    client.force_login(supervisor)
    html = client.get(reverse("inspections:order-list")).content.decode()
    assert reverse("enterprises:detail", args=[order.enterprise_id]) in html
    assert reverse("inspections:task-detail", args=[current_reinspection(order).pk]) in html


def test_the_export_holds_every_filtered_order_in_the_lists_order(client, supervisor, town, open_order):
    orders = [open_order(town, ago) for ago in (76, 10, 50)]
    daily_check(today=TODAY)
    client.force_login(supervisor)
    response = client.get(reverse("inspections:order-export"))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("整改通知编号", "统一社会信用代码", "企业名称", "所属县（市、区）", "所在镇街")
    assert [row[0] for row in rows[1:]] == [orders[0].number, orders[2].number, orders[1].number]
    overdue = client.get(reverse("inspections:order-export"), {"overdue": "on"})
    assert [row[0] for row in list(load_workbook(io.BytesIO(overdue.content)).active.iter_rows(values_only=True))[1:]] == [orders[0].number]


def test_the_menu_leads_supervisors_to_the_orders_and_inspectors_are_refused(client, supervisor, inspector):
    client.force_login(supervisor)
    assert reverse("inspections:order-list") in client.get(reverse("regions:map")).content.decode()
    client.force_login(inspector)
    assert reverse("inspections:order-list") not in client.get(reverse("inspections:my-tasks")).content.decode()
    assert client.get(reverse("inspections:order-list")).status_code == 403


# --- The enterprise page ---------------------------------------------------------------------------------------


def enterprise_section(client, enterprise_id: int):
    response = client.get(reverse("enterprises:detail", args=[enterprise_id]))
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index('id="rectification"') :].split("</section>")[0]


def test_the_enterprise_page_shows_an_open_order_with_its_deadline_objection_window_and_reinspection(
    client_en, supervisor, town, open_order
):
    order = open_order(town, 3)  # objection until day 15: 12 days left
    client_en.force_login(supervisor)
    section = enterprise_section(client_en, order.enterprise_id)
    task = current_reinspection(order)
    assert order.number in section
    assert order.reinspect_by.isoformat() in section and f"rectify by {order.rectify_by.isoformat()}" in section
    assert f"open until {order.objection_by.isoformat()}" in section
    assert reverse("inspections:task-detail", args=[task.pk]) in section and "assigned" in section
    assert "overdue" not in section


def test_the_objection_window_reads_ended_after_day_15_and_filed_once_filed(client_en, supervisor, town, open_order):
    ended = open_order(town, 16)
    filed = open_order(town, 2)
    objection_record(order=filed, text="样品非我司生产", filed_on=TODAY)
    client_en.force_login(supervisor)
    assert f"ended {ended.objection_by.isoformat()}" in enterprise_section(client_en, ended.enterprise_id)
    assert f"objection filed on {TODAY.isoformat()}" in enterprise_section(client_en, filed.enterprise_id)


def test_an_overdue_order_and_its_overdue_reinspection_are_marked_on_the_enterprise_page(client_en, supervisor, town, open_order):
    order = open_order(town, 80)
    daily_check(today=TODAY)
    client_en.force_login(supervisor)
    section = enterprise_section(client_en, order.enterprise_id)
    assert 'data-testid="overdue"' in section
    assert f"flagged {TODAY.isoformat()}" in section
    assert current_reinspection(order).status == TaskStatus.ASSIGNED
    assert section.count(">overdue<") == 2  # the order and its re-inspection task


def test_a_closed_order_is_not_on_the_enterprise_page(client_en, supervisor, town, open_order):
    order = open_order(town, 30)
    reinspect(order, Conclusion.CONFORMING, TODAY)
    client_en.force_login(supervisor)
    section = enterprise_section(client_en, order.enterprise_id)
    assert order.number not in section and "No open rectification order." in section


def test_the_enterprise_pages_queries_do_not_grow_with_its_orders(client, supervisor, town, officers):
    enterprise = EnterpriseFactory(town=town)

    def another_order(ago: int):
        task = staffed_task(enterprise=enterprise, officers=officers, product=ProductFactory(), due_date=days_ago(ago))
        order_open(result=result_of(task, Conclusion.NONCONFORMING, days_ago(ago)), on=days_ago(ago))

    client.force_login(supervisor)
    another_order(1)
    url = reverse("enterprises:detail", args=[enterprise.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for ago in range(2, 8):
        another_order(ago)
    with CaptureQueriesContext(connection) as seven:
        assert client.get(url).content.decode().count("ZG-") >= 7
    assert len(seven) == len(one)


# --- The map panel -----------------------------------------------------------------------------------------------


def test_the_map_panel_counts_open_and_overdue_orders_and_pending_reinspections(client, supervisor, region_tree, open_order):
    open_order(region_tree.town_a1, 80)
    open_order(region_tree.town_a1, 10)
    closed = open_order(region_tree.town_a2, 30)
    reinspect(closed, Conclusion.CONFORMING, TODAY)
    daily_check(today=TODAY)
    client.force_login(supervisor)
    county = client.get(f"/api/regions/{region_tree.county_a.code}/orders/").json()
    assert county == {
        "code": region_tree.county_a.code,
        "open": 2,
        "overdue": 1,
        "reinspections_pending": 2,
        "orders_url": f"/orders/?county={region_tree.county_a.code}",
    }
    town = client.get(f"/api/regions/{region_tree.town_a2.code}/orders/").json()
    assert (town["open"], town["reinspections_pending"], town["orders_url"]) == (0, 0, f"/orders/?town={region_tree.town_a2.code}")
    assert listed(client, town=region_tree.town_a2.code, status="all") == [closed.number]  # where the link leads


def test_the_map_panel_of_another_county_is_not_found_and_inspectors_get_no_list_link(client, outsider, inspector, region_tree, open_order):
    open_order(region_tree.town_a1, 10)
    client.force_login(outsider)
    assert client.get(f"/api/regions/{region_tree.county_a.code}/orders/").status_code == 404
    client.force_login(inspector)
    figures = client.get(f"/api/regions/{region_tree.county_a.code}/orders/").json()
    assert (figures["open"], figures["orders_url"]) == (1, None)


def test_the_map_panels_order_figures_take_a_fixed_number_of_queries(
    client, supervisor, region_tree, open_order, django_assert_num_queries
):
    client.force_login(supervisor)
    url = f"/api/regions/{region_tree.county_a.code}/orders/"
    client.get(url)
    for ago in range(0, 80, 8):
        open_order(region_tree.town_a1, ago)
    daily_check(today=TODAY)
    with django_assert_num_queries(5):  # session, user (with the staff profile), region, orders, pending re-inspections
        assert client.get(url).json()["open"] == 10
