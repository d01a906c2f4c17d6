"""Policy simulator: what a draft of the colour thresholds and the supervision policy would change, side by side
with the rules in force, before anyone adopts it (DOMAIN.md, "What the bureau measures"). Simulating writes
nothing; adopting writes new audited versions of the rules and re-runs the pipeline.

Both columns are computed the same way, on the jurisdiction's active enterprises today and its latest region
snapshot, so the difference is the rules' alone:

- **Key-supervised enterprises**: the grade × class table (``category_expression``) over each enterprise's
  highest product grade and risk class, under each policy; key-supervised = tightened + routine.
- **Region colours**: ``colour_for`` over the latest snapshot's counts under each set of thresholds. A town too
  small to colour takes its county's colour, and is uncoloured (multiplier 1) when that is too small too, as in
  the draw (JQS-DRAW-1).
- **Next plan's batches**: Σ over strata (category × town colour) of enterprises × the category's draw ratio ×
  the colour's multiplier (capped at 100 %): what the strata want, before a batch budget or control arm.
- **Spending**: the draw checks an enterprise's highest-grade product (then the lowest product code), so each
  enterprise costs that product's cost per batch; a stratum spends its draw share × the sum of its costs.
- **Expected non-conforming enterprises reached**: Σ over strata of batches × the stratum's observed rate
  (non-conforming ÷ all spot-check results of its enterprises within the risk window before today); a
  stratum without results takes the rate of the whole population.
- **Regions changing colour**: every region of the jurisdiction in the latest snapshot whose colour differs.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from enterprises.models import CATEGORY_CELLS, DRAW_RATIO_FIELDS, KEY_SUPERVISED, Category, EnterpriseProduct, Status, SupervisionPolicy
from enterprises.selectors import enterprises_within
from enterprises.services import category_expression
from regions.models import Colour, ColourThresholds, RegionSnapshot, code_prefix
from regions.periods import years_before
from regions.services import colour_for, risk_share_percent, town_draw_colours

from ..models import SCORE_FLOOR_SHARE_DEFAULT, SpotCheckResult
from ..sampling import inclusion_probabilities

SCORE_FLOOR_SHARE = float(SCORE_FLOOR_SHARE_DEFAULT) / 100  # JQS-DRAW-2's default floor, as a plan gets it

THRESHOLD_FIELDS = ("yellow_from", "orange_from", "red_from", "min_enterprises")
DRAFT_POLICY_FIELDS = (*DRAW_RATIO_FIELDS, *CATEGORY_CELLS)  # what a draft of the supervision policy may change
COLOUR_ORDER = ("", Colour.GREEN, Colour.ORANGE, Colour.RED, Colour.YELLOW)  # the draw's stratum order


def draft_of(current, values: dict):
    """An unsaved copy of the rule version in force with ``values`` changed (the fields the form leaves out,
    such as the risk window or the visits a year, stay as they are)."""
    return type(current)(**(current.rule_values() | values))


def rule_changes(current, draft, names) -> list[tuple[str, object, object]]:
    """(verbose name, in force, draft) of every field the draft changes."""
    return [
        (str(current._meta.get_field(name).verbose_name), getattr(current, name), getattr(draft, name))
        for name in names
        if getattr(current, name) != getattr(draft, name)
    ]


# --- Simulation ----------------------------------------------------------------------------------------------


@dataclass
class Stratum:
    category: str
    colour: str | None
    ratio: Decimal  # % of the stratum drawn a year
    enterprises: int = 0
    cost: Decimal = Decimal("0")  # Σ cost per batch of the product each enterprise would be checked on
    checks: int = 0
    nonconforming: int = 0
    rate: Decimal = Decimal("0")  # the rate used: the stratum's own, or the population's
    scored_expectation: Decimal | None = None  # Σ λ·score under JQS-DRAW-2, when every enterprise has a score

    @property
    def batches(self) -> Decimal:
        return self.enterprises * self.ratio / 100

    @property
    def rate_percent(self) -> Decimal:
        return self.rate * 100

    @property
    def category_label(self) -> str:
        return Category(self.category).label

    @property
    def colour_label(self) -> str:
        return Colour(self.colour).label if self.colour else _("uncoloured")

    @property
    def spending(self) -> Decimal:
        return self.cost * self.ratio / 100

    @property
    def expected_nonconforming(self) -> Decimal:
        if self.scored_expectation is not None:
            return self.scored_expectation
        return self.batches * self.rate


def scored_expectation(scores: list[float], batches: Decimal, floor_share: float) -> Decimal:
    """Expected non-conforming finds of a stratum drawn by JQS-DRAW-2: Σ λᵢ·scoreᵢ, with λ the draw's own
    inclusion probabilities (``pps.inclusion_probabilities``) for that many batches."""
    n = float(batches)
    if not scores or n <= 0:
        return Decimal("0")
    whole = int(n)
    chances = inclusion_probabilities(scores, whole, floor_share * whole / len(scores)) if whole else [0.0] * len(scores)
    extra = (n - whole) * sum(scores) / len(scores) if n > whole else 0.0  # a fractional batch, at the stratum's mean
    return Decimal(str(round(sum(c * s for c, s in zip(chances, scores, strict=True)) + extra, 6)))


@dataclass
class Scenario:
    strata: list[Stratum]
    by_category: dict[str, int]
    regions_by_colour: dict[str, Counter]  # level → colour → regions

    @property
    def enterprises(self) -> int:
        return sum(self.by_category.values())

    @property
    def key_supervised(self) -> int:
        return sum(self.by_category.get(category, 0) for category in KEY_SUPERVISED)

    @property
    def batches(self) -> Decimal:
        return sum((s.batches for s in self.strata), Decimal("0"))

    @property
    def spending(self) -> Decimal:
        return sum((s.spending for s in self.strata), Decimal("0"))

    @property
    def expected_nonconforming(self) -> Decimal:
        return sum((s.expected_nonconforming for s in self.strata), Decimal("0"))

    @property
    def yield_per_100(self) -> Decimal | None:
        batches = self.batches
        return self.expected_nonconforming * 100 / batches if batches else None


@dataclass(frozen=True)
class ColourChange:
    code: str
    name: str
    level: str
    risk_share: Decimal
    enterprises: int
    old: str
    new: str

    @property
    def old_label(self) -> str:
        return Colour(self.old).label

    @property
    def new_label(self) -> str:
        return Colour(self.new).label


@dataclass
class Simulation:
    in_force: Scenario
    draft: Scenario
    changes: list[ColourChange]
    snapshot_period: dt.date | None
    window: tuple[dt.date, dt.date]
    population_rate: Decimal
    category_changes: list[tuple[str, str, int]] = field(default_factory=list)  # (in force, draft, enterprises)


@dataclass(frozen=True)
class RegionCounts:
    region_id: int
    parent_id: int | None
    level: str
    code: str
    name: str
    enterprises: int
    risk: int


def _latest_regions(jurisdiction) -> tuple[dt.date | None, list[RegionCounts]]:
    """The latest snapshot's counts of every region in the jurisdiction. Two queries."""
    latest = RegionSnapshot.objects.order_by("-period").values_list("period", flat=True).first()
    snapshots = RegionSnapshot.objects.filter(period=latest)
    if jurisdiction is not None:
        snapshots = snapshots.filter(region__code__startswith=code_prefix(jurisdiction.code))
    rows = snapshots.order_by("region__code").values_list(
        "region_id", "region__parent_id", "region__level", "region__code", "region__name", "enterprise_count", "risk_count"
    )
    return latest, [RegionCounts(*row) for row in rows]


def _colours(regions: list[RegionCounts], thresholds: ColourThresholds) -> dict[int, str]:
    return {r.region_id: colour_for(r.risk, r.enterprises, thresholds) for r in regions}


def _town_colours(regions: list[RegionCounts], colours: dict[int, str]) -> dict[int, str | None]:
    """A town's colour for the draw under ``colours`` (``town_draw_colours``)."""
    return town_draw_colours((region.region_id, region.parent_id, region.level, colours[region.region_id]) for region in regions)


def _enterprise_groups(jurisdiction, in_force: SupervisionPolicy, draft: SupervisionPolicy, since: dt.date, until: dt.date) -> list[dict]:
    """Active enterprises grouped by town, category in force and draft category, with the cost of what the draw
    would check and their spot-check results in the window. One query."""
    checked_product = EnterpriseProduct.objects.filter(enterprise=OuterRef("pk")).order_by("-product__grade", "product__code")
    results = SpotCheckResult.objects.filter(enterprise=OuterRef("pk"), checked_on__gte=since, checked_on__lte=until).order_by()

    def count_of(queryset):
        return Coalesce(Subquery(queryset.values("enterprise").annotate(n=Count("id")).values("n")), Value(0))

    return list(
        enterprises_within(jurisdiction)
        .filter(status=Status.ACTIVE)
        .annotate(in_force_category=category_expression(in_force), draft_category=category_expression(draft))
        .values("town_id", "in_force_category", "draft_category")
        .annotate(
            n=Count("id"),
            cost=Sum(Coalesce(Subquery(checked_product.values("product__spot_check_cost")[:1]), Value(Decimal("0")))),
            checks=Sum(count_of(results)),
            nonconforming=Sum(count_of(results.filter(conforming=False))),
        )
        .order_by()
    )


def _scenario(
    groups, category_key: str, policy: SupervisionPolicy, regions, colours, population_rate: Decimal, scores_by_stratum=None
) -> Scenario:
    town_colour = _town_colours(regions, colours)
    strata: dict[tuple[str, str | None], Stratum] = {}
    by_category: Counter = Counter()
    for group in groups:
        category, colour = group[category_key], town_colour.get(group["town_id"])
        stratum = strata.get((category, colour))
        if stratum is None:
            stratum = strata[(category, colour)] = Stratum(category, colour, policy.draw_ratio(category, colour))
        stratum.enterprises += group["n"]
        stratum.cost += Decimal(group["cost"] or 0)
        stratum.checks += group["checks"] or 0
        stratum.nonconforming += group["nonconforming"] or 0
        by_category[category] += group["n"]
    for (category, colour), scores in (scores_by_stratum or {}).items():
        stratum = strata.get((category, colour))
        if stratum is not None and len(scores) == stratum.enterprises:
            stratum.scored_expectation = scored_expectation(scores, stratum.batches, SCORE_FLOOR_SHARE)
    for stratum in strata.values():
        stratum.rate = Decimal(stratum.nonconforming) / stratum.checks if stratum.checks else population_rate
    order = list(Category.values)
    regions_by_colour: dict[str, Counter] = {}
    for region in regions:
        regions_by_colour.setdefault(region.level, Counter())[colours[region.region_id]] += 1
    return Scenario(
        strata=sorted(strata.values(), key=lambda s: (order.index(s.category), COLOUR_ORDER.index(s.colour or ""))),
        by_category={category: by_category.get(category, 0) for category in order},
        regions_by_colour=regions_by_colour,
    )


def _scored_enterprises(jurisdiction, in_force: SupervisionPolicy, draft: SupervisionPolicy) -> list[dict]:
    """Each active enterprise's town, categories in force and in the draft, and risk score under the adopted model
    (empty when none is adopted: the strata's observed rates are used). One query."""
    return list(
        enterprises_within(jurisdiction)
        .filter(status=Status.ACTIVE, risk_score__isnull=False)
        .annotate(in_force_category=category_expression(in_force), draft_category=category_expression(draft))
        .values("town_id", "in_force_category", "draft_category", "risk_score__probability")
    )


def _scores_by_stratum(scored: list[dict], category_key: str, regions, colours) -> dict:
    town_colour = _town_colours(regions, colours)
    by_stratum: dict[tuple[str, str | None], list[float]] = {}
    for row in scored:
        by_stratum.setdefault((row[category_key], town_colour.get(row["town_id"])), []).append(row["risk_score__probability"])
    return by_stratum


def policy_simulate(
    *,
    jurisdiction,
    thresholds_in_force: ColourThresholds,
    policy_in_force: SupervisionPolicy,
    thresholds_draft: ColourThresholds,
    policy_draft: SupervisionPolicy,
    as_of: dt.date | None = None,
) -> Simulation:
    """The rules in force and the draft, side by side, on the jurisdiction (module docstring). Reads only:
    four queries whatever the number of enterprises (the latest snapshot's period and
    counts, the enterprise groups, the risk scores)."""
    as_of = as_of or timezone.localdate()
    window = (years_before(as_of, policy_in_force.risk_window_years), as_of)
    period, regions = _latest_regions(jurisdiction)
    groups = _enterprise_groups(jurisdiction, policy_in_force, policy_draft, *window)
    checks = sum(group["checks"] or 0 for group in groups)
    population_rate = Decimal(sum(group["nonconforming"] or 0 for group in groups)) / checks if checks else Decimal("0")
    old_colours, new_colours = _colours(regions, thresholds_in_force), _colours(regions, thresholds_draft)
    changes = [
        ColourChange(
            r.code,
            r.name,
            r.level,
            risk_share_percent(r.risk, r.enterprises),
            r.enterprises,
            old_colours[r.region_id],
            new_colours[r.region_id],
        )
        for r in regions
        if old_colours[r.region_id] != new_colours[r.region_id]
    ]
    moved: Counter = Counter()
    for group in groups:
        if group["in_force_category"] != group["draft_category"]:
            moved[(group["in_force_category"], group["draft_category"])] += group["n"]
    scored = _scored_enterprises(jurisdiction, policy_in_force, policy_draft)
    in_force_scores = _scores_by_stratum(scored, "in_force_category", regions, old_colours)
    draft_scores = _scores_by_stratum(scored, "draft_category", regions, new_colours)
    return Simulation(
        in_force=_scenario(groups, "in_force_category", policy_in_force, regions, old_colours, population_rate, in_force_scores),
        draft=_scenario(groups, "draft_category", policy_draft, regions, new_colours, population_rate, draft_scores),
        changes=changes,
        snapshot_period=period,
        window=window,
        population_rate=population_rate,
        category_changes=[(old, new, n) for (old, new), n in sorted(moved.items(), key=lambda item: -item[1])],
    )


# --- Adoption ------------------------------------------------------------------------------------------------
