"""Read queries over enterprises that other apps and the pipeline use."""

from collections import Counter, defaultdict

from django.db import models
from django.db.models import Case, Count, Q, When

from regions.models import code_prefix
from regions.selectors import without_boundaries

from .models import KEY_SUPERVISED, Category, Enterprise, RiskClass, RiskReason, Status


def town_risk_counts() -> dict[int, Counter]:
    """Per town: active ``enterprises``, ``risk`` and ``key_supervised`` enterprises, and risk enterprises per
    reason kind. Two queries."""
    counts: dict[int, Counter] = defaultdict(Counter)
    rows = (
        Enterprise.objects.filter(status=Status.ACTIVE)
        .values("town_id")
        .annotate(
            total=Count("id"),
            risk=Count("id", filter=Q(risk_class=RiskClass.RISK)),
            key=Count("id", filter=Q(category__in=KEY_SUPERVISED)),
        )
    )
    for row in rows:
        counts[row["town_id"]].update(enterprises=row["total"], risk=row["risk"], key_supervised=row["key"])
    reasons = (
        RiskReason.objects.filter(enterprise__status=Status.ACTIVE).values("enterprise__town_id", "kind").annotate(n=Count("enterprise_id"))
    )
    for row in reasons:
        counts[row["enterprise__town_id"]][row["kind"]] += row["n"]
    return counts


def enterprises_within(jurisdiction) -> "models.QuerySet[Enterprise]":
    """Every query over enterprises for a user starts here: the enterprises of their jurisdiction."""
    queryset = Enterprise.objects.all()
    if jurisdiction is not None:
        queryset = queryset.filter(town__code__startswith=code_prefix(jurisdiction.code))
    return queryset


def key_supervised_in(region):
    """重点监管企业 of a region, active, tightened first, then risk enterprises first, then by name (with their
    town and county, without boundaries): the map panel's list and the full list page."""
    queryset = (
        enterprises_within(region)
        .filter(status=Status.ACTIVE, category__in=KEY_SUPERVISED)
        .select_related("town__parent")
        .order_by(Case(When(category=Category.TIGHTENED, then=0), default=1), "-risk_class", "name", "id")
    )
    return without_boundaries(queryset, "town", "town__parent")


def key_enterprises(region, *, limit: int = 10) -> tuple[list[Enterprise], int]:
    """The first ``limit`` of ``key_supervised_in(region)`` and how many in all."""
    queryset = key_supervised_in(region)
    return list(queryset[:limit]), queryset.count()


def priority_markers(jurisdiction, *, bbox: tuple[float, float, float, float] | None, limit: int = 5000) -> dict:
    """Markers of the priorities layer (重点): key-supervised active enterprises with a position, in the bbox."""
    queryset = enterprises_within(jurisdiction).filter(status=Status.ACTIVE, category__in=KEY_SUPERVISED, lat__isnull=False)
    if bbox:
        west, south, east, north = bbox
        queryset = queryset.filter(lon__gte=west, lon__lte=east, lat__gte=south, lat__lte=north)
    rows = list(queryset.order_by("id").values("id", "name", "lat", "lon", "category", "risk_class")[: limit + 1])
    return {"markers": rows[:limit], "truncated": len(rows) > limit}


def licence_problem_q(as_of) -> Q:
    """Products made whose production licence or CCC certificate is missing or expired on ``as_of`` (on
    EnterpriseProduct): the licence reasons of the classing rule (``enterprises_classify``) and the risk score's
    licence feature."""
    return ~Q(product__licence_type="none") & (Q(licence_number="") | Q(licence_expiry__lt=as_of))
