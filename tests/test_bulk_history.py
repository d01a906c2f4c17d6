"""Bulk writes keep the history too: the daily job, the imports, the quality codes, and the demo reset.

Bulk writes (queryset updates, bulk inserts, the imports' prepared UPDATEs) bypass simple-history's signals, so
each of these paths writes its history rows itself: who (the importing user; nobody for the system), when,
old → new, and why.
"""

import datetime as dt
import threading

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from common.history import history_paused
from enterprises.codes import code_for, codes_issue_missing, codes_revoke
from enterprises.imports import enterprises_import
from enterprises.models import Enterprise, EnterpriseProduct, QualityCode, RiskEvent, RiskEventKind
from inspections.models import Conclusion, OrderStatus, RectificationOrder, SpotCheckResult, TaskStatus
from inspections.rectification.daily import daily_check
from inspections.rectification.services import order_open
from inspections.spotchecks.imports import spot_checks_import
from jiaxing_qs.demo.seed import demo_data_delete
from products.imports import CATALOGUE_CSV, CHECKLISTS_CSV, catalogue_import, load_catalogue, read_csv
from products.models import ChecklistItem, Product, ProductClass
from regions.models import Role

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory, credit_code
from .test_imports import HEADERS, SPOT_HEADERS, csv_bytes
from .test_rectification import DAY0, SHANGHAI, current_reinspection, day, reinspect, result_of, staffed_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_in_english(settings):
    """Stored texts (the change reasons) are in the site language: English here, so the tests read them."""
    settings.LANGUAGE_CODE = "en"


def changes(record) -> dict:
    """What a history row changed against the row before it: field → (old, new)."""
    return {change.field: (change.old, change.new) for change in record.diff_against(record.prev_record).changes}


def who_and_why(records) -> list[tuple]:
    return [(record.history_type, record.history_user, record.history_change_reason) for record in records]


# --- The daily job: the system's changes, with the rule as the reason ----------------------------------------


@pytest.fixture
def officers(county):
    return [StaffProfileFactory(user=UserFactory(username=f"officer{n}"), role=Role.INSPECTOR, jurisdiction=county).user for n in (1, 2)]


@pytest.fixture
def order(town, officers, django_capture_on_commit_callbacks) -> RectificationOrder:
    failed = result_of(staffed_task(enterprise=EnterpriseFactory(town=town), officers=officers), Conclusion.NONCONFORMING, DAY0)
    with django_capture_on_commit_callbacks(execute=True):
        return order_open(result=failed, on=DAY0)


def run_daily(today: dt.date, capture) -> dict:
    """The job as beat runs it: at 01:30 on ``today``, outside any request, its on-commit work executed."""
    with time_machine.travel(dt.datetime.combine(today, dt.time(1, 30), tzinfo=SHANGHAI), tick=False), capture(execute=True):
        return daily_check()


def test_flagging_an_overdue_rectification_is_recorded_as_the_systems_change_old_to_new(order, django_capture_on_commit_callbacks):
    run_daily(day(76), django_capture_on_commit_callbacks)

    flagged = order.history.latest()
    assert who_and_why([flagged]) == [("~", None, "daily job: rectification overdue, flagged")]
    assert changes(flagged) == {"overdue_flagged_on": (None, day(76))}
    reminded = current_reinspection(order).history.latest()
    assert who_and_why([reminded]) == [("~", None, "daily job: task overdue, flagged")]
    assert changes(reminded) == {"overdue_flagged_on": (None, day(76))}
    event = RiskEvent.objects.get(kind=RiskEventKind.OVERDUE_RECTIFICATION)
    assert who_and_why(event.history.all()) == [("+", None, "daily job: rectification overdue, flagged")]


def test_an_escalation_and_the_reinspection_it_cancels_are_recorded_old_to_new(order, django_capture_on_commit_callbacks):
    reinspect(order, Conclusion.NONCONFORMING, day(70))  # announced; the second window closes on day 160
    second = current_reinspection(order)

    run_daily(day(161), django_capture_on_commit_callbacks)

    escalated = order.history.latest()
    assert who_and_why([escalated]) == [("~", None, "daily job: second re-inspection window missed, escalated for suspension")]
    assert changes(escalated) == {"status": (OrderStatus.ANNOUNCED, OrderStatus.ESCALATED), "escalated_on": (None, day(161))}
    cancelled = second.history.latest()
    assert who_and_why([cancelled]) == [("~", None, "daily job: order escalated, re-inspection cancelled")]
    assert changes(cancelled) == {"status": (TaskStatus.ASSIGNED, TaskStatus.CANCELLED)}


def test_running_the_daily_job_again_writes_no_more_history(order, django_capture_on_commit_callbacks):
    def history_rows() -> tuple[int, int, int]:
        return (order.history.count(), current_reinspection(order).history.count(), RiskEvent.history.count())

    run_daily(day(76), django_capture_on_commit_callbacks)
    after_first = history_rows()
    run_daily(day(76), django_capture_on_commit_callbacks)
    run_daily(day(77), django_capture_on_commit_callbacks)
    assert history_rows() == after_first


def test_many_overdue_tasks_get_their_history_rows_in_one_statement(town, officers, django_assert_max_num_queries):
    product = ProductFactory()
    tasks = [staffed_task(enterprise=EnterpriseFactory(town=town), officers=officers, product=product, due_date=DAY0) for _ in range(20)]
    with django_assert_max_num_queries(16):
        assert daily_check(today=day(1))["tasks_overdue"] == 20
    assert all(who_and_why([task.history.latest()]) == [("~", None, "daily job: task overdue, flagged")] for task in tasks)


# --- The Excel/CSV imports: the file as the reason, the importing user as who --------------------------------


def enterprise_row(serial: int, town, name: str = "嘉兴测试经编有限公司") -> list:
    return [credit_code(serial, prefix="91349901"), name, "测试路1号", town.code, "", "", "在营"]


def test_each_imported_enterprise_is_recorded_with_the_file_as_the_reason(town):
    enterprises_import(csv_bytes(HEADERS, [enterprise_row(1, town), enterprise_row(2, town)]), filename="enterprises.csv")

    for enterprise in Enterprise.objects.all():
        assert who_and_why(enterprise.history.all()) == [("+", None, "import of enterprises.csv")]


def test_a_reimport_records_what_it_changed_old_to_new_and_nothing_for_unchanged_rows(town):
    enterprises_import(csv_bytes(HEADERS, [enterprise_row(1, town), enterprise_row(2, town)]), filename="v1.csv")
    renamed = [enterprise_row(1, town, name="嘉兴新名经编有限公司"), enterprise_row(2, town)]

    enterprises_import(csv_bytes(HEADERS, renamed), filename="v2.csv")

    changed, unchanged = Enterprise.objects.get(name="嘉兴新名经编有限公司"), Enterprise.objects.get(name="嘉兴测试经编有限公司")
    record = changed.history.latest()
    assert who_and_why([record]) == [("~", None, "import of v2.csv")]
    assert changes(record) == {"name": ("嘉兴测试经编有限公司", "嘉兴新名经编有限公司")}
    assert record.address == "测试路1号"  # the whole row as it now is, not only the file's changed cell
    assert unchanged.history.count() == 1


def test_a_refused_import_writes_no_history_either(town):
    report = enterprises_import(csv_bytes(HEADERS, [enterprise_row(1, town), enterprise_row(2, town, name="")]), filename="bad.csv")
    assert not report.ok
    assert not Enterprise.history.exists()


def test_imported_spot_checks_are_recorded_with_the_file_as_the_reason(town):
    maker, product = EnterpriseFactory(town=town), ProductFactory(code="08004")
    rows = [[maker.credit_code, "08004", "2025-11-01", "不合格", "K5", "ZJQI-2025-1101", "市级", "标识"]]
    spot_checks_import(csv_bytes(SPOT_HEADERS, rows), filename="checks.csv")

    result = SpotCheckResult.objects.get(product=product)
    assert who_and_why(result.history.all()) == [("+", None, "import of checks.csv")]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_import_through_the_admin_is_recorded_as_the_importing_users(admin_client, admin_user, town, media):
    data = csv_bytes(HEADERS, [enterprise_row(1, town)])
    uploaded = admin_client.post(
        reverse("admin:enterprises_enterprise_import"), {"kind": "enterprises", "file": SimpleUploadedFile("e.csv", data)}
    )
    token = uploaded.url.rstrip("/").rsplit("/", 1)[-1]

    admin_client.post(reverse("admin:enterprises_enterprise_import_confirm", args=[token]))

    assert who_and_why(Enterprise.objects.get().history.all()) == [("+", admin_user, "import of e.csv")]


# --- The catalogue import ------------------------------------------------------------------------------------


def test_the_catalogue_import_records_every_class_product_and_checklist_item_with_the_files_as_the_reason():
    load_catalogue()

    for model in (ProductClass, Product, ChecklistItem):
        reasons = set(model.history.values_list("history_type", "history_change_reason"))
        assert reasons == {("+", "import of catalogue.csv, checklists.csv")}
        assert model.history.count() == model.objects.count()


def test_a_catalogue_change_is_recorded_old_to_new_and_a_replaced_checklist_as_removed_and_added():
    catalogue, checklists = read_csv(CATALOGUE_CSV), read_csv(CHECKLISTS_CSV)
    catalogue_import(catalogue, checklists, source="v1")
    product = Product.objects.get(code=catalogue[1]["code"])
    harm = product.harm_severity
    catalogue[1] = {**catalogue[1], "harm_severity": "minor" if catalogue[1]["harm_severity"] == "severe" else "severe"}
    checklists[0] = {**checklists[0], "text": checklists[0]["text"] + "（修订）"}
    revised = Product.objects.get(code=checklists[0]["product_code"])
    old_items = set(revised.checklist_items.values_list("id", flat=True))

    catalogue_import(catalogue, checklists, source="v2")

    record = product.history.latest()
    assert who_and_why([record]) == [("~", None, "import of v2")]
    assert changes(record) == {"harm_severity": (harm, Product.objects.get(pk=product.pk).harm_severity)}
    removed = ChecklistItem.history.filter(history_type="-")
    assert set(removed.values_list("id", flat=True)) == old_items
    assert set(removed.values_list("history_change_reason", flat=True)) == {"import of v2"}
    added = ChecklistItem.history.filter(product_id=revised.pk, history_change_reason="import of v2")
    assert set(added.values_list("history_type", "text")) >= {("+", checklists[0]["text"])}


# --- Quality codes -------------------------------------------------------------------------------------------


def test_revoking_codes_records_who_revoked_them_and_why_and_the_fresh_codes(town, supervisor):
    enterprises = EnterpriseFactory.create_batch(2, town=town)
    old = [code_for(enterprise=enterprise) for enterprise in enterprises]

    codes_revoke(enterprise_ids=[enterprise.pk for enterprise in enterprises], by=supervisor, reason="印刷错误")

    for code in old:
        record = code.history.latest()
        assert who_and_why([record]) == [("~", supervisor, "印刷错误")]
        assert (record.prev_record.revoke_reason, record.revoke_reason) == ("", "印刷错误")  # not editable: diff_against skips it
        assert (record.prev_record.revoked_by, record.revoked_by) == (None, supervisor)
    for fresh in QualityCode.objects.filter(revoked_at__isnull=True):
        assert who_and_why(fresh.history.all()) == [("+", supervisor, "印刷错误")]


def test_codes_issued_in_bulk_are_recorded(town):
    EnterpriseFactory.create_batch(3, town=town)
    assert codes_issue_missing() == 3
    assert who_and_why(QualityCode.history.all()) == [("+", None, "codes issued in bulk")] * 3


# --- The demo reset ------------------------------------------------------------------------------------------


def test_history_is_paused_only_in_the_thread_that_paused_it():
    seen = {}
    with history_paused():
        other = threading.Thread(target=lambda: seen.update(other_thread=bool(django_settings.SIMPLE_HISTORY_ENABLED)))
        other.start()
        other.join()
        seen["this_thread"] = bool(django_settings.SIMPLE_HISTORY_ENABLED)
    assert seen == {"other_thread": True, "this_thread": False}
    assert django_settings.SIMPLE_HISTORY_ENABLED


def test_a_demo_reset_takes_the_demo_rows_history_with_them_and_records_no_deletions(town):
    demo = EnterpriseFactory(town=town, is_demo=True)
    made, code = EnterpriseProductFactory(enterprise=demo), code_for(enterprise=demo)
    real = EnterpriseFactory(town=town)
    real.name = "真实企业改名"
    real.save()

    demo_data_delete()

    assert not Enterprise.history.filter(id=demo.pk).exists()
    assert not EnterpriseProduct.history.filter(id=made.pk).exists()
    assert not QualityCode.history.filter(id=code.pk).exists()
    assert not Enterprise.history.filter(history_type="-").exists()
    assert real.history.count() == 2  # real records keep theirs
    real_id = real.pk
    real.delete()
    assert Enterprise.history.filter(id=real_id, history_type="-").exists()  # and history is on again afterwards
