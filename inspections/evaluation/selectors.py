"""The bureau's figures for any two periods (DOMAIN.md, "What the bureau measures"), the closed loop's figures,
the targeted-versus-random test of the grading and the inspector effect. Reads only.

Every query starts from the user's jurisdiction (``enterprises_within``) and is a grouped aggregate: the work
per request does not grow with the number of enterprises on the Python side.

The definitions shown next to the figures are the docstrings' plain-language twins in ``DEFINITIONS``.
"""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.contrib.auth import get_user_model
from django.db.models import Avg, Case, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Left, StrIndex, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.models import Category, SupervisionPolicy
from enterprises.selectors import enterprises_within
from regions.models import RegionSnapshot
from regions.periods import Period, month_end, period_parse, years_before

from ..models import Conclusion, DrawArm, InspectionPlan, OrderStatus, SpotCheckResult, TaskAssignment, TaskKind, TaskStatus
from ..planning.draw import DRAW_METHOD_PPS
from ..planning.selectors import plan_population_csv, tasks_within
from ..rectification.selectors import orders_overdue, orders_within
from ..sampling import Estimate, ht_total, share_estimate, wilson
from ..spotchecks.selectors import spot_checks_within

# Reporting conventions of the statistics below, not bureau rules: they decide what is shown, never a decision.
Z95 = 1.959964  # two-sided 95 % normal quantile
MIN_ARM_SAMPLE = 30  # inspections per arm below which a rate comparison is called too small
MIN_OFFICER_TASKS = 20  # checked tasks below which an officer's rate is not compared
OUTLIER_Z = 2.0  # |z| above which an officer is flagged

DEFINITIONS = {
    "key_supervised": gettext_lazy(
        "Key-supervised enterprises (tightened or routine supervision) in the jurisdiction at the end of the period: "
        "the region snapshot of the period's last month (or its latest snapshot within the period)."
    ),
    "batches": gettext_lazy("Spot-check batches: spot-check results of enterprises in the jurisdiction sampled within the period."),
    "spending": gettext_lazy("Spot-check spending: the sum, over those batches, of the product's cost per spot-check batch (yuan)."),
    "coverage": gettext_lazy(
        "Coverage of tightened checks on non-conforming enterprises: of the enterprises with a non-conforming spot-check "
        "result in the risk window (years of the supervision policy, 3 by default) before the period starts, the share "
        "spot-checked at least once during the period. Its change is in percentage points."
    ),
    "change": gettext_lazy("Change = (B − A) ÷ A, in %; none when A is zero."),
    "on_time": gettext_lazy(
        "Rectification orders closed within the period; on time when closed no later than the re-inspection deadline (75 days)."
    ),
    "days_to_close": gettext_lazy("Mean days from the order to its closing, over the orders closed within the period."),
    "overdue_now": gettext_lazy("Orders flagged overdue (no re-inspection by the deadline) and not closed, today."),
    "outcomes": gettext_lazy("Orders opened within the period, by where they stand now."),
    "arms": gettext_lazy(
        "Non-conforming results per 100 inspections among submitted spot-check tasks checked within the period, in the "
        "risk-stratified draw and in the random control arm, with 95 % Wilson intervals. Category: the stratum the task "
        "was drawn in; control-arm tasks record none, so theirs is the enterprise's current category (which a "
        "non-conforming result may since have raised). Ratio = risk-arm rate ÷ control-arm rate (95 % interval on the "
        "log scale)."
    ),
    "inspectors": gettext_lazy(
        "Per officer, over their submitted spot-check tasks checked within the period: observed non-conformity rate "
        "against the rate expected from the strata of their tasks (for each task, the non-conformity rate of its "
        "stratum among the other officers' tasks). z = (observed − expected) ÷ √Σp(1−p). Officers are assigned at "
        "random, so |z| > 2 flags an officer whose findings differ from what their tasks predict."
    ),
}


# --- Periods -------------------------------------------------------------------------------------------------


def default_periods(today: dt.date | None = None) -> tuple[Period, Period]:
    """B = this year so far (January to the current month), A = the same months a year earlier (同比): the
    dashboard opens on the work in hand, not on years a new bureau has no records for."""
    today = today or timezone.localdate()
    return (
        period_parse(f"{today.year - 1}-01..{today.year - 1}-{today.month:02d}"),
        period_parse(f"{today.year}-01..{today.year}-{today.month:02d}"),
    )


def change_percent(a, b) -> Decimal | None:
    """(B − A) ÷ A in %, two decimals (half up); None when A is zero or either is missing."""
    if a is None or b is None or not a:
        return None
    return _quantize(Fraction(Decimal(b) - Decimal(a)) * 100 / Fraction(Decimal(a)))


def _quantize(value: Fraction | float, places: str = "0.01") -> Decimal:
    if isinstance(value, Fraction):
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(places), ROUND_HALF_UP)
    return Decimal(str(value)).quantize(Decimal(places), ROUND_HALF_UP)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# --- The four figures ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """The records behind a number: an admin changelist and its filters (the view turns it into a link)."""

    model: str  # "app_label.model_name"
    params: dict


@dataclass
class Figure:
    key: str
    label: str
    definition: str
    a: Decimal | int | None
    b: Decimal | int | None
    change: Decimal | None
    change_unit: str  # "%" or "pp" (percentage points)
    unit: str = ""
    records: tuple[Records | None, Records | None] = (None, None)
    notes: tuple[str, str] = ("", "")


def _snapshots_of(jurisdiction):
    """The snapshots that count the whole jurisdiction: its own region's, or the top regions' for everywhere."""
    if jurisdiction is None:
        return RegionSnapshot.objects.filter(region__parent__isnull=True)
    return RegionSnapshot.objects.filter(region=jurisdiction)


def key_supervised_at_end(*, jurisdiction, period: Period) -> tuple[int | None, RegionSnapshot | None]:
    """Key-supervised enterprises at the end of ``period``: the jurisdiction's snapshot of the period's last month,
    or its latest snapshot within the period; (None, None) when the period has no snapshot."""
    row = (
        _snapshots_of(jurisdiction)
        .filter(period__gte=period.start, period__lte=period.last_month)
        .values("period")
        .annotate(total=Sum("key_supervised_count"))
        .order_by("-period")
        .first()
    )
    if row is None:
        return None, None
    return row["total"], row["period"]


def spot_check_totals(*, jurisdiction, period: Period) -> dict:
    """Spot-check batches sampled within ``period`` and their cost (Σ product.spot_check_cost). One query."""
    totals = (
        spot_checks_within(jurisdiction)
        .filter(checked_on__gte=period.start, checked_on__lte=period.end)
        .aggregate(batches=Count("id"), spending=Sum("product__spot_check_cost"))
    )
    return {"batches": totals["batches"], "spending": totals["spending"] or Decimal("0")}


def coverage_window(period: Period) -> tuple[dt.date, dt.date]:
    """The risk window (policy in force when the period starts) ending the day before the period starts."""
    years = SupervisionPolicy.in_force(_start_of(period.start)).risk_window_years
    return years_before(period.start, years), period.start - dt.timedelta(days=1)


def nonconforming_coverage(*, jurisdiction, period: Period) -> dict:
    """Of the enterprises with a non-conforming result in the window before ``period``, how many were
    spot-checked during it. One query."""
    since, until = coverage_window(period)
    failed_before = SpotCheckResult.objects.filter(
        enterprise=OuterRef("pk"), conforming=False, checked_on__gte=since, checked_on__lte=until
    )
    checked_during = SpotCheckResult.objects.filter(enterprise=OuterRef("pk"), checked_on__gte=period.start, checked_on__lte=period.end)
    # The Exists goes straight into the filter: an annotated boolean is lost when Django wraps the aggregate.
    counts = (
        enterprises_within(jurisdiction)
        .filter(Exists(failed_before))
        .aggregate(total=Count("id"), reached=Count("id", filter=Exists(checked_during)))
    )
    share = _quantize(Fraction(counts["reached"] * 100, counts["total"])) if counts["total"] else None
    return {"total": counts["total"], "reached": counts["reached"], "share": share, "window": (since, until)}


def date_filter(field_name: str, period: Period) -> dict:
    return {f"{field_name}__gte": period.start.isoformat(), f"{field_name}__lte": period.end.isoformat()}


def bureau_figures(*, jurisdiction, a: Period, b: Period) -> list[Figure]:
    """The four figures the bureau reports (DOMAIN.md), for periods A and B and their change."""
    key = [key_supervised_at_end(jurisdiction=jurisdiction, period=p) for p in (a, b)]
    totals = [spot_check_totals(jurisdiction=jurisdiction, period=p) for p in (a, b)]
    coverage = [nonconforming_coverage(jurisdiction=jurisdiction, period=p) for p in (a, b)]
    snapshot_region = {"region__id__exact": jurisdiction.pk} if jurisdiction is not None else {"region__parent__isnull": "1"}
    spot_checks = [Records("inspections.spotcheckresult", date_filter("checked_on", p)) for p in (a, b)]
    return [
        Figure(
            "key_supervised",
            _("Key-supervised enterprises"),
            DEFINITIONS["key_supervised"],
            key[0][0],
            key[1][0],
            change_percent(key[0][0], key[1][0]),
            "%",
            unit=_("enterprises"),
            records=tuple(
                Records("regions.regionsnapshot", {**snapshot_region, "period": month.isoformat()}) if month else None
                for _total, month in key
            ),
            notes=tuple(
                _("snapshot %(month)s") % {"month": f"{month:%Y-%m}"} if month else _("no snapshot in the period") for _t, month in key
            ),
        ),
        Figure(
            "batches",
            _("Spot-check batches"),
            DEFINITIONS["batches"],
            totals[0]["batches"],
            totals[1]["batches"],
            change_percent(totals[0]["batches"], totals[1]["batches"]),
            "%",
            unit=_("batches"),
            records=tuple(spot_checks),
        ),
        Figure(
            "spending",
            _("Spot-check spending"),
            DEFINITIONS["spending"],
            totals[0]["spending"],
            totals[1]["spending"],
            change_percent(totals[0]["spending"], totals[1]["spending"]),
            "%",
            unit=_("yuan"),
            records=tuple(spot_checks),
        ),
        Figure(
            "coverage",
            _("Coverage of non-conforming enterprises"),
            DEFINITIONS["coverage"],
            coverage[0]["share"],
            coverage[1]["share"],
            coverage[1]["share"] - coverage[0]["share"] if None not in (coverage[0]["share"], coverage[1]["share"]) else None,
            "pp",
            unit="%",
            records=tuple(
                Records(
                    "inspections.spotcheckresult",
                    {
                        "conforming__exact": "0",
                        "checked_on__gte": c["window"][0].isoformat(),
                        "checked_on__lte": c["window"][1].isoformat(),
                    },
                )
                for c in coverage
            ),
            notes=tuple(_("%(reached)d of %(total)d enterprises") % {"reached": c["reached"], "total": c["total"]} for c in coverage),
        ),
    ]


# --- The closed loop -----------------------------------------------------------------------------------------


def closed_loop(*, jurisdiction, period: Period) -> dict:
    """Orders closed within ``period`` (on time = closed by ``reinspect_by``), mean days to close, and the
    orders opened within it by current status. Two queries."""
    orders = orders_within(jurisdiction)
    closed = orders.filter(closed_on__gte=period.start, closed_on__lte=period.end).aggregate(
        closed=Count("id"),
        on_time=Count("id", filter=Q(closed_on__lte=F("reinspect_by"))),
        duration=Avg(ExpressionWrapper(F("closed_on") - F("ordered_on"), output_field=DurationField())),
    )
    opened = dict(
        orders.filter(ordered_on__gte=period.start, ordered_on__lte=period.end).values_list("status").annotate(n=Count("id")).order_by()
    )
    duration = closed["duration"]
    return {
        "closed": closed["closed"],
        "on_time": closed["on_time"],
        "on_time_share": _quantize(Fraction(closed["on_time"] * 100, closed["closed"])) if closed["closed"] else None,
        "mean_days": _quantize(duration.total_seconds() / 86400, "0.1") if duration is not None else None,
        "opened": sum(opened.values()),
        "outcomes": {status: opened.get(status, 0) for status in OrderStatus.values},
    }


def overdue_orders_now(*, jurisdiction) -> int:
    return orders_overdue(orders_within(jurisdiction)).count()


# --- Targeted versus random ----------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion (good at small samples and at 0 or 100 %)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_ratio_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float, float] | None:
    """Ratio of two proportions k1/n1 ÷ k2/n2 and its interval on the log scale (Katz); None without findings."""
    if min(k1, k2, n1, n2) <= 0:
        return None
    ratio = (k1 / n1) / (k2 / n2)
    spread = z * math.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
    return ratio, ratio * math.exp(-spread), ratio * math.exp(spread)


@dataclass
class Rate:
    inspections: int
    nonconforming: int

    @property
    def per_100(self) -> float | None:
        return 100 * self.nonconforming / self.inspections if self.inspections else None

    @property
    def interval(self) -> tuple[float, float] | None:
        bounds = wilson_interval(self.nonconforming, self.inspections)
        return (100 * bounds[0], 100 * bounds[1]) if bounds else None

    @property
    def too_small(self) -> bool:
        return self.inspections < MIN_ARM_SAMPLE


@dataclass
class ArmRow:
    category: str  # a Category value, or "all"
    risk: Rate
    control: Rate

    @property
    def label(self) -> str:
        return _("all categories") if self.category == "all" else Category(self.category).label if self.category in Category.values else "—"

    @property
    def too_small(self) -> bool:
        return self.risk.too_small or self.control.too_small

    @property
    def ratio(self) -> tuple[float, float, float] | None:
        return rate_ratio_interval(self.risk.nonconforming, self.risk.inspections, self.control.nonconforming, self.control.inspections)


def _task_category():
    """The category a task was drawn in (the part of its stratum before "/"), else the enterprise's current one."""
    return Case(
        When(stratum__contains="/", then=Left("stratum", StrIndex("stratum", Value("/")) - 1)),
        default=F("enterprise__category"),
    )


def _checked_tasks(jurisdiction, period: Period):
    """Submitted spot-check tasks of the risk and control arms whose result was checked within ``period``."""
    return tasks_within(jurisdiction).filter(
        kind=TaskKind.SPOT_CHECK,
        arm__in=[DrawArm.RISK, DrawArm.CONTROL],
        result__checked_on__gte=period.start,
        result__checked_on__lte=period.end,
    )


NONCONFORMING = Q(result__conclusion=Conclusion.NONCONFORMING)


def arm_comparison(*, jurisdiction, period: Period) -> list[ArmRow]:
    """Targeted versus random: non-conforming results per 100 inspections per arm, per category and in all. One query."""
    counts: dict[str, dict[str, Rate]] = defaultdict(lambda: {DrawArm.RISK: Rate(0, 0), DrawArm.CONTROL: Rate(0, 0)})
    rows = (
        _checked_tasks(jurisdiction, period)
        .annotate(task_category=_task_category())
        .values("arm", "task_category")
        .annotate(n=Count("id"), nc=Count("id", filter=NONCONFORMING))
        .order_by()
    )
    for row in rows:
        for key in (row["task_category"] or "none", "all"):
            rate = counts[key][row["arm"]]
            rate.inspections += row["n"]
            rate.nonconforming += row["nc"]
    order = [*Category.values, "none", "all"]
    return [ArmRow(key, counts[key][DrawArm.RISK], counts[key][DrawArm.CONTROL]) for key in order if key in counts] or [
        ArmRow("all", Rate(0, 0), Rate(0, 0))
    ]


# --- An honest population figure from the targeted draw (Horvitz–Thompson) ----------------------------------


@dataclass
class PopulationEstimate:
    category: str  # a Category value, or "all"
    estimate: Estimate  # Horvitz–Thompson, from both arms and their inclusion probabilities
    control: Estimate  # the control arm alone: a simple random sample
    population: int

    @property
    def label(self) -> str:
        return _("all categories") if self.category == "all" else Category(self.category).label


def _population_categories(plan) -> dict[str, int]:
    """Enterprises per category in the population a JQS-DRAW-2 plan was drawn from (its published record)."""
    counts: dict[str, int] = defaultdict(int)
    data = plan_population_csv(plan)
    for line in (data or b"").decode().splitlines()[1:]:
        counts[line.split(",")[1]] += 1
    return counts


def population_estimates(*, jurisdiction, period: Period) -> list[PopulationEstimate]:
    """The non-conforming share of the whole population, per category and in all, from the JQS-DRAW-2 plans whose
    results fall in ``period`` (module pps): Σ y/π over the checked enterprises, each arm and stratum weighted up
    by its response (results in ÷ tasks drawn), over the plans' populations (their scopes do not overlap).
    Beside it, the control arm's direct rate. Two queries and one per plan."""
    tasks = (
        tasks_within(jurisdiction)
        .filter(plan__draw_method=DRAW_METHOD_PPS, kind=TaskKind.SPOT_CHECK, arm__in=[DrawArm.RISK, DrawArm.CONTROL])
        .exclude(status=TaskStatus.CANCELLED)
        .annotate(task_category=_task_category())
    )
    plan_ids = set(tasks.filter(result__checked_on__gte=period.start, result__checked_on__lte=period.end).values_list("plan_id", flat=True))
    rows = list(
        tasks.filter(plan_id__in=plan_ids).values_list(
            "plan_id", "arm", "stratum", "task_category", "inclusion_probability", "result__conclusion"
        )
    )
    drawn: dict[tuple, int] = defaultdict(int)
    answered: dict[tuple, int] = defaultdict(int)
    for plan_id, arm, stratum, _category, _p, conclusion in rows:
        drawn[(plan_id, arm, stratum)] += 1
        answered[(plan_id, arm, stratum)] += conclusion is not None
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # category → [total, variance, sample]
    control: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    populations: dict[str, int] = defaultdict(int)
    for plan in InspectionPlan.objects.filter(pk__in=plan_ids):
        for category, n in _population_categories(plan).items():
            populations[category] += n
            populations["all"] += n
        for key in [*Category.values, "all"]:
            strata: dict[str, list[tuple[float, int]]] = defaultdict(list)
            for plan_id, arm, stratum, category, chance, conclusion in rows:
                if plan_id != plan.pk or conclusion is None or (key != "all" and category != key):
                    continue
                y = int(conclusion == Conclusion.NONCONFORMING)
                response = answered[(plan_id, arm, stratum)] / drawn[(plan_id, arm, stratum)]
                # The control arm's members are all checked (π = 1 given the arm); the risk arm is πps within the rest.
                weight = response if arm == DrawArm.CONTROL else (chance or 0.0) * response
                strata[f"{arm}:{stratum}"].append((weight, y))
                if arm == DrawArm.CONTROL:
                    control[key][0] += 1
                    control[key][1] += y
            total, variance, sample = ht_total(strata)
            totals[key][0] += total
            totals[key][1] += variance
            totals[key][2] += sample
    return [
        PopulationEstimate(
            key,
            share_estimate(totals[key][0], totals[key][1], populations[key], totals[key][2]),
            wilson(control[key][1], control[key][0]),
            populations[key],
        )
        for key in [*Category.values, "all"]
        if totals[key][2]
    ]


# --- Inspector effect ----------------------------------------------------------------------------------------


@dataclass
class OfficerEffect:
    officer_id: int
    name: str
    tasks: int  # tasks compared (in strata other officers also checked)
    nonconforming: int
    expected: float
    variance: float

    @property
    def observed_per_100(self) -> float | None:
        return 100 * self.nonconforming / self.tasks if self.tasks else None

    @property
    def expected_per_100(self) -> float | None:
        return 100 * self.expected / self.tasks if self.tasks else None

    @property
    def z(self) -> float | None:
        return (self.nonconforming - self.expected) / math.sqrt(self.variance) if self.variance > 0 else None

    @property
    def enough(self) -> bool:
        return self.tasks >= MIN_OFFICER_TASKS

    @property
    def outlier(self) -> bool:
        return self.enough and self.z is not None and abs(self.z) > OUTLIER_Z


@dataclass
class InspectorTable:
    shown: list[OfficerEffect] = field(default_factory=list)
    too_few: list[OfficerEffect] = field(default_factory=list)

    @property
    def outliers(self) -> list[OfficerEffect]:
        return [officer for officer in self.shown if officer.outlier]


def _names(user_ids) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=user_ids).only("username", "first_name", "last_name")
    return {user.pk: user.get_full_name() or user.username for user in users}


def inspector_effect(*, jurisdiction, period: Period) -> InspectorTable:
    """Each officer's observed non-conformity rate against the rate their tasks' strata predict, leaving the
    officer's own tasks out of the stratum rates. Three queries (per officer and stratum, per stratum, names)."""
    tasks = _checked_tasks(jurisdiction, period)
    per_stratum = {
        row["stratum"]: (row["n"], row["nc"])
        for row in tasks.values("stratum").annotate(n=Count("id"), nc=Count("id", filter=NONCONFORMING)).order_by()
    }
    per_officer = (
        TaskAssignment.objects.filter(task__in=tasks)
        .values("officer_id", "task__stratum")
        .annotate(n=Count("task_id"), nc=Count("task_id", filter=Q(task__result__conclusion=Conclusion.NONCONFORMING)))
        .order_by()
    )
    effects: dict[int, OfficerEffect] = {}
    for row in per_officer:
        effect = effects.setdefault(row["officer_id"], OfficerEffect(row["officer_id"], "", 0, 0, 0.0, 0.0))
        total, total_nc = per_stratum[row["task__stratum"]]
        others = total - row["n"]
        if others <= 0:
            continue  # nobody else checked this stratum: nothing to compare the officer's tasks with
        p = (total_nc - row["nc"]) / others
        effect.tasks += row["n"]
        effect.nonconforming += row["nc"]
        effect.expected += row["n"] * p
        effect.variance += row["n"] * p * (1 - p)
    names = _names(effects)
    table = InspectorTable()
    for effect in sorted(effects.values(), key=lambda e: (-(abs(e.z) if e.z is not None else -1), e.officer_id)):
        effect.name = names.get(effect.officer_id, str(effect.officer_id))
        (table.shown if effect.enough else table.too_few).append(effect)
    return table


# --- Series for the charts -----------------------------------------------------------------------------------


def monthly_spot_checks(*, jurisdiction, start: dt.date, end: dt.date) -> list[dict]:
    """Spot-check batches and spending per month from ``start`` to ``end``, months without checks included. One query."""
    rows = {
        row["month"]: row
        for row in spot_checks_within(jurisdiction)
        .filter(checked_on__gte=start, checked_on__lte=end)
        .annotate(month=TruncMonth("checked_on"))
        .values("month")
        .annotate(batches=Count("id"), spending=Sum("product__spot_check_cost"))
        .order_by()
    }
    series, month = [], start.replace(day=1)
    while month <= end:
        row = rows.get(month, {})
        series.append({"month": f"{month:%Y-%m}", "batches": row.get("batches", 0), "spending": float(row.get("spending") or 0)})
        month = month_end(month) + dt.timedelta(days=1)
    return series


# --- Everything on the dashboard -----------------------------------------------------------------------------


@dataclass
class Dashboard:
    a: Period
    b: Period
    figures: list[Figure]
    loop: tuple[dict, dict]
    overdue_now: int
    arms: tuple[list[ArmRow], list[ArmRow]]
    estimates: tuple[list[PopulationEstimate], list[PopulationEstimate]]
    inspectors: InspectorTable
    monthly: list[dict]
    definitions: dict = field(default_factory=lambda: DEFINITIONS)


def dashboard(*, jurisdiction, a: Period, b: Period) -> Dashboard:
    """All the dashboard's figures for ``jurisdiction`` and periods A and B (the inspector effect for B)."""
    return Dashboard(
        a=a,
        b=b,
        figures=bureau_figures(jurisdiction=jurisdiction, a=a, b=b),
        loop=(closed_loop(jurisdiction=jurisdiction, period=a), closed_loop(jurisdiction=jurisdiction, period=b)),
        overdue_now=overdue_orders_now(jurisdiction=jurisdiction),
        arms=(arm_comparison(jurisdiction=jurisdiction, period=a), arm_comparison(jurisdiction=jurisdiction, period=b)),
        estimates=(population_estimates(jurisdiction=jurisdiction, period=a), population_estimates(jurisdiction=jurisdiction, period=b)),
        inspectors=inspector_effect(jurisdiction=jurisdiction, period=b),
        monthly=monthly_spot_checks(jurisdiction=jurisdiction, start=min(a.start, b.start), end=max(a.end, b.end)),
    )
