"""The admin follows the jurisdiction rule: a county administrator lists, opens, exports, chooses and imports only
their county's records; the catalogue and the rules are the city's, changed only by city-level administrators.

The scoped models are read from the admin registry, so a new admin of our apps must be either scoped (and get
records here) or city-wide.
"""

import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent
from inspections.models import (
    CheckResult,
    HeldCheck,
    InspectionPlan,
    InspectionTask,
    Notification,
    NotificationSetting,
    OfficerConflict,
    RectificationOrder,
    SpotCheckResult,
)
from regions.access import staff_grant_problem
from regions.admin_scoping import CityWideAdmin, JurisdictionScopedAdmin
from regions.models import Bureau, Colour, ColourThresholds, Region, RegionSnapshot, Role, StaffProfile

from .conftest import Case
from .factories import ProductFactory, StaffProfileFactory, UserFactory, credit_code

pytestmark = pytest.mark.django_db

OUR_APPS = ("regions", "products", "enterprises", "inspections")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def our_admins() -> dict:
    return {model: model_admin for model, model_admin in admin.site._registry.items() if model._meta.app_label in OUR_APPS}


def scoped_models() -> list:
    return sorted((m for m, a in our_admins().items() if isinstance(a, JurisdictionScopedAdmin)), key=lambda m: m._meta.label)


def records_of(case: Case) -> dict:
    """One record of every scoped model, belonging to the case's county: the case's own, and the rest around it."""
    county, officer, co_inspector = case.county, case.result.submitted_by, case.result.co_inspector
    return {
        Region: county,
        RegionSnapshot: RegionSnapshot.objects.create(
            region=county,
            period=dt.date(2026, 2, 1),
            enterprise_count=10,
            risk_count=1,
            risk_share=Decimal("10"),
            colour=Colour.YELLOW,
            thresholds=ColourThresholds.in_force(),
        ),
        StaffProfile: officer.staff_profile,
        Enterprise: case.enterprise,
        RiskEvent: case.risk_event,
        SpotCheckResult: case.spot_check,
        InspectionPlan: case.plan,
        InspectionTask: case.task,
        CheckResult: case.result,
        RectificationOrder: case.order,
        OfficerConflict: OfficerConflict.objects.create(officer=co_inspector, enterprise=case.enterprise, reason="亲属"),
        NotificationSetting: NotificationSetting.objects.create(bureau=county),
        Bureau: Bureau.objects.create(region=county, name=f"{county.name}市场监督管理局", phone="12315"),
        Notification: Notification.objects.create(
            task=case.task, recipient=officer, channel="log", dedupe_key=f"test:{county.code}", title=f"{county.name}通知", body="—"
        ),
        HeldCheck: HeldCheck.objects.create(
            task=case.task, officer=officer, submission_key=uuid.uuid4(), submission_digest="0" * 64, payload={}, reason="已取消"
        ),
    }


@pytest.fixture
def records(two_county_cases):
    """Every scoped record in both counties: ``records["a"][Enterprise]`` is county A's enterprise."""
    return {key: records_of(case) for key, case in two_county_cases.items()}


def with_admin_rights(user):
    """What the administrators' group gives (jiaxing_qs/demo/users.py): the admin, and every permission of our apps."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=OUR_APPS))
    return user


@pytest.fixture
def county_admin(client, administrator):
    client.force_login(with_admin_rights(administrator))
    return client


@pytest.fixture
def city_admin(client, region_tree):
    user = StaffProfileFactory(user=UserFactory(username="city_admin"), role=Role.ADMINISTRATOR, jurisdiction=region_tree.city).user
    client.force_login(with_admin_rights(user))
    return client


def url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def listed(client, model) -> set:
    response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    return set(response.context["cl"].queryset.values_list("pk", flat=True))


def sheet_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


# --- Coverage ------------------------------------------------------------------------------------------------


def test_every_admin_of_our_apps_is_scoped_or_city_wide(records):
    for model, model_admin in our_admins().items():
        assert isinstance(model_admin, JurisdictionScopedAdmin | CityWideAdmin), f"scope the admin of {model._meta.label}"
        if isinstance(model_admin, JurisdictionScopedAdmin):
            assert model in records["a"], f"add {model._meta.label} to records_of in test_admin_scoping.py"


# --- Lists, pages, history -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label)
def test_a_county_administrator_lists_only_their_countys_records(county_admin, records, model):
    shown = listed(county_admin, model)
    assert records["a"][model].pk in shown
    assert records["b"][model].pk not in shown
    # Nor do the filters in the sidebar name another county's records (a plain plan filter listed every plan).
    html = county_admin.get(url(model, "changelist")).content.decode()
    assert records["b"][Enterprise].name not in html and records["b"][InspectionPlan].name not in html


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label)
def test_another_countys_record_is_not_found_and_its_history_refused(county_admin, records, model):
    assert county_admin.get(url(model, "change", records["a"][model].pk)).status_code == 200
    response = county_admin.get(url(model, "change", records["b"][model].pk))
    # The admin answers a record it cannot find with a redirect to its index ("perhaps it was deleted?").
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert county_admin.get(url(model, "history", records["b"][model].pk)).status_code in (302, 403, 404)
    assert county_admin.get(url(model, "delete", records["b"][model].pk)).status_code in (302, 403, 404)
    assert records["b"][model].__class__.objects.filter(pk=records["b"][model].pk).exists()


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label)
def test_a_superuser_and_a_city_administrator_see_every_county(admin_client, city_admin, records, model):
    for client in (admin_client, city_admin):
        assert {records["a"][model].pk, records["b"][model].pk} <= listed(client, model)


def test_staff_without_a_profile_see_nothing(client, records, django_user_model):
    client.force_login(with_admin_rights(django_user_model.objects.create_user("profileless", password="x" * 16)))
    assert listed(client, Enterprise) == set()


# --- Exports -------------------------------------------------------------------------------------------------


EXPORTED = [model for model in scoped_models() if getattr(our_admins()[model], "export_fields", ())]


@pytest.mark.parametrize("model", EXPORTED, ids=lambda m: m._meta.label)
def test_an_export_contains_only_the_county_administrators_county(county_admin, admin_client, records, model):
    assert len(sheet_rows(county_admin.get(url(model, "export")).content)) == 1 + 1  # header + county A's record
    assert len(sheet_rows(admin_client.get(url(model, "export")).content)) == 1 + 2


def test_exporting_selected_rows_ignores_another_countys_rows(county_admin, records):
    chosen = [records["a"][Enterprise].pk, records["b"][Enterprise].pk]
    response = county_admin.post(url(Enterprise, "changelist"), {"action": "export_xlsx", "_selected_action": chosen})
    assert [row[0] for row in sheet_rows(response.content)[1:]] == [records["a"][Enterprise].credit_code]


# --- Choices -------------------------------------------------------------------------------------------------


def test_choices_offer_only_the_countys_towns_enterprises_and_staff(county_admin, records, region_tree):
    form = county_admin.get(url(Enterprise, "add")).context["adminform"].form
    assert set(form.fields["town"].queryset) == {region_tree.town_a1, region_tree.town_a2}
    form = county_admin.get(url(SpotCheckResult, "add")).context["adminform"].form
    assert list(form.fields["enterprise"].queryset) == [records["a"][Enterprise]]
    form = county_admin.get(url(InspectionPlan, "add")).context["adminform"].form
    assert region_tree.county_b not in form.fields["scope"].queryset and region_tree.city not in form.fields["scope"].queryset
    form = county_admin.get(url(OfficerConflict, "add")).context["adminform"].form
    officers = set(form.fields["officer"].queryset.values_list("username", flat=True))
    assert {"officer_a1", "officer_a2"} <= officers and not {"officer_b1", "officer_b2", "outsider"} & officers


def test_an_enterprise_cannot_be_put_in_another_countys_town(county_admin, records, region_tree):
    enterprise = records["a"][Enterprise]
    response = county_admin.post(
        url(Enterprise, "change", enterprise.pk),
        {"credit_code": enterprise.credit_code, "name": enterprise.name, "town": region_tree.town_b1.pk, "status": "active"},
    )
    assert response.status_code == 200 and "town" in response.context["adminform"].form.errors
    enterprise.refresh_from_db()
    assert enterprise.town == region_tree.town_a1


def test_autocomplete_offers_only_the_countys_towns(county_admin, records, region_tree):
    response = county_admin.get(
        reverse("admin:autocomplete"), {"app_label": "enterprises", "model_name": "enterprise", "field_name": "town", "term": ""}
    )
    assert {row["id"] for row in response.json()["results"]} == {str(region_tree.town_a1.pk), str(region_tree.town_a2.pk)}


# --- The city's catalogue and rules ----------------------------------------------------------------------------


CITY_WIDE = sorted((m for m, a in our_admins().items() if isinstance(a, CityWideAdmin)), key=lambda m: m._meta.label)


@pytest.mark.parametrize("model", CITY_WIDE, ids=lambda m: m._meta.label)
def test_a_county_administrator_reads_the_citys_catalogue_and_rules_but_cannot_change_them(county_admin, records, model):
    request = county_admin.get(url(model, "changelist")).wsgi_request
    model_admin = our_admins()[model]
    assert model_admin.has_view_permission(request)
    assert not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request))
    assert county_admin.get(url(model, "add")).status_code == 403


def test_a_city_administrator_changes_the_catalogue(client, region_tree, records):
    user = StaffProfileFactory(user=UserFactory(username="city_admin"), role=Role.ADMINISTRATOR, jurisdiction=region_tree.city).user
    client.force_login(with_admin_rights(user))
    request = client.get(url(Enterprise, "changelist")).wsgi_request
    for model in CITY_WIDE:
        model_admin = our_admins()[model]
        assert model_admin.has_add_permission(request) or model_admin.has_change_permission(request), model
    supervisor = StaffProfileFactory(user=UserFactory(username="city_supervisor"), role=Role.SUPERVISOR, jurisdiction=region_tree.city).user
    client.force_login(with_admin_rights(supervisor))
    request = client.get(url(Enterprise, "changelist")).wsgi_request
    assert not any(our_admins()[model].has_change_permission(request) for model in CITY_WIDE)


# --- Imports -------------------------------------------------------------------------------------------------


def csv_file(headers: list[str], rows: list[list[str]], name: str = "import.csv") -> SimpleUploadedFile:
    text = "\n".join(",".join(line) for line in [headers, *rows]) + "\n"
    return SimpleUploadedFile(name, text.encode("utf-8"))


def preview(client, model, kind: str, upload: SimpleUploadedFile):
    response = client.post(url(model, "import"), {"kind": kind, "file": upload})
    assert response.status_code == 302, response.content
    return client.get(response["Location"]).context["report"]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def outside_jurisdiction(message: str) -> bool:
    """The refusal for a row of another county, in the interface's language (Chinese first, or English)."""
    return "outside your jurisdiction" in message or "不在您的辖区内" in message


def test_a_county_administrator_cannot_import_enterprises_into_another_county(county_admin, records, region_tree, media):
    ours, theirs = records["a"][Enterprise], records["b"][Enterprise]
    upload = csv_file(
        ["统一社会信用代码", "企业名称", "所在镇街代码"],
        [
            [credit_code(1, prefix="91349901"), "新甲企业", region_tree.town_a2.code],  # new, in county A: fine
            [credit_code(2, prefix="91349901"), "新乙企业", region_tree.town_b1.code],  # new, in county B
            [theirs.credit_code, theirs.name, region_tree.town_a1.code],  # county B's, moved into county A
            [ours.credit_code, ours.name, region_tree.town_b2.code],  # county A's, moved out to county B
        ],
    )
    report = preview(county_admin, Enterprise, "enterprises", upload)
    outside = {(problem.row, problem.column) for problem in report.problems if outside_jurisdiction(problem.message)}
    assert outside == {(3, "C 所在镇街代码"), (4, "A 统一社会信用代码"), (5, "C 所在镇街代码")}
    assert not Enterprise.objects.filter(name__startswith="新").exists()


def test_a_county_administrator_imports_their_own_countys_rows(county_admin, records, region_tree, media):
    upload = csv_file(
        ["统一社会信用代码", "企业名称", "所在镇街代码"], [[credit_code(1, prefix="91349901"), "新甲企业", region_tree.town_a2.code]]
    )
    response = county_admin.post(url(Enterprise, "import"), {"kind": "enterprises", "file": upload})
    assert county_admin.get(response["Location"]).context["report"].ok
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    county_admin.post(url(Enterprise, "import_confirm", token))
    assert Enterprise.objects.get(name="新甲企业").town == region_tree.town_a2


def test_products_risk_events_and_spot_checks_of_another_countys_enterprise_are_refused_as_unknown(county_admin, records, media):
    """Another county's credit code reads exactly like one nobody has: the refusal tells nothing about other counties."""
    theirs, product = records["b"][Enterprise], ProductFactory(code="99001")
    nobodys = credit_code(7, prefix="91349902")
    made = preview(
        county_admin,
        Enterprise,
        "products_made",
        csv_file(["统一社会信用代码", "产品代码"], [[theirs.credit_code, "99001"], [nobodys, "99001"]]),
    )
    events = preview(
        county_admin,
        RiskEvent,
        "risk_events",
        csv_file(
            ["统一社会信用代码", "事件类型", "发生日期", "来源编号"],
            [[theirs.credit_code, "行政处罚", "2026-01-05", "案-1"], [nobodys, "行政处罚", "2026-01-05", "案-2"]],
        ),
    )
    checks = preview(
        county_admin,
        SpotCheckResult,
        "spot_checks",
        csv_file(
            ["统一社会信用代码", "产品代码", "抽样日期", "检验结论", "报告编号"],
            [[theirs.credit_code, "99001", "2026-01-05", "合格", "R-1"], [nobodys, "99001", "2026-01-05", "合格", "R-2"]],
        ),
    )
    for report in (made, events, checks):
        refusals = {(p.row, p.column): p.message for p in report.problems}
        assert set(refusals) == {(2, "A 统一社会信用代码"), (3, "A 统一社会信用代码")}
        for_theirs, for_nobodys = refusals[(2, "A 统一社会信用代码")], refusals[(3, "A 统一社会信用代码")]
        assert for_theirs.replace(theirs.credit_code, "…") == for_nobodys.replace(nobodys, "…")
        assert "您的辖区内没有" in for_theirs and not outside_jurisdiction(for_theirs)
    assert not EnterpriseProduct.objects.filter(product=product).exists()


def test_a_spot_check_report_of_another_county_cannot_be_taken_over(county_admin, records, media):
    ours, their_check = records["a"][Enterprise], records["b"][SpotCheckResult]
    report = preview(
        county_admin,
        SpotCheckResult,
        "spot_checks",
        csv_file(
            ["统一社会信用代码", "产品代码", "抽样日期", "检验结论", "报告编号"],
            [[ours.credit_code, their_check.product.code, "2026-01-05", "合格", their_check.lab_report_number]],
        ),
    )
    assert [(p.row, p.column) for p in report.problems] == [(2, "E 报告编号")]
    their_check.refresh_from_db()
    assert their_check.enterprise == records["b"][Enterprise]


# --- Staff, roles and jurisdictions (the admin's side is in test_access_matrix.py, STAFF_ADMIN) ----------------


def test_who_may_give_a_role_where(region_tree, administrator, supervisor, outsider, django_user_model, english):
    newcomer = django_user_model.objects.create_user("newcomer")
    root = django_user_model.objects.create_superuser("root", password="x" * 16)
    city_admin = StaffProfileFactory(role=Role.ADMINISTRATOR, jurisdiction=region_tree.city).user

    def allowed(granter, where, user=newcomer) -> bool:
        return staff_grant_problem(granter, user=user, jurisdiction=where) is None

    assert allowed(administrator, region_tree.county_a) and allowed(administrator, region_tree.town_a2)
    assert not allowed(administrator, region_tree.county_b) and not allowed(administrator, region_tree.town_b1)
    assert not allowed(administrator, region_tree.city)
    assert allowed(outsider, region_tree.town_b1) and not allowed(outsider, region_tree.town_a1)
    assert all(allowed(city_admin, where) for where in (region_tree.city, region_tree.county_a, region_tree.town_b2))
    assert not allowed(supervisor, region_tree.town_a1), "supervisors manage no one"
    assert not allowed(administrator, region_tree.county_a, user=root) and allowed(root, region_tree.city, user=root)
    assert staff_grant_problem(administrator, user=newcomer, jurisdiction=region_tree.city) == (
        f"You can give a jurisdiction within yours only ({region_tree.county_a.name} and the divisions inside it)."
    )


def test_a_county_administrator_chooses_users_from_a_list_without_superusers_or_other_counties(
    county_admin, records, region_tree, django_user_model
):
    django_user_model.objects.create_superuser("root", password="x" * 16)
    newcomer = django_user_model.objects.create_user("newcomer")
    form = county_admin.get(url(StaffProfile, "add")).context["adminform"].form
    assert type(form.fields["user"].widget.widget).__name__ == "Select", "Django's user search is for superusers only"
    offered = set(form.fields["user"].queryset.values_list("username", flat=True))
    assert newcomer.username in offered and {"officer_a1", "officer_a2"} <= offered
    assert not {"root", "officer_b1", "officer_b2", "outsider"} & offered
    assert set(form.fields["jurisdiction"].queryset) == {region_tree.county_a, region_tree.town_a1, region_tree.town_a2}


# --- A province: the city's administrators are scoped to their city, the province's reach everything --------


def put_in_a_province(region_tree):
    province = Region.objects.create(code="340000", name="测试省", level="province")
    region_tree.city.parent = province
    region_tree.city.save()
    other_city = Region.objects.create(code="349800", name="丙市", level="city", parent=province)
    other_county = Region.objects.create(code="349801", name="丙区", level="county", parent=other_city)
    town = Region.objects.create(code="349801001", name="丙一街道", level="town", parent=other_county)
    return province, town


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label)
def test_in_a_province_a_city_administrator_lists_their_city_only_and_the_province_everything(client, region_tree, model):
    from .conftest import case_make, county_inspectors

    province, town_c = put_in_a_province(region_tree)
    cases = {"a": case_make(region_tree.town_a1, county_inspectors(region_tree.county_a, "officer_a"))}
    cases["c"] = case_make(town_c, county_inspectors(town_c.parent, "officer_c"))
    records = {key: records_of(case) for key, case in cases.items()}
    for where, sees_c in ((region_tree.city, False), (province, True)):
        user = StaffProfileFactory(user=UserFactory(username=f"admin_{where.code}"), role=Role.ADMINISTRATOR, jurisdiction=where).user
        client.force_login(with_admin_rights(user))
        shown = listed(client, model)
        assert records["a"][model].pk in shown, (model, where)
        assert (records["c"][model].pk in shown) == sees_c, (model, where)


def test_in_a_province_only_the_provinces_administrators_change_the_shared_records(client, region_tree, records):
    province, _town = put_in_a_province(region_tree)
    for where, may in ((region_tree.city, False), (province, True)):
        user = StaffProfileFactory(user=UserFactory(username=f"admin_{where.code}"), role=Role.ADMINISTRATOR, jurisdiction=where).user
        client.force_login(with_admin_rights(user))
        request = client.get(url(Enterprise, "changelist")).wsgi_request
        for model in CITY_WIDE:
            model_admin = our_admins()[model]
            assert (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)) == may, (model, where)
