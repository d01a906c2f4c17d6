"""Synthetic population, yearly spot-check plans under four strategies, and the figures (see README.md).

The *world* — each enterprise's hidden probability of a non-conforming spot check, whether a batch sampled in
a given year would fail, complaints and incidents, and the day of the year an inspection would take place —
is drawn once from the seed and shared by every strategy (common random numbers): the strategies differ only
in whom they inspect, and what a strategy finds feeds only its own later plans.

The risk-based strategy calls the project's rules on unsaved model instances (no database): product grading
points (``products.services.grade_points`` with ``GradingPolicy()`` defaults), the grade × class table
(``SupervisionPolicy.category_for``), region colours (``regions.services.colour_for`` with
``ColourThresholds()``), and the published draw JQS-DRAW-1 (``inspections.planning.draw``: ``draw_key`` for the
control arm, ``_draw_risk_arm`` — hence ``allocate`` — for the strata). What the project keeps in SQL only
(the risk-window classification, the score → grade cut-off, the town → county colour fallback, the control
arm inside ``plan_draw``) is restated here in a few lines each, named where it is done.
"""

import copy
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import numpy as np
from django.core.exceptions import ValidationError

from enterprises.models import DRAW_RATIO_FIELDS, Category, RiskClass, SupervisionPolicy
from enterprises.validators import uscc_check_character
from inspections.models import DrawArm, InspectionPlan, task_reason
from inspections.planning.draw import (
    DRAW_METHOD_PPS,
    SCORE_DECIMALS,
    Candidate,
    Draw,
    DrawnTarget,
    _draw_risk_arm,
    _draw_risk_arm_pps,
    allocate,
    draw_key,
)
from inspections.sampling import horvitz_thompson
from inspections.sampling import wilson as wilson_estimate
from inspections.scoring.model import (
    RATE_WINDOW,
    History,
    Window,
    design_matrix,
    model_from_windows,
    probability,
    shrunk_failure_rates,
    window_usable,
)
from jiaxing_qs.demo.places import BASE_INDUSTRIES, COUNTIES, STREET_WEIGHT, TOWNS
from products.imports import CATALOGUE_CSV, HARM_SEVERITIES, read_csv
from products.models import Grade, GradingPolicy, Product
from products.selectors import grade_points
from regions.imports import JIAXING_DIVISIONS, read_divisions_csv
from regions.models import Colour, ColourThresholds
from regions.services import colour_for

DAYS = 365
DETECTION_CAP_DAYS = 2 * DAYS  # restricted mean: a spell not detected within two years counts as two years
NEVER = -(10**6)  # "no non-conforming result yet" as a year


@dataclass(frozen=True)
class Params:
    """The population model and the budget. Every default is argued in README.md ("Population model")."""

    enterprises: int = 7000
    years: int = 5  # plan years measured
    history_years: int = 3  # years of uniform checks before the first plan, shared by every strategy
    seed: int = 1
    budget_share: float = 0.15  # spot-check batches a year ÷ enterprises
    control_share: Decimal = Decimal("10")  # % of the budget in the random control arm (the plan form's default)
    mean_rate: float = 0.07  # mean hidden probability of a non-conforming check in the first year
    product_sd: float = 0.9  # spread of the per-product base rate (logit scale)
    harm_step: float = 0.15  # logit per step of harm severity (minor → moderate → severe)
    licence_effect: float = -0.15  # logit for products needing a production licence or CCC
    vulnerable_effect: float = 0.3  # logit for products used by children, the elderly
    town_sd: float = 0.35  # town effect (logit)
    firm_sd: float = 0.8  # lasting enterprise effect: size, management (logit)
    drift_sd: float = 0.7  # drifting enterprise effect, stationary spread (logit)
    persistence: float = 0.6  # year-to-year correlation of the drifting effect (AR(1) coefficient)
    event_base: float = 0.004  # yearly chance of a complaint/incident/recall/penalty/licence lapse, whatever the quality
    event_per_risk: float = 0.10  # … plus this × the hidden probability
    popularity_sd: float = 0.6  # how unevenly the catalogue's products are made locally (lognormal)
    second_product: float = 0.5  # chance an enterprise makes a second product
    third_product: float = 0.4  # chance it makes a third, given a second (1.7 products on average)
    same_industry: float = 0.7  # chance a further product comes from the first product's industry
    # Rule settings an administrator could adopt, as "model.field=value" (see rule_policies); () = the defaults.
    rules: tuple[str, ...] = ()

    @property
    def budget(self) -> int:
        return max(1, round(self.enterprises * self.budget_share))


# --- Rule settings ----------------------------------------------------------------------------------------

# The rule rows an administrator edits (versioned; the policy simulator tries them before adoption), by the
# prefix used in ``Params.rules`` and ``--rule``: grading.min_failure_sample=3, supervision.risk_window_years=1…
RULE_MODELS = {"grading": GradingPolicy, "supervision": SupervisionPolicy, "colours": ColourThresholds}
VERSION_FIELDS = {"id", "valid_from", "created_at", "created_by", "reason"}  # RuleVersion's bookkeeping, not rules
# What DOMAIN.md fixes as defaults: the draw ratios, colour multipliers and grade × class table. They can be
# overridden here (the simulator can), but the README's recommendations keep them.
DOMAIN_FIXED = {
    "supervision": {f"ratio_{c.value}" for c in Category}
    | {f"multiplier_{c}" for c in ("red", "orange", "yellow", "green")}
    | {f"{g}_{r}" for g in ("high", "medium", "low") for r in ("risk", "non_risk")}
}


def rule_fields(prefix: str) -> list[str]:
    """The editable rule fields of a rule model (not the version bookkeeping)."""
    model = RULE_MODELS[prefix]
    return [f.name for f in model._meta.concrete_fields if not f.is_relation and f.name not in VERSION_FIELDS]


def rule_policies(rules: tuple[str, ...] | list[str]) -> dict:
    """Unsaved GradingPolicy, SupervisionPolicy and ColourThresholds: the defaults with ``rules`` applied.

    Each rule is ``prefix.field=value``. Values are converted, validated and cross-checked as the admin form
    would (field validators and choices, then the model's ``clean``); a bad rule raises ValueError.
    """
    policies = {prefix: model() for prefix, model in RULE_MODELS.items()}
    for rule in rules:
        name, _equals, value = rule.partition("=")
        prefix, _dot, field_name = name.strip().partition(".")
        if prefix not in RULE_MODELS or field_name not in rule_fields(prefix) or not value.strip():
            known = ", ".join(f"{p}.{f}" for p in RULE_MODELS for f in rule_fields(p))
            raise ValueError(f"rule {rule!r}: expected MODEL.FIELD=VALUE, one of {known}")
        policy = policies[prefix]
        model_field = policy._meta.get_field(field_name)
        try:
            setattr(policy, field_name, model_field.clean(value.strip(), policy))
        except ValidationError as error:
            raise ValueError(f"rule {rule!r}: {' '.join(error.messages)}") from error
    for prefix, policy in policies.items():
        try:
            policy.clean()
        except ValidationError as error:
            raise ValueError(f"rules for {prefix}: {' '.join(error.messages)}") from error
    return {"grading": policies["grading"], "supervision": policies["supervision"], "thresholds": policies["colours"]}


def domain_fixed_rules(rules: tuple[str, ...] | list[str]) -> list[str]:
    """The rules in ``rules`` that change a default DOMAIN.md fixes (ratios, multipliers, category table)."""
    return [rule for rule in rules if rule.partition("=")[0].strip().partition(".")[2] in DOMAIN_FIXED.get(rule.partition(".")[0], ())]


# --- The population ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueProduct:
    code: str
    harm: int
    licence_type: str
    vulnerable: bool
    tags: tuple[str, ...]
    effect: float  # hidden: logit effect on the chance that a batch fails
    popularity: float


@dataclass
class Population:
    params: Params
    products: list[CatalogueProduct]
    town_codes: list[str]
    town_county: list[str]
    town_of: list[int]  # per enterprise
    makes: list[tuple[int, ...]]  # product indexes per enterprise
    checked: list[int]  # the product sampled at each enterprise
    credit_codes: list[str]
    lasting_logit: list[float]  # product + town + firm effects (hidden; the intercept and the drift are added per year)
    intercept: float = 0.0

    @property
    def size(self) -> int:
        return len(self.town_of)


def _logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _weighted_choice(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[key] for key in keys])[0]


def _catalogue(rng: random.Random, params: Params) -> list[CatalogueProduct]:
    """The real catalogue's 249 products and grade factors, each given a hidden base effect and a popularity."""
    products = []
    for row in read_csv(CATALOGUE_CSV):
        harm = int(HARM_SEVERITIES[row["harm_severity"].strip()])
        licensed = row["licence_type"].strip() != "none"
        vulnerable = row["vulnerable_users"].strip() == "1"
        effect = (
            params.harm_step * (harm - 2)
            + params.licence_effect * licensed
            + params.vulnerable_effect * vulnerable
            + rng.gauss(0, params.product_sd)
        )
        tags = tuple(tag for tag in row["industry_tags"].replace("|", ";").split(";") if tag)
        popularity = rng.lognormvariate(0, params.popularity_sd)
        products.append(CatalogueProduct(row["code"], harm, row["licence_type"].strip(), vulnerable, tags, effect, popularity))
    return products


def _towns() -> list[dict]:
    return [row for row in read_divisions_csv(JIAXING_DIVISIONS) if row["level"] == "town"]


def _town_sizes(towns: list[dict], total: int) -> list[int]:
    """Enterprises per town: each county's share of the total (demo places), split over its towns by weight."""
    county_codes = sorted(COUNTIES)
    per_county = dict(zip(county_codes, allocate([Decimal(str(COUNTIES[c].share)) for c in county_codes], total)))
    sizes = [0] * len(towns)
    for code in county_codes:
        indexes = [i for i, town in enumerate(towns) if town["parent_code"] == code]
        weights = []
        for i in indexes:
            profile = TOWNS.get(towns[i]["name"])
            weight = (
                profile.weight if profile and profile.weight is not None else (STREET_WEIGHT if towns[i]["name"].endswith("街道") else 1.0)
            )
            weights.append(Decimal(str(weight)))
        for i, size in zip(indexes, allocate(weights, per_county[code])):
            sizes[i] = size
    return sizes


def _town_industries(town: dict) -> dict[str, float]:
    """Industry weights of a town, as the demo seed builds them (base + county + 1.5 × the town's own)."""
    industries = dict(BASE_INDUSTRIES)
    for tag, weight in COUNTIES[town["parent_code"]].industries.items():
        industries[tag] = industries.get(tag, 0) + weight
    profile = TOWNS.get(town["name"])
    for tag, weight in (profile.industries if profile else {}).items():
        industries[tag] = industries.get(tag, 0) + weight * 1.5
    return industries


def static_score(product: CatalogueProduct, policy: GradingPolicy) -> int:
    """The grading points a product scores before any failure-rate points (harm, licence, vulnerable users)."""
    unsaved = Product(code=product.code, harm_severity=product.harm, licence_type=product.licence_type, vulnerable_users=product.vulnerable)
    return sum(points for _label, points in grade_points(unsaved, policy))


def build_population(params: Params) -> Population:
    rng = random.Random(f"targeting:{params.seed}:population")
    products = _catalogue(rng, params)
    grading = GradingPolicy()
    sampled_first = sorted(range(len(products)), key=lambda k: (-static_score(products[k], grading), products[k].code))
    sample_rank = {k: rank for rank, k in enumerate(sampled_first)}
    by_tag: dict[str, list[int]] = {}
    for k, product in enumerate(products):
        for tag in product.tags:
            by_tag.setdefault(tag, []).append(k)
    towns = _towns()
    town_effects = [rng.gauss(0, params.town_sd) for _ in towns]
    population = Population(params, products, [t["code"] for t in towns], [t["parent_code"] for t in towns], [], [], [], [], [])

    def pick(tag: str, taken: list[int]) -> int | None:
        choices = [k for k in by_tag.get(tag, ()) if k not in taken]
        return rng.choices(choices, weights=[products[k].popularity for k in choices])[0] if choices else None

    for town_index, size in enumerate(_town_sizes(towns, params.enterprises)):
        industries = {tag: w for tag, w in _town_industries(towns[town_index]).items() if tag in by_tag}
        county = towns[town_index]["parent_code"]
        for _ in range(size):
            first_tag = _weighted_choice(rng, industries)
            made = [pick(first_tag, [])]
            wanted = 1 + (rng.random() < params.second_product)
            wanted += wanted == 2 and rng.random() < params.third_product
            while len(made) < wanted:
                tag = first_tag if rng.random() < params.same_industry else _weighted_choice(rng, industries)
                extra = pick(tag, made)
                if extra is None:
                    break
                made.append(extra)
            serial = len(population.town_of)
            first17 = f"91{county}{serial:09d}"
            population.town_of.append(town_index)
            population.makes.append(tuple(made))
            # The draw samples the highest-grade product; by the lasting factors here, so it does not move.
            population.checked.append(min(made, key=sample_rank.__getitem__))
            population.credit_codes.append(first17 + uscc_check_character(first17))
            firm = rng.gauss(0, params.firm_sd)
            population.lasting_logit.append(products[population.checked[-1]].effect + town_effects[town_index] + firm)
    return population


# --- The world: hidden probabilities and outcomes, year by year ------------------------------------------


@dataclass
class World:
    probability: list[list[float]]  # [year][enterprise] hidden chance that a batch sampled that year fails
    failing: list[bytearray]  # [year][enterprise] 1 if a batch sampled that year would be non-conforming
    events: list[set[int]]  # [year] enterprises with a complaint, incident, recall, penalty or licence lapse
    day: list[list[int]]  # [year][enterprise] day of the year (0–364) an inspection of it would take place


def _solve_intercept(logits: list[float], mean_rate: float) -> float:
    """The intercept that makes the mean hidden probability ``mean_rate`` (bisection; deterministic)."""
    sample = logits[:: max(1, len(logits) // 20000)]  # spread over every town (enterprises are listed town by town)
    low, high = -15.0, 15.0
    for _ in range(50):
        mid = (low + high) / 2
        if sum(_logistic(mid + x) for x in sample) / len(sample) < mean_rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def build_world(population: Population) -> World:
    params = population.params
    rng = random.Random(f"targeting:{params.seed}:world")
    n, years = population.size, params.history_years + params.years
    innovation = math.sqrt(1 - params.persistence**2) * params.drift_sd
    drift = [rng.gauss(0, params.drift_sd) for _ in range(n)]
    population.intercept = _solve_intercept([population.lasting_logit[i] + drift[i] for i in range(n)], params.mean_rate)
    world = World([], [], [], [])
    for year in range(years):
        if year:
            drift = [params.persistence * d + rng.gauss(0, innovation) for d in drift]
        probability = [_logistic(population.intercept + population.lasting_logit[i] + drift[i]) for i in range(n)]
        world.probability.append(probability)
        world.failing.append(bytearray(rng.random() < p for p in probability))
        world.events.append({i for i, p in enumerate(probability) if rng.random() < params.event_base + params.event_per_risk * p})
        world.day.append([rng.randrange(DAYS) for _ in range(n)])
    return world


# --- What a strategy knows: its own results ---------------------------------------------------------------


@dataclass
class Ledger:
    last_failed: list[int]  # per enterprise: year of its latest non-conforming result found
    checks: list[list[int]]  # [year][product] spot-check results
    fails: list[list[int]]  # [year][product] non-conforming results
    inspected: list[dict[int, str]]  # [year] enterprise → arm

    @classmethod
    def empty(cls, population: Population) -> "Ledger":
        return cls([NEVER] * population.size, [], [], [])

    def copy(self) -> "Ledger":
        return Ledger(
            list(self.last_failed), [list(c) for c in self.checks], [list(f) for f in self.fails], [dict(i) for i in self.inspected]
        )

    def record(self, population: Population, world: World, year: int, targets: dict[int, str]) -> None:
        assert len(self.checks) == year, "years are recorded in order"
        checks, fails = [0] * len(population.products), [0] * len(population.products)
        for i in targets:
            product = population.checked[i]
            checks[product] += 1
            if world.failing[year][i]:
                fails[product] += 1
                self.last_failed[i] = year
        self.checks.append(checks)
        self.fails.append(fails)
        self.inspected.append(dict(targets))


# --- The strategies ---------------------------------------------------------------------------------------


@dataclass
class Context:
    population: Population
    world: World
    supervision: SupervisionPolicy = field(default_factory=SupervisionPolicy)
    grading: GradingPolicy = field(default_factory=GradingPolicy)
    thresholds: ColourThresholds = field(default_factory=ColourThresholds)
    _control_order: dict[int, list[int]] = field(default_factory=dict)
    _control_keys: dict[int, list[str]] = field(default_factory=dict)
    _risk_keys: dict[int, list[str]] = field(default_factory=dict)

    @property
    def params(self) -> Params:
        return self.population.params

    def seed(self, year: int) -> str:
        return f"targeting-{self.params.seed}-{year}"

    def control_keys(self, year: int) -> list[str]:
        """Every enterprise's published control key for the year's plan seed (computed once, shared)."""
        if year not in self._control_keys:
            seed = self.seed(year)
            self._control_keys[year] = [draw_key(seed, "control", code) for code in self.population.credit_codes]
        return self._control_keys[year]

    def risk_keys(self, year: int) -> list[str]:
        """Every enterprise's published risk-arm key for the year's plan seed (the order within a stratum)."""
        if year not in self._risk_keys:
            seed = self.seed(year)
            self._risk_keys[year] = [draw_key(seed, "risk", code) for code in self.population.credit_codes]
        return self._risk_keys[year]

    def control_order(self, year: int) -> list[int]:
        """Enterprises by control key: a uniform random order that anyone can re-run from the seed."""
        if year not in self._control_order:
            keys = self.control_keys(year)
            self._control_order[year] = sorted(range(self.population.size), key=keys.__getitem__)
        return self._control_order[year]

    def events_within(self, year: int, window: int) -> set[int]:
        return set().union(*self.world.events[max(0, year - window) : year])


def uniform(context: Context, ledger: Ledger, year: int) -> tuple[dict[int, str], dict]:
    """(a) 双随机 without strata: a simple random sample of the budget, by the published control key."""
    return {i: "uniform" for i in context.control_order(year)[: context.params.budget]}, {}


def oracle(context: Context, ledger: Ledger, year: int) -> tuple[dict[int, str], dict]:
    """(c) The enterprises with the highest hidden probabilities this year (knows probabilities, not outcomes)."""
    probability = context.world.probability[year]
    ranked = sorted(range(context.population.size), key=lambda i: (-probability[i], i))
    return {i: "oracle" for i in ranked[: context.params.budget]}, {}


def product_grades(context: Context, ledger: Ledger, year: int) -> list[int]:
    """产品分级 as of the plan: grading points with the failure rate of the ledger's results in the window."""
    policy = context.grading
    window = range(max(0, year - policy.failure_window_years), year)
    grades = []
    for k, product in enumerate(context.population.products):
        sample = sum(ledger.checks[y][k] for y in window)
        failed = sum(ledger.fails[y][k] for y in window)
        rate = Decimal(str(round(failed * 100 / sample, 2))) if sample else Decimal("0")
        unsaved = Product(
            code=product.code,
            harm_severity=product.harm,
            licence_type=product.licence_type,
            vulnerable_users=product.vulnerable,
            failure_rate=rate,
            failure_sample=sample,
        )
        grades.append(policy.grade_for_score(sum(points for _label, points in grade_points(unsaved, policy))))
    return grades


def risk_classes(context: Context, ledger: Ledger, year: int) -> list[bool]:
    """企业分类 (enterprises.services.enterprises_classify, SQL there): risk when a non-conforming result or
    another risk event falls within the risk window before the plan."""
    window = context.supervision.risk_window_years
    recent_events = context.events_within(year, window)
    return [last >= year - window or i in recent_events for i, last in enumerate(ledger.last_failed)]


def town_colours(context: Context, risk: list[bool]) -> list[str | None]:
    """区域分色 per town by colour_for; a town with too few enterprises takes its county's colour, a county
    with too few none (as inspections.planning.draw.town_colours reads the snapshots)."""
    population = context.population
    town_counts = [[0, 0] for _ in population.town_codes]
    county_counts: dict[str, list[int]] = {code: [0, 0] for code in population.town_county}
    for i, town in enumerate(population.town_of):
        town_counts[town][0] += risk[i]
        town_counts[town][1] += 1
        county = county_counts[population.town_county[town]]
        county[0] += risk[i]
        county[1] += 1
    county_colour = {code: colour_for(r, n, context.thresholds) for code, (r, n) in county_counts.items()}
    colours = []
    for town, (r, n) in enumerate(town_counts):
        colour = colour_for(r, n, context.thresholds)
        if colour == Colour.TOO_FEW:
            colour = county_colour[population.town_county[town]]
        colours.append(None if colour == Colour.TOO_FEW else colour)
    return colours


def plan_for(context: Context, year: int, scale: Decimal = Decimal("1"), supervision: SupervisionPolicy | None = None) -> InspectionPlan:
    """An unsaved plan as plan_create makes it: the policy's ratios (× ``scale``, capped at 100 %), the budget."""
    values = {name: getattr(supervision or context.supervision, name) for name in DRAW_RATIO_FIELDS}
    for category in Category:
        ratio = (values[f"ratio_{category.value}"] * scale).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
        values[f"ratio_{category.value}"] = min(Decimal("100"), ratio)
    return InspectionPlan(batch_budget=context.params.budget, control_share=context.params.control_share, seed=context.seed(year), **values)


def published_draw(context: Context, plan: InspectionPlan, candidates: list[Candidate], year: int) -> Draw:
    """JQS-DRAW-1 as inspections.planning.draw.plan_draw runs it, less its one database step (attaching products):
    the control arm by control key, then the project's own risk-arm draw on the others."""
    keys = context.control_keys(year)
    draw = Draw(population=len(candidates))
    control_size = (plan.batch_budget * plan.control_share / 100).to_integral_value(rounding=ROUND_HALF_UP)
    draw.control_size = min(len(candidates), int(control_size))
    ordered = sorted(candidates, key=lambda c: keys[c.enterprise_id])
    for rank, candidate in enumerate(ordered[: draw.control_size], start=1):
        draw.targets.append(
            DrawnTarget(
                candidate.enterprise_id,
                candidate.credit_code,
                candidate.name,
                DrawArm.CONTROL,
                "control",
                rank,
                keys[candidate.enterprise_id],
                task_reason("control", rank=rank, n=len(candidates)),
            )
        )
    if plan.draw_method == DRAW_METHOD_PPS:
        control_probability = draw.control_size / len(candidates) if candidates else 0.0
        for target in draw.targets:
            target.inclusion_probability = control_probability
        _draw_risk_arm_pps(plan, draw, ordered[draw.control_size :])
    else:
        _draw_risk_arm(plan, draw, ordered[draw.control_size :])
    return draw


FILL_MODES = ("none", "scale", "priority")


def risk_based(
    context: Context, ledger: Ledger, year: int, *, fill: str = "none", supervision: SupervisionPolicy | None = None
) -> tuple[dict[int, str], dict]:
    """(b) This system: grade products, class enterprises, colour towns, categorise, draw by JQS-DRAW-1.

    ``fill="none"`` uses the policy's ratios as they are (the draw spends less than the budget when the strata
    want less); ``fill="scale"`` scales all four ratios by one factor, as a planner may per plan, until the
    strata want at least the budget, which the draw then shares in proportion (allocate); ``fill="priority"``
    draws as ``"none"`` and then spends what the strata left of the budget by ``priority_fill`` (a bench-only
    method, not JQS-DRAW-1). ``supervision`` replaces the policy in force (a variant an administrator could
    adopt).
    """
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {FILL_MODES}")
    population = context.population
    supervision = supervision or context.supervision
    grades = product_grades(context, ledger, year)
    risk = risk_classes(context, ledger, year)
    colours = town_colours(context, risk)
    table = {
        (grade, is_risk): supervision.category_for(grade, RiskClass.RISK if is_risk else RiskClass.NON_RISK)
        for grade in Grade
        for is_risk in (True, False)
    }
    categories = [table[(max(grades[k] for k in population.makes[i]), risk[i])] for i in range(population.size)]
    candidates = [
        Candidate(i, population.credit_codes[i], "", categories[i], colours[population.town_of[i]]) for i in range(population.size)
    ]
    scale = Decimal("1")
    draw = published_draw(context, plan_for(context, year, supervision=supervision), candidates, year)
    risk_budget = context.params.budget - draw.control_size
    wanted = sum(stratum.wanted for stratum in draw.strata)
    if fill == "scale" and wanted < risk_budget:
        for _attempt in range(20):
            scale = (scale * risk_budget / wanted).quantize(Decimal("0.0001"), rounding=ROUND_CEILING)
            draw = published_draw(context, plan_for(context, year, scale, supervision=supervision), candidates, year)
            wanted = sum(stratum.wanted for stratum in draw.strata)
            if wanted >= risk_budget or all(s.wanted == s.population for s in draw.strata):
                break
    filled: dict[str, int] = {}
    if fill == "priority":
        filled = priority_fill(context, draw, categories, colours, year)
    targets = {target.enterprise_id: target.arm for target in draw.targets}
    # Measured after the draw (the dashboard's "per category" figure); the draw never sees outcomes.
    by_category: dict[str, list[int]] = {}
    for target in draw.targets:
        if target.arm == DrawArm.RISK:
            counts = by_category.setdefault(categories[target.enterprise_id], [0, 0])
            counts[0] += 1
            counts[1] += context.world.failing[year][target.enterprise_id]
    colour_mix = Counter(colours[population.town_of[i]] or "none" for i in range(population.size))
    extra = {
        "risk_share": sum(risk) / population.size,
        "categories": {str(k): v for k, v in Counter(categories).items()},
        "enterprises_by_colour": {str(k): v for k, v in colour_mix.items()},
        "grades": dict(Counter(Grade(g).name.lower() for g in grades)),
        "risk_arm_by_category": {str(k): v for k, v in by_category.items()},
        "wanted": float(wanted),
        "ratio_scale": float(scale),
        "filled": filled,
    }
    return targets, extra


def priority_fill(context: Context, draw: Draw, categories: list[str], colours: list[str | None], year: int) -> dict[str, int]:
    """(b‴) Bench-only, not JQS-DRAW-1: spend the risk-arm budget the strata did not want, in category order.

    After the published draw (each stratum its policy want), the budget left over goes to the tightened
    enterprises not yet drawn, then routine, then responsibility, then credit, each category up to all of its
    enterprises. Within a category the extra enterprises are taken by the published risk key, pooled over the
    category's colour strata: a uniform sample of the category's undrawn enterprises, which within each
    stratum continues the stratum's own key order. Appends the targets to ``draw``; returns the number added
    per category.
    """
    population = context.population
    keys = context.risk_keys(year)
    drawn = {target.enterprise_id for target in draw.targets}
    leftover = context.params.budget - len(draw.targets)
    added: dict[str, int] = {}
    for category in Category:
        if leftover <= 0:
            break
        rest = sorted((keys[i], i) for i in range(population.size) if categories[i] == category and i not in drawn)
        for rank, (key, i) in enumerate(rest[:leftover], start=1):
            colour = colours[population.town_of[i]]
            draw.targets.append(
                DrawnTarget(
                    i,
                    population.credit_codes[i],
                    "",
                    DrawArm.RISK,
                    f"{category.value}/{colour or 'none'}",
                    rank,
                    key,
                    {},  # no published reason: the simulation's own leftover rule
                )
            )
        taken = min(leftover, len(rest))
        if taken:
            added[category.value] = taken
        leftover -= taken
    return added


def ranked(context: Context, ledger: Ledger, year: int) -> tuple[dict[int, str], dict]:
    """(d) Diagnostic, not 双随机: the same information as (b), used greedily — every risk enterprise first,
    then by the observed failure rate of the product it makes that is sampled (shrunk towards the overall
    rate with a prior worth 10 checks), then by its town's risk share. Shows how much of the gap to the
    oracle is missing information and how much is the category table and ratios."""
    population = context.population
    window = range(max(0, year - context.grading.failure_window_years), year)
    checks = [sum(ledger.checks[y][k] for y in window) for k in range(len(population.products))]
    fails = [sum(ledger.fails[y][k] for y in window) for k in range(len(population.products))]
    overall = sum(fails) / sum(checks) if sum(checks) else 0.0
    rate = [(fails[k] + 10 * overall) / (checks[k] + 10) for k in range(len(population.products))]
    risk = risk_classes(context, ledger, year)
    town_risk = Counter(population.town_of[i] for i in range(population.size) if risk[i])
    town_size = Counter(population.town_of)
    key = [
        (-risk[i], -rate[population.checked[i]], -town_risk[population.town_of[i]] / town_size[population.town_of[i]], i)
        for i in range(population.size)
    ]
    order = sorted(range(population.size), key=key.__getitem__)
    return {i: "ranked" for i in order[: context.params.budget]}, {}


# --- JQS-DRAW-2: the risk score fitted on the strategy's own history, πps inside the strata --------------------


def history_at(context: Context, ledger: Ledger, year: int, grades: list[int], risk: list[bool]) -> dict[int, History]:
    """Each enterprise's History (inspections.scoring) at the start of ``year`` from what the strategy found:
    the same raw counts the project takes from its tables (checks and results, other risk events, the products'
    failure rates, the town's risk share). Licences are not modelled here (their lapses are among the events)."""
    population, world = context.population, context.world
    window = range(max(0, year - 3), year)
    product_window = range(max(0, year - RATE_WINDOW.days // 365), year)
    checks = {k: sum(ledger.checks[y][k] for y in product_window) for k in range(len(population.products))}
    fails = {k: sum(ledger.fails[y][k] for y in product_window) for k in range(len(population.products))}
    rates = shrunk_failure_rates({k: n for k, n in checks.items() if n}, fails)
    town_risk = Counter(population.town_of[i] for i in range(population.size) if risk[i])
    town_size = Counter(population.town_of)
    histories = {}
    for i in range(population.size):
        history = History(max_grade=max(grades[k] for k in population.makes[i]))
        for y in range(year - 1, -1, -1):
            if i in ledger.inspected[y]:
                if history.days_since_check is None:
                    history.days_since_check = (year - y) * DAYS - world.day[y][i]
                if y >= year - 3:
                    history.checks_3y += 1
                    if world.failing[y][i]:
                        if y == year - 1:
                            history.nonconforming_1y += 1
                        else:
                            history.nonconforming_1_3y += 1
        history.other_events_3y = sum(i in world.events[y] for y in window)
        history.product_failure_rate = rates.get(population.checked[i], rates["overall"])
        town = population.town_of[i]
        history.town_risk_share = town_risk[town] / town_size[town]
        histories[i] = history
    return histories


def score_model(context: Context, ledger: Ledger, year: int):
    """JQS-SCORE-1 as the pipeline fits it (``model_from_windows``), on windows at the starts of the years before
    ``year``: features then, labels from that year's checks."""
    windows = []
    for cutoff in range(year - 1, max(-1, year - 6), -1):
        grades = product_grades(context, ledger, cutoff)
        histories = history_at(context, ledger, cutoff, grades, risk_classes(context, ledger, cutoff))
        ids = sorted(ledger.inspected[cutoff])
        labels = [context.world.failing[cutoff][i] for i in ids]
        history_checks = sum(len(ledger.inspected[y]) for y in range(max(0, cutoff - 3), cutoff))
        window = Window(cutoff, design_matrix(histories, ids), np.array(labels, dtype=float), history_checks)
        if window_usable(window):
            windows.append(window)
    return model_from_windows(windows)


def risk_scored(context: Context, ledger: Ledger, year: int) -> tuple[dict[int, str], dict]:
    """(e) JQS-DRAW-2: as (b), with every enterprise's risk score (fitted on the strategy's own results) weighting
    the draw inside the strata, the floor, and the unspent budget filled; plus the Horvitz–Thompson estimate."""
    population = context.population
    grades = product_grades(context, ledger, year)
    risk = risk_classes(context, ledger, year)
    colours = town_colours(context, risk)
    table = {
        (grade, is_risk): context.supervision.category_for(grade, RiskClass.RISK if is_risk else RiskClass.NON_RISK)
        for grade in Grade
        for is_risk in (True, False)
    }
    categories = [table[(max(grades[k] for k in population.makes[i]), risk[i])] for i in range(population.size)]
    outcome = score_model(context, ledger, year)
    if outcome.fit is None:
        scores = [None] * population.size
    else:
        histories = history_at(context, ledger, year, grades, risk)
        matrix = design_matrix(histories, list(range(population.size)))
        scores = [round(p, SCORE_DECIMALS) for p in probability(outcome.fit.logits(matrix)).tolist()]
    candidates = [
        Candidate(i, population.credit_codes[i], "", categories[i], colours[population.town_of[i]], scores[i] or 1.0)
        for i in range(population.size)
    ]
    plan = plan_for(context, year)
    plan.draw_method = DRAW_METHOD_PPS
    draw = published_draw(context, plan, candidates, year)
    failing = context.world.failing[year]
    strata: dict[str, list[tuple[float, int]]] = {}
    control = [0, 0]
    for target in draw.targets:
        y = failing[target.enterprise_id]
        if target.arm == DrawArm.CONTROL:
            control[0] += 1
            control[1] += y
        else:
            strata.setdefault(target.stratum, []).append((target.inclusion_probability, y))
    estimate = horvitz_thompson(strata, population.size, certain_found=control[1])
    truth = sum(failing) / population.size
    direct = wilson_estimate(control[1], control[0])
    extra = {
        "scored": outcome.fit is not None,
        "auc": outcome.quality.auc if outcome.quality else None,
        "ht": [estimate.value, estimate.low, estimate.high],
        "control_direct": [direct.value, direct.low, direct.high],
        "truth": truth,
        "ht_covers": estimate.low <= truth <= estimate.high,
        "min_inclusion_probability": min(draw.probabilities.values()) if draw.probabilities else None,
        "lowest_over_floor": lowest_over_floor(plan, draw, [c for c in candidates if draw.probabilities.get(c.credit_code, 1.0) < 1.0]),
    }
    return {target.enterprise_id: target.arm for target in draw.targets}, extra


def lowest_over_floor(plan: InspectionPlan, draw: Draw, candidates: list[Candidate]) -> float:
    """The smallest ratio, over the risk arm's enterprises, of an inclusion probability to its floor
    (score_floor_share % of its stratum's rate quota ÷ N): at least 1 when no enterprise falls below it."""
    floor_share = float(plan.score_floor_share) / 100
    rate = {(s.category, s.colour): s.quota / s.population for s in draw.strata if s.population}
    ratios = [
        draw.probabilities[c.credit_code] / (floor_share * rate[(c.category, c.colour)])
        for c in candidates
        if (c.category, c.colour) in rate
        and rate[(c.category, c.colour)] > 0
        and c.credit_code in draw.probabilities
        and draw.probabilities[c.credit_code] < 1.0
    ]
    return min(ratios) if ratios else float("inf")


def risk_first(policy: SupervisionPolicy) -> SupervisionPolicy:
    """A table an administrator could adopt instead of the default one: every risk enterprise is tightened."""
    variant = copy.copy(policy)
    variant.medium_risk = variant.low_risk = Category.TIGHTENED
    return variant


STRATEGIES = {
    "uniform": ("(a) uniform 双随机", uniform),
    "risk_default": ("(b) risk-based, policy ratios", lambda c, ledger, y: risk_based(c, ledger, y)),
    "risk_filled": ("(b′) risk-based, ratios scaled to the budget", lambda c, ledger, y: risk_based(c, ledger, y, fill="scale")),
    "risk_first": (
        "(b″) variant: every risk enterprise tightened",
        lambda c, ledger, y: risk_based(c, ledger, y, fill="scale", supervision=risk_first(c.supervision)),
    ),
    "risk_priority": (
        "(b‴) leftover budget filled in category order",
        lambda c, ledger, y: risk_based(c, ledger, y, fill="priority"),
    ),
    "risk_scored": ("(e) JQS-DRAW-2: risk score πps in the strata, floor, budget filled", risk_scored),
    "oracle": ("(c) oracle", oracle),
    "ranked": ("(d) diagnostic: greedy ranking, same data", ranked),
}


# --- Figures ----------------------------------------------------------------------------------------------


def wilson(found: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a proportion, in percent."""
    if not n:
        return (0.0, 0.0)
    p = found / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (100 * (centre - half), 100 * (centre + half))


@dataclass
class YearFigures:
    year: int
    inspections: int
    found: int
    expected: float  # sum of the hidden probabilities of the inspected enterprises
    failing: int  # enterprises that would have been non-conforming had they been checked that year
    by_arm: dict[str, list[int]]  # arm → [inspections, found]
    severe: list[int]  # [inspections, found] where the sampled product's defects are severe (fire, shock, poisoning)
    extra: dict


@dataclass
class Detection:
    spells: int  # new failing spells starting in plan years 1..Y-1
    detected: int  # detected while still failing
    mean_days_detected: float | None
    restricted_mean_days: float | None  # undetected (or later than the cap) counted as DETECTION_CAP_DAYS


@dataclass
class StrategyFigures:
    key: str
    label: str
    years: list[YearFigures]
    detection: Detection
    seconds: float

    @property
    def inspections(self) -> int:
        return sum(y.inspections for y in self.years)

    @property
    def found(self) -> int:
        return sum(y.found for y in self.years)

    @property
    def found_per_100(self) -> float:
        return 100 * self.found / self.inspections if self.inspections else 0.0

    @property
    def expected_per_100(self) -> float:
        return 100 * sum(y.expected for y in self.years) / self.inspections if self.inspections else 0.0

    @property
    def reached(self) -> float:
        failing = sum(y.failing for y in self.years)
        return self.found / failing if failing else 0.0

    def by_category(self) -> dict[str, list[int]]:
        """Risk-arm [inspections, found] per supervision category, over the plan years (risk-based only)."""
        totals: dict[str, list[int]] = {}
        for year in self.years:
            for category, (n, found) in year.extra.get("risk_arm_by_category", {}).items():
                counts = totals.setdefault(category, [0, 0])
                counts[0] += n
                counts[1] += found
        return totals

    def arm_per_100(self, arm: str) -> tuple[int, int]:
        inspections = sum(y.by_arm.get(arm, [0, 0])[0] for y in self.years)
        found = sum(y.by_arm.get(arm, [0, 0])[1] for y in self.years)
        return inspections, found

    def summary(self) -> dict:
        low, high = wilson(self.found, self.inspections)
        return {
            "label": self.label,
            "inspections": self.inspections,
            "found": self.found,
            "found_per_100": round(self.found_per_100, 2),
            "found_per_100_ci95": [round(low, 2), round(high, 2)],
            "expected_per_100": round(self.expected_per_100, 2),
            "reached": round(self.reached, 4),
            "severe": [sum(y.severe[0] for y in self.years), sum(y.severe[1] for y in self.years)],
            "risk_arm_by_category": self.by_category(),
            "detection": asdict(self.detection),
            "arms": {arm: list(self.arm_per_100(arm)) for arm in sorted({a for y in self.years for a in y.by_arm})},
            "seconds": round(self.seconds, 2),
        }


def detection(population: Population, world: World, ledger: Ledger, first: int, last: int) -> Detection:
    """Days from the start of a new failing spell to the first inspection that finds it.

    A spell starts on 1 January of a year in which an enterprise would fail a check after a year in which it
    would not, and lasts while it would keep failing. Spells starting in plan years ``first``..``last - 1``
    are counted, so each has at least two years of follow-up.
    """
    spells, detected, days = 0, 0, []
    for start in range(first, last):
        for i in range(population.size):
            if not world.failing[start][i] or world.failing[start - 1][i]:
                continue
            spells += 1
            found_after = None
            year = start
            while year <= last and world.failing[year][i]:
                if i in ledger.inspected[year]:
                    found_after = (year - start) * DAYS + world.day[year][i]
                    break
                year += 1
            if found_after is not None:
                detected += 1
            days.append(found_after)
    found = [d for d in days if d is not None]
    return Detection(
        spells=spells,
        detected=detected,
        mean_days_detected=round(sum(found) / len(found), 1) if found else None,
        restricted_mean_days=(
            round(sum(DETECTION_CAP_DAYS if d is None else min(d, DETECTION_CAP_DAYS) for d in days) / len(days), 1) if days else None
        ),
    )


@dataclass
class Result:
    params: Params
    population: dict
    strategies: dict[str, StrategyFigures]
    seconds: float

    def ratio(self, numerator: str, denominator: str) -> float:
        bottom = self.strategies[denominator].found_per_100
        return self.strategies[numerator].found_per_100 / bottom if bottom else float("nan")

    def as_dict(self) -> dict:
        params = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self.params).items()}
        return {
            "params": params | {"budget": self.params.budget},
            "population": self.population,
            "strategies": {key: figures.summary() for key, figures in self.strategies.items()},
            "ratios": {
                f"{b}/uniform": round(self.ratio(b, "uniform"), 3)
                for b in self.strategies
                if b != "uniform" and "uniform" in self.strategies
            }
            | {f"{b}/oracle": round(self.ratio(b, "oracle"), 3) for b in self.strategies if b != "oracle" and "oracle" in self.strategies},
            "per_year": {key: [asdict(y) for y in figures.years] for key, figures in self.strategies.items()},
            "seconds": round(self.seconds, 2),
        }


def describe_population(population: Population, world: World) -> dict:
    """Calibration read-outs: how much signal the hidden model puts into history (for the README)."""
    params = population.params
    plan_years = range(params.history_years, params.history_years + params.years)
    n = population.size
    repeat = [0, 0]  # failing after failing: [years, failing]
    fresh = [0, 0]  # failing after not failing
    for year in range(1, len(world.failing)):
        for i in range(n):
            bucket = repeat if world.failing[year - 1][i] else fresh
            bucket[0] += 1
            bucket[1] += world.failing[year][i]
    three_year = [0, 0]  # fail this year, by whether any of the previous three years failed: [n, failing] × 2
    after_fail = [0, 0]
    for year in range(3, len(world.failing)):
        for i in range(n):
            before = any(world.failing[y][i] for y in range(year - 3, year))
            bucket = after_fail if before else three_year
            bucket[0] += 1
            bucket[1] += world.failing[year][i]
    failing_share = sum(sum(world.failing[y]) for y in plan_years) / (n * params.years)
    mean_probability = sum(sum(world.probability[y]) for y in plan_years) / (n * params.years)
    top = sorted(world.probability[params.history_years], reverse=True)[: params.budget]
    return {
        "enterprises": n,
        "towns": len(population.town_codes),
        "towns_with_enterprises": len(set(population.town_of)),
        "products_made": len({k for made in population.makes for k in made}),
        "products_per_enterprise": round(sum(len(m) for m in population.makes) / n, 2),
        "intercept": round(population.intercept, 3),
        "mean_probability": round(mean_probability, 4),
        "failing_share": round(failing_share, 4),
        "p_fail_after_fail": round(repeat[1] / repeat[0], 4) if repeat[0] else None,
        "p_fail_after_pass": round(fresh[1] / fresh[0], 4) if fresh[0] else None,
        "p_fail_after_any_fail_in_3y": round(after_fail[1] / after_fail[0], 4) if after_fail[0] else None,
        "p_fail_after_3_clean_years": round(three_year[1] / three_year[0], 4) if three_year[0] else None,
        "events_per_year": round(sum(len(e) for e in world.events) / len(world.events), 1),
        "oracle_top_budget_mean_probability_year1": round(sum(top) / len(top), 4),
    }


def run(params: Params, strategies: tuple[str, ...] = tuple(STRATEGIES)) -> Result:
    import time

    started = time.perf_counter()
    population = build_population(params)
    world = build_world(population)
    context = Context(population, world, **rule_policies(params.rules))
    history = Ledger.empty(population)
    for year in range(params.history_years):
        history.record(population, world, year, uniform(context, history, year)[0])
    first, last = params.history_years, params.history_years + params.years - 1
    severe = [product.harm == 3 for product in population.products]
    results = {}
    for key in strategies:
        label, strategy = STRATEGIES[key]
        clock = time.perf_counter()
        ledger = history.copy()
        years = []
        for year in range(first, last + 1):
            targets, extra = strategy(context, ledger, year)
            ledger.record(population, world, year, targets)
            failing = world.failing[year]
            by_arm: dict[str, list[int]] = {}
            for i, arm in targets.items():
                counts = by_arm.setdefault(str(arm), [0, 0])
                counts[0] += 1
                counts[1] += failing[i]
            years.append(
                YearFigures(
                    year=year - first + 1,
                    inspections=len(targets),
                    found=sum(failing[i] for i in targets),
                    expected=round(sum(world.probability[year][i] for i in targets), 3),
                    failing=sum(failing),
                    by_arm=by_arm,
                    severe=[
                        sum(severe[population.checked[i]] for i in targets),
                        sum(severe[population.checked[i]] and failing[i] for i in targets),
                    ],
                    extra=extra,
                )
            )
        results[key] = StrategyFigures(
            key, label, years, detection(population, world, ledger, first, last), seconds=time.perf_counter() - clock
        )
    return Result(params, describe_population(population, world), results, time.perf_counter() - started)
