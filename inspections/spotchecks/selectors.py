"""Read queries: what a user's jurisdiction holds (every page, API and figure starts here), and the counts over
spot checks that the pipeline hands to the regions app."""

import datetime as dt
from collections import Counter, defaultdict

from django.db.models import Count, Q, QuerySet

from enterprises.models import INCIDENT_KINDS, EnterpriseProduct, RiskEvent, RiskEventKind
from enterprises.selectors import enterprises_within

from ..models import SpotCheckResult


def spot_checks_within(jurisdiction) -> QuerySet[SpotCheckResult]:
    return SpotCheckResult.objects.filter(enterprise__in=enterprises_within(jurisdiction))


def town_quality_counts(*, start: dt.date, end: dt.date) -> dict[int, Counter]:
    """Per town, over ``start``..``end`` inclusive: spot checks and passes, rectifications due (one per
    non-conforming result) and overdue, and incidents (complaints, incidents, recalls). Two queries.

    "Overdue" counts the overdue-rectification risk events: the imported ones, and the one the daily check
    records when an order passes its re-inspection deadline (inspections.rectification.daily), so an order is overdue by the
    same rule here as on the dashboard (on time = closed by ``reinspect_by``).
    """
    counts: dict[int, Counter] = defaultdict(Counter)
    checks = (
        SpotCheckResult.objects.filter(checked_on__gte=start, checked_on__lte=end)
        .values("enterprise__town_id")
        .annotate(total=Count("id"), passed=Count("id", filter=Q(conforming=True)))
    )
    for row in checks:
        counts[row["enterprise__town_id"]].update(
            spot_checks=row["total"], spot_checks_passed=row["passed"], rectifications_due=row["total"] - row["passed"]
        )
    events = (
        RiskEvent.objects.filter(occurred_on__gte=start, occurred_on__lte=end)
        .values("enterprise__town_id")
        .annotate(
            overdue=Count("id", filter=Q(kind=RiskEventKind.OVERDUE_RECTIFICATION)),
            incidents=Count("id", filter=Q(kind__in=INCIDENT_KINDS)),
        )
    )
    for row in events:
        counts[row["enterprise__town_id"]].update(rectifications_overdue=row["overdue"], incidents=row["incidents"])
    return counts


def checked_products(enterprise_ids: list[int] | None = None) -> dict[int, int]:
    """The product an enterprise is spot-checked for: its highest-grade product (then the lowest product code).
    One query, for ``enterprise_ids`` or every enterprise."""
    rows = EnterpriseProduct.objects.all() if enterprise_ids is None else EnterpriseProduct.objects.filter(enterprise_id__in=enterprise_ids)
    best: dict[int, int] = {}
    for enterprise_id, product_id in rows.order_by("enterprise_id", "-product__grade", "product__code").values_list(
        "enterprise_id", "product_id"
    ):
        best.setdefault(enterprise_id, product_id)
    return best
