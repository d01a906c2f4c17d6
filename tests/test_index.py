"""一指数: 100 × Σ(weight × score) ÷ Σ(weight of the components with data); default weights 0.4 / 0.3 / 0.2 / 0.1."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from regions.models import IndexWeights
from regions.services import IndexInputs, index_for, index_formula, index_scores

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def defaults() -> IndexWeights:
    return IndexWeights.in_force()


# 40 enterprises, 6 risk → non-risk share 0.85; 17 of 20 checks passed → 0.85; 1 of 3 rectifications
# overdue → 2/3 on time; 1 incident = 2.5 per 100 enterprises, 5 per 100 scores zero → 0.5.
EXAMPLE = IndexInputs(
    enterprises=40,
    risk_enterprises=6,
    spot_checks=20,
    spot_checks_passed=17,
    rectifications_due=3,
    rectifications_overdue=1,
    incidents=1,
)


def test_index_of_a_hand_computed_example(defaults):
    # 100 × (0.4×0.85 + 0.3×0.85 + 0.2×2/3 + 0.1×0.5) ÷ 1.0 = 77.83…
    assert index_for(EXAMPLE, defaults) == Decimal("77.8")


def test_each_score_of_the_hand_computed_example(defaults):
    scores = index_scores(EXAMPLE, defaults)
    assert scores == pytest.approx({"non_risk_share": 0.85, "pass_rate": 0.85, "on_time_rectification": 2 / 3, "incident_score": 0.5})


def test_components_without_data_carry_no_weight(defaults):
    inputs = IndexInputs(enterprises=10, risk_enterprises=1)  # no spot checks, no rectifications, no incidents
    scores = index_scores(inputs, defaults)
    assert scores["pass_rate"] is None
    assert scores["on_time_rectification"] is None
    # (0.4×0.9 + 0.1×1) ÷ (0.4 + 0.1) = 0.92, not (0.36 + 0.1) ÷ 1.0 = 0.46.
    assert index_for(inputs, defaults) == Decimal("92.0")


def test_region_without_any_data_has_no_index(defaults):
    assert index_for(IndexInputs(), defaults) is None


def test_incident_score_floors_at_zero(defaults):
    inputs = IndexInputs(enterprises=10, incidents=3)  # 30 per 100, six times the count that scores zero
    assert index_scores(inputs, defaults)["incident_score"] == 0.0
    assert index_for(inputs, defaults) == Decimal("80.0")  # (0.4×1 + 0.1×0) ÷ 0.5


def test_on_time_rectification_rate_floors_at_zero(defaults):
    inputs = IndexInputs(enterprises=10, rectifications_due=1, rectifications_overdue=2)
    assert index_scores(inputs, defaults)["on_time_rectification"] == 0.0


def test_edited_weights_change_the_index(defaults):
    IndexWeights.objects.create(
        risk_share_weight=Decimal("1"), pass_rate_weight=0, rectification_weight=0, incident_weight=0, reason="risk share only"
    )
    assert index_for(EXAMPLE, IndexWeights.in_force()) == Decimal("85.0")


def test_edited_incident_scale_changes_the_index(defaults):
    IndexWeights.objects.create(incidents_per_100_for_zero=Decimal("10"), reason="incidents weigh less")
    # incident score 1 − 2.5/10 = 0.75: 100 × (0.34 + 0.255 + 0.1333 + 0.075) = 80.33
    assert index_for(EXAMPLE, IndexWeights.in_force()) == Decimal("80.3")


def test_formula_shows_the_weights_in_force(defaults):
    assert "0.40×share of non-risk enterprises" in index_formula(defaults)
    assert "÷ 5" in index_formula(defaults)
    IndexWeights.objects.create(risk_share_weight=Decimal("0.55"), incidents_per_100_for_zero=Decimal("8"), reason="review")
    edited = index_formula(IndexWeights.in_force())
    assert "0.55×share of non-risk enterprises" in edited
    assert "÷ 8" in edited


def test_formula_is_in_the_readers_language(defaults):
    assert not re.search(r"[\u3400-\u9fff]", index_formula(defaults))
    with translation.override("zh-hans"):
        chinese = index_formula(defaults)
    assert "0.40×非风险企业占比" in chinese and "÷ 5" in chinese


def test_weights_all_zero_are_refused():
    weights = IndexWeights(risk_share_weight=0, pass_rate_weight=0, rectification_weight=0, incident_weight=0, reason="none")
    with pytest.raises(ValidationError, match="At least one weight must be above zero"):
        weights.full_clean()
