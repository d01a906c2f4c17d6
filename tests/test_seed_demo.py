"""The demo data: catalogue import (validated, all or nothing, idempotent) and seed_demo (valid, placed,
deterministic, idempotent, and coloured the way the demo story needs)."""

import datetime as dt
import hashlib
import itertools
import types
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db.models import Count

from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent
from enterprises.validators import uscc_problem
from inspections.models import (
    CheckItemResult,
    CheckResult,
    Conclusion,
    InspectionPlan,
    InspectionTask,
    Notification,
    OrderStatus,
    PlanPopulation,
    PlanStatus,
    RectificationOrder,
    ResultSource,
    SpotCheckResult,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from jiaxing_qs.demo.loop import REPORTED_SHARE
from jiaxing_qs.demo.places import COUNTIES
from products.imports import CATALOGUE_CSV, CHECKLISTS_CSV, catalogue_import, read_csv
from products.models import ChecklistItem, LicenceType, Product, ProductClass
from regions.geometry import point_in_geometry
from regions.models import Colour, Level, RegionSnapshot, Role, StaffProfile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

AS_OF = dt.date(2026, 6, 30)
SMALL = 400


def seed(enterprises: int = SMALL, **options) -> str:
    """Seed the demo. Each plan draws with a fresh random seed; here every seeding's plans get the same seeds,
    so its loop is reproducible too."""
    numbers = itertools.count(1)
    fixed_seeds = types.SimpleNamespace(token_hex=lambda n: f"{next(numbers):0{2 * n}x}")
    out = StringIO()
    with mock.patch("inspections.planning.services.secrets", fixed_seeds):
        call_command("seed_demo", enterprises=enterprises, seed=options.pop("seed", 2026), as_of=AS_OF, stdout=out, **options)
    return out.getvalue()


def checksum(rows) -> str:
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def demo_fingerprint() -> dict:
    """Counts and checksums of everything the seed writes, to compare two runs."""
    demo = Enterprise.objects.filter(is_demo=True).order_by("credit_code")
    return {
        "enterprises": demo.count(),
        "products_made": EnterpriseProduct.objects.filter(enterprise__is_demo=True).count(),
        "spot_checks": SpotCheckResult.objects.filter(is_demo=True).count(),
        "risk_events": RiskEvent.objects.filter(is_demo=True).count(),
        "products": Product.objects.count(),
        "checklist_items": checksum(ChecklistItem.objects.order_by("id").values_list("id", "text")),
        "users": checksum(get_user_model().objects.order_by("username").values_list("username", "password", "is_staff", "first_name")),
        "groups": checksum(Group.objects.order_by("name").annotate(n=Count("permissions")).values_list("name", "n")),
        "credit_codes": checksum(demo.values_list("credit_code", flat=True)),
        "plans": InspectionPlan.objects.filter(is_demo=True).count(),
        "tasks": InspectionTask.objects.filter(enterprise__is_demo=True).count(),
        "check_results": CheckResult.objects.filter(task__enterprise__is_demo=True).count(),
        "orders": RectificationOrder.objects.filter(enterprise__is_demo=True).count(),
        "notifications": Notification.objects.filter(task__enterprise__is_demo=True).count(),
    }


def loop_refs() -> list[str]:
    """The risk events' references to the loop's results (their numbers carry database ids)."""
    reported = SpotCheckResult.objects.filter(is_demo=True, source=ResultSource.INSPECTION)
    return [f"抽查 {number}" for number in reported.values_list("lab_report_number", flat=True)]


def generated_data() -> dict:
    """What a seed generates, independent of database ids."""
    demo = Enterprise.objects.filter(is_demo=True).order_by("credit_code")
    return {
        "credit_codes": checksum(demo.values_list("credit_code", flat=True)),
        "enterprises": checksum(demo.values_list("credit_code", "name", "address", "lat", "lon", "status", "town__code")),
        "made": checksum(
            EnterpriseProduct.objects.filter(enterprise__is_demo=True)
            .order_by("enterprise__credit_code", "product__code")
            .values_list("enterprise__credit_code", "product__code", "licence_number", "licence_expiry")
        ),
        "results": checksum(
            SpotCheckResult.objects.filter(is_demo=True, source=ResultSource.IMPORTED)
            .order_by("lab_report_number")
            .values_list("lab_report_number", "enterprise__credit_code", "product__code", "checked_on", "conforming", "failed_items")
        ),
        "events": checksum(
            RiskEvent.objects.filter(is_demo=True)
            .exclude(source_ref__in=loop_refs())
            .order_by("enterprise__credit_code", "kind", "source_ref")
            .values_list("enterprise__credit_code", "kind", "source_ref", "occurred_on")
        ),
        "tasks": checksum(
            InspectionTask.objects.filter(enterprise__is_demo=True)
            .order_by("enterprise__credit_code", "kind")
            .values_list("plan__scope__code", "enterprise__credit_code", "product__code", "kind", "arm", "stratum", "draw_rank", "status")
        ),
        "officers": checksum(
            TaskAssignment.objects.filter(task__enterprise__is_demo=True)
            .order_by("task__enterprise__credit_code", "task__kind", "position")
            .values_list("task__enterprise__credit_code", "task__kind", "officer__username")
        ),
        "check_results": checksum(
            CheckResult.objects.filter(task__enterprise__is_demo=True)
            .order_by("task__enterprise__credit_code")
            .values_list("task__enterprise__credit_code", "conclusion", "checked_on", "submitted_by__username", "co_inspector__username")
        ),
    }


# --- Catalogue import ---------------------------------------------------------------------------------


def test_load_catalogue_command_reports_classes_products_and_checklist_items():
    out = StringIO()
    call_command("load_catalogue", stdout=out)
    assert "12 classes, 249 products (249 created, 0 updated), 1231 checklist items" in out.getvalue()
    assert Product.objects.filter(grade__isnull=True).count() == 0  # graded right after the import


def test_catalogue_import_twice_changes_nothing_and_replaces_only_a_changed_checklist():
    catalogue, checklists = read_csv(CATALOGUE_CSV), read_csv(CHECKLISTS_CSV)
    assert catalogue_import(catalogue, checklists)["changes"] > 0
    item_ids = set(ChecklistItem.objects.values_list("id", flat=True))

    again = catalogue_import(catalogue, checklists)

    assert (again["changes"], again["created"], again["updated"], again["checklists_replaced"]) == (0, 0, 0, 0)
    assert set(ChecklistItem.objects.values_list("id", flat=True)) == item_ids
    checklists[0] = {**checklists[0], "text": checklists[0]["text"] + "（修订）"}
    catalogue[1] = {**catalogue[1], "harm_severity": "severe" if catalogue[1]["harm_severity"] != "severe" else "minor"}
    changed = catalogue_import(catalogue, checklists)
    assert (changed["checklists_replaced"], changed["updated"]) == (1, 1)
    assert len(item_ids - set(ChecklistItem.objects.values_list("id", flat=True))) == len(
        [row for row in checklists if row["product_code"] == checklists[0]["product_code"]]
    )


def test_bad_catalogue_rows_are_refused_naming_line_and_column_and_nothing_is_written():
    catalogue, checklists = read_csv(CATALOGUE_CSV), read_csv(CHECKLISTS_CSV)
    catalogue[4] = {**catalogue[4], "harm_severity": "deadly"}  # line 6 of the file (line 1 is the header)
    catalogue[7] = {**catalogue[7], "spot_check_cost": "cheap"}
    checklists.append({"product_code": "99999", "order": "1", "text": "标识", "legal_basis": ""})

    with pytest.raises(ValidationError) as refused:
        catalogue_import(catalogue, checklists)

    messages = refused.value.messages
    assert any(message.startswith("catalogue line 6, column harm_severity: unknown value 'deadly'") for message in messages)
    assert any(message.startswith("catalogue line 9, column spot_check_cost") for message in messages)
    assert any(
        message.startswith(f"checklists line {len(checklists) + 1}, column product_code: unknown product '99999'") for message in messages
    )
    assert len(messages) == 3
    assert (ProductClass.objects.count(), Product.objects.count(), ChecklistItem.objects.count()) == (0, 0, 0)


def test_duplicate_product_codes_and_checklist_positions_are_refused():
    catalogue, checklists = read_csv(CATALOGUE_CSV), read_csv(CHECKLISTS_CSV)
    catalogue.append(dict(catalogue[0]))
    checklists.append(dict(checklists[0]))

    with pytest.raises(ValidationError) as refused:
        catalogue_import(catalogue, checklists)

    messages = refused.value.messages
    assert any(
        f"catalogue line {len(catalogue) + 1}, column code: product code {catalogue[0]['code']} already on line 2" in m for m in messages
    )
    assert any(f"checklists line {len(checklists) + 1}, column order" in message for message in messages)
    assert Product.objects.count() == 0


def test_load_catalogue_command_fails_loudly_on_a_bad_file(tmp_path):
    bad = tmp_path / "catalogue.csv"
    bad.write_text(CATALOGUE_CSV.read_text(encoding="utf-8").replace(",ccc,", ",cccc,", 1), encoding="utf-8")
    with pytest.raises(CommandError, match=r"catalogue line 2, column licence_type: unknown value 'cccc'"):
        call_command("load_catalogue", catalogue=bad, stdout=StringIO())
    assert Product.objects.count() == 0


# --- seed_demo ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_small_seed_gives_valid_placed_enterprises_full_catalogue_and_staff():
    output = seed()

    enterprises = list(Enterprise.objects.filter(is_demo=True).select_related("town__parent"))
    assert len(enterprises) == SMALL
    assert all(uscc_problem(e.credit_code) is None for e in enterprises)
    assert all(e.credit_code.startswith("91" + e.town.parent.code) for e in enterprises)
    assert all(point_in_geometry(e.lon, e.lat, e.town.parent.boundary) for e in enterprises)
    assert len({e.name for e in enterprises}) == SMALL
    assert all(e.address.startswith(f"浙江省嘉兴市{e.town.parent.name}{e.town.name}") for e in enterprises)
    assert {e.town.level for e in enterprises} == {Level.TOWN}
    made = Enterprise.objects.filter(is_demo=True).annotate(n=Count("made")).values_list("n", flat=True)
    assert set(made) <= {1, 2, 3, 4}
    licensed = EnterpriseProduct.objects.exclude(product__licence_type=LicenceType.NONE)
    assert licensed.exclude(licence_number="").count() > 0.9 * licensed.count()
    assert not EnterpriseProduct.objects.filter(product__licence_type=LicenceType.NONE).exclude(licence_number="").exists()

    assert Product.objects.count() == 249
    assert not Product.objects.annotate(n=Count("checklist_items")).filter(n__lt=3).exists()

    results = SpotCheckResult.objects.filter(is_demo=True)
    assert results.count() > 0 and not results.filter(checked_on__gt=AS_OF).exists()
    assert not results.filter(conforming=False, failed_items="").exists()
    assert RegionSnapshot.objects.filter(region__code="330400").count() == 13

    profiles = StaffProfile.objects.filter(is_demo=True)
    assert dict(profiles.values_list("role").annotate(n=Count("id"))) == {Role.ADMINISTRATOR: 1, Role.SUPERVISOR: 8, Role.INSPECTOR: 28}
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("jiaxing-demo-2026")
    haining = get_user_model().objects.get(username="supervisor_haining")
    assert haining.is_staff and haining.staff_profile.jurisdiction.code == "330481"
    assert haining.groups.get().name == "监管人员"
    inspector = get_user_model().objects.get(username="inspector_haining_4")
    assert not inspector.is_staff and len(inspector.first_name) >= 2 and inspector.staff_profile.officer_number == "33048120260005"
    assert inspector.has_perm("enterprises.view_enterprise") and not inspector.has_perm("enterprises.change_enterprise")
    assert not haining.has_perm("products.change_product") and haining.has_perm("regions.view_regionsnapshot")
    assert "inspector_tongxiang_4" in output and "jiaxing-demo-2026" in output


@pytest.mark.slow
def test_seeding_again_changes_nothing():
    seed()
    before = demo_fingerprint()

    output = seed()

    assert "demo data already present (400 enterprises); use --reset to regenerate" in output
    assert demo_fingerprint() == before


@pytest.mark.slow
def test_reset_with_the_same_seed_regenerates_identical_data_and_another_seed_differs():
    seed()
    first = generated_data()

    seed(reset=True)
    assert generated_data() == first

    seed(reset=True, seed=7)
    assert generated_data()["credit_codes"] != first["credit_codes"]
    assert Enterprise.objects.filter(is_demo=True).count() == SMALL


@pytest.mark.slow
def test_reset_also_removes_what_others_recorded_on_demo_enterprises():
    seed()
    enterprise = Enterprise.objects.filter(is_demo=True).order_by("credit_code").first()
    reported = SpotCheckResult.objects.create(
        enterprise=enterprise,
        product=enterprise.made.first().product,
        checked_on=AS_OF,
        conforming=True,
        lab_report_number="REPORTED-1",
        source=ResultSource.INSPECTION,
    )

    seed(reset=True)

    assert not SpotCheckResult.objects.filter(pk=reported.pk).exists()
    assert Enterprise.objects.filter(is_demo=True).count() == SMALL


@pytest.mark.slow
def test_a_real_user_with_a_demo_login_name_is_left_alone():
    real = get_user_model().objects.create_user(username="admin", password="their-own-password")

    output = seed()

    real.refresh_from_db()
    assert real.check_password("their-own-password") and not real.is_superuser
    assert "left alone" in output and not StaffProfile.objects.filter(user=real).exists()


@pytest.mark.slow
def test_full_size_seed_shows_every_colour_among_towns_and_differing_county_colours():
    seed(enterprises=7000)

    period = AS_OF.replace(day=1)
    towns = set(RegionSnapshot.objects.filter(period=period, region__level=Level.TOWN).values_list("colour", flat=True))
    counties = dict(RegionSnapshot.objects.filter(period=period, region__level=Level.COUNTY).values_list("region__code", "colour"))
    assert {Colour.RED, Colour.ORANGE, Colour.YELLOW, Colour.GREEN, Colour.TOO_FEW} <= towns
    assert len(set(counties.values())) >= 3
    assert counties["330481"] == Colour.RED  # 海宁
    assert {counties["330402"], counties["330424"]} == {Colour.GREEN}  # 南湖, 海盐
    batches_last_year = SpotCheckResult.objects.filter(is_demo=True, checked_on__gt=AS_OF - dt.timedelta(days=365)).count()
    assert 3000 <= batches_last_year <= 4500


@pytest.mark.slow
def test_the_demo_closes_the_loop_with_a_dispatched_plan_per_county_results_and_rectification(client):
    output = seed()

    plans = list(InspectionPlan.objects.filter(is_demo=True).select_related("scope", "created_by", "approved_by"))
    assert sorted(plan.scope.code for plan in plans) == sorted(COUNTIES)
    for plan in plans:
        supervisor = f"supervisor_{COUNTIES[plan.scope.code].pinyin}"
        assert plan.status == PlanStatus.DISPATCHED
        assert plan.name == f"{plan.scope.name} 2026 年度产品质量监督抽查计划（演示）"
        assert (plan.period_start, plan.period_end) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
        assert plan.created_by.username == plan.approved_by.username == supervisor
        assert plan.tasks.exists() and PlanPopulation.objects.filter(plan=plan).exists()
        assert client.get(f"/public/plans/{plan.pk}/").status_code == 200

    tasks = InspectionTask.objects.filter(plan__is_demo=True)
    assert not tasks.filter(status=TaskStatus.UNSTAFFED).exists()
    for task in tasks.select_related("plan__scope").prefetch_related("assignments__officer__staff_profile"):
        officers = [assignment.officer for assignment in task.assignments.all()]
        assert len(officers) == 2
        assert {officer.staff_profile.jurisdiction_id for officer in officers} == {task.plan.scope_id}
        assert all(officer.username.startswith(f"inspector_{COUNTIES[task.plan.scope.code].pinyin}_") for officer in officers)
    assert Notification.objects.filter(task__plan__is_demo=True, purpose="dispatch").count() == 2 * tasks.count()

    results = CheckResult.objects.filter(task__plan__is_demo=True)
    assert results.count() == round(REPORTED_SHARE * tasks.count())
    assert set(tasks.filter(result__isnull=False).values_list("status", flat=True)) == {TaskStatus.SUBMITTED}
    assert not results.filter(checked_on__gt=AS_OF).exists()
    assert not results.exclude(spot_check__source=ResultSource.INSPECTION, spot_check__is_demo=True).exists()
    failed = results.filter(conclusion=Conclusion.NONCONFORMING)
    assert 0 < failed.count() < results.count()
    assert CheckItemResult.objects.filter(result__in=failed, outcome="nonconforming").exclude(note="").count() >= failed.count()
    orders = RectificationOrder.objects.filter(result__in=failed)
    assert orders.count() == failed.count() and set(orders.values_list("status", flat=True)) == {OrderStatus.RECTIFYING}
    reinspections = InspectionTask.objects.filter(order__in=orders, kind=TaskKind.REINSPECTION, status=TaskStatus.ASSIGNED)
    assert reinspections.count() == orders.count()
    assert not RectificationOrder.objects.filter(result__conclusion=Conclusion.CONFORMING).exists()
    assert (
        f"plans: 7 dispatched, {tasks.count()} tasks, {results.count()} results ({failed.count()} non-conforming), "
        f"{orders.count()} rectification orders" in output
    )


@pytest.mark.slow
def test_a_reset_removes_the_loop_and_seeding_again_adds_no_second_one():
    seed()
    before = {
        model: set(model.objects.filter(**{path: True}).values_list("pk", flat=True))
        for model, path in [
            (InspectionPlan, "is_demo"),
            (InspectionTask, "enterprise__is_demo"),
            (TaskAssignment, "task__enterprise__is_demo"),
            (CheckResult, "task__enterprise__is_demo"),
            (CheckItemResult, "result__task__enterprise__is_demo"),
            (RectificationOrder, "enterprise__is_demo"),
            (Notification, "task__enterprise__is_demo"),
            (PlanPopulation, "plan__is_demo"),
        ]
    }
    assert all(before.values())

    seed()
    assert InspectionPlan.objects.count() == 7 and CheckResult.objects.count() == len(before[CheckResult])

    seed(reset=True)
    for model, pks in before.items():
        assert not model.objects.filter(pk__in=pks).exists(), model
    for model in (InspectionPlan, InspectionTask, CheckResult, RectificationOrder):
        assert not model.history.filter(id__in=before[model]).exists(), model
    assert InspectionPlan.objects.count() == 7 and CheckResult.objects.count() == len(before[CheckResult])
