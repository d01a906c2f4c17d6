"""Every change to a grade, class, result or order is audited (STYLE 7): who, when, old → new, why.

Records edited one by one keep a django-simple-history trail (user from the request, reason from the admin form or
the override); the set-based rules write their own audit rows (GradeChange, StateChange) in the same transaction
as their UPDATEs, once per change, nothing on a run that changes nothing.
"""

import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.utils import translation

from enterprises.models import Category, Enterprise, RiskClass, RiskEventKind, StateChange, StateField
from enterprises.services import enterprises_categorise, enterprises_classify
from inspections.models import (
    CheckResult,
    DrawArm,
    InspectionTask,
    ItemOutcome,
    OrderStatus,
    RectificationOrder,
    TaskAssignment,
    TaskKind,
)
from jiaxing_qs.tasks import run_pipeline
from products.models import ChecklistItem, Grade, GradeChange, HarmSeverity, Product
from products.services import product_override_grade, products_grade
from regions.models import Role

from .clock import SHANGHAI, TEST_TODAY
from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, RiskEventFactory, StaffProfileFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = TEST_TODAY
AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(autouse=True)
def frozen_day(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def auditor(db):
    return UserFactory(username="auditor", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, auditor):
    client.force_login(auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def change_form_data(client, url: str) -> dict:
    """What the admin change page posts back when nothing is edited: the form's and every inline's current values."""
    response = client.get(url)
    assert response.status_code == 200
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else ("" if value is None else value)
    return data


def post_change(client, url: str, **changes) -> None:
    response = client.post(url, change_form_data(client, url) | changes)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response


def product_url(product) -> str:
    return f"/admin/products/product/{product.pk}/change/"


def enterprise_url(enterprise) -> str:
    return f"/admin/enterprises/enterprise/{enterprise.pk}/change/"


# --- Records edited in the admin: simple-history, with the user and the reason -----------------------------


def test_changing_harm_severity_in_the_admin_keeps_who_old_new_and_the_reason(admin_client, auditor):
    product = ProductFactory(harm_severity=HarmSeverity.MODERATE)
    post_change(admin_client, product_url(product), harm_severity=HarmSeverity.SEVERE, change_reason="GB 4706.1-2024 applies")
    record = product.history.latest()
    assert (record.history_type, record.history_user, record.history_change_reason) == ("~", auditor, "GB 4706.1-2024 applies")
    changes = {change.field: (change.old, change.new) for change in record.diff_against(record.prev_record).changes}
    assert changes == {"harm_severity": (HarmSeverity.MODERATE, HarmSeverity.SEVERE)}
    page = admin_client.get(f"/admin/products/product/{product.pk}/history/").content.decode()
    assert "auditor" in page and "GB 4706.1-2024 applies" in page
    assert "moderate (injury or property damage)" in page and "severe (fire, electric shock" in page  # labels, not codes


def test_a_grade_override_in_the_admin_is_kept_with_its_reason_as_the_reason_for_the_change(admin_client, auditor):
    product = ProductFactory()  # low by the rule
    products_grade()
    post_change(admin_client, product_url(product), override_grade=Grade.HIGH, override_reason="召回频发，局务会决定")
    record = product.history.latest()
    assert (record.history_user, record.history_change_reason, record.override_grade) == (auditor, "召回频发，局务会决定", Grade.HIGH)
    change = product.grade_changes.first()
    assert (change.old_grade, change.new_grade, change.computed) == (Grade.LOW, Grade.HIGH, False)
    assert (change.reason, change.changed_by) == ("召回频发，局务会决定", auditor)


def test_the_override_service_keeps_the_reason_in_both_histories():
    product = ProductFactory()
    products_grade()
    product_override_grade(product=product, grade=Grade.MEDIUM, reason="同类产品事故")
    assert product.history.latest().history_change_reason == "同类产品事故"
    assert product.grade_changes.values_list("old_grade", "new_grade", "computed", "reason").first() == (
        Grade.LOW,
        Grade.MEDIUM,
        False,
        "同类产品事故",
    )


def test_checklist_changes_made_on_the_product_page_carry_the_pages_reason(admin_client, auditor):
    product = ProductFactory()
    item = ChecklistItem.objects.create(product=product, order=1, text="标志标识")
    url = product_url(product)
    data = change_form_data(admin_client, url)
    row = next(key for key, value in data.items() if key.startswith("checklist_items-") and key.endswith("-id") and value == item.pk)
    response = admin_client.post(url, data | {row.replace("-id", "-text"): "标志标识和使用说明", "change_reason": "细则修订"})
    assert response.status_code == 302
    record = item.history.latest()
    assert (record.history_user, record.history_change_reason, record.text) == (auditor, "细则修订", "标志标识和使用说明")
    assert "细则修订" in admin_client.get(url).content.decode()  # the product page lists its checklist's changes


def test_enterprise_and_products_made_edited_on_its_page_carry_the_reason(admin_client, auditor, town):
    enterprise = EnterpriseFactory(town=town, address="旧址")
    made = EnterpriseProductFactory(enterprise=enterprise)
    url = enterprise_url(enterprise)
    data = change_form_data(admin_client, url)
    row = next(key for key, value in data.items() if key.startswith("made-") and key.endswith("-id") and value == made.pk)
    admin_client.post(url, data | {"address": "新址", row.replace("-id", "-licence_number"): "XK06-001", "change_reason": "换证"})
    assert enterprise.history.latest().history_change_reason == "换证"
    assert enterprise.history.latest().history_user == auditor
    assert (made.history.latest().history_change_reason, made.history.latest().licence_number) == ("换证", "XK06-001")


def test_a_risk_event_edited_in_its_admin_keeps_the_reason(admin_client, auditor, town):
    event = RiskEventFactory(enterprise=EnterpriseFactory(town=town), description="")
    post_change(admin_client, f"/admin/enterprises/riskevent/{event.pk}/change/", description="经复核属实", change_reason="复核")
    record = event.history.latest()
    assert (record.history_user, record.history_change_reason, record.description) == (auditor, "复核", "经复核属实")


# --- Derived changes written set-based: GradeChange and StateChange ----------------------------------------


def shown_in(change, language: str) -> str:
    with translation.override(language):
        return change.reason_text


def test_a_reason_in_none_of_the_coded_forms_is_shown_as_stored():
    assert StateChange(reason="局务会决定").reason_text == "局务会决定"
    assert StateChange(reason="penalty × many").reason_text == "penalty × many"


def test_a_pipeline_run_that_turns_an_enterprise_risk_writes_one_class_change_and_a_second_run_nothing(region_tree):
    enterprise = EnterpriseFactory(town=region_tree.town_a1)
    EnterpriseFactory(town=region_tree.town_a1)  # stays non-risk: no class change
    RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.PENALTY, occurred_on=dt.date(2026, 9, 1))
    run_pipeline(AS_OF)
    change = StateChange.objects.get(field=StateField.RISK_CLASS)
    assert (change.enterprise, change.old_value, change.new_value, change.as_of) == (enterprise, RiskClass.NON_RISK, RiskClass.RISK, AS_OF)
    assert change.reason == "penalty × 1"  # stored in codes, shown in the reader's language
    assert shown_in(change, "zh-hans") == "产品质量行政处罚 × 1"
    assert shown_in(change, "en") == "administrative penalty on product quality × 1"
    assert StateChange.objects.filter(field=StateField.CATEGORY, old_value=None).count() == 2  # first categorised
    audit_rows = StateChange.objects.count(), GradeChange.objects.count()
    run_pipeline(AS_OF)
    assert (StateChange.objects.count(), GradeChange.objects.count()) == audit_rows


def test_an_enterprise_losing_its_reasons_turns_non_risk_with_the_empty_window_as_the_reason(town):
    enterprise = EnterpriseFactory(town=town)
    RiskEventFactory(enterprise=enterprise, occurred_on=dt.date(2023, 1, 10))
    enterprises_classify(as_of=dt.date(2025, 1, 1))
    enterprises_classify(as_of=AS_OF)  # the event has left the three-year window
    change = enterprise.state_changes.first()
    assert (change.old_value, change.new_value, change.as_of) == (RiskClass.RISK, RiskClass.NON_RISK, AS_OF)
    assert change.reason == "no_risk_event 2023-10-31 2026-10-31"
    assert shown_in(change, "zh-hans") == "追溯期内无风险事件。 (2023-10-31 – 2026-10-31)"
    assert shown_in(change, "en") == "No risk event within the risk window. (2023-10-31 – 2026-10-31)"


def test_a_category_change_is_written_once_with_grade_times_class(town):
    product = ProductFactory()
    enterprise = EnterpriseProductFactory(enterprise=EnterpriseFactory(town=town), product=product).enterprise
    products_grade()
    enterprises_categorise(as_of=AS_OF)
    Product.objects.filter(pk=product.pk).update(harm_severity=HarmSeverity.SEVERE, vulnerable_users=True, licence_type="ccc")
    grading = products_grade()
    assert grading["changed"] == 1
    grade_change = product.grade_changes.first()
    assert (grade_change.old_grade, grade_change.new_grade, grade_change.computed) == (Grade.LOW, Grade.HIGH, True)
    assert grade_change.reason == f"pipeline {TODAY.isoformat()}" and grade_change.policy_id is not None
    before = StateChange.objects.count()
    enterprises_categorise(as_of=AS_OF)
    change = enterprise.state_changes.filter(field=StateField.CATEGORY).first()
    assert StateChange.objects.count() == before + 1
    assert (change.old_value, change.new_value, change.as_of) == (Category.CREDIT, Category.ROUTINE, AS_OF)
    assert change.reason == "high × non_risk"
    assert (shown_in(change, "zh-hans"), shown_in(change, "en")) == ("高风险 × 非风险企业", "high risk × non-risk enterprise")
    enterprises_categorise(as_of=AS_OF)
    assert StateChange.objects.count() == before + 1


def test_the_feedback_of_one_enterprise_audits_only_that_enterprise(town):
    one, other = EnterpriseFactory(town=town), EnterpriseFactory(town=town)
    for enterprise in (one, other):
        RiskEventFactory(enterprise=enterprise, occurred_on=dt.date(2026, 9, 1))
    enterprises_classify(as_of=AS_OF, enterprise_ids=[one.pk])
    assert list(StateChange.objects.values_list("enterprise_id", flat=True)) == [one.pk]


# --- Results and orders: who submitted, who moved the order on -------------------------------------------


@pytest.fixture
def partner(county):
    return StaffProfileFactory(user=UserFactory(username="partner"), role=Role.INSPECTOR, jurisdiction=county).user


@pytest.fixture
def task(town, inspector, partner):
    product = ProductFactory(name="电暖器")
    ChecklistItem.objects.create(product=product, order=1, text="防触电保护")
    enterprise = EnterpriseProductFactory(enterprise=EnterpriseFactory(town=town), product=product).enterprise
    task = InspectionTask.objects.create(enterprise=enterprise, product=product, arm=DrawArm.RISK, reason="抽取", due_date=TODAY)
    TaskAssignment.objects.bulk_create(
        [TaskAssignment(task=task, officer=officer, position=n) for n, officer in enumerate([inspector, partner], 1)]
    )
    return task


def check_form(task, partner, outcome: str) -> dict:
    item = task.product.checklist_items.get()
    conclusion = "conforming" if outcome == ItemOutcome.CONFORMING else "nonconforming"
    return {
        "submission_key": str(uuid.uuid4()),
        "checked_on": TODAY.isoformat(),
        "co_inspector": partner.pk,
        "conclusion": conclusion,
        "note": "",
        f"item_{item.pk}": outcome,
        f"note_{item.pk}": "" if outcome == ItemOutcome.CONFORMING else "外壳可触及带电部件",
    }


def test_a_check_result_and_the_orders_transitions_are_in_their_history_with_the_user(client, task, inspector, partner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(inspector)
    assert client.post(f"/tasks/{task.pk}/check/", check_form(task, partner, ItemOutcome.NONCONFORMING)).status_code == 302
    result = CheckResult.objects.get(task=task)
    assert [(r.history_type, r.history_user) for r in result.history.all()] == [("+", inspector)]
    order = RectificationOrder.objects.get(result=result)
    assert [(r.history_type, r.status, r.history_user) for r in order.history.all()] == [("+", OrderStatus.RECTIFYING, inspector)]
    reinspection = order.reinspection_tasks.get()
    assert reinspection.kind == TaskKind.REINSPECTION
    assert client.post(f"/tasks/{reinspection.pk}/check/", check_form(reinspection, partner, ItemOutcome.CONFORMING)).status_code == 302
    latest = order.history.latest()
    assert (latest.history_user, latest.status) == (inspector, OrderStatus.CLOSED)
    assert {c.field: (c.old, c.new) for c in latest.diff_against(latest.prev_record).changes}["status"] == (
        OrderStatus.RECTIFYING,
        OrderStatus.CLOSED,
    )


# --- Shown where the record is read ------------------------------------------------------------------------


def test_grade_history_is_shown_on_the_product_page_newest_first_and_at_most_fifty(admin_client):
    product = ProductFactory()
    products_grade()
    GradeChange.objects.bulk_create(
        [
            GradeChange(product=product, changed_at=f"2025-01-{day:02d}T00:00Z", new_grade=Grade.LOW, computed=True, reason=f"r{day}")
            for day in range(1, 29)
        ]
        + [
            GradeChange(product=product, changed_at=f"2025-02-{day:02d}T00:00Z", new_grade=Grade.LOW, computed=True, reason=f"s{day}")
            for day in range(1, 29)
        ]
    )
    response = admin_client.get(product_url(product))
    formset = next(inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.model is GradeChange)
    shown = [form.instance.reason for form in formset.forms]
    assert len(shown) == 50 and shown[0] == f"pipeline {TODAY.isoformat()}" and shown[1] == "s28"


def test_class_and_category_history_is_on_the_enterprise_admin_and_its_page(admin_client, client, supervisor, town):
    enterprise = EnterpriseFactory(town=town)
    RiskEventFactory(enterprise=enterprise, occurred_on=dt.date(2026, 9, 1))
    enterprises_classify(as_of=AS_OF)
    enterprises_categorise(as_of=AS_OF)
    admin_page = admin_client.get(enterprise_url(enterprise)).content.decode()
    assert "class and category history" in admin_page.lower()
    assert "non-risk enterprise" in admin_page and "administrative penalty on product quality × 1" in admin_page
    client.force_login(supervisor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/enterprises/{enterprise.pk}/").content.decode()
    assert 'id="history"' in page and "2026-10-31" in page and "responsibility supervision" in page
    assert "low risk × risk enterprise" in page and "产品质量行政处罚" not in page  # the reasons in English too
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert "低风险 × 风险企业" in client.get(f"/enterprises/{enterprise.pk}/").content.decode()


def test_the_history_of_another_countys_enterprise_is_refused(client, outsider, town):
    """The History view follows the admin's jurisdiction, like the change page."""
    enterprise = EnterpriseFactory(town=town)
    outsider.is_staff = True
    outsider.save()
    outsider.user_permissions.add(Permission.objects.get(codename="view_enterprise"))
    client.force_login(outsider)
    assert client.get(f"/admin/enterprises/enterprise/{enterprise.pk}/history/").status_code == 403


def test_categorising_writes_its_audit_rows_in_a_fixed_number_of_statements(town, django_assert_max_num_queries):
    Enterprise.objects.bulk_create([Enterprise(credit_code=f"X{n:017d}", name=f"e{n}", town=town) for n in range(300)])
    with django_assert_max_num_queries(12):
        enterprises_categorise(as_of=AS_OF)
    assert StateChange.objects.count() == 300
