"""The risk score where people and programs meet it: the supervisor's page and its back-test, the enterprise page,
the API (scores on enterprises, the model versions, adoption) and the dashboard's population estimate."""

import datetime as dt

import pytest
from django.core.management import call_command

from inspections.evaluation.selectors import population_estimates
from inspections.models import RiskModel, RiskModelStatus, RiskScore
from inspections.planning.services import plan_approve, plan_create
from inspections.scoring.backtest import backtest
from inspections.scoring.services import risk_model_fit
from regions.models import Role
from regions.periods import Period

from .clock import TEST_TODAY
from .factories import StaffProfileFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "client_en")]  # the pages read in English


# --- The back-test -------------------------------------------------------------------------------------------


def test_the_back_test_ranks_next_years_checks_and_the_score_finds_more_than_the_categories(history):
    report = backtest(as_of=TEST_TODAY - dt.timedelta(days=365))
    assert report.checked == 160 and report.nonconforming > 0
    assert [r.key for r in report.rankings] == ["random", "categories", "categories_score", "score"]
    assert report.ranking("random").top_half.value == pytest.approx(0.5)
    assert report.ranking("categories").top_half.value == pytest.approx(0.5), "one category: categories alone are chance"
    with_score = report.ranking("categories_score")
    assert with_score.top_half.value > 0.6 and with_score.lift_at_20 > 1.2
    assert with_score.top_half.low < with_score.top_half.value < with_score.top_half.high


def test_the_back_test_writes_nothing(history):
    before = {model: model.objects.count() for model in (RiskModel, RiskScore)}
    from enterprises.models import Enterprise, StateChange

    categories = dict(Enterprise.objects.values_list("id", "category"))
    changes = StateChange.objects.count()
    backtest(as_of=TEST_TODAY - dt.timedelta(days=365))
    assert {model: model.objects.count() for model in (RiskModel, RiskScore)} == before
    assert dict(Enterprise.objects.values_list("id", "category")) == categories
    assert StateChange.objects.count() == changes


def test_the_back_test_command_prints_the_three_rankings(history, capsys):
    call_command("backtest", "--as-of", (TEST_TODAY - dt.timedelta(days=365)).isoformat())
    out = capsys.readouterr().out
    for label in ("random", "categories alone", "categories + risk score"):
        assert label in out


def test_a_thin_history_is_said_in_the_back_test(region_tree):
    report = backtest(as_of=TEST_TODAY)
    assert report.checked == 0 and report.model_note


# --- The supervisor's page ----------------------------------------------------------------------------------


def test_the_page_shows_the_candidate_and_city_staff_adopt_it(client, history, city_supervisor):
    model = risk_model_fit(as_of=TEST_TODAY)
    client.force_login(city_supervisor)
    page = client.get("/risk-models/").content.decode()
    assert f"Adopt model v{model.pk}" in page and "AUC" in page
    response = client.post("/risk-models/adopt/", {"model": model.pk, "reason": "回测通过"})
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.status == RiskModelStatus.ADOPTED and model.adoption_reason == "回测通过"
    assert "Model in force" in client.get("/risk-models/").content.decode()


def test_county_staff_see_the_models_but_cannot_adopt(client, history, supervisor):
    model = risk_model_fit(as_of=TEST_TODAY)
    client.force_login(supervisor)
    page = client.get("/risk-models/").content.decode()
    assert "staff of the whole city adopt it" in page and "Adopt model" not in page
    assert client.post("/risk-models/adopt/", {"model": model.pk, "reason": "试试"}).status_code == 403
    model.refresh_from_db()
    assert model.status == RiskModelStatus.FITTED


def test_inspectors_are_refused_the_page(client, inspector):
    client.force_login(inspector)
    assert client.get("/risk-models/").status_code == 403


def test_the_page_runs_the_back_test_and_refuses_a_future_date(client, history, city_supervisor):
    client.force_login(city_supervisor)
    day = (TEST_TODAY - dt.timedelta(days=365)).isoformat()
    page = client.get("/risk-models/", {"as_of": day, "budget_share": "15"}).content.decode()
    assert 'data-testid="backtest-table"' in page and "categories + risk score" in page
    future = client.get("/risk-models/", {"as_of": (TEST_TODAY + dt.timedelta(days=1)).isoformat(), "budget_share": "15"})
    assert "past date" in future.content.decode()


def test_the_enterprise_page_shows_the_score_and_the_factors_behind_it(client, history, adopted, city_supervisor):
    enterprise = history["enterprises"][0]
    client.force_login(city_supervisor)
    page = client.get(f"/enterprises/{enterprise.pk}/").content.decode()
    assert 'data-testid="risk-score"' in page
    assert "failure rate of the product it is checked for" in page


def test_an_unscored_enterprise_page_says_why(client, history, city_supervisor):
    client.force_login(city_supervisor)
    page = client.get(f"/enterprises/{history['enterprises'][0].pk}/").content.decode()
    assert "no risk score model is adopted yet" in page


# --- The API ------------------------------------------------------------------------------------------------


def test_the_api_carries_each_enterprises_score_and_model_version_and_sorts_by_it(client, history, adopted, city_supervisor):
    client.force_login(city_supervisor)
    rows = client.get("/api/enterprises/", {"ordering": "-risk_score__probability", "page_size": 500}).json()["results"]
    assert len(rows) == 160 and {row["risk_model"] for row in rows} == {adopted.pk}
    scores = [row["risk_score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    detail = client.get(f"/api/enterprises/{rows[0]['id']}/").json()
    assert {factor["name"] for factor in detail["risk_factors"]} >= {"product_failure_rate", "nonconforming_1y"}


def test_the_enterprise_list_takes_as_many_queries_with_scores(client, history, adopted, city_supervisor, django_assert_max_num_queries):
    client.force_login(city_supervisor)
    with django_assert_max_num_queries(6):
        client.get("/api/enterprises/", {"page_size": 500})


def test_the_api_lists_the_model_versions_and_adopts_one_with_a_reason(client, history, city_supervisor, supervisor):
    model = risk_model_fit(as_of=TEST_TODAY)
    client.force_login(supervisor)
    assert client.get("/api/risk-models/").json()["results"][0]["id"] == model.pk
    refused = client.post(f"/api/risk-models/{model.pk}/adopt/", {"reason": "县级"}, content_type="application/json")
    assert refused.status_code == 403 and "error" in refused.json()
    client.force_login(city_supervisor)
    missing = client.post(f"/api/risk-models/{model.pk}/adopt/", {}, content_type="application/json")
    assert missing.status_code == 400
    done = client.post(f"/api/risk-models/{model.pk}/adopt/", {"reason": "接口采用"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "adopted" and done.json()["adopted_by"] == "city_supervisor"
    again = client.post(f"/api/risk-models/{model.pk}/adopt/", {"reason": "再来"}, content_type="application/json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"  # its state, not the request, is wrong


# --- The dashboard's honest population figure -------------------------------------------------------------


def test_the_dashboard_estimates_the_population_rate_from_a_draw_2_plan(
    region_tree, history, adopted, city_supervisor, orange_town, django_capture_on_commit_callbacks
):
    for n in (1, 2):
        StaffProfileFactory(user=UserFactory(username=f"officer{n}"), role=Role.INSPECTOR, jurisdiction=region_tree.county_a)
    plan = plan_create(
        name="计划", scope=region_tree.city, period_start=TEST_TODAY, period_end=TEST_TODAY, batch_budget=40, created_by=city_supervisor
    )
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, approved_by=city_supervisor)
    _submit_all(plan)
    rows = population_estimates(jurisdiction=None, period=Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31)))
    overall = next(row for row in rows if row.category == "all")
    assert overall.population == 160 and overall.estimate.sample == 40
    assert overall.estimate.low <= overall.estimate.value <= overall.estimate.high
    assert overall.control.sample == 4


def _submit_all(plan):
    """Every task's result, non-conforming for the enterprises making the bad product (as a phone would send)."""
    import uuid

    from inspections.models import CheckResult, Conclusion, TaskStatus

    for task in plan.tasks.select_related("product").prefetch_related("assignments"):
        officers = [a.officer for a in task.assignments.all()]
        failing = "劣质" in task.product.name
        CheckResult.objects.create(
            task=task,
            submission_key=uuid.uuid4(),
            number=f"JC-{task.pk:06d}",
            conclusion=Conclusion.NONCONFORMING if failing else Conclusion.CONFORMING,
            submitted_by=officers[0],
            co_inspector=officers[1],
            checked_on=TEST_TODAY,
        )
        task.status = TaskStatus.SUBMITTED
        task.save(update_fields=["status"])


# --- The simulator --------------------------------------------------------------------------------------------


def test_the_simulator_expects_what_the_score_weighted_draw_would_find(history, adopted, orange_town):
    from enterprises.models import SupervisionPolicy
    from inspections.evaluation.simulator import policy_simulate
    from inspections.sampling import inclusion_probabilities
    from regions.models import ColourThresholds

    thresholds, policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    simulation = policy_simulate(
        jurisdiction=None, thresholds_in_force=thresholds, policy_in_force=policy, thresholds_draft=thresholds, policy_draft=policy
    )
    (stratum,) = simulation.in_force.strata  # the 160 enterprises: one category (their grade × class), one colour
    whole, part = int(stratum.batches), float(stratum.batches) % 1
    scores = list(RiskScore.objects.values_list("probability", flat=True))
    chances = inclusion_probabilities(scores, whole, 0.2 * whole / 160)
    expected = sum(c * s for c, s in zip(chances, scores, strict=True)) + part * sum(scores) / 160
    assert float(stratum.expected_nonconforming) == pytest.approx(expected, rel=1e-5)
    assert float(stratum.expected_nonconforming) > float(stratum.batches) * sum(scores) / 160, "weighting finds more than uniform"
