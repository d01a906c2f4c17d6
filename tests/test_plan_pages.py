"""Supervisors' plan pages: create a draft, preview its draw, approve it (which dispatches), follow it up."""

import datetime as dt

import pytest

from inspections.models import InspectionPlan, InspectionTask, PlanStatus
from jiaxing_qs.tasks import run_pipeline
from regions.models import Role

from .factories import EnterpriseFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def county_with_inspectors(region_tree):
    for number in range(1, 4):
        StaffProfileFactory(user=UserFactory(username=f"officer{number}"), role=Role.INSPECTOR, jurisdiction=region_tree.county_a)
    for _ in range(12):
        EnterpriseFactory(town=region_tree.town_a1)
    run_pipeline(dt.date(2026, 11, 26))
    return region_tree.county_a


def plan_form(county, **changes):
    data = {
        "name": "2027年度产品质量监督抽查",
        "scope": county.pk,
        "period_start": "2027-01-01",
        "period_end": "2027-12-31",
        "batch_budget": 5,
        "control_share": "20",
        "ratio_tightened": "100",
        "ratio_routine": "30",
        "ratio_responsibility": "10",
        "ratio_credit": "50",
        "multiplier_red": "1.5",
        "multiplier_orange": "1.2",
        "multiplier_yellow": "1.0",
        "multiplier_green": "0.8",
    }
    return data | changes


def test_supervisor_creates_previews_and_approves_a_plan(client, supervisor, county_with_inspectors, django_capture_on_commit_callbacks):
    client.force_login(supervisor)
    response = client.post("/plans/new/", plan_form(county_with_inspectors))
    plan = InspectionPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/plans/{plan.pk}/"
    preview = client.get(f"/plans/{plan.pk}/").content.decode()
    assert plan.seed in preview
    assert "officer1" in preview or "officer2" in preview or "officer3" in preview
    assert 'name="confirm"' in preview
    with django_capture_on_commit_callbacks(execute=True):  # the dispatch is queued on commit
        client.post(f"/plans/{plan.pk}/approve/", {"confirm": "dispatch"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED
    assert InspectionTask.objects.filter(plan=plan).count() == 5
    assert client.get(f"/plans/{plan.pk}/").status_code == 200


def test_approval_without_the_confirmation_dispatches_nothing_and_says_why(client, supervisor, county_with_inspectors):
    client.force_login(supervisor)
    client.post("/plans/new/", plan_form(county_with_inspectors))
    plan = InspectionPlan.objects.get()
    page = client.post(f"/plans/{plan.pk}/approve/", follow=True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT and not InspectionTask.objects.exists()
    assert "未派发任何任务" in page.content.decode()


def test_a_plan_ending_before_it_starts_is_refused_beside_the_field(client, supervisor, county_with_inspectors):
    client.force_login(supervisor)
    page = client.post("/plans/new/", plan_form(county_with_inspectors, period_end="2026-12-31"))
    assert page.status_code == 200
    assert "has-error" in page.content.decode()
    assert not InspectionPlan.objects.exists()


def test_a_plan_cannot_cover_another_jurisdiction(client, supervisor, county_with_inspectors, other_county):
    client.force_login(supervisor)
    page = client.post("/plans/new/", plan_form(other_county))
    assert page.status_code == 200 and not InspectionPlan.objects.exists()


def test_plans_of_another_county_are_not_found_and_inspectors_cannot_plan(client, supervisor, outsider, inspector, county_with_inspectors):
    client.force_login(supervisor)
    client.post("/plans/new/", plan_form(county_with_inspectors))
    plan = InspectionPlan.objects.get()
    client.force_login(outsider)
    assert client.get(f"/plans/{plan.pk}/").status_code == 404
    assert client.post(f"/plans/{plan.pk}/approve/").status_code == 404
    client.force_login(inspector)
    assert client.get("/plans/").status_code == 403
