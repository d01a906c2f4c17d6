"""Administrative divisions, colour thresholds, index weights, per-period snapshots and staff jurisdictions."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from common.rules import RuleVersion

# GB/T 2260 division codes: 6 digits down to counties, 9 or 12 for towns and below (ASCII digits only).
DIVISION_CODE = r"[0-9]{6}|[0-9]{9}|[0-9]{12}"
COUNTY_CODE = r"[0-9]{6}"
TOWN_CODE = r"[0-9]{9}|[0-9]{12}"
division_code_validator = RegexValidator(
    rf"^(?:{DIVISION_CODE})$", _("A GB/T 2260 division code has 6 digits (9 or 12 for towns and below).")
)


def audit_history(**options) -> HistoricalRecords:
    """A record's history (who, when, old → new, why) kept by django-simple-history. The reason is a text:
    a grade override's reason, which it carries, runs to 500 characters (simple-history's default is 100)."""
    return HistoricalRecords(history_change_reason_field=models.TextField(null=True), **options)


def code_prefix(code: str) -> str:
    """The prefix every child of a division shares: 330400 → 3304, 330000 → 33, 330402 → 330402."""
    if len(code) == 6:
        trimmed = code
        while trimmed.endswith("00") and len(trimmed) > 2:
            trimmed = trimmed[:-2]
        return trimmed
    return code


class Level(models.TextChoices):
    PROVINCE = "province", _("province")
    CITY = "city", _("city")
    COUNTY = "county", _("county")
    TOWN = "town", _("town / street")


LEVEL_PARENT = {Level.CITY: Level.PROVINCE, Level.COUNTY: Level.CITY, Level.TOWN: Level.COUNTY}


class Region(models.Model):
    code = models.CharField(_("division code"), max_length=12, unique=True, validators=[division_code_validator])
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, db_index=True)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    boundary = models.JSONField(_("boundary (GeoJSON geometry)"), null=True, blank=True)
    boundary_simplified = models.JSONField(_("simplified boundary"), null=True, blank=True, editable=False)
    label_lat = models.FloatField(_("label latitude"), null=True, blank=True)
    label_lon = models.FloatField(_("label longitude"), null=True, blank=True)
    source = models.CharField(_("source and licence"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def clean(self):
        expected = LEVEL_PARENT.get(self.level)
        if self.parent_id is None:
            if self.level in (Level.COUNTY, Level.TOWN):
                raise ValidationError({"parent": _("A county or town needs its parent division.")})
            return
        if expected and self.parent.level != expected:
            raise ValidationError(
                {
                    "parent": _("The parent of a %(level)s must be a %(parent)s.")
                    % {"level": self.get_level_display(), "parent": Level(expected).label}
                }
            )
        if self.code and not self.code.startswith(code_prefix(self.parent.code)):
            raise ValidationError(
                {"code": _("Code %(code)s does not lie within parent %(parent)s.") % {"code": self.code, "parent": self.parent.code}}
            )


class Colour(models.TextChoices):
    RED = "red", _("red")
    ORANGE = "orange", _("orange")
    YELLOW = "yellow", _("yellow")
    GREEN = "green", _("green")
    TOO_FEW = "too_few", _("too few to colour")


percent = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class ColourThresholds(RuleVersion):
    """Risk-share cut-offs (percent of active enterprises that are risk enterprises)."""

    yellow_from = models.DecimalField(_("yellow from (%)"), max_digits=5, decimal_places=2, default=Decimal("5"), validators=percent)
    orange_from = models.DecimalField(_("orange from (%)"), max_digits=5, decimal_places=2, default=Decimal("10"), validators=percent)
    red_from = models.DecimalField(_("red from (%)"), max_digits=5, decimal_places=2, default=Decimal("20"), validators=percent)
    min_enterprises = models.PositiveIntegerField(
        _("minimum enterprises to colour"), default=5, help_text=_("Regions with fewer are shown as 'too few to colour'.")
    )

    class Meta(RuleVersion.Meta):
        verbose_name = _("colour thresholds")
        verbose_name_plural = _("colour thresholds")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    yellow_from__gt=0, orange_from__gt=models.F("yellow_from"), red_from__gt=models.F("orange_from"), red_from__lte=100
                ),
                name="colour_thresholds_in_order",
            )
        ]

    def __str__(self):
        return _("red ≥%(red)s%%, orange ≥%(orange)s%%, yellow ≥%(yellow)s%%; at least %(min)s enterprises") % {
            "red": self.red_from,
            "orange": self.orange_from,
            "yellow": self.yellow_from,
            "min": self.min_enterprises,
        }

    def clean(self):
        if None in (self.yellow_from, self.orange_from, self.red_from):
            return
        if not (0 < self.yellow_from < self.orange_from < self.red_from <= 100):
            raise ValidationError(
                _("Thresholds must rise: 0 < yellow (%(y)s) < orange (%(o)s) < red (%(r)s) ≤ 100.")
                % {"y": self.yellow_from, "o": self.orange_from, "r": self.red_from}
            )


class IndexWeights(RuleVersion):
    """Weights of the quality-safety index (一指数) and the scale of its incident score."""

    risk_share_weight = models.DecimalField(
        _("weight: share of non-risk enterprises"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.40"),
        validators=[MinValueValidator(0)],
    )
    pass_rate_weight = models.DecimalField(
        _("weight: spot-check pass rate"), max_digits=4, decimal_places=2, default=Decimal("0.30"), validators=[MinValueValidator(0)]
    )
    rectification_weight = models.DecimalField(
        _("weight: on-time rectification rate"), max_digits=4, decimal_places=2, default=Decimal("0.20"), validators=[MinValueValidator(0)]
    )
    incident_weight = models.DecimalField(
        _("weight: incident score"), max_digits=4, decimal_places=2, default=Decimal("0.10"), validators=[MinValueValidator(0)]
    )
    incidents_per_100_for_zero = models.DecimalField(
        _("incidents per 100 enterprises that score zero"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    window_months = models.PositiveSmallIntegerField(_("window (months)"), default=12, validators=[MinValueValidator(1)])

    class Meta(RuleVersion.Meta):
        verbose_name = _("index weights")
        verbose_name_plural = _("index weights")

    def __str__(self):
        return f"{self.risk_share_weight}/{self.pass_rate_weight}/{self.rectification_weight}/{self.incident_weight}"

    def clean(self):
        weights = [self.risk_share_weight, self.pass_rate_weight, self.rectification_weight, self.incident_weight]
        if None not in weights and sum(weights) <= 0:
            raise ValidationError(_("At least one weight must be above zero."))


class RegionSnapshot(models.Model):
    """A region's counts, colour and index for one period (a month), kept so past maps can be redrawn."""

    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.CASCADE, related_name="snapshots")
    period = models.DateField(_("period (first day of month)"))
    enterprise_count = models.PositiveIntegerField(_("active enterprises"), default=0)
    risk_count = models.PositiveIntegerField(_("risk enterprises"), default=0)
    risk_share = models.DecimalField(_("risk share (%)"), max_digits=7, decimal_places=4, default=Decimal("0"))
    key_supervised_count = models.PositiveIntegerField(_("key-supervised enterprises"), default=0)
    colour = models.CharField(_("colour"), max_length=10, choices=Colour.choices)
    thresholds = models.ForeignKey(ColourThresholds, verbose_name=_("thresholds applied"), on_delete=models.PROTECT, related_name="+")
    reason_counts = models.JSONField(_("risk enterprises per reason"), default=dict, blank=True)
    index = models.DecimalField(_("quality-safety index"), max_digits=4, decimal_places=1, null=True, blank=True)
    index_inputs = models.JSONField(_("index inputs"), default=dict, blank=True)
    weights = models.ForeignKey(
        IndexWeights, verbose_name=_("weights applied"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("region snapshot")
        verbose_name_plural = _("region snapshots")
        ordering = ["-period", "region__code"]
        constraints = [
            models.UniqueConstraint(fields=["region", "period"], name="one_snapshot_per_region_and_period"),
            models.CheckConstraint(condition=models.Q(risk_count__lte=models.F("enterprise_count")), name="snapshot_risk_within_total"),
        ]
        # The map asks "latest period?" and "when did this period last change?" on every request.
        indexes = [models.Index(fields=["period", "computed_at"], name="snapshot_period_changed")]

    def __str__(self):
        return f"{self.region.name} {self.period:%Y-%m}: {self.get_colour_display()}"


class Role(models.TextChoices):
    SUPERVISOR = "supervisor", _("supervisor")
    INSPECTOR = "inspector", _("inspector")
    ADMINISTRATOR = "administrator", _("administrator")


# Who plans, reads the figures and changes the rules; inspectors check and report.
SUPERVISORY_ROLES = (Role.SUPERVISOR, Role.ADMINISTRATOR)


class StaffProfile(models.Model):
    """A bureau staff member's role and jurisdiction (a county, or the whole city)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="staff_profile")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    jurisdiction = models.ForeignKey(Region, verbose_name=_("jurisdiction"), on_delete=models.PROTECT, related_name="staff")
    officer_number = models.CharField(_("enforcement certificate number"), max_length=30, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # The member's userid in the bureau's DingTalk organisation: work notifications go to it and DingTalk's
    # 免登 logs it in (inspections.dingtalk). Unique where set: one DingTalk member is one staff account.
    dingtalk_userid = models.CharField(
        _("DingTalk userid"),
        max_length=64,
        blank=True,
        help_text=_("The userid of this member in the bureau's DingTalk organisation (DingTalk admin console → contacts)."),
    )
    is_demo = models.BooleanField(_("demo data"), default=False)
    history = audit_history()

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["dingtalk_userid"], condition=~models.Q(dingtalk_userid=""), name="one_staff_profile_per_dingtalk_userid"
            )
        ]

    def __str__(self):
        return f"{self.user.get_full_name() or self.user.username} · {self.get_role_display()} · {self.jurisdiction.name}"


class Bureau(models.Model):
    """A city's (or a province's, or a county's) market-supervision bureau as the public and the printed cards
    name it: its name and phone. A division without one is named by the nearest division above it that has
    one, and at the top by the settings (BUREAU_NAME, BUREAU_PHONE): ``regions.selectors.bureau_for``. Its
    notification channels are the bureau's NotificationSetting (inspections), found the same way."""

    region = models.OneToOneField(Region, verbose_name=_("division"), on_delete=models.CASCADE, related_name="bureau")
    name = models.CharField(_("bureau name"), max_length=100, help_text=_("As printed on quality-code cards, e.g. 杭州市市场监督管理局."))
    phone = models.CharField(_("public phone"), max_length=30, help_text=_("Shown on the public quality-code page."))
    history = audit_history()

    class Meta:
        verbose_name = _("bureau")
        verbose_name_plural = _("bureaus")
        ordering = ["region__code"]

    def __str__(self):
        return self.name
