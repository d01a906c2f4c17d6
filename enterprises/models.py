"""Enterprises, the products they make, their risk events and their derived supervision state."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.rules import RuleVersion
from products.models import Grade, Product
from regions.models import Colour, Level, Region, audit_history

from .validators import validate_uscc


class RiskClass(models.TextChoices):
    RISK = "risk", _("risk enterprise")
    NON_RISK = "non_risk", _("non-risk enterprise")


class Category(models.TextChoices):
    """Supervision category (监管类别), ordered from most to least supervision."""

    TIGHTENED = "tightened", _("tightened supervision")
    ROUTINE = "routine", _("routine supervision")
    RESPONSIBILITY = "responsibility", _("responsibility supervision")
    CREDIT = "credit", _("credit supervision")


CODE_COLOURS = {
    Category.TIGHTENED: "red",
    Category.ROUTINE: "yellow",
    Category.RESPONSIBILITY: "blue",
    Category.CREDIT: "green",
}
KEY_SUPERVISED = (Category.TIGHTENED, Category.ROUTINE)


class Status(models.TextChoices):
    ACTIVE = "active", _("active")
    CLOSED = "closed", _("closed")


class Enterprise(models.Model):
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True, validators=[validate_uscc])
    name = models.CharField(_("name"), max_length=200, db_index=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    town = models.ForeignKey(
        Region,
        verbose_name=_("town / street"),
        on_delete=models.PROTECT,
        related_name="enterprises",
        limit_choices_to={"level": Level.TOWN},
    )
    lat = models.FloatField(_("latitude"), null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    lon = models.FloatField(_("longitude"), null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)])
    # status, risk_class and category carry no index on purpose: the pipeline rewrites them for every enterprise,
    # an indexed column makes each rewrite touch every index (no HOT update), and no query is selective on them.
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    is_demo = models.BooleanField(_("demo data"), default=False, help_text=_("Synthetic record made by seed_demo."))
    # Derived by the pipeline; never edited by hand.
    risk_class = models.CharField(_("risk class"), max_length=10, choices=RiskClass.choices, default=RiskClass.NON_RISK, editable=False)
    max_grade = models.PositiveSmallIntegerField(_("highest product grade"), choices=Grade.choices, null=True, blank=True, editable=False)
    category = models.CharField(_("supervision category"), max_length=20, choices=Category.choices, null=True, blank=True, editable=False)
    # Indexed: the classing rule finds the enterprises it has just re-classed by this stamp, to record the changes.
    classified_at = models.DateTimeField(_("classified at"), null=True, blank=True, editable=False, db_index=True)
    products = models.ManyToManyField(Product, through="EnterpriseProduct", related_name="enterprises", verbose_name=_("products made"))
    # Class and category change by set-based UPDATEs that model signals never see: StateChange keeps their history;
    # left in here, a later edit would show the pipeline's changes as that editor's.
    history = audit_history(excluded_fields=["risk_class", "max_grade", "category", "classified_at"])

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.town_id and self.town.level != Level.TOWN:
            raise ValidationError({"town": _("Choose a town or street, not a %(level)s.") % {"level": self.town.get_level_display()}})

    @property
    def code_colour(self) -> str | None:
        """The colour of the enterprise's quality code (一码), given by its supervision category."""
        return CODE_COLOURS.get(self.category)


class EnterpriseProduct(models.Model):
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="made")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="makers")
    licence_number = models.CharField(_("licence or CCC certificate number"), max_length=60, blank=True)
    licence_expiry = models.DateField(_("licence valid until"), null=True, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("product made")
        verbose_name_plural = _("products made")
        constraints = [models.UniqueConstraint(fields=["enterprise", "product"], name="one_row_per_enterprise_product")]

    def __str__(self):
        return f"{self.enterprise} · {self.product.name}"

    def clean(self):
        if self.licence_expiry and not self.licence_number:
            raise ValidationError({"licence_number": _("An expiry date needs the licence or certificate number.")})


class RiskEventKind(models.TextChoices):
    NONCONFORMING_SPOT_CHECK = "nonconforming", _("non-conforming spot check")
    OVERDUE_RECTIFICATION = "overdue_rectification", _("rectification overdue")
    FAILED_REINSPECTION = "failed_reinspection", _("failed re-inspection")
    VERIFIED_COMPLAINT = "complaint", _("verified complaint")
    INCIDENT = "incident", _("quality-safety incident")
    RECALL = "recall", _("defect recall")
    PENALTY = "penalty", _("administrative penalty on product quality")
    LICENCE_PROBLEM = "licence", _("licence or CCC problem")


# Events counted as incidents in the quality-safety index.
INCIDENT_KINDS = (RiskEventKind.VERIFIED_COMPLAINT, RiskEventKind.INCIDENT, RiskEventKind.RECALL)


class RiskEvent(models.Model):
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="risk_events")
    kind = models.CharField(_("kind"), max_length=30, choices=RiskEventKind.choices)
    occurred_on = models.DateField(_("date"), db_index=True)
    source_ref = models.CharField(_("source reference"), max_length=100, help_text=_("Case, report or result number the event comes from."))
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(_("description"), max_length=500, blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False)
    history = audit_history()

    class Meta:
        verbose_name = _("risk event")
        verbose_name_plural = _("risk events")
        ordering = ["-occurred_on"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "kind", "source_ref"], name="one_event_per_source")]
        indexes = [models.Index(fields=["enterprise", "occurred_on"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.occurred_on} ({self.source_ref})"


class ReasonKind(models.TextChoices):
    """Why an enterprise is a risk enterprise: its risk events, plus its licence state."""

    NONCONFORMING_SPOT_CHECK = RiskEventKind.NONCONFORMING_SPOT_CHECK.value, RiskEventKind.NONCONFORMING_SPOT_CHECK.label
    OVERDUE_RECTIFICATION = RiskEventKind.OVERDUE_RECTIFICATION.value, RiskEventKind.OVERDUE_RECTIFICATION.label
    FAILED_REINSPECTION = RiskEventKind.FAILED_REINSPECTION.value, RiskEventKind.FAILED_REINSPECTION.label
    VERIFIED_COMPLAINT = RiskEventKind.VERIFIED_COMPLAINT.value, RiskEventKind.VERIFIED_COMPLAINT.label
    INCIDENT = RiskEventKind.INCIDENT.value, RiskEventKind.INCIDENT.label
    RECALL = RiskEventKind.RECALL.value, RiskEventKind.RECALL.label
    PENALTY = RiskEventKind.PENALTY.value, RiskEventKind.PENALTY.label
    LICENCE_PROBLEM = RiskEventKind.LICENCE_PROBLEM.value, RiskEventKind.LICENCE_PROBLEM.label
    LICENCE_MISSING = "licence_missing", _("licence or CCC certificate missing")
    LICENCE_EXPIRED = "licence_expired", _("licence or CCC certificate expired")


class StateField(models.TextChoices):
    RISK_CLASS = "risk_class", _("risk class")
    CATEGORY = "category", _("supervision category")


STATE_LABELS = {StateField.RISK_CLASS: dict(RiskClass.choices), StateField.CATEGORY: dict(Category.choices)}


# A StateChange's reason is stored in codes and shown in the reader's language: "high × non_risk" (grade ×
# class, a category change), "nonconforming × 2; recall × 1" (the kept reasons of a class change to risk), or
# "no_risk_event 2023-10-31 2026-10-31" (none within the risk window, a change to non-risk).
NO_RISK_EVENT = "no_risk_event"
GRADE_CODES = {"high": Grade.HIGH, "medium": Grade.MEDIUM, "low": Grade.LOW}


def state_change_reason_text(reason: str) -> str:
    """A stored reason in the active language; a text in none of the coded forms (written by hand, or an old row
    the migration could not read) is shown as it is stored."""
    words = reason.split(" ")
    if len(words) == 3 and words[0] == NO_RISK_EVENT:
        return f"{_('No risk event within the risk window.')} ({words[1]} – {words[2]})"
    grade, times, risk_class = reason.partition(" × ")
    if times and grade in GRADE_CODES and risk_class in RiskClass.values:
        return f"{GRADE_CODES[grade].label} × {RiskClass(risk_class).label}"
    items = [item.partition(" × ") for item in reason.split("; ")]
    if reason and all(times and kind in ReasonKind.values and count.isdigit() for kind, times, count in items):
        return "; ".join(f"{ReasonKind(kind).label} × {count}" for kind, _times, count in items)
    return reason


class StateChange(models.Model):
    """One change of an enterprise's risk class or supervision category. The classing and categorising rules
    write these set-based, in the transaction of their UPDATEs (which model signals, and so simple-history, never
    see): old → new, the date the rule was applied as of, and why."""

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="state_changes")
    changed_at = models.DateTimeField(_("changed at"))
    field = models.CharField(_("what changed"), max_length=10, choices=StateField.choices)
    old_value = models.CharField(_("old value"), max_length=20, null=True, blank=True)
    new_value = models.CharField(_("new value"), max_length=20, null=True, blank=True)
    as_of = models.DateField(_("as of"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)  # in codes: state_change_reason_text

    class Meta:
        verbose_name = _("class or category change")
        verbose_name_plural = _("class and category history")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["enterprise", "-changed_at"], name="state_change_enterprise_newest")]

    def __str__(self):
        return f"{self.get_field_display()}: {self.old_label} → {self.new_label}"

    @property
    def old_label(self) -> str:
        return str(STATE_LABELS.get(self.field, {}).get(self.old_value, self.old_value or "—"))

    @property
    def reason_text(self) -> str:
        """Why, in the reader's language (``state_change_reason_text``)."""
        return state_change_reason_text(self.reason)

    @property
    def new_label(self) -> str:
        return str(STATE_LABELS.get(self.field, {}).get(self.new_value, self.new_value or "—"))


class StateAsOf(models.Model):
    """The day the classing and categorising rules were last applied to all of a county's enterprises (the
    pipeline run as of that day, written by its categorising part): the date the enterprises' class, highest grade
    and category are as of, which the enterprise export gives (a re-class of one enterprise after a new result is
    newer still, and leaves this date as it is)."""

    county = models.OneToOneField(Region, verbose_name=_("county"), primary_key=True, on_delete=models.CASCADE, related_name="state_as_of")
    as_of = models.DateField(_("as of"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("classification date of a county")
        verbose_name_plural = _("classification dates of the counties")

    def __str__(self):
        return f"{self.county} · {self.as_of:%Y-%m-%d}"


class RiskReason(models.Model):
    """One reason an enterprise is classed as risk, rebuilt by the classification rule (kept, not guessed)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="risk_reasons")
    kind = models.CharField(_("reason"), max_length=30, choices=ReasonKind.choices)
    count = models.PositiveIntegerField(_("occurrences"))
    last_on = models.DateField(_("latest"), null=True)

    class Meta:
        verbose_name = _("risk reason")
        verbose_name_plural = _("risk reasons")
        constraints = [models.UniqueConstraint(fields=["enterprise", "kind"], name="one_reason_row_per_kind")]

    def __str__(self):
        return f"{self.get_kind_display()} × {self.count}"


ratio = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
category_field = {"max_length": 20, "choices": Category.choices}


# The supervision policy's fields by what they decide (the simulator, the plan form and each plan's copy use them).
CATEGORY_CELLS = ("high_risk", "high_non_risk", "medium_risk", "medium_non_risk", "low_risk", "low_non_risk")
RATIO_FIELDS = tuple(f"ratio_{category}" for category in Category.values)
MULTIPLIER_FIELDS = tuple(f"multiplier_{colour}" for colour in (Colour.RED, Colour.ORANGE, Colour.YELLOW, Colour.GREEN))
DRAW_RATIO_FIELDS = (*RATIO_FIELDS, *MULTIPLIER_FIELDS)  # what a plan copies from the policy in force


class DrawRatios:
    """The draw-ratio rule over the fields ``ratio_<category>`` and ``multiplier_<colour>``, held by the policy
    and by each plan's copy of it (inspections.InspectionPlan)."""

    def ratio(self, category: str) -> Decimal:
        return getattr(self, f"ratio_{category}")

    def multiplier(self, colour: str | None) -> Decimal:
        """The colour's multiplier; 1 for a region without a colour (too few enterprises)."""
        return getattr(self, f"multiplier_{colour}", Decimal("1"))

    def draw_ratio(self, category: str, region_colour: str | None = None) -> Decimal:
        """Yearly share of a category drawn for spot checks, scaled by the region's colour, capped at 100%."""
        return min(Decimal("100"), self.ratio(category) * self.multiplier(region_colour))


class SupervisionPolicy(DrawRatios, RuleVersion):
    """The classification window, the grade × class category table, draw ratios and colour multipliers."""

    risk_window_years = models.PositiveSmallIntegerField(_("risk window (years)"), default=3, validators=[MinValueValidator(1)])
    high_risk = models.CharField(_("high grade × risk"), default=Category.TIGHTENED, **category_field)
    high_non_risk = models.CharField(_("high grade × non-risk"), default=Category.ROUTINE, **category_field)
    medium_risk = models.CharField(_("medium grade × risk"), default=Category.ROUTINE, **category_field)
    medium_non_risk = models.CharField(_("medium grade × non-risk"), default=Category.RESPONSIBILITY, **category_field)
    low_risk = models.CharField(_("low grade × risk"), default=Category.RESPONSIBILITY, **category_field)
    low_non_risk = models.CharField(_("low grade × non-risk"), default=Category.CREDIT, **category_field)
    ratio_tightened = models.DecimalField(
        _("yearly draw ratio: tightened (%)"), max_digits=5, decimal_places=2, default=Decimal("100"), validators=ratio
    )
    ratio_routine = models.DecimalField(
        _("yearly draw ratio: routine (%)"), max_digits=5, decimal_places=2, default=Decimal("30"), validators=ratio
    )
    ratio_responsibility = models.DecimalField(
        _("yearly draw ratio: responsibility (%)"), max_digits=5, decimal_places=2, default=Decimal("10"), validators=ratio
    )
    ratio_credit = models.DecimalField(
        _("yearly draw ratio: credit (%)"), max_digits=5, decimal_places=2, default=Decimal("3"), validators=ratio
    )
    visits_tightened = models.PositiveSmallIntegerField(_("routine visits a year: tightened"), default=4)
    visits_routine = models.PositiveSmallIntegerField(_("routine visits a year: routine"), default=1)
    visits_responsibility = models.PositiveSmallIntegerField(_("routine visits a year: responsibility"), default=0)
    visits_credit = models.PositiveSmallIntegerField(_("routine visits a year: credit"), default=0)
    multiplier_red = models.DecimalField(
        _("draw multiplier in red regions"), max_digits=4, decimal_places=2, default=Decimal("1.5"), validators=[MinValueValidator(0)]
    )
    multiplier_orange = models.DecimalField(
        _("draw multiplier in orange regions"), max_digits=4, decimal_places=2, default=Decimal("1.2"), validators=[MinValueValidator(0)]
    )
    multiplier_yellow = models.DecimalField(
        _("draw multiplier in yellow regions"), max_digits=4, decimal_places=2, default=Decimal("1.0"), validators=[MinValueValidator(0)]
    )
    multiplier_green = models.DecimalField(
        _("draw multiplier in green regions"), max_digits=4, decimal_places=2, default=Decimal("0.8"), validators=[MinValueValidator(0)]
    )

    class Meta(RuleVersion.Meta):
        verbose_name = _("supervision policy")
        verbose_name_plural = _("supervision policies")

    def __str__(self):
        return f"{self.risk_window_years}y · {self.ratio_tightened}/{self.ratio_routine}/{self.ratio_responsibility}/{self.ratio_credit}%"

    def category_for(self, grade: int | None, risk_class: str) -> str:
        """The grade × class table; an enterprise with no graded product counts as low grade."""
        level = {Grade.HIGH: "high", Grade.MEDIUM: "medium"}.get(grade, "low")
        suffix = "risk" if risk_class == RiskClass.RISK else "non_risk"
        return getattr(self, f"{level}_{suffix}")


def quality_code_token() -> str:
    """128 random bits, URL-safe: a code's URL cannot be guessed from another's or from the enterprise."""
    return secrets.token_urlsafe(16)


class QualityCode(models.Model):
    """An enterprise's quality code (一码): the token its QR encodes.

    Revoking a code keeps its row (who, when, why) and issues a fresh token; the database allows one
    active (unrevoked) code per enterprise.
    """

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="quality_codes")
    token = models.CharField(_("token"), max_length=43, unique=True, default=quality_code_token, editable=False)
    created_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    revoke_reason = models.CharField(_("reason for revoking"), max_length=300, blank=True, editable=False)
    history = audit_history()

    class Meta:
        verbose_name = _("quality code")
        verbose_name_plural = _("quality codes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise"], condition=models.Q(revoked_at__isnull=True), name="one_active_code_per_enterprise"
            ),
        ]

    def __str__(self):
        return f"{self.enterprise} · {self.token[:6]}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
