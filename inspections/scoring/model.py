"""风险评分: each enterprise's risk score, the probability that its next spot check is non-conforming.

Published method JQS-SCORE-1, fitted on the bureau's own history:

1. Features of an enterprise as of a date D (its history up to and including D): non-conforming spot checks in
   the last year and one to three years before; other risk events (complaints, incidents, recalls, penalties,
   overdue rectifications, failed re-inspections, licence lapses) in the last 3 years; spot checks in the last
   3 years (log); years since its last spot check (5 when never checked, with a "never checked" flag); the
   failure rate over the last 5 years of the product it is checked for (its highest-grade product, as the
   draw picks it), shrunk towards the overall rate with a prior worth 10 checks, as a logit; its highest
   product grade; a licence or CCC missing or expired
   on D; its town's risk share on D (the share of the town's active enterprises with a risk event in the
   last 3 years). Counts are capped at 3.
2. Labels: an enterprise checked in the year after D is non-conforming (1) if any of those checks was.
3. Windows: D = as-of date − k years for k = 1, 2, …, 5, each kept if it has enough checked enterprises
   and enough spot checks in the 3 years before it to learn from (30 of each).
   The model is an L2-regularised logistic regression (scikit-learn, C = 1) on standardised features,
   fitted on every window. Its quality is measured on a later held-out period: the same fit without the
   latest window (k = 1), scored on that window (AUC, calibration by fifths, lift at 20 %, share of the
   failures in the top half).
4. Score: logit = intercept + Σ coefficient × (value − mean) ÷ standard deviation; probability = 1 ÷ (1 +
   e^−logit). Each term is one factor's part ("3 non-conforming results: +1.2"); the intercept is the
   logit of an enterprise with every feature at the average, so the explanation sums to the score exactly.
"""

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Max, Q

from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent, RiskEventKind, Status
from enterprises.selectors import licence_problem_q

from ..models import FEATURE_NAMES, SpotCheckResult
from ..spotchecks.selectors import checked_products

SCORE_METHOD = "JQS-SCORE-1"
SCORE_METHOD_DESCRIPTION = __doc__
YEAR = dt.timedelta(days=365)
RISK_WINDOW = 3 * YEAR
MAX_WINDOWS = 5
COUNT_CAP = 3
NEVER_CHECKED_YEARS = 5.0
FAILURE_RATE_PRIOR = 10  # checks' worth of the overall rate in a product's shrunk failure rate
REGULARISATION_C = 1.0
RATE_WINDOW = 5 * YEAR  # a product's failure rate is a lasting trait: a longer window than the class rule's
DEFAULT_RATE = 0.05  # a rate with no check behind it at all (shrinkage then has nothing to shrink towards)
# Below these a fit would be noise: the product says so and the draw keeps the category order (JQS-DRAW-1).
MIN_WINDOW_ROWS = 30
MIN_TRAINING_POSITIVES = 10
MIN_HOLDOUT_POSITIVES = 5


# --- The features: raw counts from a handful of grouped queries, one transform ------------------------------


@dataclass
class History:
    """Per enterprise, what the history up to a date says (raw counts and dates; ``features`` transforms them)."""

    nonconforming_1y: int = 0
    nonconforming_1_3y: int = 0
    other_events_3y: int = 0
    checks_3y: int = 0
    days_since_check: int | None = None
    product_failure_rate: float | None = None  # None: the enterprise makes no product (the overall rate is used)
    max_grade: int | None = None
    licence_problem: bool = False
    town_risk_share: float = 0.0


def features(history: History) -> list[float]:
    """The model's inputs from an enterprise's history, in ``FEATURE_NAMES`` order (step 1 of the method)."""
    never = history.days_since_check is None
    return [
        float(min(history.nonconforming_1y, COUNT_CAP)),
        float(min(history.nonconforming_1_3y, COUNT_CAP)),
        float(min(history.other_events_3y, COUNT_CAP)),
        math.log1p(history.checks_3y),
        NEVER_CHECKED_YEARS if never else min(history.days_since_check / 365, NEVER_CHECKED_YEARS),
        1.0 if never else 0.0,
        _logit(history.product_failure_rate if history.product_failure_rate is not None else DEFAULT_RATE),
        float(history.max_grade or 1),
        1.0 if history.licence_problem else 0.0,
        history.town_risk_share,
    ]


def _logit(rate: float) -> float:
    rate = min(max(rate, 1e-4), 1 - 1e-4)
    return math.log(rate / (1 - rate))


def shrunk_failure_rates(checks: dict[int, int], fails: dict[int, int]) -> dict[int, float]:
    """Each product's failure rate, shrunk towards the overall rate with a prior worth FAILURE_RATE_PRIOR checks."""
    overall = sum(fails.values()) / sum(checks.values()) if sum(checks.values()) else 0.0
    return {product: (fails.get(product, 0) + FAILURE_RATE_PRIOR * overall) / (n + FAILURE_RATE_PRIOR) for product, n in checks.items()} | {
        "overall": overall
    }


def histories_as_of(as_of: dt.date) -> dict[int, History]:
    """Every enterprise's History as of ``as_of``: six grouped queries, whatever the number of enterprises."""
    year_ago, window_start = as_of - YEAR, as_of - RISK_WINDOW
    rows = Enterprise.objects.order_by().values_list("id", "town_id", "max_grade", "status")
    histories = {pk: History(max_grade=grade) for pk, _town, grade, _status in rows}
    town_of = {pk: town for pk, town, _grade, _status in rows}
    active = [pk for pk, _town, _grade, status in rows if status == Status.ACTIVE]

    per_enterprise = (
        SpotCheckResult.objects.filter(checked_on__lte=as_of)
        .order_by()
        .values("enterprise_id")
        .annotate(
            nc_1y=Count("id", filter=Q(conforming=False, checked_on__gt=year_ago)),
            nc_1_3y=Count("id", filter=Q(conforming=False, checked_on__gt=window_start, checked_on__lte=year_ago)),
            n_3y=Count("id", filter=Q(checked_on__gt=window_start)),
            last=Max("checked_on"),
        )
    )
    for row in per_enterprise:
        history = histories[row["enterprise_id"]]
        history.nonconforming_1y, history.nonconforming_1_3y, history.checks_3y = row["nc_1y"], row["nc_1_3y"], row["n_3y"]
        history.days_since_check = (as_of - row["last"]).days

    events = RiskEvent.objects.filter(occurred_on__gt=window_start, occurred_on__lte=as_of)
    other = events.exclude(kind=RiskEventKind.NONCONFORMING_SPOT_CHECK).order_by().values("enterprise_id").annotate(n=Count("id"))
    for row in other:
        histories[row["enterprise_id"]].other_events_3y = row["n"]

    # A product's failure rate is everyone's results on it.
    by_product = (
        SpotCheckResult.objects.filter(checked_on__gt=as_of - RATE_WINDOW, checked_on__lte=as_of)
        .order_by()
        .values("product_id")
        .annotate(n=Count("id"), failed=Count("id", filter=Q(conforming=False)))
    )
    rates = shrunk_failure_rates(
        {row["product_id"]: row["n"] for row in by_product}, {row["product_id"]: row["failed"] for row in by_product}
    )
    for enterprise_id, product_id in checked_products().items():
        histories[enterprise_id].product_failure_rate = rates.get(product_id, rates["overall"])
    for enterprise_id in EnterpriseProduct.objects.filter(licence_problem_q(as_of)).order_by().values_list("enterprise_id", flat=True):
        histories[enterprise_id].licence_problem = True

    # The town's share of active enterprises with a risk event in the window: the class rule's count, dated.
    flagged = set(events.order_by().values_list("enterprise_id", flat=True).distinct())
    towns = Counter(town_of[pk] for pk in active)
    risky = Counter(town_of[pk] for pk in active if pk in flagged)
    for pk, history in histories.items():
        town = town_of[pk]
        history.town_risk_share = risky[town] / towns[town] if towns[town] else 0.0
    return histories


def labels_after(as_of: dt.date) -> dict[int, int]:
    """Each enterprise checked in the year after ``as_of``: 1 if any of those checks was non-conforming."""
    rows = (
        SpotCheckResult.objects.filter(checked_on__gt=as_of, checked_on__lte=as_of + YEAR)
        .order_by()
        .values("enterprise_id")
        .annotate(failed=Count("id", filter=Q(conforming=False)))
    )
    return {row["enterprise_id"]: int(row["failed"] > 0) for row in rows}


# --- The fit (pure: numpy arrays in, parameters and quality out) --------------------------------------------


@dataclass
class Fit:
    intercept: float
    coefficients: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        mean = np.array([self.means[name] for name in FEATURE_NAMES])
        scale = np.array([self.scales[name] for name in FEATURE_NAMES])
        coefficient = np.array([self.coefficients[name] for name in FEATURE_NAMES])
        return self.intercept + ((matrix - mean) / scale) @ coefficient

    def contributions(self, values: list[float]) -> dict[str, float]:
        """Each factor's part of the logit (step 4): they sum, with the intercept, to the logit."""
        return {
            name: self.coefficients[name] * (value - self.means[name]) / self.scales[name]
            for name, value in zip(FEATURE_NAMES, values, strict=True)
        }


def probability(logits):
    from scipy.special import expit  # the logistic function without overflow at extreme logits

    return expit(np.asarray(logits, dtype=float))


def fit_logistic(matrix: np.ndarray, labels: np.ndarray) -> Fit:
    """Step 3: L2-regularised logistic regression on standardised features (scikit-learn's lbfgs)."""
    from sklearn.linear_model import LogisticRegression

    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0  # a feature that never varies gets no weight, not a division by zero
    model = LogisticRegression(C=REGULARISATION_C, max_iter=1000)
    model.fit((matrix - mean) / scale, labels)
    return Fit(
        intercept=float(model.intercept_[0]),
        coefficients={name: float(c) for name, c in zip(FEATURE_NAMES, model.coef_[0], strict=True)},
        means={name: float(m) for name, m in zip(FEATURE_NAMES, mean, strict=True)},
        scales={name: float(s) for name, s in zip(FEATURE_NAMES, scale, strict=True)},
    )


@dataclass
class Quality:
    auc: float | None
    lift_at_20: float | None
    top_half_share: float | None
    calibration: list[dict] = field(default_factory=list)


def ranking_quality(scores: np.ndarray, labels: np.ndarray) -> Quality:
    """AUC, lift at 20 %, share of the failures in the top half and calibration by fifths of a ranking by
    ``scores`` (ties share their places: a tie straddling a cut counts in proportion)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=float)
    positives = labels.sum()
    if positives == 0 or positives == len(labels):
        return Quality(None, None, None)
    share_20 = found_in_top(scores, labels, 0.2)
    calibration = []
    order = np.argsort(-scores, kind="stable")
    for part in np.array_split(order, 5):
        if len(part):
            calibration.append({"predicted": float(scores[part].mean()), "observed": float(labels[part].mean()), "n": len(part)})
    return Quality(
        auc=float(roc_auc_score(labels, scores)),
        lift_at_20=share_20 / 0.2,
        top_half_share=found_in_top(scores, labels, 0.5),
        calibration=calibration,
    )


def found_in_top(scores, labels, fraction: float) -> float:
    """The share of all positives found in the top ``fraction`` of a ranking by ``scores``, higher first; a group
    of tied scores straddling the cut contributes its positives in proportion to the places it gets (the
    expectation over a random order among ties: categories alone are all ties)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    total = labels.sum()
    if not total:
        return 0.0
    places = fraction * len(scores)
    found, taken = 0.0, 0
    for value in np.unique(scores)[::-1]:
        members = scores == value
        size = int(members.sum())
        if taken >= places:
            break
        share = min(1.0, (places - taken) / size)
        found += share * labels[members].sum()
        taken += size
    return float(found / total)


def design_matrix(histories: dict[int, History], ids: list[int]) -> np.ndarray:
    return np.array([features(histories[pk]) for pk in ids], dtype=float).reshape(len(ids), len(FEATURE_NAMES))


def windows_before(as_of: dt.date) -> list[dt.date]:
    """The cut-off dates of the training windows: one, two, … years before ``as_of`` (latest first)."""
    return [as_of - k * YEAR for k in range(1, MAX_WINDOWS + 1)]


@dataclass
class Window:
    """One training window: features at ``cutoff``, labels from the year after it, and how many spot checks the
    3 years before the cutoff hold (a window without a history to learn from would teach the model nothing
    but the difference between having and not having records)."""

    cutoff: dt.date
    matrix: np.ndarray
    labels: np.ndarray
    history_checks: int

    @property
    def rows(self) -> int:
        return len(self.labels)

    @property
    def positives(self) -> int:
        return int(self.labels.sum())


def window_at(cutoff: dt.date) -> Window:
    labels = labels_after(cutoff)
    ids = sorted(labels)
    histories = histories_as_of(cutoff) if ids else {}
    history_checks = SpotCheckResult.objects.filter(checked_on__gt=cutoff - RISK_WINDOW, checked_on__lte=cutoff).count()
    return Window(cutoff, design_matrix(histories, ids), np.array([labels[pk] for pk in ids], dtype=float), history_checks)


def window_usable(window: Window) -> bool:
    return window.rows >= MIN_WINDOW_ROWS and 0 < window.positives < window.rows and window.history_checks >= MIN_WINDOW_ROWS


@dataclass
class Outcome:
    """What a set of windows gives: a fit and its held-out quality, or why the history is too thin."""

    fit: Fit | None = None
    quality: Quality | None = None
    thin: str | None = None


def model_from_windows(windows: list[Window]) -> Outcome:
    """Step 3 of the method on usable windows (latest first): the quality of the fit without the latest window,
    measured on it, and the fit on them all. Pure: the pipeline and the benchmark call it alike."""
    from django.utils.translation import gettext

    if len(windows) < 2:
        message = gettext("history too thin to fit a risk score: %(n)d usable yearly window(s) of spot checks, 2 needed")
        return Outcome(thin=message % {"n": len(windows)})
    holdout, training = windows[0], windows[1:]
    positives = sum(w.positives for w in training)
    if positives < MIN_TRAINING_POSITIVES or holdout.positives < MIN_HOLDOUT_POSITIVES:
        message = gettext(
            "history too thin to fit a risk score: %(train)d non-conforming enterprise-years to learn from (%(need_train)d needed), "
            "%(hold)d in the held-out year (%(need_hold)d needed)"
        )
        values = {"train": positives, "need_train": MIN_TRAINING_POSITIVES, "hold": holdout.positives, "need_hold": MIN_HOLDOUT_POSITIVES}
        return Outcome(thin=message % values)
    trial = fit_logistic(np.vstack([w.matrix for w in training]), np.concatenate([w.labels for w in training]))
    quality = ranking_quality(probability(trial.logits(holdout.matrix)), holdout.labels)
    fit = fit_logistic(np.vstack([w.matrix for w in windows]), np.concatenate([w.labels for w in windows]))
    return Outcome(fit=fit, quality=quality)
