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

Published method JQS-DRAW-2 (plans made while a risk score model is adopted) keeps steps 1–3 and changes
step 4 and what follows:

4′. Population as in 1, each enterprise also with its risk score under the plan's model (6 decimals; an
   enterprise without a score gets the model's average-enterprise score). Within a stratum of N enterprises
   and quota n, inclusion probabilities λ are proportional to the score, floored at score_floor_share % of
   the stratum's rate n ÷ N ("no enterprise is immune") and capped at 1 (``inspections.sampling``). The
   enterprise's uniform number is u = (HMAC-SHA256(seed, "risk:" + credit code) + ½) ÷ 2²⁵⁶, its Pareto
   ranking variable Q = [u/(1−u)] ÷ [λ/(1−λ)] (Rosén 1997); the n smallest Q are drawn (ties by credit code).
5′. The risk budget the strata leave unspent goes to the enterprises not yet drawn, by the same method over
   all of them pooled: μ ∝ λ (capped at 1) for the leftover count, u from HMAC-SHA256(seed, "fill:" + credit
   code). An enterprise's inclusion probability is then π = λ + (1 − λ)·μ; in the control arm it is the arm's
   size ÷ the population. Every enterprise's π is published with the population.

The population (credit code, category, colour of each enterprise, and under JQS-DRAW-2 its score and inclusion
probability) is recorded when the plan is dispatched and published with the plan, so the draw can be re-run on
it at any later time (``manage.py verify_plan``).
"""

import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import floor
from pathlib import Path

from django.conf import settings
from django.utils import translation

from common.tabular import FORMULA_STARTS
from enterprises.models import Category, Status
from enterprises.selectors import enterprises_within
from regions.models import Colour, Level, RegionSnapshot
from regions.services import town_draw_colours

from ..models import DrawArm, InspectionPlan, RiskScore, task_reason, task_reason_text
from ..sampling import inclusion_probabilities, logistic, pareto_ranking, uniform_from_key
from ..spotchecks.selectors import checked_products

DRAW_METHOD = "JQS-DRAW-1"
DRAW_METHOD_PPS = "JQS-DRAW-2"
SCORE_DECIMALS = 6
DRAW_METHOD_DESCRIPTION = __doc__
# The same method in Chinese, kept beside this docstring: a change to one is a change to the other
# (tests/test_draw.py checks that both name the same keys, parameters and references).
DRAW_METHOD_DESCRIPTION_ZH = Path(__file__).with_name("draw_method.zh-hans.txt")


def draw_method_description(language: str | None = None) -> str:
    """The published method in the reader's language (the page's, by default)."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    if language.lower().startswith("zh"):
        return DRAW_METHOD_DESCRIPTION_ZH.read_text(encoding="utf-8")
    return DRAW_METHOD_DESCRIPTION


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
    score: float | None = None


@dataclass
class DrawnTarget:
    enterprise_id: int
    credit_code: str
    name: str
    arm: str
    stratum: str
    rank: int
    key: str
    reason_params: dict  # why drawn: ``task_reason``'s key and parameters
    product_id: int | None = None
    inclusion_probability: float | None = None

    @property
    def reason(self) -> str:
        """Why drawn, in the active language ("" without a published reason: the targeting bench's own rules)."""
        return task_reason_text(self.reason_params) if self.reason_params else ""


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
    # JQS-DRAW-2: every enterprise's inclusion probability, by credit code (published with the population).
    probabilities: dict[str, float] = field(default_factory=dict)


def town_colours(period=None) -> dict[int, str | None]:
    """Each town's colour for the draw in the latest snapshot (or ``period``'s): ``town_draw_colours``."""
    period = period or RegionSnapshot.objects.order_by("-period").values_list("period", flat=True).first()
    rows = RegionSnapshot.objects.filter(period=period, region__level__in=[Level.TOWN, Level.COUNTY]).values_list(
        "region_id", "region__parent_id", "region__level", "colour"
    )
    return town_draw_colours(rows)


def plan_population(plan: InspectionPlan) -> list[Candidate]:
    colours = town_colours(plan.snapshot_period)
    rows = (
        enterprises_within(plan.scope)
        .filter(status=Status.ACTIVE, category__isnull=False)
        .values_list("id", "credit_code", "name", "category", "town_id")
    )
    scores = plan_scores(plan)
    return [
        Candidate(pk, code, name, category, colours.get(town_id), scores.get(pk, scores.get(None)) if scores else None)
        for pk, code, name, category, town_id in rows
    ]


def plan_scores(plan: InspectionPlan) -> dict:
    """JQS-DRAW-2: each enterprise's score under the plan's model, rounded as published; ``None`` → the score of
    the model's average enterprise, for an enterprise not scored yet. Empty for a JQS-DRAW-1 plan."""
    if plan.draw_method != DRAW_METHOD_PPS or plan.risk_model is None:
        return {}
    rows = RiskScore.objects.filter(model_id=plan.risk_model_id).values_list("enterprise_id", "probability")
    scores = {pk: round(probability, SCORE_DECIMALS) for pk, probability in rows}
    scores[None] = round(logistic(plan.risk_model.intercept), SCORE_DECIMALS)
    return scores


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


def plan_draw(plan: InspectionPlan, population: list[Candidate] | None = None) -> Draw:
    """Draw a plan's targets by method JQS-DRAW-1 (module docstring), with the product each one is checked for.
    Reads, never writes."""
    draw = draw_targets(plan, plan_population(plan) if population is None else population)
    _attach_products(draw.targets)
    return draw


def draw_targets(plan: InspectionPlan, population: list[Candidate]) -> Draw:
    """JQS-DRAW-1 itself: a pure function of the plan's seed, budget, ratios and multipliers and the population
    (each enterprise's credit code, category and colour), so a recorded population re-runs to the same list."""
    draw = Draw(population=len(population))
    control_size = (plan.batch_budget * plan.control_share / 100).to_integral_value(rounding=ROUND_HALF_UP)
    draw.control_size = min(len(population), int(control_size))
    control_keys = sorted((draw_key(plan.seed, "control", c.credit_code), c) for c in population)
    control = control_keys[: draw.control_size]
    for rank, (key, candidate) in enumerate(control, start=1):
        reason = task_reason("control", rank=rank, n=len(population))
        draw.targets.append(
            DrawnTarget(candidate.enterprise_id, candidate.credit_code, candidate.name, DrawArm.CONTROL, "control", rank, key, reason)
        )
    drawn = {candidate.credit_code for _key, candidate in control}
    rest = [c for c in population if c.credit_code not in drawn]
    if plan.draw_method == DRAW_METHOD_PPS:
        control_probability = draw.control_size / len(population) if population else 0.0
        draw.probabilities = {c.credit_code: 1.0 for _key, c in control}
        for target in draw.targets:
            target.inclusion_probability = control_probability
        _draw_risk_arm_pps(plan, draw, rest)
    else:
        _draw_risk_arm(plan, draw, rest)
    return draw


# --- The recorded population: what the draw was run on, published so that anyone can re-run it ------------

POPULATION_COLUMNS = ("credit_code", "category", "colour")
# JQS-DRAW-2: the score drawn by, and the inclusion probability it gave (an output, published to be checked).
POPULATION_COLUMNS_PPS = (*POPULATION_COLUMNS, "score", "inclusion_probability")


def population_cell(text: str) -> str:
    """A credit code as the population file writes it: one beginning with what office software reads as a formula
    (= + - @, common.tabular.FORMULA_STARTS) gets a leading apostrophe, the spreadsheets' mark for "text", so
    opening the file evaluates nothing; so does one beginning with an apostrophe, so the mark reads back
    unambiguously (``population_uncell``). A valid credit code (GB 32100: digits and capitals) never needs it, so
    every file recorded before this rule keeps its bytes, and its published SHA-256 stays true."""
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def population_uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def population_csv(population: list[Candidate], probabilities: dict[str, float] | None = None) -> bytes:
    """The population as published: UTF-8 CSV, one enterprise a line by credit code, colour empty when none; a
    JQS-DRAW-2 population also has each enterprise's score and inclusion probability.

    These bytes are the published evidence (their SHA-256 is on the plan's public page): they are recorded at
    dispatch and served as recorded, never rewritten. Only the credit code is free text (``population_cell``);
    categories and colours are fixed words and the numbers are never negative, so no cell starts a formula."""
    ordered = sorted(population, key=lambda c: c.credit_code)
    if probabilities is None:
        lines = [",".join(POPULATION_COLUMNS)]
        lines += [f"{population_cell(c.credit_code)},{c.category},{c.colour or ''}" for c in ordered]
    else:
        lines = [",".join(POPULATION_COLUMNS_PPS)]
        lines += [
            f"{population_cell(c.credit_code)},{c.category},{c.colour or ''},{c.score:.{SCORE_DECIMALS}f},"
            f"{probabilities.get(c.credit_code, 0.0):.9f}"
            for c in ordered
        ]
    return ("\n".join(lines) + "\n").encode()


def population_from_csv(data: bytes) -> list[Candidate]:
    """Read a published population back (enterprise ids and names are not needed to re-run the draw)."""
    header, *rows = data.decode().splitlines()
    columns = tuple(header.split(","))
    if columns not in (POPULATION_COLUMNS, POPULATION_COLUMNS_PPS):
        raise ValueError(
            f"a population file starts with the line {','.join(POPULATION_COLUMNS)!r} (JQS-DRAW-1) or "
            f"{','.join(POPULATION_COLUMNS_PPS)!r} (JQS-DRAW-2)"
        )
    population = []
    for number, row in enumerate(rows, start=2):
        fields = row.split(",")
        if len(fields) != len(columns) or fields[1] not in Category.values or (fields[2] and fields[2] not in Colour.values):
            raise ValueError(f"line {number}: expected {', '.join(columns)}, got {row!r}")
        score = None
        if columns == POPULATION_COLUMNS_PPS:
            try:
                score = float(fields[3])
            except ValueError:
                raise ValueError(f"line {number}: the score {fields[3]!r} is not a number") from None
            if not score > 0:
                raise ValueError(f"line {number}: the score must be positive, got {fields[3]!r}")
        population.append(Candidate(0, population_uncell(fields[0]), "", fields[1], fields[2] or None, score))
    return population


def _strata_quotas(plan: InspectionPlan, draw: Draw, rest: list[Candidate]) -> dict[tuple[str, str | None], list[Candidate]]:
    """Step 3: the strata of the risk arm, listed in the published order, with their quotas (on ``draw.strata``)."""
    groups: dict[tuple[str, str | None], list[Candidate]] = {}
    for candidate in rest:
        groups.setdefault((candidate.category, candidate.colour), []).append(candidate)
    order = [c.value for c in Category]
    keys = sorted(groups, key=lambda k: (order.index(k[0]), k[1] or ""))
    for category, colour in keys:
        size = len(groups[(category, colour)])
        share = plan.draw_ratio(category, colour)
        draw.strata.append(Stratum(category, colour, size, Decimal(size) * share / 100))
    risk_budget = plan.batch_budget - draw.control_size
    wanted = [stratum.wanted for stratum in draw.strata]
    # Never more than the budget; when the strata want less, spend less ("no disturbance without cause").
    quotas = allocate(wanted, min(risk_budget, int(sum(wanted).to_integral_value(rounding=ROUND_HALF_UP))))
    for stratum, quota in zip(draw.strata, quotas, strict=True):
        stratum.quota = min(quota, stratum.population)
    return groups


def stratum_code(category: str, colour: str | None) -> str:
    return f"{category}/{colour or 'none'}"


def _draw_risk_arm(plan: InspectionPlan, draw: Draw, rest: list[Candidate]) -> None:
    groups = _strata_quotas(plan, draw, rest)
    for stratum in draw.strata:
        members = sorted((draw_key(plan.seed, "risk", c.credit_code), c) for c in groups[(stratum.category, stratum.colour)])
        code = stratum_code(stratum.category, stratum.colour)
        for rank, (key, candidate) in enumerate(members[: stratum.quota], start=1):
            reason = task_reason("stratum", stratum=code, rank=rank, n=stratum.population, quota=stratum.quota)
            draw.targets.append(
                DrawnTarget(
                    candidate.enterprise_id,
                    candidate.credit_code,
                    candidate.name,
                    DrawArm.RISK,
                    stratum_code(stratum.category, stratum.colour),
                    rank,
                    key,
                    reason,
                )
            )


def _draw_risk_arm_pps(plan: InspectionPlan, draw: Draw, rest: list[Candidate]) -> None:
    """JQS-DRAW-2, steps 4′ and 5′ (module docstring)."""
    groups = _strata_quotas(plan, draw, rest)
    floor_share = float(plan.score_floor_share) / 100
    first: dict[str, float] = {}
    drawn: set[str] = set()
    for stratum in draw.strata:
        members = groups[(stratum.category, stratum.colour)]
        rate = stratum.quota / stratum.population
        chances = inclusion_probabilities([c.score for c in members], stratum.quota, floor_share * rate)
        keyed = []
        for candidate, chance in zip(members, chances, strict=True):
            first[candidate.credit_code] = chance
            key = draw_key(plan.seed, "risk", candidate.credit_code)
            keyed.append((pareto_ranking(uniform_from_key(key), chance), candidate.credit_code, key, candidate, chance))
        keyed.sort(key=lambda row: row[:2])
        code = stratum_code(stratum.category, stratum.colour)
        for rank, (_q, _code, key, candidate, chance) in enumerate(keyed[: stratum.quota], start=1):
            reason = task_reason("stratum_pps", stratum=code, rank=rank, n=stratum.population, p=100 * chance, quota=stratum.quota)
            drawn.add(candidate.credit_code)
            target = DrawnTarget(
                candidate.enterprise_id,
                candidate.credit_code,
                candidate.name,
                DrawArm.RISK,
                stratum_code(stratum.category, stratum.colour),
                rank,
                key,
                reason,
            )
            draw.targets.append(target)
    _fill_leftover(plan, draw, rest, first, drawn)


def _fill_leftover(plan: InspectionPlan, draw: Draw, rest: list[Candidate], first: dict[str, float], drawn: set[str]) -> None:
    """Step 5′: the risk budget the strata left goes to the undrawn enterprises, πps by their λ; then every
    enterprise's π = λ + (1 − λ)·μ is recorded, and each risk-arm target's π set."""
    leftover = max(0, plan.batch_budget - draw.control_size - sum(s.quota for s in draw.strata))
    pool = [c for c in rest if c.credit_code not in drawn]
    second = dict.fromkeys(first, 0.0)
    if leftover and pool:
        chances = inclusion_probabilities([first[c.credit_code] for c in pool], leftover)
        second.update({c.credit_code: chance for c, chance in zip(pool, chances, strict=True)})
        keyed = sorted(
            (pareto_ranking(uniform_from_key(draw_key(plan.seed, "fill", c.credit_code)), chance), c.credit_code, c, chance)
            for c, chance in zip(pool, chances, strict=True)
        )
        for rank, (_q, _code, candidate, chance) in enumerate(keyed[:leftover], start=1):
            reason = task_reason("leftover", rank=rank, n=len(pool), p=100 * chance)
            key = draw_key(plan.seed, "fill", candidate.credit_code)
            draw.targets.append(
                DrawnTarget(
                    candidate.enterprise_id,
                    candidate.credit_code,
                    candidate.name,
                    DrawArm.RISK,
                    stratum_code(candidate.category, candidate.colour),
                    rank,
                    key,
                    reason,
                )
            )
    for code, chance in first.items():
        draw.probabilities[code] = chance + (1 - chance) * second[code]
    for target in draw.targets:
        if target.arm == DrawArm.RISK:
            target.inclusion_probability = draw.probabilities[target.credit_code]


def _attach_products(targets: list[DrawnTarget]) -> None:
    best = checked_products([t.enterprise_id for t in targets])
    for target in targets:
        target.product_id = best.get(target.enterprise_id)
