"""Shared fixtures: the clock, the real Jiaxing divisions, a small region tree, the cast of users, and factories.

The clock (one convention for the whole suite): every test runs on the business day ``TEST_TODAY``, the clock
travelled to ``TEST_NOW`` (10:00 in Shanghai, ticking) before the test starts, so "now", "today", rule versions'
``valid_from``, ``created_at`` and Celery countdowns agree with the fixed dates the tests are written with. Derive
a test's dates from ``TEST_TODAY`` (``AS_OF = TEST_TODAY``) and move the clock only with ``time_machine`` (the
fixture's ``move_to``, or ``time_machine.travel``, nested inside this one). The browser tests' server runs in this
process and so on this clock too (cookies carry a Max-Age, which the browser counts on its own clock). Tests whose
server-side code runs in another process (a Celery worker) are marked ``real_clock``: that process's clock cannot
be moved with the test's, so they take their dates from ``timezone.localdate()`` and never mix them with fixed dates.
``.ci/run`` proves the convention by running the suite again with the machine's clock a year ahead.

Fixtures build on each other: ``region_tree`` → ``county`` / ``other_county`` / ``town`` → the staff
fixtures (``supervisor``, ``inspector``, ``administrator`` of ``county``; ``outsider`` from ``other_county``)
→ ``two_county_cases`` (the whole supervision loop once in each county, for the jurisdiction tests).
"""

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.utils import translation

from enterprises.models import Category, Enterprise, EnterpriseProduct, RiskEvent
from inspections.models import (
    CheckResult,
    Conclusion,
    DrawArm,
    InspectionPlan,
    InspectionTask,
    PlanStatus,
    RectificationOrder,
    RiskModel,
    SpotCheckResult,
    TaskAssignment,
    TaskStatus,
)
from inspections.scoring.services import risk_model_adopt, risk_model_fit
from products.models import Product
from regions.imports import load_jiaxing
from regions.models import Colour, ColourThresholds, Level, Region, RegionSnapshot, Role

from .clock import TEST_NOW, TEST_TODAY
from .factories import (
    EnterpriseFactory,
    EnterpriseProductFactory,
    ProductClassFactory,
    ProductFactory,
    RiskEventFactory,
    SpotCheckResultFactory,
    StaffProfileFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def clock(request):
    """The suite's clock: ``TEST_NOW``, ticking (timeouts, cache expiry and sleeps behave), unless ``real_clock``."""
    if request.node.get_closest_marker("real_clock"):
        yield None
        return
    with time_machine.travel(TEST_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def map_cache_empty():
    """The map fast path's cache lives in the process and is keyed by role and division code, which the tests' region
    trees share: every test starts with it empty (as a fresh worker does)."""
    from regions.map_cache import map_microcache

    map_microcache.clear()
    yield
    map_microcache.clear()


@pytest.fixture
def english():
    """Messages in English, whatever LANGUAGE_CODE says, for tests that read a rule's message text."""
    with translation.override("en"):
        yield


@pytest.fixture
def client_en(client):
    """A test client whose user chose English with the language switch (pages are Chinese otherwise)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def jiaxing(db) -> Region:
    """The real divisions shipped with the app: Jiaxing city, its 7 counties (with boundaries) and 72 towns."""
    load_jiaxing()
    return Region.objects.get(code="330400")


@dataclass(frozen=True)
class RegionTree:
    """A fictional city with two counties of two towns each (codes outside Jiaxing's, so both can coexist)."""

    city: Region
    county_a: Region
    county_b: Region
    town_a1: Region
    town_a2: Region
    town_b1: Region
    town_b2: Region

    @property
    def towns(self) -> list[Region]:
        return [self.town_a1, self.town_a2, self.town_b1, self.town_b2]


@pytest.fixture
def region_tree(db) -> RegionTree:
    city = Region.objects.create(code="349900", name="测试市", level=Level.CITY)
    county_a = Region.objects.create(code="349901", name="甲区", level=Level.COUNTY, parent=city)
    county_b = Region.objects.create(code="349902", name="乙县", level=Level.COUNTY, parent=city)

    def town(code: str, name: str, county: Region) -> Region:
        return Region.objects.create(code=code, name=name, level=Level.TOWN, parent=county)

    return RegionTree(
        city=city,
        county_a=county_a,
        county_b=county_b,
        town_a1=town("349901001", "甲一街道", county_a),
        town_a2=town("349901002", "甲二镇", county_a),
        town_b1=town("349902001", "乙一镇", county_b),
        town_b2=town("349902002", "乙二镇", county_b),
    )


@pytest.fixture
def county(region_tree) -> Region:
    """The jurisdiction of the supervisor, inspector and administrator fixtures."""
    return region_tree.county_a


@pytest.fixture
def other_county(region_tree) -> Region:
    """A neighbouring jurisdiction: its staff must not see or touch ``county``'s records."""
    return region_tree.county_b


@pytest.fixture
def town(region_tree) -> Region:
    """A town inside ``county``."""
    return region_tree.town_a1


@pytest.fixture
def supervisor(county):
    return StaffProfileFactory(user=UserFactory(username="supervisor"), role=Role.SUPERVISOR, jurisdiction=county).user


@pytest.fixture
def inspector(county):
    return StaffProfileFactory(user=UserFactory(username="inspector"), role=Role.INSPECTOR, jurisdiction=county).user


@pytest.fixture
def administrator(county):
    return StaffProfileFactory(user=UserFactory(username="administrator"), role=Role.ADMINISTRATOR, jurisdiction=county).user


@pytest.fixture
def outsider(other_county):
    """An administrator of another county: every right, the wrong jurisdiction (so a refusal is about jurisdiction)."""
    return StaffProfileFactory(user=UserFactory(username="outsider"), role=Role.ADMINISTRATOR, jurisdiction=other_county).user


# Factories as fixtures, for tests that prefer injection to imports.
@pytest.fixture
def product_class_factory(db):
    return ProductClassFactory


@pytest.fixture
def product_factory(db):
    return ProductFactory


@pytest.fixture
def enterprise_factory(db):
    return EnterpriseFactory


@pytest.fixture
def enterprise_product_factory(db):
    return EnterpriseProductFactory


@pytest.fixture
def risk_event_factory(db):
    return RiskEventFactory


@pytest.fixture
def spot_check_result_factory(db):
    return SpotCheckResultFactory


# --- The supervision loop, once in each county (the records the jurisdiction tests look for) -------------

CASE_DAY = dt.date(2026, 11, 2)


@dataclass(frozen=True)
class Case:
    """An enterprise of a town and the whole loop on one product it makes: a failed spot check, its risk event,
    a dispatched plan of the county that drew the enterprise, the task, its non-conforming result and the
    rectification order that followed."""

    town: Region
    product: Product
    enterprise: Enterprise
    spot_check: SpotCheckResult
    risk_event: RiskEvent
    plan: InspectionPlan
    task: InspectionTask
    result: CheckResult
    order: RectificationOrder

    @property
    def county(self) -> Region:
        return self.town.parent


def case_make(town: Region, officers: list, *, on: dt.date = CASE_DAY) -> Case:
    """A Case in ``town``, the task worked by ``officers`` (two), everything dated ``on``; names carry the county's."""
    county = town.parent
    product = ProductFactory()
    enterprise = EnterpriseFactory(town=town, name=f"{county.name}制造有限公司", lat=30.7, lon=120.7)
    spot_check = SpotCheckResultFactory(enterprise=enterprise, product=product, checked_on=on, conforming=False)
    risk_event = RiskEventFactory(enterprise=enterprise, product=product, kind="nonconforming", occurred_on=on)
    plan = InspectionPlan.objects.create(
        name=f"{county.name}抽查计划",
        scope=county,
        period_start=dt.date(on.year, 1, 1),
        period_end=dt.date(on.year, 12, 31),
        batch_budget=10,
        seed=uuid.uuid4().hex,
        status=PlanStatus.DISPATCHED,
        **{f"ratio_{c}": Decimal("10") for c in ("tightened", "routine", "responsibility", "credit")},
        **{f"multiplier_{c}": Decimal("1") for c in ("red", "orange", "yellow", "green")},
    )
    task = InspectionTask.objects.create(
        plan=plan, enterprise=enterprise, product=product, arm=DrawArm.RISK, reason="测试", due_date=on, status=TaskStatus.SUBMITTED
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=officer, position=n) for n, officer in enumerate(officers, 1)])
    result = CheckResult.objects.create(
        task=task,
        submission_key=uuid.uuid4(),
        number=f"JC-{task.pk:06d}",
        conclusion=Conclusion.NONCONFORMING,
        submitted_by=officers[0],
        co_inspector=officers[1],
        checked_on=on,
    )
    order = RectificationOrder.objects.create(
        number=f"ZG-{result.pk:06d}",
        enterprise=enterprise,
        product=product,
        result=result,
        ordered_on=on,
        rectify_by=on + dt.timedelta(days=60),
        reinspect_by=on + dt.timedelta(days=75),
        objection_by=on + dt.timedelta(days=15),
    )
    return Case(town, product, enterprise, spot_check, risk_event, plan, task, result, order)


def county_inspectors(county: Region, prefix: str) -> list:
    """Two inspectors of ``county``, named ``<prefix>1`` and ``<prefix>2``; no password (hashing one per user would
    dominate the run: tests log them in with force_login)."""
    return [
        StaffProfileFactory(user=UserFactory(username=f"{prefix}{n}", password=None), role=Role.INSPECTOR, jurisdiction=county).user
        for n in (1, 2)
    ]


@pytest.fixture
def two_county_cases(region_tree) -> dict[str, Case]:
    """A Case in a town of each county, worked by that county's inspectors: ``two_county_cases["a"]`` is county A's."""
    return {
        "a": case_make(region_tree.town_a1, county_inspectors(region_tree.county_a, "officer_a")),
        "b": case_make(region_tree.town_b1, county_inspectors(region_tree.county_b, "officer_b")),
    }


# --- A bureau's spot-check history, for the risk score (tests/test_risk_score*.py) -----------------------------

HISTORY_YEARS = 4  # of spot checks before TEST_TODAY


@pytest.fixture
def city_supervisor(region_tree):
    return StaffProfileFactory(user=UserFactory(username="city_supervisor"), role=Role.SUPERVISOR, jurisdiction=region_tree.city).user


@pytest.fixture
def history(region_tree):
    """160 enterprises in one town, each checked once a year for four years. A product "bad" fails 40 % of its
    checks, the others 6 %; an enterprise that failed last year fails again more often (a lasting effect)."""
    rng = random.Random(2026)
    town = region_tree.town_a1
    bad, good = ProductFactory(name="劣质电热毯"), ProductFactory(name="普通纸制品")
    enterprises = []
    for n in range(160):
        enterprise = EnterpriseFactory(town=town, category=Category.ROUTINE)
        EnterpriseProduct.objects.create(enterprise=enterprise, product=bad if n % 4 == 0 else good)
        enterprises.append((enterprise, bad if n % 4 == 0 else good))
    results, serial = [], 0
    for enterprise, product in enterprises:
        failed_before = False
        for year in range(HISTORY_YEARS, 0, -1):
            day = TEST_TODAY - dt.timedelta(days=365 * year - rng.randrange(1, 300))
            chance = (0.40 if product == bad else 0.06) * (2.0 if failed_before else 1.0)
            failed = rng.random() < chance
            serial += 1
            results.append(
                SpotCheckResult(
                    enterprise=enterprise, product=product, checked_on=day, conforming=not failed, lab_report_number=f"R{serial:06d}"
                )
            )
            failed_before = failed
    SpotCheckResult.objects.bulk_create(results)
    return {"bad": bad, "good": good, "enterprises": [e for e, _p in enterprises]}


@pytest.fixture
def adopted(history, city_supervisor) -> RiskModel:
    model = risk_model_fit(as_of=TEST_TODAY)
    risk_model_adopt(model=model, adopted_by=city_supervisor, reason="回测 AUC 达标，试行")
    model.refresh_from_db()
    return model


@pytest.fixture
def orange_town(region_tree) -> None:
    """Town A1 and county A orange in TEST_TODAY's period: the draw's one stratum is routine/orange."""
    thresholds = ColourThresholds.in_force()
    for region in (region_tree.town_a1, region_tree.county_a):
        RegionSnapshot.objects.create(region=region, period=TEST_TODAY.replace(day=1), colour=Colour.ORANGE, thresholds=thresholds)
