"""Spot-check rules: results feed risk events and products' recent failure rates."""

import datetime as dt

from django.db import transaction
from django.db.models import Count, DecimalField, Exists, FloatField, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat, Round

from enterprises.models import RiskEvent, RiskEventKind
from products.models import GradingPolicy, Product
from regions.periods import years_before

from .models import SpotCheckResult

RISK_EVENT_PREFIX = "抽查 "


@transaction.atomic
def risk_events_record_from_spot_checks(*, batch_size: int = 5000) -> dict:
    """A non-conforming spot-check result is a risk event of its enterprise (dated the sampling date).

    Only results without their event yet are read, so a second run writes nothing.
    """
    has_event = Exists(
        RiskEvent.objects.filter(
            enterprise=OuterRef("enterprise"),
            kind=RiskEventKind.NONCONFORMING_SPOT_CHECK,
            source_ref=Concat(Value(RISK_EVENT_PREFIX), OuterRef("lab_report_number")),
        )
    )
    missing = (
        SpotCheckResult.objects.filter(conforming=False)
        .filter(~has_event)
        .values_list("enterprise_id", "product_id", "checked_on", "lab_report_number", "failed_items", "is_demo")
    )
    events = [
        RiskEvent(
            enterprise_id=enterprise_id,
            product_id=product_id,
            kind=RiskEventKind.NONCONFORMING_SPOT_CHECK,
            occurred_on=checked_on,
            source_ref=f"{RISK_EVENT_PREFIX}{report}",
            description=failed[:500],
            is_demo=is_demo,
        )
        for enterprise_id, product_id, checked_on, report, failed, is_demo in missing.iterator(chunk_size=batch_size)
    ]
    RiskEvent.objects.bulk_create(events, batch_size=batch_size, ignore_conflicts=True)
    return {"recorded": len(events), "message": f"{len(events)} non-conforming results recorded as risk events"}


@transaction.atomic
def products_failure_rates_refresh(*, as_of: dt.date, policy: GradingPolicy | None = None) -> dict:
    """Each product's recent spot-check failure rate (a grade factor): non-conforming ÷ all results in the
    grading window ending on ``as_of``, in percent, with the number of results behind it. One UPDATE.
    """
    policy = policy or GradingPolicy.in_force()
    window = SpotCheckResult.objects.filter(
        product=OuterRef("pk"), checked_on__gte=years_before(as_of, policy.failure_window_years), checked_on__lte=as_of
    ).values("product")
    sample = Subquery(window.annotate(n=Count("id")).values("n"), output_field=IntegerField())
    failed = Subquery(window.annotate(n=Count("id", filter=Q(conforming=False))).values("n"), output_field=IntegerField())
    # Float division rounded to 2 places: SQLite's CAST(… AS NUMERIC) keeps whole numbers integers, so a decimal
    # cast there made 1 × 100 ÷ 6 an integer division (16, not 16.67).
    rate = Round(Cast(Coalesce(failed, 0), FloatField()) * Value(100) / Coalesce(sample, 1), 2)
    Product.objects.update(failure_sample=Coalesce(sample, 0), failure_rate=Cast(rate, DecimalField(max_digits=5, decimal_places=2)))
    with_data = Product.objects.filter(failure_sample__gt=0).count()
    return {"products_with_results": with_data, "message": f"failure rates refreshed for {with_data} products"}
