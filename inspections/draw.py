"""The target draw of a plan (双随机): reproducible, checkable, stratified by category and region colour.

Published method JQS-DRAW-1, which anyone can re-run from the plan's seed and the enterprise list:

1. Population: the active, classified enterprises in the plan's scope, each with its supervision category
   and the colour of its town in the plan's recorded snapshot period (its county's colour when the town has
   too few enterprises to be coloured).
2. Random control arm: every enterprise gets the key HMAC-SHA256(seed, "control:" + credit code) (hex);
   the ``control_share`` % of the budget (rounded half up) with the smallest keys form the control arm — a
   uniform sample.
3. Risk arm, from the others: stratum (category, colour) wants ratio(category) × multiplier(colour) % of
   its enterprises (at most all of them). Strata are listed by category (tightened, routine, responsibility,
   credit), then colour (uncoloured, green, orange, red, yellow). The risk budget is the budget minus the
   control arm, or the strata's total want rounded half up when that is smaller; it is shared in proportion
   to the wants by largest remainder in exact arithmetic (ties go to the stratum listed first), so the
   quotas sum to it.
4. Within a stratum, enterprises are ordered by HMAC-SHA256(seed, "risk:" + credit code) and the first
   ``quota`` are drawn. Keys depend only on the seed and the credit code, so the same seed gives the same
   list on any database, in any order of rows.

The population (credit code, category, colour of each enterprise) is recorded when the plan is dispatched and
published with the plan, so the draw can be re-run on it at any later time (``manage.py verify_plan``).
"""

import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import floor

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from enterprises.models import Category, EnterpriseProduct, Status
from enterprises.selectors import enterprises_within
from regions.models import Colour, Level, RegionSnapshot

from .models import DrawArm, InspectionPlan

DRAW_METHOD = "JQS-DRAW-1"
DRAW_METHOD_DESCRIPTION = __doc__


def draw_key(seed: str, salt: str, value: str) -> str:
    """The published ordering key: HMAC-SHA256 keyed by the seed over ``salt:value``."""
    return hmac.new(seed.encode(), f"{salt}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Candidate:
    enterprise_id: int
    credit_code: str
    name: str
    category: str
    colour: str | None


@dataclass
class DrawnTarget:
    enterprise_id: int
    credit_code: str
    name: str
    arm: str
    stratum: str
    rank: int
    key: str
    reason: str
    product_id: int | None = None


@dataclass
class Stratum:
    category: str
    colour: str | None
    population: int
    wanted: Decimal
    quota: int = 0


@dataclass
class Draw:
    targets: list[DrawnTarget] = field(default_factory=list)
    strata: list[Stratum] = field(default_factory=list)
    population: int = 0
    control_size: int = 0


def town_colours(period=None) -> dict[int, str | None]:
    """Each town's colour in the latest snapshot, its county's colour when the town has too few enterprises."""
    period = period or RegionSnapshot.objects.order_by("-period").values_list("period", flat=True).first()
    rows = RegionSnapshot.objects.filter(period=period, region__level__in=[Level.TOWN, Level.COUNTY]).values_list(
        "region_id", "region__parent_id", "region__level", "colour"
    )
    colour_of = {region_id: colour for region_id, _parent, _level, colour in rows}
    colours = {}
    for region_id, parent_id, level, colour in rows:
        if level == Level.TOWN:
            if colour == Colour.TOO_FEW:
                colour = colour_of.get(parent_id)
            colours[region_id] = None if colour == Colour.TOO_FEW else colour
    return colours


def plan_population(plan: InspectionPlan) -> list[Candidate]:
    colours = town_colours(plan.snapshot_period)
    rows = (
        enterprises_within(plan.scope)
        .filter(status=Status.ACTIVE, category__isnull=False)
        .values_list("id", "credit_code", "name", "category", "town_id")
    )
    return [Candidate(pk, code, name, category, colours.get(town_id)) for pk, code, name, category, town_id in rows]


def allocate(wanted: list[Decimal], total: int) -> list[int]:
    """Integer quotas proportional to ``wanted`` summing to ``total`` (largest remainder; ties by position)."""
    whole = sum(wanted)
    if whole <= 0 or total <= 0:
        return [0] * len(wanted)
    # Exact fractions: with Decimal's 28 digits, equal remainders could differ in the last digit and a tie
    # would be broken by precision instead of by position as published.
    exact = [Fraction(w) * total / Fraction(whole) for w in wanted]
    quotas = [floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in by_remainder[: total - sum(quotas)]:
        quotas[i] += 1
    return quotas


def stratum_label(category: str, colour: str | None) -> str:
    colour_label = Colour(colour).label if colour else _("uncoloured")
    return f"{Category(category).label}·{colour_label}"


def plan_draw(plan: InspectionPlan, population: list[Candidate] | None = None) -> Draw:
    """Draw a plan's targets by method JQS-DRAW-1 (module docstring), with the product each one is checked for.
    Reads, never writes."""
    draw = draw_targets(plan, plan_population(plan) if population is None else population)
    _attach_products(draw.targets)
    return draw


def draw_targets(plan: InspectionPlan, population: list[Candidate]) -> Draw:
    """JQS-DRAW-1 itself: a pure function of the plan's seed, budget, ratios and multipliers and the population
    (each enterprise's credit code, category and colour), so a recorded population re-runs to the same list."""
    with translation.override(settings.LANGUAGE_CODE):  # reasons are published text: one language
        draw = Draw(population=len(population))
        control_size = (plan.batch_budget * plan.control_share / 100).to_integral_value(rounding=ROUND_HALF_UP)
        draw.control_size = min(len(population), int(control_size))
        control_keys = sorted((draw_key(plan.seed, "control", c.credit_code), c) for c in population)
        control = control_keys[: draw.control_size]
        for rank, (key, candidate) in enumerate(control, start=1):
            reason = _("random control arm: rank %(rank)d of %(n)d by control key") % {"rank": rank, "n": len(population)}
            draw.targets.append(
                DrawnTarget(candidate.enterprise_id, candidate.credit_code, candidate.name, DrawArm.CONTROL, "control", rank, key, reason)
            )
        drawn = {candidate.credit_code for _key, candidate in control}
        _draw_risk_arm(plan, draw, [c for c in population if c.credit_code not in drawn])
    return draw


# --- The recorded population: what the draw was run on, published so that anyone can re-run it ------------

POPULATION_COLUMNS = ("credit_code", "category", "colour")


def population_csv(population: list[Candidate]) -> bytes:
    """The population as published: UTF-8 CSV, one enterprise a line by credit code, colour empty when none."""
    lines = [",".join(POPULATION_COLUMNS)]
    lines += [f"{c.credit_code},{c.category},{c.colour or ''}" for c in sorted(population, key=lambda c: c.credit_code)]
    return ("\n".join(lines) + "\n").encode()


def population_from_csv(data: bytes) -> list[Candidate]:
    """Read a published population back (enterprise ids and names are not needed to re-run the draw)."""
    header, *rows = data.decode().splitlines()
    if tuple(header.split(",")) != POPULATION_COLUMNS:
        raise ValueError(f"a population file starts with the line {','.join(POPULATION_COLUMNS)!r}")
    population = []
    for number, row in enumerate(rows, start=2):
        fields = row.split(",")
        if len(fields) != 3 or fields[1] not in Category.values or (fields[2] and fields[2] not in Colour.values):
            raise ValueError(f"line {number}: expected credit code, category and colour, got {row!r}")
        population.append(Candidate(0, fields[0], "", fields[1], fields[2] or None))
    return population


def _draw_risk_arm(plan: InspectionPlan, draw: Draw, rest: list[Candidate]) -> None:
    groups: dict[tuple[str, str | None], list[Candidate]] = {}
    for candidate in rest:
        groups.setdefault((candidate.category, candidate.colour), []).append(candidate)
    order = [c.value for c in Category]
    keys = sorted(groups, key=lambda k: (order.index(k[0]), k[1] or ""))
    for category, colour in keys:
        size = len(groups[(category, colour)])
        share = min(Decimal("100"), plan.ratio(category) * plan.multiplier(colour))
        draw.strata.append(Stratum(category, colour, size, Decimal(size) * share / 100))
    risk_budget = plan.batch_budget - draw.control_size
    wanted = [stratum.wanted for stratum in draw.strata]
    # Never more than the budget; when the strata want less, spend less ("no disturbance without cause").
    quotas = allocate(wanted, min(risk_budget, int(sum(wanted).to_integral_value(rounding=ROUND_HALF_UP))))
    for stratum, quota in zip(draw.strata, quotas, strict=True):
        stratum.quota = min(quota, stratum.population)
        members = sorted((draw_key(plan.seed, "risk", c.credit_code), c) for c in groups[(stratum.category, stratum.colour)])
        label = stratum_label(stratum.category, stratum.colour)
        for rank, (key, candidate) in enumerate(members[: stratum.quota], start=1):
            reason = _("%(stratum)s: rank %(rank)d of %(n)d, %(quota)d drawn") % {
                "stratum": label,
                "rank": rank,
                "n": stratum.population,
                "quota": stratum.quota,
            }
            draw.targets.append(
                DrawnTarget(
                    candidate.enterprise_id,
                    candidate.credit_code,
                    candidate.name,
                    DrawArm.RISK,
                    f"{stratum.category}/{stratum.colour or 'none'}",
                    rank,
                    key,
                    reason,
                )
            )


def _attach_products(targets: list[DrawnTarget]) -> None:
    """The product to spot-check: the enterprise's highest-grade product (then the lowest product code)."""
    best: dict[int, int] = {}
    rows = (
        EnterpriseProduct.objects.filter(enterprise_id__in=[t.enterprise_id for t in targets])
        .order_by("enterprise_id", "-product__grade", "product__code")
        .values_list("enterprise_id", "product_id")
    )
    for enterprise_id, product_id in rows:
        best.setdefault(enterprise_id, product_id)
    for target in targets:
        target.product_id = best.get(target.enterprise_id)
