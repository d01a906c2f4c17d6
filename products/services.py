"""Product rules: grading (产品分级) and grade overrides."""

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common.tabular import lookup_chunks

from .models import LOW_GRADE, PIPELINE_REASON, Grade, GradeChange, GradingPolicy, HarmSeverity, LicenceType, Product, override_problem


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
    """GradingPolicy.grade_for_score over the score, as one SQL expression."""
    score = _score_expression(policy)
    return Case(
        *(When(GreaterThanOrEqual(score, Value(lowest)), then=Value(grade)) for lowest, grade in policy.grade_cut_offs()),
        default=Value(LOW_GRADE),
        output_field=IntegerField(),
    )


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
    reason = reason or f"{PIPELINE_REASON} {timezone.localdate().isoformat()}"
    _grade_changes_record(changing, new_grade=effective, policy=policy, reason=reason, by=by)
    changed = changing.update(grade=effective, computed_grade=computed)
    products.exclude(computed_grade=computed).update(computed_grade=computed)
    return {"changed": changed, "message": _("%(n)d products changed grade") % {"n": changed}}


@dataclass(frozen=True)
class GradeOverride:
    """What a product's grade override is to be: a grade with the reason for it, or none (the override cleared;
    a reason, if given, then says why it was cleared)."""

    grade: int | None
    reason: str = ""

    def __post_init__(self):
        if self.grade is not None and self.grade not in Grade.values:
            raise ValueError(f"not a grade: {self.grade!r}")

    @property
    def stored(self) -> tuple[int | None, str]:
        """(override_grade, override_reason) as kept: the reason trimmed, and dropped with the grade."""
        return self.grade, self.reason.strip() if self.grade is not None else ""

    def problem(self) -> str | None:
        """Why this override cannot be set (Product.override_problem), or None."""
        return override_problem(self.grade, self.reason)

    def change_reason(self, note: str = "") -> str:
        """Why, as the history keeps it: the override's reason (or "grade override cleared"), then ``note``."""
        with translation.override(settings.LANGUAGE_CODE):  # stored text is in the site language
            reason = self.reason.strip() or _("grade override cleared")
            return _("%(reason)s (%(note)s)") % {"reason": reason, "note": note} if note else reason


def _products_of(overrides: Mapping[int, GradeOverride]) -> dict[int, Product]:
    """The products ``overrides`` names, by id and loaded whole (their history rows copy every field)."""
    products = Product.objects.in_bulk(list(overrides))
    missing = set(overrides) - set(products)
    if missing:
        raise Product.DoesNotExist(f"no product has id {', '.join(map(str, sorted(missing)))}")
    return products


def _changing(products: dict[int, Product], overrides: Mapping[int, GradeOverride]) -> dict[int, Product]:
    return {pk: product for pk, product in products.items() if (product.override_grade, product.override_reason) != overrides[pk].stored}


def grade_overrides_changing(overrides: Mapping[int, GradeOverride]) -> dict[int, Product]:
    """The products whose stored override or its reason differs from the one ``overrides`` gives them."""
    return _changing(_products_of(overrides), overrides)


@transaction.atomic
def products_override_grade(*, overrides: Mapping[int, GradeOverride], note: str = "", by=None) -> dict:
    """Set or clear the grade overrides of many products at once (product id → GradeOverride); the override wins
    over the grading rule (产品分级).

    Every override is checked first (a grade needs a reason): one bad and nothing changes (ValidationError).
    Only the products whose override or reason changes are written, so doing it again changes nothing. Each
    gets a history row (simple-history, by ``by`` or the request's user) whose reason is the override's, then
    ``note`` (e.g. "import of grades.xlsx"); its grade in force follows at once, graded with the policy the
    pipeline uses today, the GradeChange rows carrying the same reason. A fixed handful of statements per
    distinct reason, whatever the number of products.
    """
    products = _products_of(overrides)
    problems = [f"{product}: {problem}" for pk, product in products.items() if (problem := overrides[pk].problem())]
    if problems:
        raise ValidationError({"override_reason": problems})
    changing = _changing(products, overrides)
    if not changing:
        return {"changed": 0, "unchanged": len(overrides), "grades_changed": 0, "message": _("no grade override changed")}
    by_reason: dict[str, list[int]] = {}
    for pk, product in changing.items():
        product.override_grade, product.override_reason = overrides[pk].stored
        product._change_reason = overrides[pk].change_reason(note)  # kept by simple-history with the change
        by_reason.setdefault(product._change_reason, []).append(pk)
    Product.objects.bulk_update(changing.values(), ["override_grade", "override_reason"], batch_size=500)
    Product.history.bulk_history_create(list(changing.values()), update=True, default_user=by, batch_size=500)
    policy, grades_changed = GradingPolicy.in_force_on(timezone.localdate()), 0  # as the pipeline grades today
    for reason, ids in by_reason.items():
        for chunk in lookup_chunks(ids):
            graded = products_grade(policy=policy, products=Product.objects.filter(pk__in=chunk), reason=reason, by=by)
            grades_changed += graded["changed"]
    changed = len(changing)
    return {
        "changed": changed,
        "unchanged": len(overrides) - changed,
        "grades_changed": grades_changed,
        "message": _("%(changed)d grade overrides changed, %(grades)d products changed grade")
        % {"changed": changed, "grades": grades_changed},
    }


def product_override_grade(*, product: Product, grade: int | None, reason: str) -> Product:
    """Set or clear one product's grade override: ``products_override_grade`` for one product."""
    products_override_grade(overrides={product.pk: GradeOverride(grade, reason or "")})
    product.refresh_from_db()
    return product
