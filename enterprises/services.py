"""Enterprise rules: classing (企业分类) with kept reasons, and supervision categories (监管类别判定)."""

import datetime as dt

from django.db import connection, transaction
from django.db.models import Avg, Case, Exists, IntegerField, Max, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from products.models import Grade, LicenceType, Product
from regions.models import Region
from regions.periods import years_before

from .models import Category, Enterprise, EnterpriseProduct, ReasonKind, RiskClass, RiskEvent, RiskReason, Status, SupervisionPolicy


def risk_window(as_of: dt.date, policy: SupervisionPolicy) -> tuple[dt.date, dt.date]:
    """The dates (inclusive) whose risk events count: the ``risk_window_years`` years ending on ``as_of``."""
    return years_before(as_of, policy.risk_window_years), as_of


def _rebuild_risk_reasons(as_of: dt.date, policy: SupervisionPolicy, enterprise_ids: list[int] | None = None) -> None:
    """Replace the reasons with those in force on ``as_of`` (of every enterprise, or of the given ones):
    one DELETE and two INSERT … SELECT statements."""
    start, end = risk_window(as_of, policy)
    reasons = RiskReason._meta.db_table
    events = RiskEvent._meta.db_table
    made = EnterpriseProduct._meta.db_table
    products = Product._meta.db_table
    licence_kind = f"CASE WHEN m.licence_number = '' THEN '{ReasonKind.LICENCE_MISSING}' ELSE '{ReasonKind.LICENCE_EXPIRED}' END"
    only_events, only_made, only_params = "", "", []
    if enterprise_ids is not None:
        placeholders = ", ".join(["%s"] * len(enterprise_ids)) or "NULL"
        only_events, only_made, only_params = (
            f" AND e.enterprise_id IN ({placeholders})",
            f" AND m.enterprise_id IN ({placeholders})",
            list(enterprise_ids),
        )
        RiskReason.objects.filter(enterprise_id__in=enterprise_ids).delete()
    else:
        RiskReason.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {reasons} (enterprise_id, kind, count, last_on) "
            f"SELECT e.enterprise_id, e.kind, COUNT(*), MAX(e.occurred_on) FROM {events} e "
            f"WHERE e.occurred_on >= %s AND e.occurred_on <= %s{only_events} GROUP BY e.enterprise_id, e.kind",
            [start, end, *only_params],
        )
        cursor.execute(
            f"INSERT INTO {reasons} (enterprise_id, kind, count, last_on) "
            f"SELECT m.enterprise_id, {licence_kind}, COUNT(*), MAX(m.licence_expiry) "
            f"FROM {made} m JOIN {products} p ON p.id = m.product_id "
            f"WHERE p.licence_type <> %s AND (m.licence_number = '' OR m.licence_expiry < %s){only_made} "
            f"GROUP BY m.enterprise_id, {licence_kind}",
            [LicenceType.NONE.value, as_of, *only_params],
        )


def _enterprises(enterprise_ids: list[int] | None):
    return Enterprise.objects.all() if enterprise_ids is None else Enterprise.objects.filter(id__in=enterprise_ids)


@transaction.atomic
def enterprises_classify(*, as_of: dt.date, policy: SupervisionPolicy | None = None, enterprise_ids: list[int] | None = None) -> dict:
    """企业分类: an enterprise is a risk enterprise when, within the risk window ending on ``as_of``, it had
    any risk event (non-conforming spot check, overdue rectification or failed re-inspection, verified
    complaint, incident, recall, penalty, licence problem), or it makes a product needing a production
    licence / CCC certificate whose number is missing or whose validity has expired. Otherwise non-risk.

    The reasons are kept per enterprise (RiskReason). A fixed handful of statements for any number of
    enterprises; running it again changes nothing. ``enterprise_ids`` limits it to those enterprises (the
    feedback of a new result), with the same rule.
    """
    policy = policy or SupervisionPolicy.in_force()
    _rebuild_risk_reasons(as_of, policy, enterprise_ids)
    enterprises = _enterprises(enterprise_ids)
    has_reason = Exists(RiskReason.objects.filter(enterprise=OuterRef("pk")))
    now = timezone.now()
    became_risk = enterprises.filter(has_reason).exclude(risk_class=RiskClass.RISK).update(risk_class=RiskClass.RISK, classified_at=now)
    became_non_risk = enterprises.filter(~has_reason, risk_class=RiskClass.RISK).update(risk_class=RiskClass.NON_RISK, classified_at=now)
    risk_total = Enterprise.objects.filter(status=Status.ACTIVE, risk_class=RiskClass.RISK).count()
    return {
        "as_of": as_of.isoformat(),
        "became_risk": became_risk,
        "became_non_risk": became_non_risk,
        "risk_enterprises": risk_total,
        "message": f"{became_risk} enterprises became risk, {became_non_risk} became non-risk ({risk_total} risk in all)",
    }


def category_expression(policy: SupervisionPolicy):
    """The grade × class table as one SQL CASE over ``max_grade`` and ``risk_class``."""
    cells = []
    for grade in (Grade.HIGH, Grade.MEDIUM, Grade.LOW):
        for risk_class in (RiskClass.RISK, RiskClass.NON_RISK):
            grade_match = Q(max_grade=grade) if grade != Grade.LOW else Q(max_grade=grade) | Q(max_grade__isnull=True)
            cells.append(When(grade_match & Q(risk_class=risk_class), then=Value(policy.category_for(grade, risk_class))))
    return Case(*cells, default=Value(Category.CREDIT))


@transaction.atomic
def enterprises_categorise(*, policy: SupervisionPolicy | None = None, enterprise_ids: list[int] | None = None) -> dict:
    """监管类别判定: the highest grade among the products an enterprise makes × its risk class decides its
    supervision category (high×risk tightened, high×non-risk and medium×risk routine, medium×non-risk and
    low×risk responsibility, low×non-risk credit, by default). An enterprise making no graded product
    counts as low grade. Two UPDATE statements for any number of enterprises.
    """
    policy = policy or SupervisionPolicy.in_force()
    highest_grade = (
        EnterpriseProduct.objects.filter(enterprise=OuterRef("pk")).values("enterprise").annotate(top=Max("product__grade")).values("top")
    )
    enterprises = _enterprises(enterprise_ids)
    enterprises.update(max_grade=Subquery(highest_grade, output_field=IntegerField()))
    category = category_expression(policy)
    changed = enterprises.exclude(category=category).update(category=category)
    key = Enterprise.objects.filter(status=Status.ACTIVE, category__in=[Category.TIGHTENED, Category.ROUTINE]).count()
    return {
        "changed": changed,
        "key_supervised": key,
        "message": f"{changed} enterprises changed supervision category ({key} key-supervised)",
    }


@transaction.atomic
def towns_place_at_enterprise_centres() -> dict:
    """Towns without a boundary are drawn as a marker: put it at the mean position of their active
    enterprises (towns with an imported boundary keep the label point computed from it)."""
    centres = (
        Enterprise.objects.filter(status=Status.ACTIVE, lat__isnull=False, lon__isnull=False, town__boundary__isnull=True)
        .values("town_id")
        .annotate(lat=Avg("lat"), lon=Avg("lon"))
    )
    towns = {town.id: town for town in Region.objects.filter(id__in=[row["town_id"] for row in centres])}
    changed = []
    for row in centres:
        town = towns[row["town_id"]]
        lat, lon = round(row["lat"], 5), round(row["lon"], 5)
        if (town.label_lat, town.label_lon) != (lat, lon):
            town.label_lat, town.label_lon = lat, lon
            changed.append(town)
    Region.objects.bulk_update(changed, ["label_lat", "label_lon"], batch_size=500)
    return {"changed": len(changed), "message": f"{len(changed)} towns placed at the centre of their enterprises"}
