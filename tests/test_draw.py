"""双随机 target draw (published method JQS-DRAW-1): reproducible from the seed, checkable by anyone, stratified by
supervision category × region colour, with a uniform random control arm beside the risk arm.

The expected lists are recomputed here from the published description alone (``hmac``/``hashlib`` and exact
fractions), sharing no code with ``inspections.planning.draw``: that is what makes the draw checkable. The whole module
also runs on PostgreSQL (``DATABASE_URL=postgres://…``), where the same seeds must give the same lists.
"""

import datetime as dt
import hashlib
import hmac
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from django.utils import translation

from enterprises.models import Category, Status
from inspections.models import DrawArm
from inspections.planning.draw import DRAW_METHOD, DRAW_METHOD_DESCRIPTION, allocate, draw_method_description, plan_draw, plan_population
from inspections.planning.services import plan_create
from regions.models import Colour, ColourThresholds, Region, RegionSnapshot

from .factories import EnterpriseFactory, UserFactory, credit_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

SEED = "5eed0000000000000000000000000001"
OTHER_SEED = "5eed0000000000000000000000000002"
PERIOD = dt.date(2026, 1, 1)
CATEGORY_ORDER = ["tightened", "routine", "responsibility", "credit"]
DEFAULT_RATIOS = {"tightened": "100", "routine": "30", "responsibility": "10", "credit": "3"}
DEFAULT_MULTIPLIERS = {"red": "1.5", "orange": "1.2", "yellow": "1.0", "green": "0.8"}


# --- An independent re-run of the published method --------------------------------------------------------


@dataclass(frozen=True)
class Member:
    credit_code: str
    category: str
    colour: str | None


def published_key(seed: str, salt: str, credit: str) -> str:
    return hmac.new(seed.encode("utf-8"), f"{salt}:{credit}".encode(), hashlib.sha256).hexdigest()


def half_up(x: Fraction) -> int:
    return floor(x + Fraction(1, 2))


def rerun_published_draw(seed, members, *, budget, control_share="10", ratios=None, multipliers=None) -> list[tuple]:
    """JQS-DRAW-1 as its description reads: [(credit code, arm, stratum, rank, key)] in published order."""
    ratios = {k: Fraction(v) for k, v in (ratios or DEFAULT_RATIOS).items()}
    multipliers = {k: Fraction(v) for k, v in (multipliers or DEFAULT_MULTIPLIERS).items()}
    n_control = min(len(members), half_up(Fraction(budget) * Fraction(control_share) / 100))
    by_control_key = sorted(members, key=lambda m: published_key(seed, "control", m.credit_code))
    control = by_control_key[:n_control]
    drawn = [(m.credit_code, "control", "control", r, published_key(seed, "control", m.credit_code)) for r, m in enumerate(control, 1)]

    rest = [m for m in members if m not in control]
    strata = sorted({(m.category, m.colour) for m in rest}, key=lambda s: (CATEGORY_ORDER.index(s[0]), s[1] or ""))
    groups = {s: [m for m in rest if (m.category, m.colour) == s] for s in strata}
    wants = [len(groups[s]) * min(Fraction(100), ratios[s[0]] * multipliers.get(s[1], Fraction(1))) / 100 for s in strata]
    total = min(budget - n_control, half_up(sum(wants, Fraction(0))))
    quotas = [0] * len(strata)
    if total > 0 and sum(wants) > 0:
        exact = [w * total / sum(wants) for w in wants]
        quotas = [floor(x) for x in exact]
        leftover = total - sum(quotas)
        for i in sorted(range(len(strata)), key=lambda i: (-(exact[i] - quotas[i]), i))[:leftover]:
            quotas[i] += 1
    for (category, colour), quota in zip(strata, quotas):
        ordered = sorted(groups[(category, colour)], key=lambda m: published_key(seed, "risk", m.credit_code))
        for rank, m in enumerate(ordered[: min(quota, len(ordered))], 1):
            drawn.append((m.credit_code, "risk", f"{category}/{colour or 'none'}", rank, published_key(seed, "risk", m.credit_code)))
    return drawn


def as_published(draw) -> list[tuple]:
    return [(t.credit_code, t.arm, t.stratum, t.rank, t.key) for t in draw.targets]


# --- Building a population ---------------------------------------------------------------------------------


def coloured(region: Region, colour: str) -> None:
    RegionSnapshot.objects.create(region=region, period=PERIOD, colour=colour, thresholds=ColourThresholds.in_force())


def enterprises(town: Region, category: str, n: int, **fields) -> list:
    return [EnterpriseFactory(town=town, category=category, **fields) for _ in range(n)]


def members_of(made: list, colour: str | None) -> list[Member]:
    return [Member(e.credit_code, e.category, colour) for e in made]


def new_plan(scope: Region, *, budget: int, seed: str = SEED, **overrides):
    plan = plan_create(
        name="2026 年度监督抽查",
        scope=scope,
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        batch_budget=budget,
        created_by=UserFactory(username="planner"),
        **overrides,
    )
    plan.seed = seed
    return plan


@pytest.fixture
def mixed_city(region_tree) -> list[Member]:
    """Four coloured towns with enterprises of every category: 185 members, many strata."""
    tree = region_tree
    colours = {tree.town_a1: Colour.RED, tree.town_a2: Colour.ORANGE, tree.town_b1: Colour.YELLOW, tree.town_b2: Colour.GREEN}
    for region, colour in colours.items():
        coloured(region, colour)
    coloured(tree.county_a, Colour.ORANGE)
    coloured(tree.county_b, Colour.YELLOW)
    members = []
    layout = {Category.TIGHTENED: 4, Category.ROUTINE: 12, Category.RESPONSIBILITY: 10, Category.CREDIT: 20}
    for region, colour in colours.items():
        for category, n in layout.items():
            members += members_of(enterprises(region, category, n + (1 if colour == Colour.RED else 0)), colour)
    return members


# --- Reproducible ------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_targets_twice_and_in_any_row_order(region_tree, mixed_city):
    plan = new_plan(region_tree.city, budget=40)
    first = plan_draw(plan)
    again = plan_draw(plan)
    population = plan_population(plan)
    reversed_rows = plan_draw(plan, population=list(reversed(population)))
    shuffled_rows = plan_draw(plan, population=random.Random(7).sample(population, len(population)))

    def listing(draw):
        return [(t.enterprise_id, t.arm, t.stratum, t.rank, t.key) for t in draw.targets]

    assert len(first.targets) == 40
    assert listing(first) == listing(again) == listing(reversed_rows) == listing(shuffled_rows)


def test_a_different_seed_gives_a_different_list(region_tree, mixed_city):
    one = plan_draw(new_plan(region_tree.city, budget=40, seed=SEED))
    other = plan_draw(new_plan(region_tree.city, budget=40, seed=OTHER_SEED))
    assert len(one.targets) == len(other.targets) == 40
    assert [t.enterprise_id for t in one.targets] != [t.enterprise_id for t in other.targets]
    assert {t.enterprise_id for t in one.targets} != {t.enterprise_id for t in other.targets}


# --- Checkable: anyone re-running the published description gets the same list ---------------------------


def test_the_method_is_published_with_the_plan():
    assert DRAW_METHOD == "JQS-DRAW-1"
    for phrase in ('HMAC-SHA256(seed, "control:" + credit code)', 'HMAC-SHA256(seed, "risk:" + credit code)', "largest remainder"):
        assert phrase in " ".join(DRAW_METHOD_DESCRIPTION.split())


def test_the_chinese_method_names_the_same_keys_parameters_and_references_as_the_english():
    """The two texts are one method: every formula, key salt, parameter and reference appears in both."""
    english, chinese = " ".join(DRAW_METHOD_DESCRIPTION.split()), draw_method_description("zh-hans")
    shared = re.compile(
        r'"[a-z]+:"|HMAC-SHA256|JQS-DRAW-[12]|control_share|score_floor_share|Rosén 1997|2²⁵⁶|verify_plan'
        r"|π = λ \+ \(1 − λ\)·μ|Q = \[u/\(1−u\)\] ÷ \[λ/\(1−λ\)\]|μ ∝ λ|n ÷ N|inspections\.sampling|[0-9]+(?:–[0-9]+)?′?\."
    )
    assert sorted(set(shared.findall(english))) == sorted(set(shared.findall(chinese)))
    assert draw_method_description("en") == DRAW_METHOD_DESCRIPTION


def test_the_method_is_shown_in_the_readers_language():
    with translation.override("zh-hans"):
        assert draw_method_description().startswith("计划的抽取对象")
    with translation.override("en"):
        assert draw_method_description() == DRAW_METHOD_DESCRIPTION


@pytest.mark.parametrize(("budget", "control_share"), [(25, "10"), (40, "10"), (200, "10"), (60, "0"), (15, "20")])
def test_draw_equals_an_independent_rerun_of_the_published_method(region_tree, mixed_city, budget, control_share):
    plan = new_plan(region_tree.city, budget=budget, control_share=Decimal(control_share))
    expected = rerun_published_draw(SEED, mixed_city, budget=budget, control_share=control_share)
    assert as_published(plan_draw(plan)) == expected


def test_the_published_example_is_the_same_list_on_every_database(region_tree):
    """Fixed seed, fixed credit codes: a golden list, identical on SQLite and PostgreSQL (and to the re-run)."""
    coloured(region_tree.town_a1, Colour.RED)
    coloured(region_tree.town_b1, Colour.GREEN)
    members = []
    for serial in range(1, 31):
        town = region_tree.town_a1 if serial <= 15 else region_tree.town_b1
        category = Category.TIGHTENED if serial % 5 == 0 else Category.ROUTINE if serial % 3 == 0 else Category.CREDIT
        code = credit_code(serial, prefix="91330400")
        EnterpriseFactory(credit_code=code, town=town, category=category)
        members.append(Member(code, category, Colour.RED if serial <= 15 else Colour.GREEN))
    plan = new_plan(region_tree.city, budget=10, seed="00000000000000000000000000000000")

    drawn = [(t.credit_code[8:17], t.arm, t.stratum, t.rank) for t in plan_draw(plan).targets]

    # 10 % of 10 → 1 control; strata want 2.4 + 3 + 0.96 + 1.8 + 0.192 + 0.315 = 8.667 → 9, shared by largest remainder
    assert drawn == [
        ("000000001", "control", "control", 1),
        ("000000025", "risk", "tightened/green", 1),
        ("000000030", "risk", "tightened/green", 2),
        ("000000020", "risk", "tightened/green", 3),
        ("000000015", "risk", "tightened/red", 1),
        ("000000005", "risk", "tightened/red", 2),
        ("000000010", "risk", "tightened/red", 3),
        ("000000018", "risk", "routine/green", 1),
        ("000000006", "risk", "routine/red", 1),
        ("000000003", "risk", "routine/red", 2),
    ]
    assert [(c[8:17], a, s, r) for c, a, s, r, _k in rerun_published_draw(plan.seed, members, budget=10)] == drawn


# --- Strata ratios ------------------------------------------------------------------------------------------


def test_all_ten_tightened_enterprises_of_a_red_town_are_drawn_when_the_budget_allows(region_tree):
    coloured(region_tree.town_a1, Colour.RED)
    tightened = enterprises(region_tree.town_a1, Category.TIGHTENED, 10)
    plan = new_plan(region_tree.county_a, budget=50, control_share=Decimal("0"))

    draw = plan_draw(plan)

    assert [(s.category, s.colour, s.wanted, s.quota) for s in draw.strata] == [("tightened", "red", Decimal("10"), 10)]
    assert {t.enterprise_id for t in draw.targets} == {e.pk for e in tightened}
    assert {t.arm for t in draw.targets} == {DrawArm.RISK}


@pytest.mark.parametrize(
    ("colour", "drawn"),
    [(Colour.YELLOW, 3), (Colour.GREEN, 2), (Colour.ORANGE, 4), (Colour.RED, 5)],  # 3, 2.4, 3.6, 4.5 (half up)
)
def test_credit_enterprises_are_drawn_at_three_percent_times_the_colour_multiplier(region_tree, colour, drawn):
    coloured(region_tree.town_a1, colour)
    enterprises(region_tree.town_a1, Category.CREDIT, 100)
    plan = new_plan(region_tree.county_a, budget=50, control_share=Decimal("0"))

    draw = plan_draw(plan)

    assert len(draw.targets) == drawn
    assert {t.stratum for t in draw.targets} == {f"credit/{colour}"}


def test_the_ratios_written_on_the_plan_are_the_ones_used(region_tree):
    coloured(region_tree.town_a1, Colour.YELLOW)
    enterprises(region_tree.town_a1, Category.CREDIT, 100)
    plan = new_plan(region_tree.county_a, budget=50, control_share=Decimal("0"), ratio_credit=Decimal("7"))
    assert len(plan_draw(plan).targets) == 7


def test_when_the_strata_want_more_than_the_budget_quotas_are_proportional_and_fill_it_exactly(region_tree, mixed_city):
    plan = new_plan(region_tree.city, budget=23, control_share=Decimal("10"))

    draw = plan_draw(plan)

    assert draw.control_size == 2  # 10 % of 23 = 2.3
    risk_budget = 23 - 2
    wanted = sum(s.wanted for s in draw.strata)
    assert wanted > risk_budget
    assert sum(s.quota for s in draw.strata) == risk_budget
    assert len(draw.targets) == 23
    for stratum in draw.strata:
        exact = Fraction(stratum.wanted) * risk_budget / Fraction(wanted)
        assert floor(exact) <= stratum.quota <= floor(exact) + 1, stratum
        drawn_here = [t for t in draw.targets if t.stratum == f"{stratum.category}/{stratum.colour}"]
        assert len(drawn_here) == stratum.quota


def test_when_the_strata_want_less_than_the_budget_fewer_tasks_are_drawn(region_tree):
    coloured(region_tree.town_a1, Colour.YELLOW)
    enterprises(region_tree.town_a1, Category.TIGHTENED, 5)  # wants 5
    enterprises(region_tree.town_a1, Category.CREDIT, 10)  # wants 0.3
    plan = new_plan(region_tree.county_a, budget=100, control_share=Decimal("0"))

    draw = plan_draw(plan)

    assert [s.quota for s in draw.strata] == [5, 0]
    assert len(draw.targets) == 5


def test_largest_remainder_sums_exactly_and_breaks_ties_by_the_order_strata_are_listed():
    assert allocate([Decimal("4"), Decimal("1"), Decimal("1")], 2) == [2, 0, 0]  # remainders 1/3, 1/3, 1/3
    assert allocate([Decimal("1"), Decimal("1"), Decimal("1")], 2) == [1, 1, 0]
    assert allocate([Decimal("40"), Decimal("30"), Decimal("6")], 18) == [10, 7, 1]  # 9.47, 7.11, 1.42
    assert sum(allocate([Decimal("0.3"), Decimal("12.15"), Decimal("2.4"), Decimal("7")], 11)) == 11
    assert allocate([Decimal("0"), Decimal("0")], 5) == [0, 0]


# --- The random control arm ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("budget", "control_share", "size"), [(40, "10", 4), (25, "10", 3), (23, "10", 2), (30, "0", 0), (10, "50", 5)])
def test_control_arm_is_its_share_of_the_budget_drawn_uniformly_by_control_key(region_tree, mixed_city, budget, control_share, size):
    plan = new_plan(region_tree.city, budget=budget, control_share=Decimal(control_share))

    draw = plan_draw(plan)

    control = [t for t in draw.targets if t.arm == DrawArm.CONTROL]
    smallest_keys = sorted(mixed_city, key=lambda m: published_key(SEED, "control", m.credit_code))[:size]
    assert draw.control_size == len(control) == size
    assert [t.credit_code for t in control] == [m.credit_code for m in smallest_keys]
    assert all(t.stratum == "control" for t in control)


def test_control_arm_is_disjoint_from_the_risk_arm(region_tree, mixed_city):
    draw = plan_draw(new_plan(region_tree.city, budget=200, control_share=Decimal("25")))
    control = {t.enterprise_id for t in draw.targets if t.arm == DrawArm.CONTROL}
    risk = {t.enterprise_id for t in draw.targets if t.arm == DrawArm.RISK}
    assert len(control) == 50
    assert risk and not control & risk
    assert len(draw.targets) == len(control | risk)


# --- Population and colours ----------------------------------------------------------------------------------


def test_a_town_too_few_to_colour_takes_its_county_colour(region_tree):
    coloured(region_tree.town_a1, Colour.TOO_FEW)
    coloured(region_tree.county_a, Colour.RED)
    coloured(region_tree.town_b1, Colour.TOO_FEW)
    coloured(region_tree.county_b, Colour.TOO_FEW)
    enterprises(region_tree.town_a1, Category.ROUTINE, 10)
    enterprises(region_tree.town_b1, Category.ROUTINE, 10)
    plan = new_plan(region_tree.city, budget=50, control_share=Decimal("0"))

    draw = plan_draw(plan)

    # routine 30 %: × 1.5 in the red county's town (4.5 → 5), × 1 when nothing above is coloured either (3)
    assert [(s.colour, s.wanted, s.quota) for s in draw.strata] == [(None, Decimal("3"), 3), ("red", Decimal("4.5"), 5)]


def test_population_is_the_active_categorised_enterprises_of_the_scope(region_tree):
    inside = enterprises(region_tree.town_a1, Category.TIGHTENED, 3)
    enterprises(region_tree.town_a1, Category.TIGHTENED, 1, status=Status.CLOSED)
    enterprises(region_tree.town_b1, Category.TIGHTENED, 2)  # the other county
    EnterpriseFactory(town=region_tree.town_a2, category=None)  # not yet classified
    plan = new_plan(region_tree.county_a, budget=50)
    assert {c.enterprise_id for c in plan_population(plan)} == {e.pk for e in inside}


def test_each_target_records_why_it_was_drawn_naming_its_stratum_and_rank(region_tree, settings):
    settings.LANGUAGE_CODE = "en"  # reasons are written in the site language; read them in English here
    coloured(region_tree.town_a1, Colour.RED)
    enterprises(region_tree.town_a1, Category.TIGHTENED, 10)
    draw = plan_draw(new_plan(region_tree.county_a, budget=10, control_share=Decimal("10")))

    control, *risk = draw.targets
    assert control.reason == "random control arm: rank 1 of 10 by control key"
    assert [t.reason for t in risk] == [f"tightened supervision·red: rank {rank} of 9, 9 drawn" for rank in range(1, 10)]
    assert [t.rank for t in risk] == list(range(1, 10))


def test_why_drawn_is_shown_in_the_readers_language():
    """A task keeps its reason's key and parameters: the stored text is the site language's, the shown one the reader's."""
    from inspections.models import task_reason, task_reason_text

    reason = task_reason("stratum_pps", stratum="routine/green", rank=2, n=118, p=12.34, quota=8)
    with translation.override("en"):
        assert task_reason_text(reason) == (
            "routine supervision·green: rank 2 of 118 by risk-weighted key (inclusion probability 12.3%), 8 drawn"
        )
    with translation.override("zh-hans"):
        assert task_reason_text(reason) == "常态监管·绿色：按风险加权排序值排第 2 位（共 118 家，入样概率 12.3%），抽取 8 家"
