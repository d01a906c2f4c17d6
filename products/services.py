"""Product rules: grading (产品分级) and grade overrides."""

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Grade, GradeChange, GradingPolicy, HarmSeverity, LicenceType, Product


def _score_expression(policy: GradingPolicy):
    """The grading score of a product as one SQL expression (points per factor, summed)."""
    harm = Case(
        When(harm_severity=HarmSeverity.SEVERE, then=Value(policy.points_severe)),
        When(harm_severity=HarmSeverity.MODERATE, then=Value(policy.points_moderate)),
        default=Value(policy.points_minor),
        output_field=IntegerField(),
    )
    licence = Case(
        When(~Q(licence_type=LicenceType.NONE), then=Value(policy.points_licence)), default=Value(0), output_field=IntegerField()
    )
    vulnerable = Case(When(vulnerable_users=True, then=Value(policy.points_vulnerable)), default=Value(0), output_field=IntegerField())
    enough_sample = Q(failure_sample__gte=policy.min_failure_sample)
    failures = Case(
        When(enough_sample & Q(failure_rate__gte=policy.failure_rate_high), then=Value(policy.points_failure_high)),
        When(enough_sample & Q(failure_rate__gte=policy.failure_rate_medium), then=Value(policy.points_failure_medium)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return harm + licence + vulnerable + failures


def computed_grade_expression(policy: GradingPolicy):
    score = _score_expression(policy)
    return Case(
        When(GreaterThanOrEqual(score, Value(policy.high_from_score)), then=Value(Grade.HIGH)),
        When(GreaterThanOrEqual(score, Value(policy.medium_from_score)), then=Value(Grade.MEDIUM)),
        default=Value(Grade.LOW),
        output_field=IntegerField(),
    )


def grade_points(product: Product, policy: GradingPolicy) -> list[tuple[str, int]]:
    """The points a product scores per factor, for showing why it has its grade."""
    harm = {HarmSeverity.SEVERE: policy.points_severe, HarmSeverity.MODERATE: policy.points_moderate}.get(
        product.harm_severity, policy.points_minor
    )
    points = [(str(HarmSeverity(product.harm_severity).label), harm)]
    if product.licence_required:
        points.append((_("licence or CCC required"), policy.points_licence))
    if product.vulnerable_users:
        points.append((_("used by vulnerable groups"), policy.points_vulnerable))
    if product.failure_sample >= policy.min_failure_sample:
        if product.failure_rate >= policy.failure_rate_high:
            points.append((_("failure rate %(rate)s%%") % {"rate": product.failure_rate}, policy.points_failure_high))
        elif product.failure_rate >= policy.failure_rate_medium:
            points.append((_("failure rate %(rate)s%%") % {"rate": product.failure_rate}, policy.points_failure_medium))
    return points


def _grade_changes_record(changing, *, new_grade, policy: GradingPolicy, reason: str, by) -> None:
    """Audit (STYLE 7): a GradeChange for each product in ``changing`` (the rows the next UPDATE changes), old grade
    → ``new_grade``, by the rule or by an override. One INSERT … SELECT for any number of products."""
    rows = changing.order_by().values("id", "grade", "override_grade").annotate(new_grade=new_grade)
    rows_sql, rows_params = rows.query.sql_with_params()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {GradeChange._meta.db_table} (product_id, changed_at, old_grade, new_grade, computed, policy_id, reason, "
            f"changed_by_id) SELECT c.id, %s, c.grade, c.new_grade, c.override_grade IS NULL, %s, %s, %s FROM ({rows_sql}) c",
            [now, policy.pk, reason, getattr(by, "pk", None), *rows_params],
        )


@transaction.atomic
def products_grade(*, policy: GradingPolicy | None = None, products=None, reason: str = "", by=None) -> dict:
    """产品分级: grade each product high / medium / low from its factors; an override, when set, wins.

    Score = points for harm severity + licence/CCC required + vulnerable users + recent failure rate (only
    with enough spot checks behind it). High from ``high_from_score``, medium from ``medium_from_score``.
    Two UPDATE statements for any number of products, the first preceded by the INSERT of its audit rows
    (GradeChange, with ``reason`` and ``by``; the reason defaults to "pipeline <today>"); running it again
    changes nothing.
    """
    policy = policy or GradingPolicy.in_force()
    products = Product.objects.all() if products is None else products
    computed = computed_grade_expression(policy)
    effective = Coalesce(F("override_grade"), computed)
    changing = products.exclude(grade=effective)
    reason = reason or f"pipeline {timezone.localdate().isoformat()}"
    _grade_changes_record(changing, new_grade=effective, policy=policy, reason=reason, by=by)
    changed = changing.update(grade=effective, computed_grade=computed)
    products.exclude(computed_grade=computed).update(computed_grade=computed)
    return {"changed": changed, "message": f"{changed} products changed grade"}


@transaction.atomic
def product_override_grade(*, product: Product, grade: int | None, reason: str) -> Product:
    """Set or clear a grade override; setting one needs a reason, which is kept with it."""
    reason = (reason or "").strip()
    if grade is not None and not reason:
        raise ValidationError({"override_reason": _("A grade override needs a reason.")})
    product.override_grade = grade
    product.override_reason = reason if grade is not None else ""
    product.full_clean()
    product._change_reason = reason or _("grade override cleared")  # kept by simple-history with the change
    product.save(update_fields=["override_grade", "override_reason"])
    products_grade(products=Product.objects.filter(pk=product.pk), reason=product._change_reason)
    product.refresh_from_db()
    return product
