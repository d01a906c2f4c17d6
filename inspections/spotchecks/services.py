"""Spot-check rules: results feed risk events and products' recent failure rates."""

import datetime as dt

from django.db import connection, transaction
from django.db.models import Count, DecimalField, FloatField, Q, Value
from django.db.models.functions import Cast, Round
from django.utils.translation import gettext as _

from enterprises.models import RiskEvent, RiskEventKind
from products.models import GradingPolicy, Product
from regions.periods import years_before

from ..models import SpotCheckResult

RISK_EVENT_PREFIX = "抽查 "


@transaction.atomic
def risk_events_record_from_spot_checks(*, enterprise_ids: list[int] | None = None, batch_size: int = 5000) -> dict:
    """A non-conforming spot-check result is a risk event of its enterprise (dated the sampling date).

    Only results without their event yet are read, so a second run writes nothing. ``enterprise_ids`` limits it
    to those enterprises (the feedback of one new result).
    """
    # Set-based, the rows never travel through Python (``batch_size`` is no longer needed). Reading them through
    # a server-side cursor let PostgreSQL plan the anti-join for the first rows: a nested loop over every event,
    # hours at a million enterprises. The missing events are collected in a temporary table first because an
    # INSERT whose NOT EXISTS reads its own, still empty, target table can re-scan the rows it is adding.
    events, results, missing = RiskEvent._meta.db_table, SpotCheckResult._meta.db_table, "jqs_missing_events"
    kind = RiskEventKind.NONCONFORMING_SPOT_CHECK.value
    only, only_params = "", []
    if enterprise_ids is not None:
        only = f" AND s.enterprise_id IN ({', '.join(['%s'] * len(enterprise_ids)) or 'NULL'})"
        only_params = list(enterprise_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {missing} AS SELECT s.enterprise_id, s.product_id, s.checked_on, "
            f"%s || s.lab_report_number AS source_ref, SUBSTR(s.failed_items, 1, 500) AS description, s.is_demo FROM {results} s "
            f"WHERE NOT s.conforming{only} AND NOT EXISTS (SELECT 1 FROM {events} e "
            "WHERE e.enterprise_id = s.enterprise_id AND e.kind = %s AND e.source_ref = %s || s.lab_report_number)",
            [RISK_EVENT_PREFIX, *only_params, kind, RISK_EVENT_PREFIX],
        )
        cursor.execute(
            f"INSERT INTO {events} (enterprise_id, product_id, kind, occurred_on, source_ref, description, is_demo) "
            f"SELECT enterprise_id, product_id, %s, checked_on, source_ref, description, is_demo FROM {missing} WHERE true "
            "ON CONFLICT DO NOTHING",
            [kind],
        )
        recorded = cursor.rowcount
        cursor.execute(f"DROP TABLE {missing}")
    return {"recorded": recorded, "message": _("%(n)d non-conforming results recorded as risk events") % {"n": recorded}}


@transaction.atomic
def products_failure_rates_refresh(*, as_of: dt.date, policy: GradingPolicy | None = None) -> dict:
    """Each product's recent spot-check failure rate (a grade factor): non-conforming ÷ all results in the
    grading window ending on ``as_of``, in percent, with the number of results behind it. One UPDATE.
    """
    policy = policy or GradingPolicy.in_force()
    # Float division rounded to 2 places: SQLite's CAST(… AS NUMERIC) keeps whole numbers integers, so a decimal
    # cast there made 1 × 100 ÷ 6 an integer division (16, not 16.67).
    failed = Count("id", filter=Q(conforming=False))
    rate = Cast(Round(Cast(failed, FloatField()) * Value(100) / Count("id"), 2), DecimalField(max_digits=5, decimal_places=2))
    window = (
        SpotCheckResult.objects.filter(checked_on__gte=years_before(as_of, policy.failure_window_years), checked_on__lte=as_of)
        .order_by()
        .values("product_id")
        .annotate(n=Count("id"), rate=rate)
    )
    # One pass over the window grouped by product, joined to the products in one UPDATE … FROM (a subquery per
    # product made PostgreSQL read each product's results three times); unchanged products are not rewritten.
    window_sql, params = window.query.sql_with_params()
    products = Product._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {products} SET failure_sample = fresh.n, failure_rate = fresh.rate "
            f"FROM (SELECT p.id, COALESCE(w.n, 0) AS n, COALESCE(w.rate, 0) AS rate FROM {products} p "
            f"LEFT JOIN ({window_sql}) w ON w.product_id = p.id) fresh "
            f"WHERE fresh.id = {products}.id AND ({products}.failure_sample <> fresh.n OR {products}.failure_rate <> fresh.rate)",
            params,
        )
    with_data = Product.objects.filter(failure_sample__gt=0).count()
    return {"products_with_results": with_data, "message": _("failure rates refreshed for %(n)d products") % {"n": with_data}}
