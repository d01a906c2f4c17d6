"""The policy simulator: a draft compared with the rules in force, without writing; adopting writes new audited versions."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import translation

from enterprises.models import Category, Enterprise, EnterpriseProduct, RiskClass, SupervisionPolicy
from inspections.evaluation.simulator import draft_of, policy_simulate
from products.models import Grade
from regions.models import Colour, ColourThresholds, RegionSnapshot, Role

from .clock import TEST_TODAY
from .factories import (
    EnterpriseFactory,
    EnterpriseProductFactory,
    ProductFactory,
    SpotCheckResultFactory,
    StaffProfileFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = TEST_TODAY
PERIOD = dt.date(2026, 11, 1)


def snapshot(region, enterprises: int, risk: int):
    thresholds = ColourThresholds.in_force()
    from regions.services import colour_for

    return RegionSnapshot.objects.create(
        region=region,
        period=PERIOD,
        enterprise_count=enterprises,
        risk_count=risk,
        colour=colour_for(risk, enterprises, thresholds),
        thresholds=thresholds,
    )


def enterprise(town, *, grade: int | None, risk: bool, cost: str = "0", **fields) -> Enterprise:
    """An active enterprise as the pipeline leaves it: highest grade and risk class set, making one product."""
    made = EnterpriseFactory(town=town, max_grade=grade, risk_class=RiskClass.RISK if risk else RiskClass.NON_RISK, **fields)
    EnterpriseProductFactory(enterprise=made, product=ProductFactory(spot_check_cost=Decimal(cost)))
    return made


def simulate(jurisdiction, *, thresholds=None, policy=None):
    current_thresholds, current_policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    return policy_simulate(
        jurisdiction=jurisdiction,
        thresholds_in_force=current_thresholds,
        policy_in_force=current_policy,
        thresholds_draft=draft_of(current_thresholds, thresholds or {}),
        policy_draft=draft_of(current_policy, policy or {}),
        as_of=TODAY,
    )


def test_draft_thresholds_that_turn_a_region_from_orange_to_red_are_listed(region_tree):
    snapshot(region_tree.town_a1, 20, 3)  # 15 %: orange under 10/20, red under a 15 % red cut-off
    snapshot(region_tree.town_a2, 20, 1)  # 5 %: yellow either way
    snapshot(region_tree.county_a, 40, 4)  # 10 %: orange either way
    snapshot(region_tree.town_b1, 20, 3)  # another county: not the supervisor's to see

    simulation = simulate(region_tree.county_a, thresholds={"red_from": Decimal("15")})
    assert [(c.code, c.old, c.new) for c in simulation.changes] == [(region_tree.town_a1.code, Colour.ORANGE, Colour.RED)]
    assert simulation.in_force.regions_by_colour["town"] == {Colour.ORANGE: 1, Colour.YELLOW: 1}
    assert simulation.draft.regions_by_colour["town"] == {Colour.RED: 1, Colour.YELLOW: 1}

    everywhere = simulate(None, thresholds={"red_from": Decimal("15")})
    assert {c.code for c in everywhere.changes} == {region_tree.town_a1.code, region_tree.town_b1.code}


def test_a_stricter_category_table_increases_the_key_supervised_count(region_tree):
    for _ in range(3):
        enterprise(region_tree.town_a1, grade=Grade.MEDIUM, risk=False)  # responsibility → routine in the draft
    enterprise(region_tree.town_a1, grade=Grade.HIGH, risk=True)  # tightened either way
    for _ in range(2):
        enterprise(region_tree.town_a2, grade=None, risk=False)  # no graded product: low, credit
    enterprise(region_tree.town_b1, grade=Grade.MEDIUM, risk=False)  # another county

    simulation = simulate(region_tree.county_a, policy={"medium_non_risk": Category.ROUTINE})
    assert simulation.in_force.key_supervised == 1
    assert simulation.draft.key_supervised == 4
    assert simulation.draft.by_category == {"tightened": 1, "routine": 3, "responsibility": 0, "credit": 2}
    assert simulation.category_changes == [(Category.RESPONSIBILITY, Category.ROUTINE, 3)]


def test_batches_spending_and_expected_findings_of_the_next_plan(region_tree):
    """Ten routine enterprises (high grade, non-risk) in a green town, each checked on a 200-yuan product.

    In force: 30 % × 0.8 (green) = 24 % → 2.4 batches, 2,000 × 24 % = 480 yuan; 2 of their 8 results in the
    last 3 years failed → 25 % → 0.6 non-conforming expected. Draft routine ratio 50 %, green × 1.0 → 5 batches,
    1,000 yuan, 1.25 expected.
    """
    snapshot(region_tree.town_a1, 10, 0)  # green
    made = [enterprise(region_tree.town_a1, grade=Grade.HIGH, risk=False, cost="200") for _ in range(10)]
    for n, target in enumerate(made[:8]):
        SpotCheckResultFactory(enterprise=target, checked_on=dt.date(2025, 3, 1), conforming=n >= 2)
    SpotCheckResultFactory(enterprise=made[9], checked_on=dt.date(2023, 11, 1), conforming=False)  # before the window
    simulation = simulate(region_tree.county_a, policy={"ratio_routine": Decimal("50"), "multiplier_green": Decimal("1.0")})
    current, draft = simulation.in_force, simulation.draft
    assert [(s.category, s.colour, s.enterprises) for s in current.strata] == [(Category.ROUTINE, Colour.GREEN, 10)]
    assert (current.batches, current.spending, current.expected_nonconforming) == (Decimal("2.4"), Decimal("480"), Decimal("0.6"))
    assert (draft.batches, draft.spending, draft.expected_nonconforming) == (Decimal("5"), Decimal("1000"), Decimal("1.25"))
    assert current.yield_per_100 == Decimal("25")


def test_a_draw_share_is_capped_at_all_of_the_stratum(region_tree):
    snapshot(region_tree.town_a1, 10, 5)  # red
    for _ in range(4):
        enterprise(region_tree.town_a1, grade=Grade.HIGH, risk=True)  # tightened: 100 % × 1.5, capped at 100 %
    assert simulate(region_tree.county_a).in_force.batches == Decimal("4")


def test_a_town_too_small_to_colour_takes_its_countys_colour(region_tree):
    snapshot(region_tree.town_a1, 3, 0)  # too few
    snapshot(region_tree.county_a, 30, 9)  # red
    enterprise(region_tree.town_a1, grade=Grade.MEDIUM, risk=False)
    stratum = simulate(region_tree.county_a).in_force.strata[0]
    assert (stratum.colour, stratum.ratio) == (Colour.RED, Decimal("15"))  # responsibility 10 % × 1.5


def row_counts() -> dict[str, int]:
    ours = ("regions", "products", "enterprises", "inspections")
    return {model._meta.label: model.objects.count() for app in ours for model in apps.get_app_config(app).get_models()}


def test_the_simulator_writes_nothing_and_runs_in_a_bounded_number_of_queries(region_tree, django_assert_max_num_queries):
    snapshot(region_tree.town_a1, 20, 3)
    for _ in range(30):
        enterprise(region_tree.town_a1, grade=Grade.MEDIUM, risk=False, cost="100")
    current_thresholds, current_policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    before = row_counts()
    categories = list(Enterprise.objects.order_by("id").values_list("category", "risk_class", "max_grade"))
    with django_assert_max_num_queries(4):  # snapshot period and counts, groups, scores
        policy_simulate(
            jurisdiction=region_tree.county_a,
            thresholds_in_force=current_thresholds,
            policy_in_force=current_policy,
            thresholds_draft=draft_of(current_thresholds, {"red_from": Decimal("12")}),
            policy_draft=draft_of(current_policy, {"medium_non_risk": Category.TIGHTENED}),
            as_of=TODAY,
        )
    assert row_counts() == before
    assert list(Enterprise.objects.order_by("id").values_list("category", "risk_class", "max_grade")) == categories
    assert EnterpriseProduct.objects.count() == 30


# --- The page: simulate, refuse, adopt -----------------------------------------------------------------------


def draft_form(**changes) -> dict:
    """The simulator form filled with the rules in force (the defaults), then ``changes``."""
    thresholds, policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    fields = ("yellow_from", "orange_from", "red_from", "min_enterprises")
    cells = ("high_risk", "high_non_risk", "medium_risk", "medium_non_risk", "low_risk", "low_non_risk")
    numbers = [f"ratio_{c}" for c in Category.values] + [f"multiplier_{c}" for c in ("red", "orange", "yellow", "green")]
    data = {name: str(getattr(thresholds, name)) for name in fields}
    data |= {name: str(getattr(policy, name)) for name in (*numbers, *cells)}
    return data | {name: str(value) for name, value in changes.items()}


@pytest.fixture
def populated(region_tree):
    snapshot(region_tree.town_a1, 20, 3)
    snapshot(region_tree.county_a, 20, 3)
    for _ in range(12):
        enterprise(region_tree.town_a1, grade=Grade.MEDIUM, risk=False, cost="100")
    ColourThresholds.in_force(), SupervisionPolicy.in_force()
    return region_tree


def test_the_simulator_page_shows_both_columns_and_writes_nothing(client, supervisor, populated, django_assert_max_num_queries):
    client.force_login(supervisor)
    before = row_counts()
    with django_assert_max_num_queries(16):
        page = client.get("/simulator/", draft_form(red_from=15, medium_non_risk=Category.ROUTINE))
    assert page.status_code == 200
    simulation = page.context["simulation"]
    assert (simulation.in_force.key_supervised, simulation.draft.key_supervised) == (0, 12)
    assert [c.code for c in simulation.changes] == [populated.county_a.code, populated.town_a1.code]
    assert row_counts() == before


def test_red_below_orange_is_refused_beside_the_field_with_the_rules_message(client, supervisor, populated):
    client.force_login(supervisor)
    page = client.get("/simulator/", draft_form(red_from=8))
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:  # the pages speak Chinese first
        ColourThresholds(yellow_from=Decimal("5.00"), orange_from=Decimal("10.00"), red_from=Decimal("8")).clean()
    assert page.context["form"].errors["red_from"] == refused.value.messages
    assert "simulation" not in page.context
    assert "has-error" in page.content.decode()


@pytest.fixture
def city_supervisor(region_tree):
    return StaffProfileFactory(user=UserFactory(username="city-supervisor"), role=Role.SUPERVISOR, jurisdiction=region_tree.city).user


@pytest.fixture
def city_administrator(region_tree):
    return StaffProfileFactory(user=UserFactory(username="city-admin"), role=Role.ADMINISTRATOR, jurisdiction=region_tree.city).user


def test_adopting_creates_one_new_version_of_each_rule_with_the_reason_and_user(client, city_supervisor, populated, monkeypatch):
    queued = []
    monkeypatch.setattr("jiaxing_qs.tasks.enqueue_pipeline", lambda as_of=None: queued.append(as_of))
    client.force_login(city_supervisor)
    old_thresholds, old_policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    response = client.post("/simulator/", draft_form(red_from=15, ratio_credit=5, reason="2027 年度风险阈值调整"))
    assert response.status_code == 302
    assert ColourThresholds.objects.count() == 2 and SupervisionPolicy.objects.count() == 2
    thresholds, policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    assert (thresholds.red_from, thresholds.orange_from) == (Decimal("15"), old_thresholds.orange_from)
    assert (policy.ratio_credit, policy.risk_window_years, policy.visits_tightened) == (Decimal("5"), 3, old_policy.visits_tightened)
    for version in (thresholds, policy):
        assert (version.created_by, version.reason) == (city_supervisor, "2027 年度风险阈值调整")
        assert version.pk not in (old_thresholds.pk, old_policy.pk)
    assert len(queued) == 1


def test_adopting_only_new_thresholds_leaves_the_policy_version_alone(client, city_administrator, populated, monkeypatch):
    monkeypatch.setattr("jiaxing_qs.tasks.enqueue_pipeline", lambda as_of=None: None)
    client.force_login(city_administrator)
    client.post("/simulator/", draft_form(yellow_from=4, reason="more yellow"))
    assert ColourThresholds.objects.count() == 2 and SupervisionPolicy.objects.count() == 1


def test_adopting_needs_a_reason_and_a_change(client, city_supervisor, populated, monkeypatch):
    queued = []
    monkeypatch.setattr("jiaxing_qs.tasks.enqueue_pipeline", lambda as_of=None: queued.append(as_of))
    client.force_login(city_supervisor)
    page = client.post("/simulator/", draft_form(red_from=15, reason="  "))
    assert page.status_code == 200 and page.context["form"].errors["reason"]
    page = client.post("/simulator/", draft_form(reason="nothing changes"))
    assert page.status_code == 200 and page.context["form"].non_field_errors() == ["草案与现行规则相同，无需采用。"]  # by the button
    assert ColourThresholds.objects.count() == 1 and SupervisionPolicy.objects.count() == 1 and not queued


def test_county_staff_may_simulate_but_only_city_staff_adopt_the_city_wide_rules(client, supervisor, administrator, populated):
    for county_user in (supervisor, administrator):
        client.force_login(county_user)
        page = client.get("/simulator/", draft_form(red_from=15))
        assert page.status_code == 200 and "simulation" in page.context
        assert b'data-testid="adopt-city-only"' in page.content and b'name="reason"' not in page.content
        assert client.post("/simulator/", draft_form(red_from=15, reason="county wants it")).status_code == 403
    assert ColourThresholds.objects.count() == 1


def test_inspectors_can_neither_simulate_nor_adopt(client, inspector, populated):
    client.force_login(inspector)
    assert client.get("/simulator/").status_code == 403
    assert client.post("/simulator/", draft_form(red_from=15, reason="x")).status_code == 403
    assert ColourThresholds.objects.count() == 1
