"""Rules owned by the regions app: colouring a region (区域分色) and its quality-safety index (一指数).

The counting queries live with the apps that own the rows (enterprises, inspections); they hand plain
numbers per town to these functions, which roll them up the division tree and store one snapshot per
region and period.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .map_cache import map_microcache
from .models import Colour, ColourThresholds, IndexWeights, Level, Region, RegionSnapshot


def colour_for(risk_count: int, enterprise_count: int, thresholds: ColourThresholds) -> str:
    """区域分色: colour a region by its share of risk enterprises among its active enterprises.

    red from ``red_from`` %, orange from ``orange_from`` %, yellow from ``yellow_from`` %, green below; a
    region with fewer than ``min_enterprises`` active enterprises is "too few to colour", never green.
    The share is compared exactly (as a fraction), so 20 of 100 is red under a 20 % cut-off.
    """
    if enterprise_count < max(thresholds.min_enterprises, 1):
        return Colour.TOO_FEW
    share = Fraction(risk_count * 100, enterprise_count)
    if share >= Fraction(thresholds.red_from):
        return Colour.RED
    if share >= Fraction(thresholds.orange_from):
        return Colour.ORANGE
    if share >= Fraction(thresholds.yellow_from):
        return Colour.YELLOW
    return Colour.GREEN


def town_draw_colours(regions: Iterable[tuple[int, int | None, str, str | None]]) -> dict[int, str | None]:
    """The colour each town's enterprises are drawn with (JQS-DRAW-1), from (region id, parent id, level, colour)
    of the towns and their counties: the town's own; its county's when the town has too few enterprises to
    colour; None (multiplier 1) when the county has too few too or is not given."""
    regions = list(regions)
    colour_of = {region_id: colour for region_id, _parent, _level, colour in regions}
    towns = {}
    for region_id, parent_id, level, colour in regions:
        if level == Level.TOWN:
            if colour == Colour.TOO_FEW:
                colour = colour_of.get(parent_id)
            towns[region_id] = None if colour in (None, Colour.TOO_FEW) else colour
    return towns


def risk_share_percent(risk_count: int, enterprise_count: int) -> Decimal:
    if not enterprise_count:
        return Decimal("0")
    return (Decimal(risk_count * 100) / Decimal(enterprise_count)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


@dataclass
class IndexInputs:
    """Raw counts behind one region's index over the index window."""

    enterprises: int = 0
    risk_enterprises: int = 0
    spot_checks: int = 0
    spot_checks_passed: int = 0
    rectifications_due: int = 0
    rectifications_overdue: int = 0
    incidents: int = 0


def index_scores(inputs: IndexInputs, weights: IndexWeights) -> dict[str, float | None]:
    """Each component on a 0–1 scale; None where the region has no data for it (it then carries no weight)."""
    no_data = inputs.enterprises == 0
    incidents_per_100 = 0.0 if no_data else inputs.incidents * 100 / inputs.enterprises
    return {
        "non_risk_share": None if no_data else 1 - inputs.risk_enterprises / inputs.enterprises,
        "pass_rate": inputs.spot_checks_passed / inputs.spot_checks if inputs.spot_checks else None,
        "on_time_rectification": (
            1 - min(1.0, inputs.rectifications_overdue / inputs.rectifications_due) if inputs.rectifications_due else None
        ),
        "incident_score": None if no_data else max(0.0, 1 - incidents_per_100 / float(weights.incidents_per_100_for_zero)),
    }


INDEX_COMPONENT_WEIGHTS = {
    "non_risk_share": "risk_share_weight",
    "pass_rate": "pass_rate_weight",
    "on_time_rectification": "rectification_weight",
    "incident_score": "incident_weight",
}


def index_for(inputs: IndexInputs, weights: IndexWeights) -> Decimal | None:
    """一指数: index = 100 × Σ(weight × score) / Σ(weight) over the components the region has data for.

    Scores: share of non-risk enterprises; spot-check pass rate; on-time rectification rate
    (1 − overdue / due); incident score (1 − incidents per 100 enterprises ÷ the count that scores zero,
    floored at 0). None when the region has no data at all.
    """
    scores = index_scores(inputs, weights)
    weighted = [(float(getattr(weights, INDEX_COMPONENT_WEIGHTS[name])), score) for name, score in scores.items() if score is not None]
    total_weight = sum(weight for weight, _ in weighted)
    if not total_weight:
        return None
    value = 100 * sum(weight * score for weight, score in weighted) / total_weight
    return Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def index_formula(weights: IndexWeights) -> str:
    """The formula as shown to users next to the number, in the reader's language."""
    return _(
        "100 × (%(risk_share)s×share of non-risk enterprises + %(pass_rate)s×spot-check pass rate + "
        "%(rectification)s×on-time rectification rate + %(incident)s×incident score) ÷ the sum of the weights of the "
        "components with data; incident score = 1 − incidents per 100 enterprises ÷ %(incidents_for_zero)s"
    ) % {
        "risk_share": weights.risk_share_weight,
        "pass_rate": weights.pass_rate_weight,
        "rectification": weights.rectification_weight,
        "incident": weights.incident_weight,
        "incidents_for_zero": weights.incidents_per_100_for_zero,
    }


def _ancestors_by_region(regions: list[Region]) -> dict[int, list[int]]:
    """Each region id → itself and every ancestor id, from one list of regions (no queries)."""
    parent_of = {region.id: region.parent_id for region in regions}
    chains = {}
    for region_id in parent_of:
        chain, current = [], region_id
        while current is not None:
            chain.append(current)
            current = parent_of.get(current)
        chains[region_id] = chain
    return chains


def roll_up(values_by_town: dict[int, Counter], regions: list[Region]) -> dict[int, Counter]:
    """Sum per-town counters into every region above them (town → county → city → province)."""
    chains = _ancestors_by_region(regions)
    totals: dict[int, Counter] = defaultdict(Counter)
    for town_id, values in values_by_town.items():
        for region_id in chains.get(town_id, [town_id]):
            totals[region_id].update(values)
    return totals


@dataclass
class ColourReport:
    period: str
    regions: int = 0
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (region name, old colour, new colour)
    first_coloured: int = 0  # regions that had no colour before (a new database, a new division)

    def as_dict(self) -> dict:
        first = _(", %(n)d for the first time") % {"n": self.first_coloured} if self.first_coloured else ""
        return {
            "period": self.period,
            "regions": self.regions,
            "changed": len(self.changed),
            "first_coloured": self.first_coloured,
            "message": _("%(changed)d regions changed colour (%(regions)d coloured for %(period)s%(first)s)")
            % {"changed": len(self.changed), "regions": self.regions, "period": self.period, "first": first},
            "changes": [f"{name}: {old} → {new}" for name, old, new in self.changed],
        }


@transaction.atomic
def region_snapshots_update(*, period, town_counts: dict[int, Counter], thresholds: ColourThresholds | None = None) -> ColourReport:
    """Colour every region for ``period`` from per-town counters of ``enterprises``, ``risk`` and reason kinds.

    Idempotent: the snapshot of (region, period) is replaced. A colour change is measured against the
    same period's earlier snapshot, or else against the latest earlier period.
    """
    thresholds = thresholds or ColourThresholds.in_force()
    regions = list(Region.objects.only("id", "parent_id", "name"))
    totals = roll_up(town_counts, regions)
    previous = _previous_colours(period)
    report = ColourReport(period=f"{period:%Y-%m}", regions=len(regions))
    snapshots = []
    for region in regions:
        counts = totals.get(region.id, Counter())
        enterprises, risk = counts.pop("enterprises", 0), counts.pop("risk", 0)
        key_supervised = counts.pop("key_supervised", 0)
        colour = colour_for(risk, enterprises, thresholds)
        old = previous.get(region.id)
        if old is None:
            report.first_coloured += 1
        elif old != colour:
            report.changed.append((region.name, old, colour))
        snapshots.append(
            RegionSnapshot(
                region_id=region.id,
                period=period,
                enterprise_count=enterprises,
                risk_count=risk,
                key_supervised_count=key_supervised,
                risk_share=risk_share_percent(risk, enterprises),
                colour=colour,
                thresholds=thresholds,
                reason_counts=dict(counts.most_common()),
            )
        )
    RegionSnapshot.objects.bulk_create(
        snapshots,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["region", "period"],
        update_fields=[
            "enterprise_count",
            "risk_count",
            "key_supervised_count",
            "risk_share",
            "colour",
            "thresholds",
            "reason_counts",
            "computed_at",
        ],
    )
    _map_changed()
    return report


def _map_changed() -> None:
    """Bulk writes send no signals: empty this process's map micro-cache now and again once the new rows are
    visible (a request in between could cache the old ones)."""
    map_microcache.clear()
    transaction.on_commit(map_microcache.clear)


def _previous_colours(period) -> dict[int, str]:
    same_period = dict(RegionSnapshot.objects.filter(period=period).values_list("region_id", "colour"))
    if same_period:
        return same_period
    latest = RegionSnapshot.objects.filter(period__lt=period).order_by("-period").values_list("period", flat=True).first()
    if latest is None:
        return {}
    return dict(RegionSnapshot.objects.filter(period=latest).values_list("region_id", "colour"))


@transaction.atomic
def region_indexes_update(*, period, town_inputs: dict[int, Counter], weights: IndexWeights | None = None) -> dict:
    """一指数 for every region's snapshot of ``period``, from per-town counters named as IndexInputs fields.

    The enterprise and risk counts come from the period's snapshot, so colour and index agree.
    """
    weights = weights or IndexWeights.in_force()
    regions = list(Region.objects.only("id", "parent_id"))
    totals = roll_up(town_inputs, regions)
    snapshots = list(RegionSnapshot.objects.filter(period=period))
    for snapshot in snapshots:
        counts = totals.get(snapshot.region_id, Counter())
        inputs = IndexInputs(
            enterprises=snapshot.enterprise_count,
            risk_enterprises=snapshot.risk_count,
            **{name: counts.get(name, 0) for name in IndexInputs.__dataclass_fields__ if name not in ("enterprises", "risk_enterprises")},
        )
        snapshot.index = index_for(inputs, weights)
        snapshot.index_inputs = {**inputs.__dict__, "scores": index_scores(inputs, weights)}
        snapshot.weights = weights
    changed_at = timezone.now()  # bulk writes skip auto_now: without it a cached map would keep the old index
    for snapshot in snapshots:
        snapshot.computed_at = changed_at
    # Written back as an upsert of the rows just read: one INSERT … ON CONFLICT per batch, where bulk_update's
    # CASE per row and field cost seconds of Python for a province's 1,500 regions.
    RegionSnapshot.objects.bulk_create(
        snapshots,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["region", "period"],
        update_fields=["index", "index_inputs", "weights", "computed_at"],
    )
    _map_changed()
    indexed = [s.index for s in snapshots if s.index is not None]
    return {
        "period": f"{period:%Y-%m}",
        "regions": len(snapshots),
        "message": _("index computed for %(n)d regions") % {"n": len(indexed)},
    }
