"""Grade overrides (人工调整等级) from an .xlsx or .csv file.

The rules of every import: each row is checked first and a file with one bad row changes nothing; each problem is
named by row (as Excel numbers it) and column; importing the same file again changes nothing. And the override
rule's own, the same as on the product page: a grade needs a reason, an empty grade clears the override, the grade
in force follows at once (with the policy the pipeline uses), and every change is audited with its reason.
"""

import csv
import dataclasses
import datetime as dt
import functools
import io
import math
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from jiaxing_qs.pipeline import run_stage
from products.imports import grade_overrides_import, load_catalogue
from products.models import Grade, GradeChange, GradingPolicy, HarmSeverity, LicenceType, Product
from products.services import GradeOverride, product_override_grade, products_grade, products_override_grade
from regions.models import Role

from .clock import TEST_NOW, TEST_TODAY
from .factories import ProductFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.usefixtures("english")

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HEADERS = ["产品代码", "人工调整等级", "人工调整理由"]


@pytest.fixture(autouse=True)
def english_site(settings):
    """Admin pages, and the reasons the history stores (in the site language), in English."""
    settings.LANGUAGE_CODE = "en"


def csv_bytes(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([headers, *rows])
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    workbook = Workbook()
    for row in [headers, *rows]:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def imported(rows: list[list], *, name: str = "grades.csv", headers: list[str] = HEADERS, **options):
    return grade_overrides_import(csv_bytes(rows, headers), filename=name, **options)


def problems_of(report) -> list[tuple[int | None, str, str]]:
    return [(problem.row, problem.column, problem.message) for problem in report.problems]


def state(product: Product) -> tuple:
    product.refresh_from_db()
    return product.override_grade, product.override_reason, product.grade


def graded(**factors) -> Product:
    product = ProductFactory(**factors)
    products_grade()
    product.refresh_from_db()
    return product


@pytest.fixture
def kettle(db) -> Product:
    """Moderate harm, no licence: low by the rule."""
    return graded(code="01018", name="电热水壶")


@pytest.fixture
def heater(db) -> Product:
    """Severe harm, CCC, used by vulnerable groups: high by the rule."""
    return graded(code="01006", name="室内加热器", harm_severity=HarmSeverity.SEVERE, licence_type=LicenceType.CCC, vulnerable_users=True)


# --- A good file -------------------------------------------------------------------------------------------


def test_a_file_sets_each_override_with_its_reason_and_the_grade_in_force_follows(kettle, heater):
    report = imported([["01018", "高", "召回频发，局务会决定"], ["01006", "low", "只供工业用户"]])
    assert report.ok and report.written
    assert report.summary == "0 created, 2 updated, 0 unchanged"
    assert state(kettle) == (Grade.HIGH, "召回频发，局务会决定", Grade.HIGH)
    assert state(heater) == (Grade.LOW, "只供工业用户", Grade.LOW)
    assert (kettle.computed_grade, heater.computed_grade) == (Grade.LOW, Grade.HIGH)  # the rule's grade is kept beside


@pytest.mark.parametrize(
    "written, grade",
    [
        ("高", Grade.HIGH),
        ("中", Grade.MEDIUM),
        ("低", Grade.LOW),
        ("high", Grade.HIGH),
        ("Medium", Grade.MEDIUM),
        ("LOW", Grade.LOW),
        ("高风险", Grade.HIGH),
        ("medium risk", Grade.MEDIUM),
    ],
)
def test_grades_are_read_in_chinese_or_english(kettle, written, grade):
    assert imported([["01018", written, "理由"]]).ok
    assert state(kettle)[0] == grade


def test_an_xlsx_file_imports_too_and_a_code_excel_made_a_number_gets_its_leading_zero_back(kettle):
    report = grade_overrides_import(xlsx_bytes([[1018, "中", "电商投诉集中"]]), filename="grades.xlsx")
    assert report.ok, report.problems
    assert state(kettle) == (Grade.MEDIUM, "电商投诉集中", Grade.MEDIUM)


def test_english_headers_and_extra_columns_are_accepted(kettle):
    report = imported([["01018", "电热水壶", "high", "recalls"]], headers=["product code", "产品名称", "override grade", "reason"])
    assert report.ok
    assert report.ignored_columns == ["B 产品名称"]
    assert state(kettle)[0] == Grade.HIGH


def test_an_empty_grade_clears_the_override_and_the_rules_grade_is_back(kettle):
    product_override_grade(product=kettle, grade=Grade.HIGH, reason="召回频发")
    assert imported([["01018", "", ""]]).summary == "0 created, 1 updated, 0 unchanged"
    assert state(kettle) == (None, "", Grade.LOW)
    assert kettle.history.latest().history_change_reason == "grade override cleared (import of grades.csv)"


def test_a_reason_given_for_clearing_is_kept_in_the_history_not_with_the_product(kettle):
    product_override_grade(product=kettle, grade=Grade.HIGH, reason="召回频发")
    assert imported([["01018", "", "召回已结束"]]).ok
    assert state(kettle) == (None, "", Grade.LOW)
    assert kettle.history.latest().history_change_reason == "召回已结束 (import of grades.csv)"


# --- Bad rows ----------------------------------------------------------------------------------------------


def test_an_unknown_product_code_is_a_bad_row(kettle):
    report = imported([["99999", "高", "理由"]])
    assert problems_of(report) == [(2, "A 产品代码", "unknown product code 99999 (see the product catalogue)")]


@pytest.mark.parametrize("written", ["很高", "3", "A", "critical"])
def test_a_grade_other_than_high_medium_or_low_is_a_bad_row(kettle, written):
    # "3" too: the stored number of the high grade, but the highest grade in other schemes ("一级") is 1.
    report = imported([["01018", written, "理由"]])
    [(row, column, message)] = problems_of(report)
    assert (row, column) == (2, "B 人工调整等级")
    assert message.startswith(f"unknown grade “{written}” (use 高, 中 or 低, or high, medium or low")
    assert state(kettle)[0] is None


def test_a_grade_without_a_reason_is_a_bad_row(kettle):
    report = imported([["01018", "高", "   "]])
    assert problems_of(report) == [(2, "C 人工调整理由", "A grade override needs a reason.")]


def test_a_grade_in_a_file_without_a_reason_column_is_a_bad_row(kettle):
    report = imported([["01018", "高"]], headers=["产品代码", "人工调整等级"])
    assert problems_of(report) == [(2, "", "A grade override needs a reason.")]


def test_a_reason_longer_than_the_product_keeps_is_a_bad_row(kettle):
    report = imported([["01018", "高", "理" * 501]])
    assert problems_of(report) == [(2, "C 人工调整理由", "longer than 500 characters (501)")]


def test_a_product_named_twice_is_a_bad_row_even_when_excel_dropped_its_leading_zero(kettle):
    report = imported([["01018", "高", "第一次"], ["1018", "低", "第二次"]])
    assert problems_of(report) == [(3, "A 产品代码", "1018 already appears on row 2")]


def test_a_file_without_the_grade_column_cannot_be_imported(kettle):
    report = imported([["01018", "理由"]], headers=["产品代码", "人工调整理由"])
    assert problems_of(report) == [(None, "", "Column 人工调整等级 (override grade) is missing: the header row must name it.")]


def test_a_file_with_one_bad_row_changes_no_grade(kettle, heater):
    product_override_grade(product=kettle, grade=Grade.MEDIUM, reason="原理由")
    history, changes = Product.history.count(), GradeChange.objects.count()
    report = imported([["01018", "高", "新理由"], ["01006", "低", "只供工业用户"], ["99999", "高", "理由"]])
    assert report.summary == "1 bad row out of 3: nothing was changed."
    assert not report.written
    assert state(kettle) == (Grade.MEDIUM, "原理由", Grade.MEDIUM)
    assert state(heater) == (None, "", Grade.HIGH)
    assert (Product.history.count(), GradeChange.objects.count()) == (history, changes)


def test_every_bad_row_is_reported_at_once_by_row_and_column(kettle, heater):
    report = imported(
        [
            ["01018", "高", "理由"],
            ["", "高", "理由"],
            ["01006", "极高", "理由"],
            ["01006", "中", ""],
            ["01018", "低", "理由"],
        ]
    )
    unknown_grade = "unknown grade “极高” (use 高, 中 or 低, or high, medium or low; leave it empty to clear the override)"
    assert problems_of(report) == [
        (3, "A 产品代码", "the product code is empty"),
        (4, "B 人工调整等级", unknown_grade),
        (5, "A 产品代码", "01006 already appears on row 4"),
        (5, "C 人工调整理由", "A grade override needs a reason."),
        (6, "A 产品代码", "01018 already appears on row 2"),
    ]
    assert report.summary == "4 bad rows out of 5: nothing was changed."


# --- Again, and the audit ----------------------------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing(kettle, heater):
    rows = [["01018", "高", "召回频发"], ["01006", "", ""]]
    assert imported(rows).summary == "0 created, 1 updated, 1 unchanged"
    history, changes = Product.history.count(), GradeChange.objects.count()
    assert imported(rows).summary == "0 created, 0 updated, 2 unchanged"
    assert (Product.history.count(), GradeChange.objects.count()) == (history, changes)


def test_a_new_reason_for_the_same_grade_is_kept_and_the_grade_stays(kettle):
    product_override_grade(product=kettle, grade=Grade.HIGH, reason="召回频发")
    changes = GradeChange.objects.count()
    assert imported([["01018", "高", "省局风险警示"]]).summary == "0 created, 1 updated, 0 unchanged"
    assert state(kettle) == (Grade.HIGH, "省局风险警示", Grade.HIGH)
    assert GradeChange.objects.count() == changes


def test_each_change_is_audited_with_its_reason_and_the_file(kettle):
    imported([["01018", "高", "召回频发"]])
    record = kettle.history.latest()
    assert (record.history_type, record.override_grade, record.history_change_reason) == (
        "~",
        Grade.HIGH,
        "召回频发 (import of grades.csv)",
    )
    change = kettle.grade_changes.first()
    assert (change.old_grade, change.new_grade, change.computed, change.reason) == (
        Grade.LOW,
        Grade.HIGH,
        False,
        "召回频发 (import of grades.csv)",
    )
    assert change.policy == GradingPolicy.in_force()


def test_the_grade_in_force_is_the_one_the_pipeline_gives_today(kettle):
    """A policy version in force from later today is the one the pipeline grades today with; so is the import."""
    product_override_grade(product=kettle, grade=Grade.MEDIUM, reason="临时调整")
    stricter = GradingPolicy.objects.create(
        high_from_score=2, medium_from_score=1, reason="从今晚起从严", valid_from=TEST_NOW + dt.timedelta(hours=8)
    )
    assert imported([["01018", "", ""]]).ok
    assert state(kettle) == (None, "", Grade.HIGH)
    assert kettle.grade_changes.first().policy == stricter
    assert run_stage("grade_products", TEST_TODAY)["changed"] == 0


def test_a_dry_run_counts_the_changes_and_writes_nothing(kettle, heater):
    report = imported([["01018", "高", "召回频发"], ["01006", "", ""]], dry_run=True)
    assert report.summary == "Nothing written yet; importing would give: 0 created, 1 updated, 1 unchanged"
    assert state(kettle) == (None, "", Grade.LOW)


def test_the_sample_file_imports_against_the_catalogue_then_again_unchanged(db):
    load_catalogue()
    first = grade_overrides_import(SAMPLES / "grade_overrides.csv")
    assert first.summary == "0 created, 5 updated, 1 unchanged", first.problems
    assert first.ignored_columns == ["B 产品名称"]
    assert Product.objects.get(code="03022").override_grade == Grade.MEDIUM  # written 3022 in the file
    assert Product.objects.get(code="03019").grade == Grade.HIGH
    assert grade_overrides_import(SAMPLES / "grade_overrides.csv").summary == "0 created, 0 updated, 6 unchanged"


def test_the_command_line_imports_the_sample_and_asks_for_the_pipeline(db):
    load_catalogue()
    out = io.StringIO()
    call_command("import_data", "grade_overrides", str(SAMPLES / "grade_overrides.csv"), stdout=out)
    assert "0 created, 5 updated, 1 unchanged" in out.getvalue() and "run_pipeline" in out.getvalue()
    assert Product.objects.get(code="03019").grade == Grade.HIGH


def test_many_overrides_take_a_bounded_number_of_queries(db):
    """No query per product: a handful, plus one statement per batch the database takes (SQLite: 999 parameters)."""
    count = 300
    ProductFactory.create_batch(count)
    products_grade()
    rows = [[code, "高", "同一份通报"] for code in Product.objects.values_list("code", flat=True)]
    history_fields = [field for field in Product.history.model._meta.concrete_fields if not field.primary_key]
    per_history_insert = min(500, connection.ops.bulk_batch_size(history_fields, [None] * count))
    per_update = min(500, connection.ops.bulk_batch_size(["pk", "pk", "override_grade", "override_reason"], [None] * count))
    per_lookup = connection.features.max_query_params or 10_000
    bound = math.ceil(count / per_history_insert) + math.ceil(count / per_update) + 2 * math.ceil(count / per_lookup) + 12
    with CaptureQueriesContext(connection) as queries:
        assert imported(rows).summary == f"0 created, {count} updated, 0 unchanged"
    assert len(queries) <= bound
    assert Product.objects.filter(grade=Grade.HIGH).count() == count


# --- The one override rule ----------------------------------------------------------------------------------


def test_the_set_service_refuses_every_override_or_none(kettle, heater):
    overrides = {kettle.pk: GradeOverride(Grade.HIGH, "召回频发"), heater.pk: GradeOverride(Grade.LOW, "")}
    with pytest.raises(ValidationError) as refused:
        products_override_grade(overrides=overrides)
    assert refused.value.message_dict == {"override_reason": ["室内加热器 (01006): A grade override needs a reason."]}
    assert state(kettle) == (None, "", Grade.LOW)


def test_the_one_product_service_is_the_set_service_for_one(kettle):
    product = product_override_grade(product=kettle, grade=Grade.HIGH, reason="  召回频发  ")
    assert (product.override_grade, product.override_reason, product.grade) == (Grade.HIGH, "召回频发", Grade.HIGH)
    assert product.history.latest().history_change_reason == "召回频发"
    assert products_override_grade(overrides={kettle.pk: GradeOverride(Grade.HIGH, "召回频发")})["changed"] == 0


# --- The admin: upload → preview → confirm, for city-level administrators ----------------------------------


def with_admin_rights(user):
    """What the administrators' group gives (jiaxing_qs/demo/users.py): the admin and every permission of our apps."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=("regions", "products", "enterprises", "inspections")))
    return user


@pytest.fixture
def city_administrator(region_tree):
    user = StaffProfileFactory(user=UserFactory(username="city_admin"), role=Role.ADMINISTRATOR, jurisdiction=region_tree.city).user
    return with_admin_rights(user)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


IMPORT_URL = "admin:products_product_import"


def upload(client, data: bytes, name: str = "grades.csv"):
    return client.post(reverse(IMPORT_URL), {"kind": "grade_overrides", "file": SimpleUploadedFile(name, data)})


def token_of(response) -> str:
    return response.url.rstrip("/").rsplit("/", 1)[-1]


def test_an_administrator_previews_a_file_then_confirms_it(client, city_administrator, kettle, heater, media):
    client.force_login(city_administrator)
    assert reverse(IMPORT_URL) in client.get(reverse("admin:products_product_changelist")).content.decode()
    form = client.get(reverse(IMPORT_URL)).content.decode()
    assert "<td>人工调整等级</td><td>override grade</td>" in form
    response = upload(client, csv_bytes([["01018", "高", "召回频发"], ["01006", "低", "只供工业用户"]]))
    assert response.status_code == 302
    preview = client.get(response.url).content.decode()
    assert "Importing will create 0, update 2 and leave 0 unchanged." in preview
    assert 'value="Import" disabled' not in preview
    assert state(kettle) == (None, "", Grade.LOW)  # the preview writes nothing
    done = client.post(reverse("admin:products_product_import_confirm", args=[token_of(response)]), follow=True)
    assert "grades.csv imported: 0 created, 2 updated, 0 unchanged." in [str(message) for message in done.context["messages"]]
    assert state(kettle) == (Grade.HIGH, "召回频发", Grade.HIGH)
    assert kettle.history.latest().history_user == city_administrator
    assert kettle.grade_changes.first().changed_by == city_administrator


def test_the_admin_preview_lists_every_bad_row_and_confirming_changes_nothing(client, city_administrator, kettle, media):
    client.force_login(city_administrator)
    response = upload(client, csv_bytes([["01018", "高", "召回频发"], ["99999", "高", "理由"], ["01018", "高", ""]]))
    preview = client.get(response.url).content.decode()
    assert "2 bad rows out of 3: nothing was changed." in preview
    assert "unknown product code 99999" in preview and "A 产品代码" in preview and "C 人工调整理由" in preview
    assert 'name="confirm" value="Import" disabled' in preview
    refused = client.post(reverse("admin:products_product_import_confirm", args=[token_of(response)]))
    assert refused.status_code == 200 and "nothing was changed" in refused.content.decode()
    assert state(kettle) == (None, "", Grade.LOW)


@pytest.mark.parametrize("role, where", [(Role.ADMINISTRATOR, "county"), (Role.SUPERVISOR, "city")])
def test_only_a_city_level_administrator_can_import_grade_overrides(client, region_tree, kettle, media, role, where):
    jurisdiction = region_tree.county_a if where == "county" else region_tree.city
    user = with_admin_rights(StaffProfileFactory(user=UserFactory(username="staff"), role=role, jurisdiction=jurisdiction).user)
    client.force_login(user)
    assert reverse(IMPORT_URL) not in client.get(reverse("admin:products_product_changelist")).content.decode()
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert upload(client, csv_bytes([["01018", "高", "召回频发"]])).status_code == 403
    assert state(kettle) == (None, "", Grade.LOW)


def test_an_import_limited_to_a_county_is_refused(kettle, county):
    # The admin hands county staff an importer limited to their county (common/import_admin.py).
    within = dataclasses.replace(grade_overrides_import, run=functools.partial(grade_overrides_import.run, jurisdiction=county))
    report = within(csv_bytes([["01018", "高", "召回频发"]]), filename="grades.csv")
    assert problems_of(report) == [
        (None, "", "The product catalogue is the city's: only a city-level administrator can import grade overrides.")
    ]
    assert state(kettle) == (None, "", Grade.LOW)


def test_the_product_list_exports_what_the_import_reads_back_unchanged(client, city_administrator, kettle, heater):
    product_override_grade(product=kettle, grade=Grade.HIGH, reason="召回频发")
    client.force_login(city_administrator)
    exported = client.get(reverse("admin:products_product_export"))
    assert exported.status_code == 200
    report = grade_overrides_import(exported.content, filename="product.xlsx")
    assert report.summary == "0 created, 0 updated, 2 unchanged", report.problems
    assert "F 人工调整等级" not in report.ignored_columns and "D 产品风险等级" in report.ignored_columns
