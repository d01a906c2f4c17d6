"""Read queries over enterprises that other apps and the pipeline use."""

from collections import Counter, defaultdict

from django.db.models import Count, Q

from .models import Enterprise, RiskClass, RiskReason, Status


def town_risk_counts() -> dict[int, Counter]:
    """Per town: active ``enterprises``, ``risk`` enterprises, and risk enterprises per reason kind. Two queries."""
    counts: dict[int, Counter] = defaultdict(Counter)
    rows = (
        Enterprise.objects.filter(status=Status.ACTIVE)
        .values("town_id")
        .annotate(total=Count("id"), risk=Count("id", filter=Q(risk_class=RiskClass.RISK)))
    )
    for row in rows:
        counts[row["town_id"]].update(enterprises=row["total"], risk=row["risk"])
    reasons = (
        RiskReason.objects.filter(enterprise__status=Status.ACTIVE).values("enterprise__town_id", "kind").annotate(n=Count("enterprise_id"))
    )
    for row in reasons:
        counts[row["enterprise__town_id"]][row["kind"]] += row["n"]
    return counts
