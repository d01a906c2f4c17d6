"""Back-test of the targeting on the bureau's own data (回测): would the risk score have found more?

Fit the risk score on the history up to a date (JQS-SCORE-1, exactly as the pipeline fits it), score the
enterprises as they stood then, and rank the enterprises that were spot-checked in the year after it. Three
rankings: random (the expectation: a share x of the list holds a share x of the failures), the supervision
categories alone (as the rules in force then give them on the date: failure rates, grades, classes and
categories are recomputed as of the date by the pipeline's own services inside a transaction that is rolled
back, so nothing is written and nothing learnt after the date leaks in; ties share their places), and categories then score. For each:
the share of the non-conforming enterprises found in the top half, the lift at 20 %, and the non-conforming
found per 100 checks at the plan's budget, with 95 % Wilson intervals.
"""

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction

from enterprises.models import Category, Enterprise, SupervisionPolicy
from enterprises.selectors import enterprises_within
from enterprises.services import enterprises_categorise, enterprises_classify
from products.models import GradingPolicy
from products.services import products_grade

from ..sampling import Estimate, wilson
from ..spotchecks.services import products_failure_rates_refresh
from .model import YEAR, design_matrix, found_in_top, histories_as_of, labels_after, model_from_windows, probability
from .selectors import usable_windows

CATEGORY_RANK = {Category.TIGHTENED: 4, Category.ROUTINE: 3, Category.RESPONSIBILITY: 2, Category.CREDIT: 1}
DEFAULT_BUDGET_SHARE = 0.15


@dataclass
class Ranking:
    key: str
    top_half: Estimate
    lift_at_20: float
    per_100: Estimate


@dataclass
class Backtest:
    as_of: dt.date
    checked: int = 0
    nonconforming: int = 0
    budget: int = 0
    model_note: str = ""
    auc: float | None = None
    rankings: list[Ranking] = field(default_factory=list)

    def ranking(self, key: str) -> Ranking:
        return next(r for r in self.rankings if r.key == key)


def _rank(key: str, scores: np.ndarray, labels: np.ndarray, budget: int) -> Ranking:
    positives = int(labels.sum())
    half = found_in_top(scores, labels, 0.5)
    at_20 = found_in_top(scores, labels, 0.2)
    found_at_budget = found_in_top(scores, labels, budget / len(labels)) * positives
    return Ranking(
        key=key,
        top_half=_share(half * positives, positives),
        lift_at_20=at_20 / 0.2,
        per_100=_share(found_at_budget, budget),
    )


def _share(found: float, n: int) -> Estimate:
    """A share with the Wilson interval of its rounded count (ties make the count fractional)."""
    interval = wilson(round(found), n)
    return Estimate(found / n if n else None, interval.low, interval.high, n)


class _Rollback(Exception):
    """Raised to undo the as-of recomputation once its categories are read."""


def categories_on(day: dt.date) -> dict[int, str | None]:
    """Every enterprise's supervision category as the rules in force on ``day`` give it from the records up to
    ``day``: the pipeline's services run as of that day, read, and rolled back (nothing is kept)."""
    grading, supervision = GradingPolicy.in_force_on(day), SupervisionPolicy.in_force_on(day)
    categories: dict[int, str | None] = {}
    try:
        with transaction.atomic():
            products_failure_rates_refresh(as_of=day, policy=grading)
            products_grade(policy=grading)
            enterprises_classify(as_of=day, policy=supervision)
            enterprises_categorise(policy=supervision, as_of=day)
            categories = dict(Enterprise.objects.values_list("id", "category"))
            raise _Rollback
    except _Rollback:
        pass
    return categories


def backtest(*, as_of: dt.date, jurisdiction=None, budget_share: float = DEFAULT_BUDGET_SHARE) -> Backtest:
    """The back-test as of ``as_of`` over the enterprises of ``jurisdiction`` checked in the year after it."""
    report = Backtest(as_of=as_of)
    inside = set(enterprises_within(jurisdiction).values_list("pk", flat=True))
    labels_by_id = {pk: y for pk, y in labels_after(as_of).items() if pk in inside}
    ids = sorted(labels_by_id)
    report.checked, report.nonconforming = len(ids), sum(labels_by_id.values())
    if not ids or report.nonconforming == 0:
        report.model_note = "no spot check, or no non-conforming one, in the year after the date"
        return report
    report.budget = max(1, round(budget_share * len(ids)))
    labels = np.array([labels_by_id[pk] for pk in ids], dtype=float)
    then = categories_on(as_of)
    by_category = np.array([CATEGORY_RANK.get(then.get(pk), 0) for pk in ids], dtype=float)
    report.rankings.append(_rank("random", np.zeros(len(ids)), labels, report.budget))
    report.rankings.append(_rank("categories", by_category, labels, report.budget))
    outcome = model_from_windows(usable_windows(as_of))
    if outcome.fit is None:
        report.model_note = outcome.thin
        return report
    scores = probability(outcome.fit.logits(design_matrix(histories_as_of(as_of), ids)))
    report.auc = outcome.quality.auc
    report.rankings.append(_rank("categories_score", by_category + scores, labels, report.budget))  # scores < 1: within a category
    report.rankings.append(_rank("score", scores, labels, report.budget))
    return report


def backtest_window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    return as_of + dt.timedelta(days=1), as_of + YEAR
