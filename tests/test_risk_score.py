"""风险评分 and JQS-DRAW-2: a risk score fitted on the bureau's own history, versioned and adopted like a rule,
explained to the enterprise, and a draw that weights by it inside the strata while everyone keeps a known chance.

The JQS-DRAW-2 list is recomputed here from the published description alone (``hmac``/``hashlib``, plain loops),
sharing no code with ``inspections.planning.draw`` or ``inspections.sampling``.
"""

import datetime as dt
import hashlib
import hmac
import math
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from enterprises.models import Category
from inspections.models import FEATURE_NAMES, DrawArm, RiskModel, RiskModelStatus, RiskScore
from inspections.planning.draw import DRAW_METHOD, DRAW_METHOD_DESCRIPTION, DRAW_METHOD_PPS, plan_draw, plan_population, population_from_csv
from inspections.planning.selectors import plan_verify
from inspections.planning.services import plan_approve, plan_create
from inspections.scoring.selectors import adopted_risk_model
from inspections.scoring.services import enterprises_score, risk_model_adopt, risk_model_fit, risk_model_fit_monthly
from regions.models import Role

from .clock import TEST_TODAY
from .factories import EnterpriseFactory, StaffProfileFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


# --- The fit ----------------------------------------------------------------------------------------------


def test_a_model_is_fitted_on_the_bureaus_history_with_its_quality_on_a_later_held_out_year(history):
    model = risk_model_fit(as_of=TEST_TODAY)
    assert model.status == RiskModelStatus.FITTED and model.method == "JQS-SCORE-1"
    assert set(model.coefficients) == set(FEATURE_NAMES)
    assert model.holdout_to == TEST_TODAY and model.holdout_rows == 160
    assert model.training_rows == 3 * 160, "three yearly windows have a history before them; the first year has none"
    assert model.auc > 0.6, "the bad product and the repeat failures are visible to the model"
    assert model.lift_at_20 > 1.2 and len(model.calibration) == 5
    assert model.coefficients["product_failure_rate"] > 0


def test_too_thin_a_history_is_said_plainly_and_the_draw_keeps_the_category_order(region_tree, city_supervisor):
    EnterpriseFactory(town=region_tree.town_a1, category=Category.ROUTINE)
    model = risk_model_fit(as_of=TEST_TODAY)
    assert model.status == RiskModelStatus.TOO_THIN
    assert "too thin" in model.message
    with pytest.raises(ValidationError):
        risk_model_adopt(model=model, adopted_by=city_supervisor, reason="试试")
    plan = plan_create(
        name="计划", scope=region_tree.county_a, period_start=TEST_TODAY, period_end=TEST_TODAY, batch_budget=5, created_by=city_supervisor
    )
    assert plan.draw_method == DRAW_METHOD and plan.risk_model is None


def test_refitting_replaces_the_candidate_nobody_adopted(history):
    first = risk_model_fit(as_of=TEST_TODAY)
    second = risk_model_fit(as_of=TEST_TODAY)
    assert list(RiskModel.objects.all()) == [second]
    assert first.pk != second.pk


def test_the_pipeline_fits_once_a_month(history):
    assert "fitted" in risk_model_fit_monthly(as_of=TEST_TODAY)["message"]
    assert "already fitted this month" in risk_model_fit_monthly(as_of=TEST_TODAY + dt.timedelta(days=1))["message"]
    assert RiskModel.objects.count() == 1


# --- Adoption: a person with city rights, audited -----------------------------------------------------


def test_only_city_level_staff_adopt_a_model_and_a_reason_is_required(history, supervisor, city_supervisor):
    model = risk_model_fit(as_of=TEST_TODAY)
    with pytest.raises(PermissionDenied):
        risk_model_adopt(model=model, adopted_by=supervisor, reason="县级不能采用")
    with pytest.raises(ValidationError):
        risk_model_adopt(model=model, adopted_by=city_supervisor, reason="  ")
    assert adopted_risk_model() is None


def test_adopting_is_recorded_retires_the_previous_model_and_scores_every_enterprise(history, adopted, city_supervisor):
    assert adopted.status == RiskModelStatus.ADOPTED and adopted.adopted_by == city_supervisor
    record = adopted.history.latest()
    assert (record.history_user, record.history_change_reason) == (city_supervisor, "回测 AUC 达标，试行")
    assert RiskScore.objects.filter(model=adopted).count() == 160

    later = risk_model_fit(as_of=TEST_TODAY)
    risk_model_adopt(model=later, adopted_by=city_supervisor, reason="新一年的数据")
    adopted.refresh_from_db()
    assert adopted.status == RiskModelStatus.RETIRED
    assert adopted_risk_model() == later
    assert set(RiskScore.objects.values_list("model_id", flat=True)) == {later.pk}


def test_the_command_adopts_the_latest_fitted_model(history, city_supervisor, capsys):
    call_command("fit_risk_model", "--as-of", TEST_TODAY.isoformat())
    call_command("adopt_risk_model", "latest", "--by", "city_supervisor", "--reason", "试行")
    assert "adopted risk model" in capsys.readouterr().out
    assert adopted_risk_model() is not None


# --- The score and its explanation ---------------------------------------------------------------------


def test_the_explanation_sums_to_the_score(adopted):
    for score in RiskScore.objects.all()[:20]:
        logit = adopted.intercept + math.fsum(score.contributions.values())
        assert logit == pytest.approx(score.logit, abs=1e-4)
        assert 1 / (1 + math.exp(-logit)) == pytest.approx(score.probability, abs=1e-4)


def test_the_bad_products_makers_score_higher_and_say_why(history, adopted):
    scores = {s.enterprise_id: s for s in RiskScore.objects.all()}
    bad = [scores[e.pk].probability for e in history["enterprises"] if e.products.get() == history["bad"]]
    good = [scores[e.pk].probability for e in history["enterprises"] if e.products.get() == history["good"]]
    assert sum(bad) / len(bad) > 2 * sum(good) / len(good)
    maker = next(e for e in history["enterprises"] if e.products.get() == history["bad"])
    factors = scores[maker.pk].factors()
    assert {f["name"] for f in factors} == set(FEATURE_NAMES)
    raising = {f["name"]: f for f in factors if f["contribution"] > 0}
    assert "product_failure_rate" in raising and str(raising["product_failure_rate"]["label"])


def test_without_an_adopted_model_no_enterprise_is_scored(history):
    assert enterprises_score(as_of=TEST_TODAY)["scored"] == 0
    assert not RiskScore.objects.exists()


# --- JQS-DRAW-2, recomputed from its published description ----------------------------------------------


def published_key(seed: str, salt: str, credit: str) -> str:
    return hmac.new(seed.encode(), f"{salt}:{credit}".encode(), hashlib.sha256).hexdigest()


def published_lambdas(sizes: list[float], n: int, floor: float) -> list[float]:
    """Steps A and B of the published inclusion probabilities, written out again."""
    count = len(sizes)
    if n >= count:
        return [1.0] * count
    capped: list[int] = []
    while True:
        c = (n - len(capped)) / math.fsum(s for i, s in enumerate(sizes) if i not in capped)
        new = [i for i, s in enumerate(sizes) if i not in capped and c * s >= 1]
        if not new:
            break
        capped += new
    f = min(floor, (n - len(capped)) / (count - len(capped)))
    floored: list[int] = []
    while True:
        rest = [i for i in range(count) if i not in capped and i not in floored]
        c = (n - len(capped) - f * len(floored)) / math.fsum(sizes[i] for i in rest)
        new = [i for i in rest if c * sizes[i] <= f]
        if not new:
            break
        floored += new
    return [1.0 if i in capped else f if i in floored else c * sizes[i] for i in range(count)]


def pareto_q(seed: str, credit: str, chance: float) -> float:
    u = (int(published_key(seed, "risk", credit), 16) + 0.5) / 2**256
    return 0.0 if chance >= 1 else (u / (1 - u)) / (chance / (1 - chance))


@pytest.fixture
def scored_plan(region_tree, history, adopted, city_supervisor, orange_town):
    plan = plan_create(
        name="2027 年度监督抽查",
        scope=region_tree.city,
        period_start=TEST_TODAY,
        period_end=TEST_TODAY + dt.timedelta(days=300),
        batch_budget=40,
        created_by=city_supervisor,
    )
    return plan


def test_a_plan_made_while_a_model_is_adopted_draws_by_jqs_draw_2(scored_plan, adopted):
    assert scored_plan.draw_method == DRAW_METHOD_PPS and scored_plan.risk_model == adopted
    assert scored_plan.score_floor_share == Decimal("20")
    for phrase in ("Pareto", 'HMAC-SHA256(seed, "risk:" + credit code)', "score_floor_share", "π = λ + (1 − λ)·μ"):
        assert phrase in " ".join(DRAW_METHOD_DESCRIPTION.split())


def test_draw_2_equals_an_independent_rerun_of_the_published_method(scored_plan):
    population = plan_population(scored_plan)
    draw = plan_draw(scored_plan, population)
    control = [t for t in draw.targets if t.arm == DrawArm.CONTROL]
    assert len(control) == 4
    rest = [c for c in population if c.credit_code not in {t.credit_code for t in control}]
    # One stratum here (routine in an orange town): 30 % × 1.2 of 156 wants 56.16, more than the 36 left.
    quota = 36
    floor = 0.2 * quota / len(rest)
    chances = published_lambdas([c.score for c in rest], quota, floor)
    ranked = sorted(
        zip(rest, chances, strict=True), key=lambda pair: (pareto_q(scored_plan.seed, pair[0].credit_code, pair[1]), pair[0].credit_code)
    )
    expected = [c.credit_code for c, _chance in ranked[:quota]]
    assert [t.credit_code for t in draw.targets if t.arm == DrawArm.RISK] == expected
    assert min(chances) >= floor - 1e-12
    recorded = {c.credit_code: chance for c, chance in zip(rest, chances, strict=True)}
    for target in draw.targets:
        if target.arm == DrawArm.RISK:
            assert target.inclusion_probability == pytest.approx(recorded[target.credit_code], abs=1e-12)
        else:
            assert target.inclusion_probability == pytest.approx(4 / 160)


def test_higher_scores_are_drawn_more_often_and_no_one_is_immune(scored_plan):
    population = plan_population(scored_plan)
    draw = plan_draw(scored_plan, population)
    drawn = {t.credit_code for t in draw.targets if t.arm == DrawArm.RISK}
    drawn_scores = [c.score for c in population if c.credit_code in drawn]
    others = [c.score for c in population if c.credit_code not in drawn]
    assert sum(drawn_scores) / len(drawn_scores) > sum(others) / len(others)
    assert min(draw.probabilities.values()) > 0


def test_unspent_budget_goes_to_the_undrawn_with_the_highest_inclusion_probabilities(scored_plan, settings):
    settings.LANGUAGE_CODE = "en"  # the reasons are published in the site's language
    scored_plan.ratio_routine = Decimal("5")  # the stratum wants 156 × 5 % × 1.2 = 9.36 of the 36
    draw = plan_draw(scored_plan)
    fill = [t for t in draw.targets if t.reason.startswith("budget the strata left")]
    assert len(draw.targets) == 40 and len(fill) == 40 - 4 - 9
    for target in draw.targets:
        assert 0 < target.inclusion_probability <= 1


def test_a_dispatched_draw_2_plan_publishes_every_inclusion_probability_and_verifies(
    scored_plan, city_supervisor, django_capture_on_commit_callbacks, inspector
):
    from inspections.planning.selectors import plan_population_csv

    StaffProfileFactory(user=UserFactory(username="second_inspector"), role=Role.INSPECTOR, jurisdiction=scored_plan.scope)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=scored_plan, approved_by=city_supervisor)
    data = plan_population_csv(scored_plan)
    header, *rows = data.decode().splitlines()
    assert header == "credit_code,category,colour,score,inclusion_probability"
    assert len(rows) == 160 and all(float(row.split(",")[4]) > 0 for row in rows)
    assert all(task.inclusion_probability for task in scored_plan.tasks.all())
    assert plan_verify(scored_plan) == []
    # The scores change every night; the recorded population keeps the draw checkable.
    RiskScore.objects.update(probability=0.5)
    assert plan_verify(scored_plan) == []
    tampered = data.replace(rows[0].encode(), rows[0].rsplit(",", 1)[0].encode() + b",0.999999999")
    assert plan_verify(scored_plan, tampered) == ["the published inclusion probabilities are not the ones the draw gives"]
    assert len(population_from_csv(data)) == 160
