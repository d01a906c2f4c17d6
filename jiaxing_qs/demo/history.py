"""Synthetic history: four years of spot-check results and five years of other risk events.

A batch fails with a probability set by the product (harm, licence, its own noise) and the place (county ×
town factor), drifting over the last year so the monthly trend moves. The county factor is not
guessed: it is solved from the drawn batches so that, with the licence lapses and other events, the
county's share of risk enterprises at ``as_of`` is its target (places.COUNTIES). Non-conforming results get
no risk event here: the pipeline's first stage records those.
"""

import datetime as dt
import math
import random
from collections import Counter
from dataclasses import dataclass

from enterprises.models import RiskEvent, RiskEventKind, Status
from inspections.models import ResultSource, SpotCheckLevel, SpotCheckResult
from products.models import HarmSeverity, LicenceType
from regions.periods import years_before

from .enterprises import DemoEnterprise, DemoProduct
from .places import FAILED_ITEMS, GENERIC_FAILED_ITEMS

HISTORY_YEARS = 4  # one more than the risk window, so every one of the 13 monthly snapshots sees a full window
EVENT_YEARS = 5  # older events show that the window matters
BATCHES_PER_YEAR = (3800, 3700, 3600, 3500)  # for 7000 enterprises, newest year first
VOLUME_FOR_ENTERPRISES = 7000  # the yearly volumes above are for this many enterprises; scaled to the real count
BASE_FAILURE_RATE = {HarmSeverity.MINOR: 0.05, HarmSeverity.MODERATE: 0.065, HarmSeverity.SEVERE: 0.08}
MAX_FAILURE_RATE = 0.6
CHECK_WEIGHT = {HarmSeverity.MINOR: 0.6, HarmSeverity.MODERATE: 1.0, HarmSeverity.SEVERE: 1.8}
MONTH_WEIGHT = {1: 0.7, 2: 0.4, 12: 0.8}  # fewer samplings around the Spring Festival and at year end
TREND_DAYS = 365  # the county's trend factor ramps in over the last year
LEVELS = ((SpotCheckLevel.NATIONAL, 5), (SpotCheckLevel.PROVINCIAL, 20), (SpotCheckLevel.CITY, 45), (SpotCheckLevel.COUNTY, 30))

# After a non-conforming result (SAMR Order 18): rectification due in 60 days, re-inspection within 75.
# (share of non-conforming results, kind, days after the result, description)
FOLLOW_UPS = (
    (0.20, RiskEventKind.OVERDUE_RECTIFICATION, (61, 90), "抽查不合格（{report}）后责令60日内整改，逾期未完成"),
    (0.04, RiskEventKind.FAILED_REINSPECTION, (70, 80), "抽查不合格（{report}）后复查检验仍不合格"),
    (0.25, RiskEventKind.PENALTY, (30, 150), "生产销售不合格{product}（{report}），没收违法所得并处罚款"),
)
# Yearly rates per enterprise of events that come from elsewhere (scaled by the place's risk).
YEARLY_RATES = {
    RiskEventKind.VERIFIED_COMPLAINT: 0.003,
    RiskEventKind.INCIDENT: 0.0005,
    RiskEventKind.RECALL: 0.0015,
    RiskEventKind.PENALTY: 0.001,
    RiskEventKind.LICENCE_PROBLEM: 0.002,
}
RECALL_TAGS = {"appliance", "children", "auto_parts", "electronics", "lighting", "electrical"}
REF_CODES = {
    RiskEventKind.VERIFIED_COMPLAINT: ("投诉", "TS"),
    RiskEventKind.INCIDENT: ("事故", "SG"),
    RiskEventKind.RECALL: ("召回", "ZH"),
    RiskEventKind.PENALTY: ("处罚", "CF"),
    RiskEventKind.OVERDUE_RECTIFICATION: ("整改", "ZG"),
    RiskEventKind.FAILED_REINSPECTION: ("复查", "FC"),
    RiskEventKind.LICENCE_PROBLEM: ("许可", "XK"),
}
INCIDENTS = ("起火", "漏电致人受伤", "部件断裂致人受伤", "爆裂")
LICENCE_PROBLEMS = (
    "超出许可范围生产{product}",
    "许可证过期后仍继续生产{product}",
    "未按规定标注许可证编号（{product}）",
    "证书暂停期间继续出厂销售{product}",
)


@dataclass
class _Event:
    demo: DemoEnterprise
    kind: str
    day: dt.date
    product: DemoProduct | None
    description: str


@dataclass
class _Batch:
    day: dt.date
    demo: DemoEnterprise
    product: DemoProduct
    draw: float  # uniform on [0, 1): the batch fails when draw < its failure probability
    tendency: float  # failure probability before the county factor
    failed_items: str


def _tendency(demo: DemoEnterprise, product: DemoProduct, day: dt.date, as_of: dt.date) -> float:
    licensed = 1.15 if product.licence_type != LicenceType.NONE else 1.0
    ramp = max(0.0, 1 - (as_of - day).days / TREND_DAYS)
    trend = 1 + (demo.town.county_profile.trend - 1) * ramp
    return BASE_FAILURE_RATE[product.harm] * licensed * product.noise * demo.town.risk * trend


def _sampling_day(rng: random.Random, start: dt.date, days: int) -> dt.date:
    while True:
        day = start + dt.timedelta(days=rng.randrange(days))
        if rng.random() < MONTH_WEIGHT.get(day.month, 1.0):
            return day


def _failed_items(rng: random.Random, product: DemoProduct) -> str:
    choices = FAILED_ITEMS.get(product.tags[0] if product.tags else "", GENERIC_FAILED_ITEMS)
    return "；".join(rng.sample(choices, k=1 if rng.random() < 0.75 else 2))


def _draw_batches(rng: random.Random, demos: list[DemoEnterprise], as_of: dt.date) -> list[_Batch]:
    """Spot-checked batches over the four years up to ``as_of``; more batches for high-harm products."""
    pairs = [(demo, product) for demo in demos for product in demo.products]
    if not pairs:
        return []
    weights = [CHECK_WEIGHT[product.harm] * (1.3 if product.licence_type != LicenceType.NONE else 1.0) for _, product in pairs]
    scale = len(demos) / VOLUME_FOR_ENTERPRISES
    batches = []
    for years_back, volume in enumerate(BATCHES_PER_YEAR[:HISTORY_YEARS]):
        end = years_before(as_of, years_back)
        start = years_before(as_of, years_back + 1) + dt.timedelta(days=1)
        for demo, product in rng.choices(pairs, weights=weights, k=round(volume * scale)):
            day = _sampling_day(rng, start, (end - start).days + 1)
            if demo.enterprise.status == Status.CLOSED and (as_of - day).days < 365:
                continue  # closed within the last year: no recent checks
            # The failed items are drawn whatever the outcome, so the outcomes do not shift later draws.
            batches.append(_Batch(day, demo, product, rng.random(), _tendency(demo, product, day, as_of), _failed_items(rng, product)))
    batches.sort(key=lambda batch: (batch.day, batch.demo.enterprise.credit_code, batch.product.code))
    return batches


def _already_risk(demo: DemoEnterprise, events: list[_Event], window: tuple[dt.date, dt.date]) -> bool:
    """Risk at the window's end without any non-conforming result: a licence lapse or another risk event."""
    start, end = window
    for made, product in zip(demo.made, demo.products):
        lapsed = made.licence_number == "" or (made.licence_expiry is not None and made.licence_expiry < end)
        if product.licence_type != LicenceType.NONE and lapsed:
            return True
    return any(start <= event.day <= end for event in events)


def _factor_for(target_share: float, active: int, already: int, thresholds: list[float]) -> float:
    needed = round(target_share * active / 100) - already
    if not thresholds:
        return 1.0
    if needed <= 0:
        return thresholds[0] / 2
    if needed >= len(thresholds):
        return thresholds[-1] * 1.01
    return (thresholds[needed - 1] + thresholds[needed]) / 2


def _county_factors(batches: list[_Batch], demos: list[DemoEnterprise], events: list[_Event], window) -> dict[str, float]:
    """Per county, the factor on the failure tendency that makes its share of risk enterprises at the
    window's end its target. An enterprise turns risk under factor k when one of its batches in the
    window has draw < min(MAX_FAILURE_RATE, k × tendency), i.e. when k exceeds its lowest draw ÷ tendency:
    sort those thresholds and take k between the n-th and the (n+1)-th, n being the risk enterprises
    still needed once licence lapses and other events are counted."""
    start, end = window
    events_of: dict[str, list[_Event]] = {}
    for event in events:
        events_of.setdefault(event.demo.enterprise.credit_code, []).append(event)
    threshold: dict[str, float] = {}
    for batch in batches:
        if start <= batch.day <= end and batch.draw < MAX_FAILURE_RATE:
            code = batch.demo.enterprise.credit_code
            threshold[code] = min(threshold.get(code, math.inf), batch.draw / batch.tendency)
    by_county: dict[str, list[DemoEnterprise]] = {}
    for demo in demos:
        if demo.enterprise.status == Status.ACTIVE:
            by_county.setdefault(demo.town.county.code, []).append(demo)
    factors = {}
    for county, active in sorted(by_county.items()):
        already = [_already_risk(demo, events_of.get(demo.enterprise.credit_code, []), window) for demo in active]
        thresholds = sorted(
            threshold[demo.enterprise.credit_code]
            for demo, risky in zip(active, already)
            if not risky and demo.enterprise.credit_code in threshold
        )
        factors[county] = _factor_for(active[0].town.county_profile.risk_share, len(active), sum(already), thresholds)
    return factors


def _results(rng: random.Random, batches: list[_Batch], factors: dict[str, float]) -> list[SpotCheckResult]:
    per_year: Counter = Counter()
    levels, level_weights = zip(*LEVELS)
    results = []
    for batch in batches:
        probability = min(MAX_FAILURE_RATE, factors[batch.demo.town.county.code] * batch.tendency)
        conforming = batch.draw >= probability
        per_year[batch.day.year] += 1
        results.append(
            SpotCheckResult(
                enterprise=batch.demo.enterprise,
                product_id=batch.product.id,
                checked_on=batch.day,
                conforming=conforming,
                batch_number=f"{batch.day - dt.timedelta(days=rng.randint(1, 60)):%Y%m%d}{rng.randint(1, 30):02d}",
                lab_report_number=f"JX{batch.day.year}-{per_year[batch.day.year]:04d}",
                level=rng.choices(levels, weights=level_weights)[0],
                failed_items="" if conforming else batch.failed_items,
                source=ResultSource.IMPORTED,
                is_demo=True,
            )
        )
    return results


def _follow_ups(rng: random.Random, results: list[SpotCheckResult], by_enterprise: dict, products: dict, as_of: dt.date) -> list[_Event]:
    """What follows some non-conforming results: overdue rectification, failed re-inspection, a penalty."""
    events = []
    for result in results:
        if result.conforming:
            continue
        demo, product = by_enterprise[result.enterprise.credit_code], products[result.product_id]
        for share, kind, (earliest, latest), text in FOLLOW_UPS:
            if rng.random() < share:
                day = result.checked_on + dt.timedelta(days=rng.randint(earliest, latest))
                description = text.format(report=result.lab_report_number, product=product.name)
                events.append(_Event(demo, kind, day, product, description))
    return [event for event in events if event.day <= as_of]


def _description(kind: str, product: DemoProduct, variant: int) -> str:
    if kind == RiskEventKind.VERIFIED_COMPLAINT:
        return f"消费者投诉{product.name}质量问题，经核查属实"
    if kind == RiskEventKind.INCIDENT:
        return f"{product.name}发生质量安全事故（{INCIDENTS[variant % len(INCIDENTS)]}），已立案调查"
    if kind == RiskEventKind.RECALL:
        return f"{product.name}存在缺陷，企业实施召回"
    if kind == RiskEventKind.PENALTY:
        return f"{product.name}标注虚假产品质量信息，被处以罚款"
    return LICENCE_PROBLEMS[variant % len(LICENCE_PROBLEMS)].format(product=product.name)


def _independent_events(rng: random.Random, demos: list[DemoEnterprise], as_of: dt.date) -> list[_Event]:
    """Complaints, incidents, recalls, penalties and licence problems over the last five years.

    Three draws per enterprise, kind and year whether or not an event happens, so that tuning a rate
    changes only which events happen, not every draw after it.
    """
    start = years_before(as_of, EVENT_YEARS) + dt.timedelta(days=1)
    span = (as_of - start).days + 1
    events = []
    for demo in demos:
        place = min(3.0, demo.town.place_risk)
        licensed = [product for product in demo.products if product.licence_type != LicenceType.NONE]
        recallable = [product for product in demo.products if RECALL_TAGS.intersection(product.tags)]
        for kind, yearly in YEARLY_RATES.items():
            candidates = {RiskEventKind.LICENCE_PROBLEM: licensed, RiskEventKind.RECALL: recallable}.get(kind, demo.products)
            if not candidates:
                continue
            for _year in range(EVENT_YEARS):
                happens, when, which = rng.random() < yearly * place, rng.random(), rng.random()
                if happens:
                    day = start + dt.timedelta(days=int(when * span))
                    product = candidates[int(which * len(candidates))]
                    events.append(_Event(demo, kind, day, product, _description(kind, product, day.toordinal())))
    return events


def _event_rows(events: list[_Event]) -> list[RiskEvent]:
    """Risk events numbered per kind and year, like "投诉 JX-TS-2025-0042"."""
    events = sorted(events, key=lambda event: (event.day, event.kind, event.demo.enterprise.credit_code))
    numbers: Counter = Counter()
    rows = []
    for event in events:
        label, code = REF_CODES[event.kind]
        numbers[(event.kind, event.day.year)] += 1
        rows.append(
            RiskEvent(
                enterprise=event.demo.enterprise,
                kind=event.kind,
                occurred_on=event.day,
                source_ref=f"{label} JX-{code}-{event.day.year}-{numbers[(event.kind, event.day.year)]:04d}",
                product_id=event.product.id if event.product else None,
                description=event.description[:500],
                is_demo=True,
            )
        )
    return rows


def generate_history(
    rng: random.Random, demos: list[DemoEnterprise], *, as_of: dt.date, risk_window_years: int
) -> tuple[list[SpotCheckResult], list[RiskEvent], dict[str, float]]:
    """Spot-check results, risk events other than non-conforming results, and the county factors used."""
    window = (years_before(as_of, risk_window_years), as_of)
    events = _independent_events(rng, demos, as_of)
    batches = _draw_batches(rng, demos, as_of)
    factors = _county_factors(batches, demos, events, window)
    results = _results(rng, batches, factors)
    by_enterprise = {demo.enterprise.credit_code: demo for demo in demos}
    products = {product.id: product for demo in demos for product in demo.products}
    events += _follow_ups(rng, results, by_enterprise, products, as_of)
    return results, _event_rows(events), factors


def save_history(results: list[SpotCheckResult], events: list[RiskEvent], *, batch_size: int = 2000) -> None:
    SpotCheckResult.objects.bulk_create(results, batch_size=batch_size)
    RiskEvent.objects.bulk_create(events, batch_size=batch_size)
