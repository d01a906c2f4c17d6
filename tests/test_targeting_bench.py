"""The targeting benchmark's machinery (bench/targeting): orderings on a population with a strong signal,
reproducibility from the seed, and the draw it runs without a database being the published one."""

from dataclasses import replace
from decimal import Decimal

import pytest

from bench.targeting.simulation import Context, Params, build_population, build_world, plan_for, published_draw, run
from inspections.draw import Candidate, plan_draw

STRATEGIES = ("uniform", "risk_default", "risk_filled", "oracle")
# Small and fast, with a strong signal: wide product and enterprise effects that persist.
STRONG = Params(enterprises=1500, years=3, history_years=2, seed=7, product_sd=1.4, firm_sd=1.4, drift_sd=0.8, persistence=0.9)


def figures(result) -> dict:
    data = result.as_dict()
    data.pop("seconds")
    for summary in data["strategies"].values():
        summary.pop("seconds")
    return data


@pytest.fixture(scope="module")
def strong():
    return run(STRONG, STRATEGIES)


def test_oracle_beats_risk_based_beats_uniform(strong):
    per_100 = {key: figures.found_per_100 for key, figures in strong.strategies.items()}
    expected = {key: figures.expected_per_100 for key, figures in strong.strategies.items()}
    for risk_based in ("risk_default", "risk_filled"):
        assert per_100["oracle"] >= per_100[risk_based] >= per_100["uniform"]
        assert expected["oracle"] >= expected[risk_based] >= expected["uniform"]
    reached = {key: figures.reached for key, figures in strong.strategies.items()}
    assert reached["oracle"] >= reached["risk_filled"] >= reached["uniform"]


def test_budget_spent_in_full_or_less_when_the_strata_want_less(strong):
    for key in ("uniform", "risk_filled", "oracle"):
        assert [year.inspections for year in strong.strategies[key].years] == [STRONG.budget] * STRONG.years
    # The policy's own ratios want fewer batches than this budget here: the draw spends less ("无事不扰").
    assert all(year.inspections < STRONG.budget for year in strong.strategies["risk_default"].years)
    for key in ("risk_default", "risk_filled"):
        control, _found = strong.strategies[key].arm_per_100("control")
        assert control == STRONG.years * 23  # 10 % of 225, rounded half up


def test_same_seed_same_figures_other_seed_other_figures(strong):
    assert figures(run(STRONG, STRATEGIES)) == figures(strong)
    assert figures(run(replace(STRONG, seed=8), STRATEGIES)) != figures(strong)


@pytest.mark.django_db
def test_the_benchmark_draw_is_plan_draw():
    """published_draw() skips only plan_draw's database step (attaching products): same targets, ranks, keys."""
    params = Params(enterprises=400, years=2, history_years=1, seed=3)
    population = build_population(params)
    context = Context(population, build_world(population))
    categories = ["tightened", "routine", "responsibility", "credit"]
    colours = [None, "green", "yellow", "orange", "red"]
    candidates = [Candidate(i, code, "", categories[i % 4], colours[(i // 4) % 5]) for i, code in enumerate(population.credit_codes)]
    for scale in (Decimal("1"), Decimal("2.5")):
        plan = plan_for(context, 1, scale)

        def rows(draw):
            return [(t.enterprise_id, t.arm, t.stratum, t.rank, t.key) for t in draw.targets]

        ours, published = published_draw(context, plan, candidates, 1), plan_draw(plan, candidates)
        assert rows(ours) == rows(published)
        assert [(s.category, s.colour, s.quota) for s in ours.strata] == [(s.category, s.colour, s.quota) for s in published.strata]
