"""The targeting benchmark's machinery (bench/targeting): orderings on a population with a strong signal,
reproducibility from the seed, and the draw it runs without a database being the published one."""

from dataclasses import replace
from decimal import Decimal

import pytest

from bench.targeting.simulation import (
    Context,
    Params,
    build_population,
    build_world,
    domain_fixed_rules,
    plan_for,
    priority_fill,
    published_draw,
    rule_policies,
    run,
)
from inspections.planning.draw import Candidate, plan_draw

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


def test_rule_settings_are_parsed_validated_and_change_the_run():
    policies = rule_policies(())
    assert policies["grading"].points_failure_high == 2 and policies["supervision"].risk_window_years == 3
    policies = rule_policies(["grading.points_failure_high=3", "supervision.risk_window_years=1", "colours.red_from=30"])
    assert policies["grading"].points_failure_high == 3
    assert policies["supervision"].risk_window_years == 1
    assert policies["thresholds"].red_from == Decimal("30")
    assert policies["supervision"].ratio_routine == Decimal("30")  # untouched fields keep the defaults
    for bad in (
        "grading.nonsense=1",  # no such rule
        "grading.reason=x",  # version bookkeeping, not a rule
        "grading.points_failure_high=",  # no value
        "supervision.high_risk=strictest",  # not a category
        "supervision.risk_window_years=0",  # below the field's minimum
        "grading.high_from_score=3",  # not above medium_from_score (the model's clean)
    ):
        with pytest.raises(ValueError):
            rule_policies([bad])
    assert domain_fixed_rules(["supervision.ratio_credit=5", "supervision.risk_window_years=2", "grading.points_severe=2"]) == [
        "supervision.ratio_credit=5"
    ]
    small = replace(STRONG, enterprises=600, years=2)
    default, changed = run(small, ("risk_default",)), run(replace(small, rules=("grading.points_failure_high=4",)), ("risk_default",))
    assert changed.as_dict()["params"]["rules"] == ("grading.points_failure_high=4",)
    assert figures(changed)["strategies"] != figures(default)["strategies"]


def test_leftover_budget_is_filled_in_category_order_by_risk_key():
    """(b‴): after the published draw, what the strata left goes to tightened, then routine, … by risk key."""
    params = Params(enterprises=400, years=2, history_years=1, seed=3, budget_share=0.5)
    population = build_population(params)
    context = Context(population, build_world(population))
    order = ["tightened", "routine", "responsibility", "credit"]
    categories = [order[0] if i % 10 == 0 else order[1 + i % 3] for i in range(population.size)]
    colours = [None, "green", "yellow", "orange", "red"]
    town_colour = [colours[town % 5] for town in range(len(population.town_codes))]
    candidates = [
        Candidate(i, code, "", categories[i], town_colour[population.town_of[i]]) for i, code in enumerate(population.credit_codes)
    ]
    draw = published_draw(context, plan_for(context, 1), candidates, 1)
    before = {target.enterprise_id for target in draw.targets}
    assert len(before) < params.budget  # the strata want less than the budget
    added = priority_fill(context, draw, categories, town_colour, 1)
    after = [target.enterprise_id for target in draw.targets]
    assert len(after) == len(set(after)) == params.budget
    assert sum(added.values()) == params.budget - len(before)
    # Categories are filled in order: every category before the last one filled is drawn in full.
    filled = [category for category in order if added.get(category)]
    assert filled and filled == order[: len(filled)]
    drawn = set(after)
    for category in order[: order.index(filled[-1])]:
        assert all(i in drawn for i in range(population.size) if categories[i] == category)
    for category in order[order.index(filled[-1]) + 1 :]:
        assert not added.get(category)
    # Within the last category filled, the extras are the undrawn enterprises with the smallest risk keys.
    keys = context.risk_keys(1)
    last = filled[-1]
    undrawn = sorted((keys[i], i) for i in range(population.size) if categories[i] == last and i not in before)
    extras = {target.enterprise_id for target in draw.targets[len(before) :] if categories[target.enterprise_id] == last}
    assert extras == {i for _key, i in undrawn[: added[last]]}
    # Nothing left over: nothing added.
    assert priority_fill(context, draw, categories, town_colour, 1) == {}


def test_priority_fill_spends_the_whole_budget_in_the_run():
    result = run(STRONG, ("risk_default", "risk_priority"))
    assert [year.inspections for year in result.strategies["risk_priority"].years] == [STRONG.budget] * STRONG.years
    assert result.strategies["risk_default"].inspections < result.strategies["risk_priority"].inspections
