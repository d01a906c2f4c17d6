"""The three-division pipeline on a small hand-made city whose answers are worked out by hand below.

As of 2026-06-30 (risk window from 2023-06-30; index window 2025-07-01 … 2026-06-30), default rules:

town        active  risk  share     colour   why
甲一街道 A1    5      1    20 %      red      one non-conforming spot check (wire, 2026-03-10)
甲二镇   A2   10      1    10 %      orange   a child heater made without its CCC certificate
乙一镇   B1    7      0     0 %      green    (a closed enterprise with a penalty is not counted)
乙二镇   B2    4      1    25 %      too few  a recall on 2026-01-20; 4 < 5 enterprises
甲区 county A 15      2    13.33 %   orange
乙县 county B 11      1     9.09 %   yellow
测试市 city   26      3    11.54 %   orange

Products: child heater severe + CCC + vulnerable = 5 → high; pressure cooker severe = 3 → medium; towel
moderate = 2 → low; wire moderate + licence = 3, plus 1 failed of 5 checks (20 % ≥ 10 %) = 5 → high.
"""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enterprises.models import Category, Enterprise, RiskClass, RiskEvent, RiskEventKind, RiskReason, Status, SupervisionPolicy
from inspections.models import SpotCheckResult
from jiaxing_qs.pipeline import STAGES, month_ends_before
from jiaxing_qs.tasks import run_pipeline
from products.models import Grade, GradingPolicy, HarmSeverity, LicenceType, Product
from regions.models import Colour, ColourThresholds, IndexWeights, Region, RegionSnapshot

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, RiskEventFactory, SpotCheckResultFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

AS_OF = dt.date(2026, 6, 30)
PERIOD = dt.date(2026, 6, 1)


@pytest.fixture
def rules():
    """The default rule versions, saved before anything is counted."""
    return [rule.in_force() for rule in (GradingPolicy, SupervisionPolicy, ColourThresholds, IndexWeights)]


@pytest.fixture
def catalogue(db) -> dict[str, Product]:
    return {
        "heater": ProductFactory(name="儿童电暖器", harm_severity=HarmSeverity.SEVERE, licence_type=LicenceType.CCC, vulnerable_users=True),
        "cooker": ProductFactory(name="压力锅", harm_severity=HarmSeverity.SEVERE),
        "towel": ProductFactory(name="毛巾", harm_severity=HarmSeverity.MODERATE),
        "wire": ProductFactory(name="电线电缆", harm_severity=HarmSeverity.MODERATE, licence_type=LicenceType.PRODUCTION_LICENCE),
    }


def build_city(tree, catalogue, *, copy: int = 0) -> dict[str, Enterprise]:
    """The enterprises of the table above; ``copy`` > 0 adds an identical set (so shares and colours stay the same)."""
    heater, cooker, towel, wire = (catalogue[name] for name in ("heater", "cooker", "towel", "wire"))
    made: dict[str, Enterprise] = {}

    def enterprise(key, town, *products, licence="", status=Status.ACTIVE, lat=None, lon=None):
        made[key] = EnterpriseFactory(name=f"{key}-{copy}", town=town, status=status, lat=lat, lon=lon)
        for product in products:
            expiry = dt.date(2029, 12, 31) if licence else None
            EnterpriseProductFactory(enterprise=made[key], product=product, licence_number=licence, licence_expiry=expiry)
        return made[key]

    def check(key, product, day, conforming):
        SpotCheckResultFactory(
            enterprise=made[key], product=product, checked_on=day, conforming=conforming, lab_report_number=f"{key}-{copy}-{day}"
        )

    # A1: five enterprises; one failed the wire spot check.
    enterprise("a1_risk", tree.town_a1, wire, licence="XK06-001-0001", lat=30.70, lon=120.70)
    enterprise("a1_wire", tree.town_a1, wire, licence="XK06-001-0002", lat=30.72, lon=120.74)
    enterprise("a1_towel", tree.town_a1, towel)
    enterprise("a1_cooker", tree.town_a1, cooker)
    enterprise("a1_none", tree.town_a1)
    check("a1_risk", wire, dt.date(2026, 3, 10), conforming=False)
    check("a1_risk", wire, dt.date(2026, 1, 15), conforming=True)
    for day in [dt.date(2025, 9, 1), dt.date(2025, 12, 1), dt.date(2026, 4, 1)]:
        check("a1_wire", wire, day, conforming=True)
    # A2: ten enterprises; one makes the heater without a CCC certificate.
    enterprise("a2_risk", tree.town_a2, heater, licence="")
    enterprise("a2_old", tree.town_a2, cooker)
    RiskEventFactory(enterprise=made["a2_old"], kind=RiskEventKind.PENALTY, occurred_on=dt.date(2022, 5, 1))  # aged out
    enterprise("a2_future", tree.town_a2, towel)
    RiskEventFactory(enterprise=made["a2_future"], kind=RiskEventKind.INCIDENT, occurred_on=dt.date(2026, 8, 1))  # after as_of
    for serial in range(7):
        enterprise(f"a2_{serial}", tree.town_a2, towel)
    # B1: seven active enterprises, no risk; a closed one with a penalty is not counted.
    enterprise("b1_closed", tree.town_b1, status=Status.CLOSED)
    RiskEventFactory(enterprise=made["b1_closed"], kind=RiskEventKind.PENALTY, occurred_on=dt.date(2025, 10, 10))
    enterprise("b1_heater", tree.town_b1, heater, licence="2026010701000001")
    for serial in range(6):
        enterprise(f"b1_{serial}", tree.town_b1)
    # B2: four enterprises, one recall.
    enterprise("b2_risk", tree.town_b2, cooker)
    RiskEventFactory(enterprise=made["b2_risk"], kind=RiskEventKind.RECALL, occurred_on=dt.date(2026, 1, 20))
    for serial in range(3):
        enterprise(f"b2_{serial}", tree.town_b2)
    return made


@pytest.fixture
def city(region_tree, catalogue, rules) -> dict[str, Enterprise]:
    return build_city(region_tree, catalogue)


def stage(report: list[dict], name: str) -> dict:
    return next(summary for summary in report if summary["stage"] == name)


def snapshots(period=PERIOD) -> dict[str, RegionSnapshot]:
    return {snapshot.region.code: snapshot for snapshot in RegionSnapshot.objects.filter(period=period).select_related("region")}


def test_pipeline_grades_products_from_their_factors_and_failure_rate(city, catalogue):
    run_pipeline(AS_OF)
    grades = {name: Product.objects.get(pk=product.pk).grade for name, product in catalogue.items()}
    assert grades == {"heater": Grade.HIGH, "cooker": Grade.MEDIUM, "towel": Grade.LOW, "wire": Grade.HIGH}
    wire = Product.objects.get(pk=catalogue["wire"].pk)
    assert (wire.failure_sample, wire.failure_rate) == (5, Decimal("20.00"))


def test_pipeline_classes_and_categorises_each_enterprise(city):
    run_pipeline(AS_OF)
    risk = {key for key, enterprise in city.items() if Enterprise.objects.get(pk=enterprise.pk).risk_class == RiskClass.RISK}
    assert risk == {"a1_risk", "a2_risk", "b1_closed", "b2_risk"}
    categories = {key: Enterprise.objects.get(pk=enterprise.pk).category for key, enterprise in city.items()}
    special = {
        "a1_risk": Category.TIGHTENED,  # high (wire) × risk
        "a1_wire": Category.ROUTINE,  # high × non-risk
        "a1_cooker": Category.RESPONSIBILITY,  # medium × non-risk
        "a2_risk": Category.TIGHTENED,  # high (heater) × risk
        "a2_old": Category.RESPONSIBILITY,  # medium × non-risk: its penalty aged out
        "b1_closed": Category.RESPONSIBILITY,  # no product (low) × risk
        "b1_heater": Category.ROUTINE,  # high × non-risk
        "b2_risk": Category.ROUTINE,  # medium × risk
    }
    assert categories == {key: special.get(key, Category.CREDIT) for key in city}


def test_pipeline_keeps_the_reasons_of_risk_enterprises(city):
    run_pipeline(AS_OF)
    reasons = {(reason.enterprise.name, reason.kind) for reason in RiskReason.objects.select_related("enterprise")}
    assert reasons == {
        ("a1_risk-0", RiskEventKind.NONCONFORMING_SPOT_CHECK),
        ("a2_risk-0", "licence_missing"),
        ("b1_closed-0", RiskEventKind.PENALTY),
        ("b2_risk-0", RiskEventKind.RECALL),
    }


def test_pipeline_colours_towns_counties_and_city(city, region_tree):
    run_pipeline(AS_OF)
    got = {code: (s.enterprise_count, s.risk_count, s.risk_share, s.colour) for code, s in snapshots().items()}
    assert got == {
        "349901001": (5, 1, Decimal("20.0000"), Colour.RED),
        "349901002": (10, 1, Decimal("10.0000"), Colour.ORANGE),
        "349902001": (7, 0, Decimal("0.0000"), Colour.GREEN),
        "349902002": (4, 1, Decimal("25.0000"), Colour.TOO_FEW),
        "349901": (15, 2, Decimal("13.3333"), Colour.ORANGE),
        "349902": (11, 1, Decimal("9.0909"), Colour.YELLOW),
        "349900": (26, 3, Decimal("11.5385"), Colour.ORANGE),
    }


def test_pipeline_counts_risk_enterprises_per_reason_in_each_region(city):
    run_pipeline(AS_OF)
    reasons = {code: s.reason_counts for code, s in snapshots().items()}
    assert reasons["349901001"] == {"nonconforming": 1}
    assert reasons["349902001"] == {}  # the closed enterprise's penalty is not counted
    assert reasons["349900"] == {"nonconforming": 1, "licence_missing": 1, "recall": 1}


def test_pipeline_computes_the_index_of_every_region(city):
    run_pipeline(AS_OF)
    assert {code: s.index for code, s in snapshots().items()} == {
        "349901001": Decimal("86.0"),  # 0.4×0.8 + 0.3×0.8 (4 of 5 checks) + 0.2×1 + 0.1×1
        "349901002": Decimal("92.0"),  # (0.4×0.9 + 0.1×1) ÷ 0.5; the August incident is after as_of
        "349902001": Decimal("100.0"),
        "349902002": Decimal("60.0"),  # (0.4×0.75 + 0.1×0) ÷ 0.5: 1 recall per 4 enterprises scores 0
        "349901": Decimal("88.7"),  # 0.4×13/15 + 0.24 + 0.2 + 0.1
        "349902": Decimal("72.7"),  # (0.4×10/11 + 0.1×0) ÷ 0.5
        "349900": Decimal("81.7"),  # 0.4×23/26 + 0.24 + 0.2 + 0.1×(1 − (100/26)/5)
    }


def test_pipeline_places_towns_without_boundary_at_the_centre_of_their_enterprises(city, region_tree):
    before = Region.objects.get(pk=region_tree.town_a1.pk)
    run_pipeline(AS_OF)
    town = Region.objects.get(pk=region_tree.town_a1.pk)
    assert (town.label_lat, town.label_lon) == pytest.approx((30.71, 120.72))  # mean of its two placed enterprises
    # written back as an upsert of the town's row: nothing else of it moves
    assert (town.code, town.name, town.level, town.parent_id) == (before.code, before.name, before.level, before.parent_id)


def test_the_index_written_back_keeps_each_snapshots_colour_and_counts(city):
    run_pipeline(AS_OF)
    coloured = {code: (s.colour, s.enterprise_count, s.risk_count, s.reason_counts) for code, s in snapshots().items()}
    RegionSnapshot.objects.update(index=None)
    run_pipeline(AS_OF)
    assert {code: (s.colour, s.enterprise_count, s.risk_count, s.reason_counts) for code, s in snapshots().items()} == coloured
    assert all(s.index is not None for s in snapshots().values())


def test_pipeline_reports_every_stage_in_order(city):
    report = run_pipeline(AS_OF)
    assert [summary["stage"] for summary in report] == [stage.name for stage in STAGES]
    assert stage(report, "record_spot_check_events")["recorded"] == 1
    assert stage(report, "grade_products")["changed"] == 4
    assert (stage(report, "classify_enterprises")["became_risk"], stage(report, "classify_enterprises")["became_non_risk"]) == (4, 0)
    assert stage(report, "categorise_enterprises")["key_supervised"] == 5
    assert all(summary["message"] for summary in report)


CHANGE_COUNTS = {
    "record_spot_check_events": ["recorded"],
    "grade_products": ["changed"],
    "classify_enterprises": ["became_risk", "became_non_risk"],
    "categorise_enterprises": ["changed"],
    "place_towns": ["changed"],
    "colour_regions": ["changed"],
}


def test_running_the_pipeline_twice_changes_nothing_the_second_time(city):
    first = run_pipeline(AS_OF)
    assert any(stage(first, name)[key] for name, keys in CHANGE_COUNTS.items() for key in keys)
    second = run_pipeline(AS_OF)
    for name, keys in CHANGE_COUNTS.items():
        assert {key: stage(second, name)[key] for key in keys} == dict.fromkeys(keys, 0), name
    assert RiskReason.objects.count() == 4
    assert RegionSnapshot.objects.count() == 7


def test_new_risk_event_recolours_its_town_and_county_on_the_next_run(city, region_tree):
    run_pipeline(AS_OF)
    RiskEventFactory(enterprise=city["b1_0"], kind=RiskEventKind.PENALTY, occurred_on=dt.date(2026, 6, 1))
    report = run_pipeline(AS_OF)
    assert stage(report, "colour_regions")["changed"] == 2
    assert sorted(stage(report, "colour_regions")["changes"]) == ["乙一镇: green → orange", "乙县: yellow → orange"]


def _queries_to_run_pipeline() -> int:
    with CaptureQueriesContext(connection) as captured:
        run_pipeline(AS_OF)
    return len(captured)


def test_pipeline_query_count_does_not_grow_with_the_data(region_tree, catalogue, rules):
    build_city(region_tree, catalogue)
    small = _queries_to_run_pipeline()
    # Start again from the same state with five times the enterprises, results and events.
    RegionSnapshot.objects.all().delete()
    SpotCheckResult.objects.all().delete()
    Enterprise.objects.all().delete()
    Product.objects.update(grade=None, computed_grade=None, failure_rate=0, failure_sample=0)
    Region.objects.update(label_lat=None, label_lon=None)
    for copy in range(5):
        build_city(region_tree, catalogue, copy=copy)
    assert Enterprise.objects.count() == 5 * 27
    assert _queries_to_run_pipeline() == small
    assert snapshots()["349901001"].colour == Colour.RED  # same shares, same colours


def test_run_pipeline_command_prints_what_changed(city):
    call_command("run_pipeline", "--as-of", AS_OF.isoformat(), stdout=StringIO())
    RiskEventFactory(enterprise=city["b1_0"], kind=RiskEventKind.PENALTY, occurred_on=dt.date(2026, 6, 1))
    out = StringIO()
    call_command("run_pipeline", "--as-of", AS_OF.isoformat(), stdout=out)
    printed = out.getvalue()
    assert "Pipeline as of 2026-06-30" in printed
    assert "2 regions changed colour" in printed
    assert "1 enterprises became risk" in printed


def test_backfill_creates_one_snapshot_period_per_month(city):
    call_command("run_pipeline", "--as-of", AS_OF.isoformat(), "--backfill-months", "2", stdout=StringIO())
    periods = sorted(set(RegionSnapshot.objects.values_list("period", flat=True)))
    assert periods == [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]


def test_backfilled_months_apply_the_rules_as_of_their_month_end(city):
    RiskEventFactory(enterprise=city["b1_0"], kind=RiskEventKind.PENALTY, occurred_on=dt.date(2026, 5, 15))
    call_command("run_pipeline", "--as-of", AS_OF.isoformat(), "--backfill-months", "2", stdout=StringIO())
    b1 = dict(RegionSnapshot.objects.filter(region__code="349902001").values_list("period", "colour"))
    assert b1 == {dt.date(2026, 4, 1): Colour.GREEN, dt.date(2026, 5, 1): Colour.ORANGE, dt.date(2026, 6, 1): Colour.ORANGE}


def test_backfill_cannot_be_negative(city):
    with pytest.raises(CommandError, match="cannot be negative"):
        call_command("run_pipeline", "--as-of", AS_OF.isoformat(), "--backfill-months", "-1", stdout=StringIO())


def test_as_of_on_the_last_day_of_a_month_belongs_to_that_month(city):
    run_pipeline(dt.date(2026, 5, 31))
    assert set(RegionSnapshot.objects.values_list("period", flat=True)) == {dt.date(2026, 5, 1)}


def test_as_of_on_the_first_day_of_a_month_starts_that_month(city):
    run_pipeline(dt.date(2026, 6, 1))
    assert set(RegionSnapshot.objects.values_list("period", flat=True)) == {dt.date(2026, 6, 1)}


def test_month_ends_before_a_date_are_the_last_days_of_the_previous_months():
    assert month_ends_before(dt.date(2026, 3, 15), 3) == [dt.date(2025, 12, 31), dt.date(2026, 1, 31), dt.date(2026, 2, 28)]
    assert month_ends_before(dt.date(2028, 3, 1), 1) == [dt.date(2028, 2, 29)]
    assert month_ends_before(dt.date(2026, 3, 15), 0) == []


# --- Feedback: a result re-classes its enterprise at once; recolouring is coalesced on workers -------------


def test_feedback_without_a_broker_reclasses_and_recolours_at_once(town):
    from django.utils import timezone

    from jiaxing_qs.tasks import feedback_enterprise

    today = timezone.localdate()  # feedback is as of today
    enterprises = [EnterpriseFactory(town=town) for _ in range(5)]
    run_pipeline(today)
    RiskEventFactory(enterprise=enterprises[0], kind=RiskEventKind.PENALTY, occurred_on=today - dt.timedelta(days=3))
    feedback_enterprise.delay(enterprises[0].pk)
    enterprises[0].refresh_from_db()
    assert enterprises[0].risk_class == RiskClass.RISK
    snapshot = RegionSnapshot.objects.get(region=town, period=today.replace(day=1))
    assert (snapshot.risk_count, snapshot.enterprise_count) == (1, 5)


def test_on_workers_a_burst_of_results_queues_one_delayed_recolouring(settings, monkeypatch):
    import time

    from django.core.cache import cache

    from jiaxing_qs import tasks

    cache.clear()
    settings.CELERY_TASK_ALWAYS_EAGER, settings.FEEDBACK_RECOLOUR_DELAY = False, 1
    queued = []
    monkeypatch.setattr(tasks.recolour_regions, "apply_async", lambda args, countdown: queued.append((args, countdown)))
    for _result in range(3):
        tasks.enqueue_recolour(AS_OF)
    assert queued == [((AS_OF.isoformat(),), 1)], "one run, a second later, for the three results"
    time.sleep(1.1)  # the run is due: the next result queues the next run
    tasks.enqueue_recolour(AS_OF)
    assert len(queued) == 2


def test_the_feedback_of_one_result_records_only_its_enterprises_risk_events(town):
    from inspections.spotchecks.services import risk_events_record_from_spot_checks

    first, second = EnterpriseFactory(town=town), EnterpriseFactory(town=town)
    for enterprise in (first, second):
        SpotCheckResultFactory(enterprise=enterprise, conforming=False, checked_on=AS_OF - dt.timedelta(days=10))
    assert risk_events_record_from_spot_checks(enterprise_ids=[first.pk])["recorded"] == 1
    assert set(RiskEvent.objects.values_list("enterprise_id", flat=True)) == {first.pk}
    assert risk_events_record_from_spot_checks()["recorded"] == 1, "the nightly run records the rest"


def test_recolourings_asked_for_in_a_batch_run_once_at_its_end(monkeypatch):
    from jiaxing_qs import tasks

    ran = []
    monkeypatch.setattr(tasks.recolour_regions, "delay", ran.append)
    with tasks.recolours_deferred():
        for _result in range(3):
            tasks.enqueue_recolour(AS_OF)
        assert ran == []
    assert ran == [AS_OF.isoformat()]
