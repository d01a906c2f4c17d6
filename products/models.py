"""The product catalogue: classes, products with their grade factors and grade, checklist items."""

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.rules import RuleVersion
from regions.models import audit_history


class Grade(models.IntegerChoices):
    """Product risk grade; integers so that 'the highest grade an enterprise makes' is a MAX()."""

    LOW = 1, _("low risk")
    MEDIUM = 2, _("medium risk")
    HIGH = 3, _("high risk")


LOW_GRADE = Grade.LOW  # a product scoring below every cut-off of the grading policy


class HarmSeverity(models.IntegerChoices):
    MINOR = 1, _("minor (quality or performance loss)")
    MODERATE = 2, _("moderate (injury or property damage)")
    SEVERE = 3, _("severe (fire, electric shock, poisoning, serious injury)")


class LicenceType(models.TextChoices):
    NONE = "none", _("none")
    PRODUCTION_LICENCE = "production_licence", _("production licence (生产许可证)")
    CCC = "ccc", _("compulsory certification (CCC)")


class ProductClass(models.Model):
    code = models.CharField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("product class")
        verbose_name_plural = _("product classes")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Product(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    product_class = models.ForeignKey(ProductClass, verbose_name=_("class"), on_delete=models.PROTECT, related_name="products")
    # Grade factors.
    harm_severity = models.PositiveSmallIntegerField(_("harm if defective"), choices=HarmSeverity.choices, default=HarmSeverity.MODERATE)
    licence_type = models.CharField(
        _("licence or certification required"), max_length=20, choices=LicenceType.choices, default=LicenceType.NONE
    )
    vulnerable_users = models.BooleanField(
        _("used by vulnerable groups"), default=False, help_text=_("Children, the elderly, people with disabilities.")
    )
    failure_rate = models.DecimalField(
        _("recent spot-check failure rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Recomputed by the pipeline from the spot checks within the grading window."),
    )
    failure_sample = models.PositiveIntegerField(_("spot checks behind the failure rate"), default=0)
    spot_check_cost = models.DecimalField(_("cost per spot-check batch (yuan)"), max_digits=9, decimal_places=2, default=Decimal("0"))
    # Grade: the rule's result, an optional override with its reason, and the one in force.
    computed_grade = models.PositiveSmallIntegerField(_("computed grade"), choices=Grade.choices, null=True, blank=True, editable=False)
    override_grade = models.PositiveSmallIntegerField(_("override grade"), choices=Grade.choices, null=True, blank=True)
    override_reason = models.CharField(_("reason for the override"), max_length=500, blank=True)
    grade = models.PositiveSmallIntegerField(
        _("grade in force"), choices=Grade.choices, null=True, blank=True, editable=False, db_index=True
    )
    is_active = models.BooleanField(_("in the catalogue"), default=True)
    # The derived fields change by set-based UPDATEs that model signals never see: GradeChange keeps the grade's
    # history; left in here, a later edit would show the pipeline's changes as that editor's.
    history = audit_history(excluded_fields=["computed_grade", "grade", "failure_rate", "failure_sample"])

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(override_grade__isnull=True) | ~models.Q(override_reason=""),
                name="grade_override_needs_reason",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def licence_required(self) -> bool:
        return self.licence_type != LicenceType.NONE

    def clean(self):
        problem = override_problem(self.override_grade, self.override_reason)
        if problem:
            raise ValidationError({"override_reason": problem})


def override_problem(grade: int | None, reason: str) -> str | None:
    """The grade-override rule: a grade set needs a reason, kept with it (and fitting its field); None when fine."""
    reason = (reason or "").strip()
    limit = Product._meta.get_field("override_reason").max_length
    if grade is not None and not reason:
        return str(_("A grade override needs a reason."))
    if grade is not None and len(reason) > limit:
        return _("longer than %(limit)d characters (%(n)d)") % {"limit": limit, "n": len(reason)}
    return None


class ChecklistItem(models.Model):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="checklist_items")
    order = models.PositiveSmallIntegerField(_("order"))
    text = models.CharField(_("check point"), max_length=300)
    legal_basis = models.CharField(_("legal basis"), max_length=200, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["product", "order"]
        constraints = [models.UniqueConstraint(fields=["product", "order"], name="one_checklist_item_per_position")]

    def __str__(self):
        return f"{self.order}. {self.text}"


class GradingPolicy(RuleVersion):
    """Points per grade factor and the score cut-offs of the product grading rule (产品分级)."""

    points_severe = models.PositiveSmallIntegerField(_("points: severe harm"), default=3)
    points_moderate = models.PositiveSmallIntegerField(_("points: moderate harm"), default=2)
    points_minor = models.PositiveSmallIntegerField(_("points: minor harm"), default=1)
    points_licence = models.PositiveSmallIntegerField(_("points: licence or CCC required"), default=1)
    points_vulnerable = models.PositiveSmallIntegerField(_("points: vulnerable users"), default=1)
    failure_rate_high = models.DecimalField(_("high failure rate from (%)"), max_digits=5, decimal_places=2, default=Decimal("10"))
    points_failure_high = models.PositiveSmallIntegerField(_("points: high failure rate"), default=2)
    failure_rate_medium = models.DecimalField(_("medium failure rate from (%)"), max_digits=5, decimal_places=2, default=Decimal("5"))
    points_failure_medium = models.PositiveSmallIntegerField(_("points: medium failure rate"), default=1)
    min_failure_sample = models.PositiveSmallIntegerField(
        _("spot checks needed before the failure rate counts"),
        default=5,
        help_text=_("A rate from a handful of checks is noise; below this sample it adds no points."),
    )
    high_from_score = models.PositiveSmallIntegerField(_("high risk from score"), default=5)
    medium_from_score = models.PositiveSmallIntegerField(_("medium risk from score"), default=3)
    failure_window_years = models.PositiveSmallIntegerField(_("failure-rate window (years)"), default=3, validators=[MinValueValidator(1)])

    class Meta(RuleVersion.Meta):
        verbose_name = _("grading policy")
        verbose_name_plural = _("grading policies")
        constraints = [
            models.CheckConstraint(condition=models.Q(high_from_score__gt=models.F("medium_from_score")), name="grading_scores_in_order"),
            models.CheckConstraint(
                condition=models.Q(failure_rate_high__gt=models.F("failure_rate_medium")), name="grading_failure_rates_in_order"
            ),
        ]

    def __str__(self):
        return _("high from %(high)s points, medium from %(medium)s") % {"high": self.high_from_score, "medium": self.medium_from_score}

    def grade_cut_offs(self) -> list[tuple[int, int]]:
        """The score → grade cut-offs, highest grade first: (lowest score, grade); below them all, LOW_GRADE."""
        return [(self.high_from_score, Grade.HIGH), (self.medium_from_score, Grade.MEDIUM)]

    def grade_for_score(self, score: int) -> int:
        """A product's grade from its grading score (the SQL form: products.services.computed_grade_expression)."""
        return next((grade for lowest, grade in self.grade_cut_offs() if score >= lowest), LOW_GRADE)

    def clean(self):
        errors = {}
        if self.high_from_score is not None and self.medium_from_score is not None and self.high_from_score <= self.medium_from_score:
            errors["high_from_score"] = _("The high-risk score must be above the medium-risk score.")
        if (
            self.failure_rate_high is not None
            and self.failure_rate_medium is not None
            and self.failure_rate_high <= self.failure_rate_medium
        ):
            errors["failure_rate_high"] = _("The high failure rate must be above the medium failure rate.")
        if errors:
            raise ValidationError(errors)


PIPELINE_REASON = "pipeline"  # a GradeChange written by the grading rule: "pipeline 2026-12-03"
PIPELINE_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class GradeChange(models.Model):
    """One change of a product's grade in force. The grading rule writes these set-based, in the transaction of
    its UPDATE (which model signals, and so simple-history, never see): old → new, rule or override, policy, why."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="grade_changes")
    changed_at = models.DateTimeField(_("changed at"))
    old_grade = models.PositiveSmallIntegerField(_("old grade"), choices=Grade.choices, null=True, blank=True)
    new_grade = models.PositiveSmallIntegerField(_("new grade"), choices=Grade.choices, null=True, blank=True)
    computed = models.BooleanField(_("by the grading rule"), help_text=_("Off when the new grade is an override."))
    policy = models.ForeignKey(
        GradingPolicy, verbose_name=_("grading policy version"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("grade change")
        verbose_name_plural = _("grade history")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["product", "-changed_at"], name="grade_change_product_newest")]

    def __str__(self):
        return f"{self.get_old_grade_display() or '—'} → {self.get_new_grade_display() or '—'}"

    @property
    def reason_text(self) -> str:
        """Why, in the reader's language: the grading rule's own reason is stored as "pipeline <date>"
        (``PIPELINE_REASON``); an override's reason is the administrator's text."""
        word, _sep, day = self.reason.partition(" ")
        if word == PIPELINE_REASON and PIPELINE_DAY.fullmatch(day):
            return _("regraded by the pipeline run of %(day)s") % {"day": day}
        return self.reason
