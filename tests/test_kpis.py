"""The bureau's figures on small hand-made data sets whose answers are worked out by hand in each test."""

import datetime as dt
import math
import uuid
from decimal import Decimal

import pytest

from enterprises.models import Category
from inspections.evaluation import selectors as kpis
from inspections.models import (
    CheckResult,
    Conclusion,
    DrawArm,
    InspectionTask,
    OrderStatus,
    RectificationOrder,
    TaskAssignment,
    TaskStatus,
)
from regions.models import Colour, ColourThresholds, RegionSnapshot, Role
from regions.periods import Period, period_parse

from .factories import EnterpriseFactory, ProductFactory, SpotCheckResultFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

A, B = period_parse("2024"), period_parse("2025")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def checked_task(
    enterprise, officers, *, conclusion=Conclusion.CONFORMING, arm=DrawArm.RISK, stratum="", checked_on="2025-05-01", product=None
):
    """A submitted spot-check task of ``enterprise`` checked by ``officers`` on ``checked_on``, with its result."""
    task = InspectionTask.objects.create(
        enterprise=enterprise,
        product=product,
        arm=arm,
        stratum=stratum or ("control" if arm == DrawArm.CONTROL else ""),
        reason="test",
        due_date=day(checked_on),
        status=TaskStatus.SUBMITTED,
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=o, position=i) for i, o in enumerate(officers, start=1)])
    result = CheckResult.objects.create(
        task=task,
        submission_key=uuid.uuid4(),
        number=f"JC-{task.pk:06d}",
        conclusion=conclusion,
        submitted_by=officers[0],
        co_inspector=officers[-1],
        checked_on=day(checked_on),
    )
    return task, result


def officer(name: str, county):
    return StaffProfileFactory(user=UserFactory(username=name), role=Role.INSPECTOR, jurisdiction=county).user


# --- Periods and changes -------------------------------------------------------------------------------------


def test_a_period_is_a_year_a_month_or_a_range_of_them():
    assert period_parse("2025") == Period(day("2025-01-01"), day("2025-12-31"))
    assert period_parse("2025-02") == Period(day("2025-02-01"), day("2025-02-28"))
    assert period_parse("2025-01..2025-06") == Period(day("2025-01-01"), day("2025-06-30"))
    assert period_parse("2024..2025").label == "2024..2025"
    for wrong in ("2025-13", "25", "2025-06..2025-01", "last year"):
        with pytest.raises(ValueError):
            period_parse(wrong)


def test_the_default_periods_are_this_year_so_far_against_the_same_months_a_year_earlier():
    a, b = kpis.default_periods(day("2026-11-26"))
    assert (a.label, b.label) == ("2025-01..2025-11", "2026-01..2026-11")
    a, b = kpis.default_periods(day("2027-01-04"))  # in January the comparison is one month against one month
    assert (a.label, b.label) == ("2026-01", "2027-01")


def test_change_is_b_minus_a_over_a_in_percent_with_two_decimals():
    assert kpis.change_percent(10, 8) == Decimal("-20.00")
    assert kpis.change_percent(85, 71) == Decimal("-16.47")  # the seed's reported −16.47 %
    assert kpis.change_percent(Decimal("3000"), Decimal("2100")) == Decimal("-30.00")
    assert kpis.change_percent(0, 5) is None


# --- The four figures ----------------------------------------------------------------------------------------


@pytest.fixture
def costed_products(db):
    return ProductFactory(spot_check_cost=Decimal("300")), ProductFactory(spot_check_cost=Decimal("150"))


def test_batches_and_spending_count_the_spot_checks_sampled_within_each_period(region_tree, costed_products):
    dear, cheap = costed_products
    ours = EnterpriseFactory(town=region_tree.town_a1)
    theirs = EnterpriseFactory(town=region_tree.town_b1)
    # A (2024): 10 batches of the 300-yuan product, the first on 1 January and the last on 31 December.
    for n in range(10):
        SpotCheckResultFactory(enterprise=ours, product=dear, checked_on=day("2024-01-01") + dt.timedelta(days=n * 40))
    SpotCheckResultFactory(enterprise=ours, product=dear, checked_on=day("2023-12-31"))  # before A
    # B (2025): 8 batches, 6 × 300 + 2 × 150 = 2,100 yuan.
    for n in range(6):
        SpotCheckResultFactory(enterprise=ours, product=dear, checked_on=day("2025-12-31") - dt.timedelta(days=n * 50))
    for _ in range(2):
        SpotCheckResultFactory(enterprise=ours, product=cheap, checked_on=day("2025-03-01"))
    for _ in range(5):  # another county's checks
        SpotCheckResultFactory(enterprise=theirs, product=dear, checked_on=day("2025-06-01"))

    batches, spending = kpis.bureau_figures(jurisdiction=region_tree.county_a, a=A, b=B)[1:3]
    assert (batches.a, batches.b, batches.change) == (10, 8, Decimal("-20.00"))
    assert (spending.a, spending.b, spending.change) == (Decimal("3000"), Decimal("2100"), Decimal("-30.00"))
    assert batches.records[1].params == {"checked_on__gte": "2025-01-01", "checked_on__lte": "2025-12-31"}

    everywhere = kpis.bureau_figures(jurisdiction=None, a=A, b=B)[1]
    assert (everywhere.a, everywhere.b) == (10, 13)


def snapshot(region, period: str, key_supervised: int, enterprises: int = 200):
    return RegionSnapshot.objects.create(
        region=region,
        period=day(period),
        enterprise_count=enterprises,
        risk_count=0,
        key_supervised_count=key_supervised,
        colour=Colour.GREEN,
        thresholds=ColourThresholds.in_force(),
    )


def test_key_supervised_enterprises_come_from_the_snapshot_of_the_periods_last_month(region_tree):
    snapshot(region_tree.county_a, "2024-12-01", 85)
    snapshot(region_tree.county_a, "2024-06-01", 999)  # not the end of A
    snapshot(region_tree.county_a, "2025-12-01", 71)
    snapshot(region_tree.county_b, "2025-12-01", 500)  # another county

    key = kpis.bureau_figures(jurisdiction=region_tree.county_a, a=A, b=B)[0]
    assert (key.a, key.b, key.change) == (85, 71, Decimal("-16.47"))
    assert key.records[0].params == {"region__id__exact": region_tree.county_a.pk, "period": "2024-12-01"}


def test_key_supervised_falls_back_to_the_latest_snapshot_within_the_period_and_else_shows_none(region_tree):
    snapshot(region_tree.county_a, "2025-09-01", 60)
    key = kpis.bureau_figures(jurisdiction=region_tree.county_a, a=A, b=B)[0]
    assert (key.a, key.b, key.change) == (None, 60, None)
    assert "2025-09" in key.notes[1]


def test_coverage_is_the_share_of_earlier_non_conforming_enterprises_checked_during_the_period(region_tree, english):
    e1, e2, e3, e4, e5 = (EnterpriseFactory(town=region_tree.town_a2) for _ in range(5))
    for enterprise in (e1, e2, e3, e4):
        SpotCheckResultFactory(enterprise=enterprise, checked_on=day("2022-06-01"), conforming=False)
    SpotCheckResultFactory(enterprise=e5, checked_on=day("2024-03-01"), conforming=False)  # in A: counts for B only
    for enterprise in (e1, e2):
        SpotCheckResultFactory(enterprise=enterprise, checked_on=day("2024-08-01"))
    for enterprise in (e1, e3, e5):
        SpotCheckResultFactory(enterprise=enterprise, checked_on=day("2025-08-01"))
    outsider = EnterpriseFactory(town=region_tree.town_b1)
    SpotCheckResultFactory(enterprise=outsider, checked_on=day("2022-06-01"), conforming=False)
    SpotCheckResultFactory(enterprise=outsider, checked_on=day("2025-08-01"))
    old = EnterpriseFactory(town=region_tree.town_a1)  # failed before the 3-year window of A and of B
    SpotCheckResultFactory(enterprise=old, checked_on=day("2020-12-31"), conforming=False)

    coverage = kpis.bureau_figures(jurisdiction=region_tree.county_a, a=A, b=B)[3]
    # A: E1–E4 failed in 2021–2023, E1 and E2 checked in 2024 → 2/4 = 50 %. B: E1–E5, E1, E3, E5 checked → 60 %.
    assert (coverage.a, coverage.b, coverage.change, coverage.change_unit) == (Decimal("50.00"), Decimal("60.00"), Decimal("10.00"), "pp")
    assert coverage.notes == ("2 of 4 enterprises", "3 of 5 enterprises")


# --- The closed loop -----------------------------------------------------------------------------------------


def order(enterprise, officers, *, ordered_on: str, closed_on: str | None = None, status=OrderStatus.RECTIFYING, flagged=False):
    product = ProductFactory()
    _task, result = checked_task(enterprise, officers, conclusion=Conclusion.NONCONFORMING, checked_on=ordered_on, product=product)
    ordered = day(ordered_on)
    return RectificationOrder.objects.create(
        number=f"ZG-{result.pk:06d}",
        enterprise=enterprise,
        product=product,
        result=result,
        status=status,
        ordered_on=ordered,
        rectify_by=ordered + dt.timedelta(days=60),
        reinspect_by=ordered + dt.timedelta(days=75),
        objection_by=ordered + dt.timedelta(days=15),
        closed_on=day(closed_on) if closed_on else None,
        overdue_flagged_on=ordered + dt.timedelta(days=76) if flagged else None,
    )


def test_closed_loop_counts_orders_closed_on_time_days_to_close_overdue_and_outcomes(region_tree):
    officers = [officer("o1", region_tree.county_a), officer("o2", region_tree.county_a)]
    ours = EnterpriseFactory(town=region_tree.town_a1)
    order(ours, officers, ordered_on="2025-01-10", closed_on="2025-03-01", status=OrderStatus.CLOSED)  # 50 days, on time
    order(ours, officers, ordered_on="2025-02-01", closed_on="2025-04-17", status=OrderStatus.CLOSED)  # 75 days: on the deadline
    order(ours, officers, ordered_on="2025-03-01", closed_on="2025-08-28", status=OrderStatus.CLOSED)  # 180 days: late
    order(ours, officers, ordered_on="2025-05-01", status=OrderStatus.ANNOUNCED)
    order(ours, officers, ordered_on="2025-06-01", status=OrderStatus.ESCALATED)
    order(ours, officers, ordered_on="2025-09-01", flagged=True)  # overdue now
    order(ours, officers, ordered_on="2024-11-20", closed_on="2025-01-05", status=OrderStatus.CLOSED, flagged=True)  # 46 days, closed in B
    order(EnterpriseFactory(town=region_tree.town_b1), officers, ordered_on="2025-09-01", flagged=True)  # another county

    loop = kpis.closed_loop(jurisdiction=region_tree.county_a, period=B)
    assert (loop["closed"], loop["on_time"], loop["on_time_share"]) == (4, 3, Decimal("75.00"))
    assert loop["mean_days"] == Decimal("87.8")  # (50 + 75 + 180 + 46) / 4 = 87.75
    assert loop["opened"] == 6
    assert loop["outcomes"] == {"rectifying": 1, "announced": 1, "escalated": 1, "closed": 3}
    assert kpis.overdue_orders_now(jurisdiction=region_tree.county_a) == 1  # the flagged order closed since is not overdue
    assert kpis.overdue_orders_now(jurisdiction=None) == 2


# --- Targeted versus random ----------------------------------------------------------------------------------


def test_wilson_interval_matches_the_hand_computed_value():
    # 5 of 50, z = 1.96: centre (0.1 + 1.96²/100) / (1 + 1.96²/50) = 0.128540, half-width 0.085063.
    low, high = kpis.wilson_interval(5, 50, z=1.96)
    assert low == pytest.approx(0.043477, abs=1e-5)
    assert high == pytest.approx(0.213603, abs=1e-5)
    low, high = kpis.wilson_interval(0, 10, z=1.96)
    assert low == 0 and high == pytest.approx(0.277533, abs=1e-5)
    assert kpis.wilson_interval(0, 0) is None


@pytest.fixture
def arms(region_tree):
    """40 risk-arm inspections (20 tightened with 6 non-conforming, 20 credit with 2) and 40 control-arm
    inspections (routine enterprises, 2 non-conforming), all checked in 2025."""
    officers = [officer("o1", region_tree.county_a), officer("o2", region_tree.county_a)]
    for n in range(20):
        enterprise = EnterpriseFactory(town=region_tree.town_a1, category=Category.CREDIT)  # raised since; the stratum counts
        checked_task(enterprise, officers, stratum="tightened/red", conclusion=Conclusion.NONCONFORMING if n < 6 else Conclusion.CONFORMING)
    for n in range(20):
        enterprise = EnterpriseFactory(town=region_tree.town_a1, category=Category.CREDIT)
        checked_task(enterprise, officers, stratum="credit/none", conclusion=Conclusion.NONCONFORMING if n < 2 else Conclusion.CONFORMING)
    for n in range(40):
        enterprise = EnterpriseFactory(town=region_tree.town_a2, category=Category.ROUTINE)
        conclusion = Conclusion.NONCONFORMING if n < 2 else Conclusion.CONFORMING
        checked_task(enterprise, officers, arm=DrawArm.CONTROL, conclusion=conclusion)
    other = EnterpriseFactory(town=region_tree.town_b1, category=Category.ROUTINE)
    checked_task(other, officers, arm=DrawArm.CONTROL, conclusion=Conclusion.NONCONFORMING)  # another county
    checked_task(EnterpriseFactory(town=region_tree.town_a1), officers, stratum="tightened/red", checked_on="2024-05-01")  # in A
    return region_tree


def test_targeted_and_random_arms_per_category_and_in_all_with_intervals_and_ratio(arms):
    rows = {row.category: row for row in kpis.arm_comparison(jurisdiction=arms.county_a, period=B)}
    assert set(rows) == {"tightened", "routine", "credit", "all"}
    assert (rows["tightened"].risk.inspections, rows["tightened"].risk.nonconforming) == (20, 6)
    assert (rows["routine"].control.inspections, rows["routine"].control.nonconforming) == (40, 2)
    everything = rows["all"]
    assert (everything.risk.per_100, everything.control.per_100) == (20.0, 5.0)
    assert everything.risk.interval == pytest.approx(tuple(100 * v for v in kpis.wilson_interval(8, 40)))
    assert everything.ratio[0] == pytest.approx(4.0)
    # Katz: exp(±1.96 √(1/8 − 1/40 + 1/2 − 1/40)) around 4
    spread = kpis.Z95 * math.sqrt(1 / 8 - 1 / 40 + 1 / 2 - 1 / 40)
    assert everything.ratio[1:] == pytest.approx((4 * math.exp(-spread), 4 * math.exp(spread)))
    assert not everything.too_small
    assert rows["tightened"].too_small  # 20 risk-arm and no control-arm inspections


def test_an_empty_period_says_its_samples_are_too_small(region_tree):
    rows = kpis.arm_comparison(jurisdiction=region_tree.county_a, period=B)
    assert [row.category for row in rows] == ["all"] and rows[0].too_small and rows[0].ratio is None


# --- Inspector effect ----------------------------------------------------------------------------------------


def test_an_officer_finding_far_more_than_their_tasks_predict_is_flagged(region_tree):
    """Four officers with 25 tasks each in one stratum: 12, 2, 3 and 3 non-conforming; a fifth with 5 tasks, none.

    Officer 1: the others found 8 in 80 → p = 0.1, expected 2.5, variance 25 × 0.1 × 0.9 = 2.25,
    z = (12 − 2.5) / 1.5 = 6.33 → flagged. Officer 2: the others found 18 in 80 → p = 0.225, expected 5.625,
    variance 4.359375, z = (2 − 5.625) / 2.088 = −1.74 → not flagged. Officer 5: too few tasks to compare.
    """
    enterprise = EnterpriseFactory(town=region_tree.town_a1)
    officers = [officer(f"officer{n}", region_tree.county_a) for n in range(1, 6)]
    for who, (tasks, findings) in zip(officers, [(25, 12), (25, 2), (25, 3), (25, 3), (5, 0)]):
        for n in range(tasks):
            conclusion = Conclusion.NONCONFORMING if n < findings else Conclusion.CONFORMING
            checked_task(enterprise, [who], stratum="routine/yellow", conclusion=conclusion)

    table = kpis.inspector_effect(jurisdiction=region_tree.county_a, period=B)
    by_officer = {effect.officer_id: effect for effect in table.shown}
    first, second = by_officer[officers[0].pk], by_officer[officers[1].pk]
    assert first.expected == pytest.approx(2.5) and first.variance == pytest.approx(2.25)
    assert first.z == pytest.approx(9.5 / 1.5) and first.outlier
    assert second.expected == pytest.approx(5.625) and second.variance == pytest.approx(4.359375)
    assert second.z == pytest.approx((2 - 5.625) / math.sqrt(4.359375)) and not second.outlier
    assert [e.officer_id for e in table.outliers] == [officers[0].pk]
    assert [e.officer_id for e in table.too_few] == [officers[4].pk]
    assert first.observed_per_100 == 48.0 and first.expected_per_100 == pytest.approx(10.0)


def test_officers_are_only_compared_in_strata_someone_else_also_checked(region_tree):
    enterprise = EnterpriseFactory(town=region_tree.town_a1)
    alone, other = officer("alone", region_tree.county_a), officer("other", region_tree.county_a)
    for _ in range(25):
        checked_task(enterprise, [alone], stratum="credit/green")
    checked_task(enterprise, [other], stratum="routine/red")
    table = kpis.inspector_effect(jurisdiction=region_tree.county_a, period=B)
    assert table.shown == [] and {e.tasks for e in table.too_few} == {0}


# --- All together --------------------------------------------------------------------------------------------


def test_the_dashboard_is_a_bounded_number_of_queries(arms, django_assert_max_num_queries):
    with django_assert_max_num_queries(22):
        report = kpis.dashboard(jurisdiction=arms.county_a, a=A, b=B)
    assert len(report.figures) == 4 and len(report.monthly) == 24
    assert sum(month["batches"] for month in report.monthly) == 0  # tasks' results here are not spot-check results
