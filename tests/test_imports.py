"""Imports of enterprises, products made, risk events and spot-check results from .xlsx and .csv.

The rules: a file with any bad row changes nothing and names each bad row (as Excel numbers it), column and
reason; a good file is upserted by its natural key, so importing it again changes nothing; CSV may be
UTF-8 (with or without BOM), GBK or GB18030; a 50,000-row file takes a bounded number of queries.
"""

import csv
import datetime as dt
import io
import math
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from common.import_admin import SESSION_KEY, upload_folder
from common.tabular import TableError, parse_bool, parse_date, read_table
from enterprises.imports import enterprises_import, products_made_import, risk_events_import
from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent, RiskEventKind, Status
from inspections.models import ResultSource, SpotCheckLevel, SpotCheckResult
from inspections.spotchecks.imports import spot_checks_import
from products.imports import load_catalogue

from .factories import EnterpriseFactory, ProductFactory, SpotCheckResultFactory, credit_code

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def english_pages(settings):
    """Admin pages in English too (requests pick their language themselves, from LANGUAGE_CODE here)."""
    settings.LANGUAGE_CODE = "en"


SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HEADERS = ["统一社会信用代码", "企业名称", "地址", "所在镇街代码", "纬度", "经度", "经营状态"]
MAQIAO, XUCUN, HAINING = "330481004", "330481101", "330481"


def csv_bytes(headers: list[str], rows: list[list], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(headers: list[str], rows: list[list], *, above: list[list] = ()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in [*above, headers, *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def enterprise_row(serial: int, name: str = "海宁市马桥经编有限公司", town: str = MAQIAO, **changes) -> list:
    row = {"code": credit_code(serial, prefix="91330481"), "name": name, "address": "海宁市马桥街道红旗大道58号", "town": town}
    row.update(lat="30.4868", lon="120.6421", status="在营")
    row.update(changes)
    return list(row.values())


def problems_of(report) -> list[tuple[int | None, str, str]]:
    return [(problem.row, problem.column, problem.message) for problem in report.problems]


# --- Reading files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_each_encoding_office_software_writes_imports(jiaxing, encoding):
    rows = [enterprise_row(1, "嘉善县魏塘胶合板有限公司"), enterprise_row(2, "桐乡市濮院毛衫有限公司", XUCUN)]
    if encoding == "gb18030":
        rows[1][1] = "桐乡市濮院㐀毛衫有限公司"  # U+3400 exists in GB18030, not in GBK
    report = enterprises_import(csv_bytes(HEADERS, rows, encoding=encoding), filename="enterprises.csv")
    assert report.ok, report.problem_lines()
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert set(Enterprise.objects.values_list("name", flat=True)) == {rows[0][1], rows[1][1]}


def test_gbk_text_is_never_mistaken_for_utf8():
    table = read_table("统一社会信用代码,企业名称\n1,海宁皮革\n".encode("gbk"), filename="x.csv")
    assert table.headers == ["统一社会信用代码", "企业名称"]
    assert table.rows == [(2, ("1", "海宁皮革"))]


def test_xlsx_imports_with_numbers_and_date_cells(jiaxing):
    data = xlsx_bytes(
        HEADERS, [[credit_code(1, prefix="91330481"), "海宁市马桥经编有限公司", "马桥街道", int(MAQIAO), 30.4868, 120.6421, "在营"]]
    )
    report = enterprises_import(data, filename="enterprises.xlsx")
    assert report.ok, report.problem_lines()
    enterprise = Enterprise.objects.get()
    assert (enterprise.town.code, enterprise.lat, enterprise.lon) == (MAQIAO, 30.4868, 120.6421)


def test_a_title_row_above_the_header_is_skipped_and_rows_keep_excel_numbers(jiaxing):
    data = xlsx_bytes(HEADERS, [enterprise_row(1, town="999")], above=[["嘉兴市企业名录（2026年）"]])
    report = enterprises_import(data, filename="enterprises.xlsx")
    assert problems_of(report) == [(3, "D 所在镇街代码", "unknown division code 999")]


def test_english_headers_in_any_case_with_required_stars_are_accepted(jiaxing):
    headers = ["Credit Code*", "NAME", "town_code", "Address"]
    report = enterprises_import(csv_bytes(headers, [[credit_code(1), "Jiaxing Test Co.", MAQIAO, "1 Test Road"]]), filename="e.csv")
    assert report.ok, report.problem_lines()
    assert Enterprise.objects.get().address == "1 Test Road"


def test_cells_are_trimmed_including_full_width_spaces(jiaxing):
    row = [f"  {credit_code(1)} ", "\u3000海宁市马桥经编有限公司\u3000", "", f" {MAQIAO}", "", "", ""]
    report = enterprises_import(csv_bytes(HEADERS, [row]), filename="e.csv")
    assert report.ok, report.problem_lines()
    assert Enterprise.objects.get().name == "海宁市马桥经编有限公司"


def test_an_old_xls_file_and_a_headerless_file_are_refused_with_a_reason(jiaxing):
    with pytest.raises(TableError, match=r"\.xls"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, filename="old.xls")
    report = enterprises_import(b"a,b\n1,2\n", filename="e.csv")
    assert report.problems and report.problems[0].row is None
    assert "统一社会信用代码" in report.problems[0].message
    assert not Enterprise.objects.exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-03-01", dt.date(2025, 3, 1)),
        ("2025/3/1", dt.date(2025, 3, 1)),
        ("2025.3.1", dt.date(2025, 3, 1)),
        ("2025年3月1日", dt.date(2025, 3, 1)),
        ("20250301", dt.date(2025, 3, 1)),
        ("2025-03-01 00:00:00", dt.date(2025, 3, 1)),
        (dt.datetime(2025, 3, 1, 0, 0), dt.date(2025, 3, 1)),
        (45717, dt.date(2025, 3, 1)),  # an Excel serial whose cell lost its date format
        ("", None),
    ],
)
def test_dates_are_read_in_the_forms_spreadsheets_hold(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2025-02-30", "3/1/2025", "next week", "1850-01-01"])
def test_impossible_or_ambiguous_dates_are_refused(text):
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize("text, expected", [("合格", True), ("不合格", False), ("yes", True), ("No", False), ("1", True), ("0", False)])
def test_conforming_is_read_in_either_language(text, expected):
    assert parse_bool(text) is expected
    assert parse_bool({"TRUE": True}.get(text.upper(), text)) is expected


# --- All or nothing, with a report naming row, column and reason --------------------------------------------


def test_a_bad_row_in_the_middle_writes_nothing_and_is_named_by_row_and_column(jiaxing):
    rows = [enterprise_row(1), enterprise_row(2, town="330481999"), enterprise_row(3)]
    report = enterprises_import(csv_bytes(HEADERS, rows), filename="enterprises.csv")
    assert not report.ok and not report.written
    assert problems_of(report) == [(3, "D 所在镇街代码", "unknown division code 330481999")]
    assert report.summary == "1 bad row out of 3: nothing was changed."
    assert not Enterprise.objects.exists()


def test_every_bad_row_is_reported_with_its_reason(jiaxing):
    good = credit_code(1, prefix="91330481")
    rows = [
        enterprise_row(1),
        [good[:-1] + ("0" if good[-1] != "0" else "1"), "错码企业", "", MAQIAO, "", "", ""],
        enterprise_row(2, town=HAINING),
        [good, "重复企业", "", MAQIAO, "", "", ""],
        enterprise_row(4, name=""),
        enterprise_row(5, lat="120.6", lon="30.5"),
        enterprise_row(6, status="倒闭"),
        enterprise_row(7, lat="30.5", lon=""),
    ]
    report = enterprises_import(csv_bytes(HEADERS, rows), filename="enterprises.csv")
    found = {(row, column): message for row, column, message in problems_of(report)}
    assert "check character" in found[(3, "A 统一社会信用代码")]
    assert found[(4, "D 所在镇街代码")] == "330481 is a county, not a town or street"
    assert found[(5, "A 统一社会信用代码")] == f"{good} already appears on row 2"
    assert found[(6, "B 企业名称")] == "the value is empty"
    assert "swapped" in found[(7, "E 纬度")]
    assert found[(8, "G 经营状态")].startswith("unknown value “倒闭”")
    assert found[(9, "F 经度")] == "give both latitude and longitude, or neither"
    assert report.bad_rows == 7
    assert not Enterprise.objects.exists()


def test_a_code_excel_turned_into_a_number_is_refused_not_guessed(jiaxing):
    data = xlsx_bytes(HEADERS, [[913304810000000011.0, "海宁市马桥经编有限公司", "", MAQIAO, None, None, None]])
    report = enterprises_import(data, filename="e.xlsx")
    assert "lost digits" in problems_of(report)[0][2]


def test_a_missing_required_column_is_named_in_both_languages(jiaxing):
    report = enterprises_import(csv_bytes(["统一社会信用代码", "企业名称"], [[credit_code(1), "X"]]), filename="e.csv")
    assert problems_of(report) == [(None, "", "Column 所在镇街代码 (town code) is missing: the header row must name it.")]


def test_reports_come_in_the_users_language(jiaxing):
    from django.utils import translation

    with translation.override("zh-hans"):
        report = enterprises_import(csv_bytes(HEADERS, [enterprise_row(1, town="330481999")]), filename="e.csv")
    assert report.problems[0].row == 2 and report.problems[0].column == "D 所在镇街代码"
    # Messages go through gettext: with the catalogue's translation they read in Chinese, else in English.
    assert "330481999" in report.problems[0].message


# --- Idempotent upserts ------------------------------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing(jiaxing):
    data = csv_bytes(HEADERS, [enterprise_row(1), enterprise_row(2, "海宁市许村家纺有限公司", XUCUN)])
    assert enterprises_import(data, filename="e.csv").created == 2
    again = enterprises_import(data, filename="e.csv")
    assert again.summary == "0 created, 0 updated, 2 unchanged"


def test_a_changed_row_updates_only_that_enterprise_and_only_the_columns_given(jiaxing):
    enterprises_import(csv_bytes(HEADERS, [enterprise_row(1), enterprise_row(2)]), filename="e.csv")
    report = enterprises_import(
        csv_bytes(
            ["统一社会信用代码", "企业名称", "所在镇街代码"],
            [[*enterprise_row(1, "新名称有限公司")[:2], XUCUN], [*enterprise_row(2)[:2], MAQIAO]],
        ),
        filename="e.csv",
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    renamed = Enterprise.objects.get(credit_code=credit_code(1, prefix="91330481"))
    assert (renamed.name, renamed.town.code, renamed.address, renamed.lat) == (
        "新名称有限公司",
        XUCUN,
        "海宁市马桥街道红旗大道58号",
        30.4868,
    )


def test_closed_status_in_chinese_closes_the_enterprise(jiaxing):
    enterprises_import(csv_bytes(HEADERS, [enterprise_row(1, status="注销")]), filename="e.csv")
    assert Enterprise.objects.get().status == Status.CLOSED


def test_dry_run_counts_but_writes_nothing(jiaxing):
    report = enterprises_import(csv_bytes(HEADERS, [enterprise_row(1)]), filename="e.csv", dry_run=True)
    assert report.ok and report.created == 1 and not report.written
    assert not Enterprise.objects.exists()


# --- Products made, risk events, spot checks ---------------------------------------------------------------


@pytest.fixture
def maker(jiaxing):
    return EnterpriseFactory(
        credit_code=credit_code(1, prefix="91330481"), town=jiaxing.children.get(code=HAINING).children.get(code=MAQIAO)
    )


@pytest.fixture
def knitted(db):
    return ProductFactory(code="08004", name="经编针织物")


def test_products_made_upsert_by_enterprise_and_product_with_licence(maker, knitted):
    headers = ["统一社会信用代码", "产品代码", "许可证编号", "有效期至"]
    data = xlsx_bytes(headers, [[maker.credit_code, 8004, "(浙)XK16-204-01234", dt.datetime(2028, 4, 19)]])  # Excel dropped the 0
    report = products_made_import(data, filename="made.xlsx")
    assert report.ok, report.problem_lines()
    made = EnterpriseProduct.objects.get()
    assert (made.enterprise, made.product, made.licence_number, made.licence_expiry) == (
        maker,
        knitted,
        "(浙)XK16-204-01234",
        dt.date(2028, 4, 19),
    )
    assert products_made_import(data, filename="made.xlsx").summary == "0 created, 0 updated, 1 unchanged"


def test_products_made_rows_are_checked(maker, knitted):
    headers = ["统一社会信用代码", "产品代码", "许可证编号", "有效期至"]
    rows = [
        [maker.credit_code, "08004", "", "2028-04-19"],
        [maker.credit_code, "99999", "", ""],
        [credit_code(9, prefix="91330481"), "08004", "", ""],
        [maker.credit_code, "08004", "X1", "2028/13/1"],
    ]
    report = products_made_import(csv_bytes(headers, rows), filename="made.csv")
    found = {(row, column): message for row, column, message in problems_of(report)}
    assert found[(2, "D 有效期至")] == "an expiry date needs the licence or certificate number"
    assert found[(3, "B 产品代码")] == "unknown product code 99999 (see the product catalogue)"
    assert "import it with the enterprises first" in found[(4, "A 统一社会信用代码")]
    assert found[(5, "D 有效期至")] == "“2028/13/1” is not a day of the calendar"
    assert not EnterpriseProduct.objects.exists()


def test_risk_events_accept_kinds_by_chinese_label_or_code_and_upsert_by_source(maker, knitted):
    headers = ["统一社会信用代码", "事件类型", "发生日期", "来源编号", "产品代码", "描述"]
    rows = [
        [maker.credit_code, "产品质量行政处罚", "2025/6/18", "海市监处罚〔2025〕217号", "08004", "罚款"],
        [maker.credit_code, "recall", "2025-01-05", "ZJ-RECALL-2025-01", "", ""],
        [maker.credit_code, "投诉", "2025-02-01", "投诉-001", "", ""],
    ]
    report = risk_events_import(csv_bytes(headers, rows), filename="events.csv")
    assert report.ok, report.problem_lines()
    assert set(RiskEvent.objects.values_list("kind", flat=True)) == {
        RiskEventKind.PENALTY,
        RiskEventKind.RECALL,
        RiskEventKind.VERIFIED_COMPLAINT,
    }
    rows[0][5] = "罚款并没收违法所得"
    again = risk_events_import(csv_bytes(headers, rows), filename="events.csv")
    assert again.summary == "0 created, 1 updated, 2 unchanged"
    assert RiskEvent.objects.get(kind=RiskEventKind.PENALTY).description == "罚款并没收违法所得"


def test_risk_events_refuse_unknown_kinds_future_dates_and_duplicates(maker):
    headers = ["统一社会信用代码", "事件类型", "发生日期", "来源编号"]
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    rows = [
        [maker.credit_code, "传闻", "2025-01-01", "A"],
        [maker.credit_code, "召回", tomorrow, "B"],
        [maker.credit_code, "召回", "2025-01-01", "C"],
        [maker.credit_code, "recall", "2025-02-01", "C"],
    ]
    report = risk_events_import(csv_bytes(headers, rows), filename="events.csv")
    found = {(row, column): message for row, column, message in problems_of(report)}
    assert found[(2, "B 事件类型")].startswith("unknown value “传闻” (use one of:")
    assert found[(3, "C 发生日期")] == f"{tomorrow} is in the future"
    assert "already appears on row 4" in found[(5, "D 来源编号")]
    assert not RiskEvent.objects.exists()


SPOT_HEADERS = ["统一社会信用代码", "产品代码", "抽样日期", "检验结论", "批次号", "报告编号", "抽查级别", "不合格项目"]


def test_spot_checks_import_by_report_number_with_conclusions_in_either_language(maker, knitted):
    rows = [
        [maker.credit_code, "08004", dt.datetime(2025, 4, 9), "合格", "K3", "ZJQI-2025-0412", "省级", ""],
        [maker.credit_code, "08004", "2025/10/14", "不合格", "K4", "ZJQI-2025-1046", "市级", "纤维含量"],
        [maker.credit_code, "08004", "2025-11-01", "yes", "K5", "ZJQI-2025-1101", "", ""],
        [maker.credit_code, "08004", "2025-11-02", 0, "K6", "ZJQI-2025-1102", "national", "标识"],
    ]
    report = spot_checks_import(xlsx_bytes(SPOT_HEADERS, rows), filename="checks.xlsx")
    assert report.ok, report.problem_lines()
    results = {result.lab_report_number: result for result in SpotCheckResult.objects.all()}
    assert [results[number].conforming for number in ("ZJQI-2025-0412", "ZJQI-2025-1046", "ZJQI-2025-1101", "ZJQI-2025-1102")] == [
        True,
        False,
        True,
        False,
    ]
    assert results["ZJQI-2025-0412"].level == SpotCheckLevel.PROVINCIAL
    assert results["ZJQI-2025-1101"].level == SpotCheckLevel.CITY
    assert results["ZJQI-2025-1046"].source == ResultSource.IMPORTED
    again = spot_checks_import(xlsx_bytes(SPOT_HEADERS, rows), filename="checks.xlsx")
    assert again.summary == "0 created, 0 updated, 4 unchanged"


def test_spot_check_rows_are_checked(maker, knitted):
    rows = [
        [maker.credit_code, "08004", "2025-04-09", "maybe", "K3", "R1", "", ""],
        [maker.credit_code, "08004", "2025-04-09", "合格", "K3", "R2", "", "甲醛"],
        [maker.credit_code, "08004", "April", "合格", "K3", "R3", "", ""],
        [maker.credit_code, "08004", "2025-04-09", "合格", "K3", "", "", ""],
    ]
    report = spot_checks_import(csv_bytes(SPOT_HEADERS, rows), filename="checks.csv")
    found = {(row, column): message for row, column, message in problems_of(report)}
    assert "neither yes nor no" in found[(2, "D 检验结论")]
    assert found[(3, "H 不合格项目")] == "non-conforming items are listed for a conforming result"
    assert "is not a date" in found[(4, "C 抽样日期")]
    assert found[(5, "F 报告编号")] == "the value is empty"
    assert not SpotCheckResult.objects.exists()


def test_a_result_reported_by_an_inspector_cannot_be_overwritten_by_an_import(maker, knitted):
    SpotCheckResultFactory(enterprise=maker, product=knitted, lab_report_number="APP-1", conforming=False, source=ResultSource.INSPECTION)
    rows = [[maker.credit_code, "08004", "2025-06-01", "合格", "", "APP-1", "", ""]]
    report = spot_checks_import(csv_bytes(SPOT_HEADERS, rows), filename="checks.csv")
    assert problems_of(report) == [(2, "F 报告编号", "report APP-1 was reported by an inspector in the app; an import cannot change it")]
    assert SpotCheckResult.objects.get().conforming is False


# --- The samples shipped with the repository --------------------------------------------------------------

SAMPLE_ORDER = [
    ("enterprises", "enterprises.csv"),
    ("enterprises", "enterprises_gbk.csv"),
    ("products_made", "products_made.xlsx"),
    ("risk_events", "risk_events.csv"),
    ("spot_checks", "spot_checks.xlsx"),
]


def test_every_sample_file_imports_against_jiaxing_and_the_catalogue_then_again_unchanged(jiaxing):
    load_catalogue()
    assert (SAMPLES / "enterprises_gbk.csv").read_bytes().decode("gbk")  # really GBK
    for _pass in range(2):
        for kind, name in SAMPLE_ORDER:
            out = io.StringIO()
            call_command("import_data", kind, str(SAMPLES / name), stdout=out)
            if _pass:
                assert "\n0 created, 0 updated," in f"\n{out.getvalue()}", out.getvalue()
    assert Enterprise.objects.count() == 18
    assert SpotCheckResult.objects.filter(conforming=False).count() == 5


# --- The command -------------------------------------------------------------------------------------------


def test_command_dry_run_writes_nothing(jiaxing, tmp_path):
    file = tmp_path / "e.csv"
    file.write_bytes(csv_bytes(HEADERS, [enterprise_row(1)]))
    out = io.StringIO()
    call_command("import_data", "enterprises", str(file), "--dry-run", stdout=out)
    assert "Nothing written yet; importing would give: 1 created" in out.getvalue()
    assert not Enterprise.objects.exists()


def test_command_fails_with_every_bad_row_listed(jiaxing, tmp_path):
    file = tmp_path / "e.csv"
    file.write_bytes(csv_bytes(HEADERS, [enterprise_row(1, town="1"), enterprise_row(2), enterprise_row(3, name="")]))
    with pytest.raises(CommandError) as error:
        call_command("import_data", "enterprises", str(file), stdout=io.StringIO())
    assert "row 2, column D 所在镇街代码: unknown division code 1" in str(error.value)
    assert "row 4, column B 企业名称: the value is empty" in str(error.value)


# --- 50,000 rows, set-based --------------------------------------------------------------------------------

BIG = 50_000


@pytest.mark.slow
def test_fifty_thousand_rows_import_with_a_bounded_number_of_queries(jiaxing, tmp_path):
    """No query per row: a constant handful plus one INSERT per batch the database accepts (SQLite takes 999
    parameters a statement, so 83 enterprises; PostgreSQL a whole batch of 5,000), as many for their history
    rows, and the lookups in chunks."""
    towns = [town.code for town in jiaxing.children.first().children.all()]
    rows = [[credit_code(n, prefix="91330400"), f"嘉兴测试制造有限公司{n}", "", towns[n % len(towns)], "", "", ""] for n in range(BIG)]
    file = tmp_path / "big.csv"
    file.write_bytes(csv_bytes(HEADERS, rows))
    per_insert = connection.ops.bulk_batch_size(
        [field for field in Enterprise._meta.concrete_fields if not field.primary_key], [None] * BIG
    )
    per_history_insert = connection.ops.bulk_batch_size(
        [field for field in Enterprise.history.model._meta.concrete_fields if not field.primary_key], [None] * BIG
    )
    per_lookup = connection.features.max_query_params or 10_000
    inserts = math.ceil(BIG / min(per_insert, 5000)) + math.ceil(BIG / min(per_history_insert, 5000))
    bound = inserts + math.ceil(BIG / min(per_lookup, 10_000)) + 20
    out = io.StringIO()
    with CaptureQueriesContext(connection) as first:
        call_command("import_data", "enterprises", str(file), stdout=out)
    assert Enterprise.objects.count() == BIG
    assert len(first) <= bound
    assert "checked 5,000 / 50,000 rows" in out.getvalue() and "written 50,000 / 50,000 rows" in out.getvalue()
    with CaptureQueriesContext(connection) as again:
        report = enterprises_import(file)
    assert report.summary == f"0 created, 0 updated, {BIG} unchanged"
    assert len(again) <= math.ceil(BIG / min(per_lookup, 10_000)) + 10


# --- The admin: upload → preview → confirm ------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, data: bytes, name: str, kind: str = "enterprises"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("admin:enterprises_enterprise_import")
    return client.post(url, {"kind": kind, "file": SimpleUploadedFile(name, data)})


def test_changelist_offers_import_and_export(admin_client, jiaxing):
    page = admin_client.get(reverse("admin:enterprises_enterprise_changelist") + "?status__exact=active")
    assert reverse("admin:enterprises_enterprise_import") in page.content.decode()
    assert reverse("admin:enterprises_enterprise_export") + "?status__exact=active" in page.content.decode()


def test_admin_upload_with_errors_previews_every_bad_row_and_disables_confirm(admin_client, jiaxing, media):
    rows = [enterprise_row(1), enterprise_row(2, town="330481999"), enterprise_row(3, name="")]
    response = upload(admin_client, csv_bytes(HEADERS, rows, encoding="gbk"), "企业.csv")
    assert response.status_code == 302
    preview = admin_client.get(response.url)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "unknown division code 330481999" in html and "D 所在镇街代码" in html and "B 企业名称" in html
    assert "2 bad rows out of 3: nothing was changed." in html
    assert 'name="confirm" value="Import" disabled' in html
    assert "海宁市马桥经编有限公司" in html  # the first rows are shown
    assert "<h2>Enterprises · 企业.csv</h2>" in html
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    refused = admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))
    assert refused.status_code == 200 and "nothing was changed" in refused.content.decode()
    assert not Enterprise.objects.exists()


def test_admin_confirm_imports_and_removes_the_kept_file(admin_client, jiaxing, media):
    response = upload(admin_client, csv_bytes(HEADERS, [enterprise_row(1), enterprise_row(2)]), "enterprises.csv")
    preview = admin_client.get(response.url)
    assert "Importing will create 2, update 0 and leave 0 unchanged." in preview.content.decode()
    assert 'value="Import" disabled' not in preview.content.decode()
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert list(upload_folder().glob(f"{token}.*"))
    done = admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]), follow=True)
    assert "enterprises.csv imported: 2 created, 0 updated, 0 unchanged." in [str(message) for message in done.context["messages"]]
    assert Enterprise.objects.count() == 2
    assert not list(upload_folder().glob(f"{token}.*"))
    assert token not in admin_client.session.get(SESSION_KEY, {})


def test_admin_products_made_import_from_the_enterprise_changelist(admin_client, maker, knitted, media):
    data = xlsx_bytes(["统一社会信用代码", "产品代码"], [[maker.credit_code, "08004"]])
    response = upload(admin_client, data, "made.xlsx", kind="products_made")
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))
    assert EnterpriseProduct.objects.filter(enterprise=maker, product=knitted).exists()


def test_an_upload_is_only_visible_to_the_session_that_made_it(admin_client, client, django_user_model, jiaxing, media):
    response = upload(admin_client, csv_bytes(HEADERS, [enterprise_row(1)]), "enterprises.csv")
    other = django_user_model.objects.create_superuser("other", "other@example.com", "pw-other-12345")
    client.force_login(other)
    assert client.get(response.url).status_code == 404
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token])).status_code == 404
    assert not Enterprise.objects.exists()


def test_upload_refuses_other_file_types(admin_client, jiaxing, media):
    response = upload(admin_client, b"\xd0\xcf\x11\xe0", "old.xls")
    assert response.status_code == 200
    assert "Upload an .xlsx or a .csv file" in response.content.decode()


def test_import_template_has_the_chinese_headers(admin_client, jiaxing):
    from openpyxl import load_workbook

    response = admin_client.get(reverse("admin:inspections_spotcheckresult_import_template", args=["spot_checks"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in sheet[1]] == [
        "统一社会信用代码",
        "产品代码",
        "抽样日期",
        "检验结论",
        "批次号",
        "报告编号",
        "抽查级别",
        "不合格项目",
    ]


def test_staff_without_add_permission_cannot_import(client, django_user_model, jiaxing):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-12345", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_enterprise"))
    client.force_login(viewer)
    assert client.get(reverse("admin:enterprises_enterprise_import")).status_code == 403
    page = client.get(reverse("admin:enterprises_enterprise_changelist"))
    assert reverse("admin:enterprises_enterprise_import") not in page.content.decode()
    assert reverse("admin:enterprises_enterprise_export") in page.content.decode()


def test_docs_describe_every_column_of_every_import():
    text = (Path(__file__).resolve().parent.parent / "docs" / "imports.md").read_text(encoding="utf-8")
    for importer in (enterprises_import, products_made_import, risk_events_import, spot_checks_import):
        for column in importer.columns:
            assert f"| {column.zh} | {column.en} |" in text, column
            for alias in column.aliases:
                assert alias in text, (column.key, alias)


def test_upload_form_lists_the_columns_of_each_import_it_offers(admin_client, db):
    page = admin_client.get(reverse("admin:enterprises_enterprise_import")).content.decode()
    assert "<td>所在镇街代码</td><td>town code</td>" in page  # enterprises
    assert "<td>许可证编号</td><td>licence number</td>" in page  # products made
    assert reverse("admin:enterprises_enterprise_import_template", args=["products_made"]) in page


# --- Bounds: rows per import, problems listed, the preview kept (issue #14) --------------------------------


def test_a_file_over_the_row_cap_is_refused_with_the_limit_and_changes_nothing(admin_client, jiaxing, media, settings):
    settings.IMPORT_MAX_ROWS = 3
    rows = [enterprise_row(serial) for serial in range(1, 5)]
    response = upload(admin_client, xlsx_bytes(HEADERS, rows), "four.xlsx")
    html = admin_client.get(response.url).content.decode()
    assert "The file has more than 3 rows; one import takes at most 3 (setting IMPORT_MAX_ROWS)" in html
    assert 'name="confirm" value="Import" disabled' in html
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))
    assert not Enterprise.objects.exists()


def test_the_row_cap_stops_reading_at_the_limit(jiaxing):
    """The rows past the cap are never parsed: the reader is stopped at row cap + 1 of a file of a million."""
    read = []

    def rows():
        yield HEADERS
        for serial in range(1, 1_000_000):
            read.append(serial)
            yield enterprise_row(serial)

    from common.tabular import TooManyRows, _header_and_rows

    with pytest.raises(TooManyRows, match="more than 1,000 rows"):
        _header_and_rows(rows(), None, max_rows=1000)
    assert len(read) == 1001


def test_a_sheet_of_mostly_empty_rows_is_refused_too(jiaxing):
    rows = [HEADERS, enterprise_row(1), *([[None] * 7] * 50)]
    with pytest.raises(TableError, match="more than 10 rows"):
        read_table(xlsx_bytes(rows[0], rows[1:]), filename="empty.xlsx", max_rows=10)
    assert len(read_table(xlsx_bytes(rows[0], rows[1:]), filename="empty.xlsx", max_rows=40).rows) == 1


def test_exactly_the_cap_imports(admin_client, jiaxing, media, settings):
    settings.IMPORT_MAX_ROWS = 3
    response = upload(admin_client, csv_bytes(HEADERS, [enterprise_row(serial) for serial in range(1, 4)]), "three.csv")
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))
    assert Enterprise.objects.count() == 3


def test_the_problem_list_is_capped_with_the_total_shown(admin_client, jiaxing, media, settings):
    settings.IMPORT_MAX_LISTED_PROBLEMS = 5
    rows = [enterprise_row(serial, town="330481999") for serial in range(1, 31)]
    response = upload(admin_client, csv_bytes(HEADERS, rows), "bad.csv")
    page = admin_client.get(response.url)
    html = page.content.decode()
    assert "30 bad rows out of 30: nothing was changed." in html
    assert "The first 5 of 30 problems are listed." in html
    assert html.count("unknown division code 330481999") == 5
    assert "<td>6</td>" in html and "<td>7</td><td>D" not in html  # rows 2–6 listed, row 7 on not


def test_refreshing_the_preview_reads_the_kept_result_instead_of_checking_again(admin_client, jiaxing, media, monkeypatch):
    import common.tabular

    reads = []
    read_table = common.tabular.read_table
    monkeypatch.setattr(common.tabular, "read_table", lambda *args, **kwargs: reads.append(1) or read_table(*args, **kwargs))
    response = upload(admin_client, csv_bytes(HEADERS, [enterprise_row(1), enterprise_row(2, town="330481999")]), "e.csv")
    assert reads == [1]  # checked once, at the upload
    for _ in range(3):
        html = admin_client.get(response.url).content.decode()
        assert "1 bad row out of 2: nothing was changed." in html and "unknown division code 330481999" in html
    assert reads == [1]
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert list(upload_folder().glob(f"{token}.preview-*.json"))
    admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))
    assert reads == [1, 1] and not Enterprise.objects.exists()  # confirming checks again; a bad file writes nothing


def test_the_kept_preview_follows_the_users_language(admin_client, jiaxing, media):
    response = upload(admin_client, csv_bytes(HEADERS, [enterprise_row(1, town="330481999")]), "e.csv")
    assert "unknown division code 330481999" in admin_client.get(response.url).content.decode()
    admin_client.cookies["django_language"] = "zh-hans"
    chinese = admin_client.get(response.url).content.decode()
    assert "330481999" in chinese and "unknown division code" not in chinese


def test_a_confirmed_import_removes_its_kept_preview(admin_client, jiaxing, media):
    response = upload(admin_client, csv_bytes(HEADERS, [enterprise_row(1)]), "e.csv")
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))
    assert Enterprise.objects.count() == 1 and not list(upload_folder().glob(f"{token}*"))


def test_an_xlsx_that_does_not_state_its_size_is_refused_at_the_cap_without_parsing_it_whole(jiaxing, tmp_path):
    """openpyxl would parse a sheet without <dimension> whole on opening, to find its size; common.tabular does not
    ask for it. A million-row bomb is refused after reading the cap's rows: bounded by a count of parsed rows."""
    from bench.imports import ENTERPRISE_HEADERS, write_repeated_xlsx
    from common.tabular import TooManyRows

    path = tmp_path / "bomb.xlsx"
    write_repeated_xlsx(path, ENTERPRISE_HEADERS, enterprise_row(1), 20_000)
    parsed = []
    from openpyxl.worksheet import _reader

    parse_row = _reader.WorkSheetParser.parse_row

    def counting(self, element):
        parsed.append(1)
        return parse_row(self, element)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_reader.WorkSheetParser, "parse_row", counting)
        with pytest.raises(TooManyRows):
            read_table(path, max_rows=100)
    assert len(parsed) <= 102
    table = read_table(path)
    assert len(table.rows) == 20_000 and table.headers == ENTERPRISE_HEADERS
