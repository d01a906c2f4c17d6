"""Spot-check results and the closed loop: plans and their draws, tasks, check results, rectification, notifications."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from enterprises.models import Category, DrawRatios, Enterprise
from products.models import ChecklistItem, Product
from regions.models import Colour, Region, audit_history


class SpotCheckLevel(models.TextChoices):
    NATIONAL = "national", _("national spot check")
    PROVINCIAL = "provincial", _("provincial spot check")
    CITY = "city", _("city spot check")
    COUNTY = "county", _("county spot check")


class ResultSource(models.TextChoices):
    IMPORTED = "imported", _("imported (historic)")
    INSPECTION = "inspection", _("reported by an inspector")


class SpotCheckResult(models.Model):
    """One spot-checked batch (监督抽查) and its outcome."""

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="spot_checks")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="spot_checks")
    checked_on = models.DateField(_("sampling date"), db_index=True)
    conforming = models.BooleanField(_("conforming"))
    batch_number = models.CharField(_("batch number"), max_length=60, blank=True)
    lab_report_number = models.CharField(_("test report number"), max_length=60)
    level = models.CharField(_("spot-check level"), max_length=12, choices=SpotCheckLevel.choices, default=SpotCheckLevel.CITY)
    failed_items = models.CharField(_("non-conforming items"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=12, choices=ResultSource.choices, default=ResultSource.IMPORTED)
    is_demo = models.BooleanField(_("demo data"), default=False)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    history = audit_history()

    class Meta:
        verbose_name = _("spot-check result")
        verbose_name_plural = _("spot-check results")
        ordering = ["-checked_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["lab_report_number"], name="one_result_per_test_report")]
        indexes = [models.Index(fields=["product", "checked_on"]), models.Index(fields=["enterprise", "checked_on"])]

    def __str__(self):
        outcome = _("conforming") if self.conforming else _("non-conforming")
        return f"{self.lab_report_number} · {self.product.name} · {outcome}"

    @property
    def risk_event_ref(self) -> str:
        """The source reference a non-conforming result's risk event carries."""
        return f"抽查 {self.lab_report_number}"


# --- The closed loop: plans and draws (双随机), tasks, check results, rectification, notifications ---------


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    APPROVED = "approved", _("approved, dispatching")
    DISPATCHED = "dispatched", _("dispatched")
    CLOSED = "closed", _("closed")


ratio_validators = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
SCORE_FLOOR_SHARE_DEFAULT = Decimal("20")  # JQS-DRAW-2: a fifth of the stratum's rate ("no enterprise is immune")
multiplier_validators = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10"))]


class InspectionPlan(DrawRatios, models.Model):
    """A spot-check plan: scope, budget, draw ratios and the seed that makes its draw reproducible."""

    name = models.CharField(_("name"), max_length=200)
    scope = models.ForeignKey(Region, verbose_name=_("scope"), on_delete=models.PROTECT, related_name="inspection_plans")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    batch_budget = models.PositiveIntegerField(_("budget (spot-check batches)"), validators=[MinValueValidator(1)])
    control_share = models.DecimalField(
        _("random control arm (percent of budget)"), max_digits=5, decimal_places=2, default=Decimal("10"), validators=ratio_validators
    )
    ratio_tightened = models.DecimalField(_("draw ratio: tightened (%)"), max_digits=5, decimal_places=2, validators=ratio_validators)
    ratio_routine = models.DecimalField(_("draw ratio: routine (%)"), max_digits=5, decimal_places=2, validators=ratio_validators)
    ratio_responsibility = models.DecimalField(
        _("draw ratio: responsibility (%)"), max_digits=5, decimal_places=2, validators=ratio_validators
    )
    ratio_credit = models.DecimalField(_("draw ratio: credit (%)"), max_digits=5, decimal_places=2, validators=ratio_validators)
    multiplier_red = models.DecimalField(_("multiplier: red regions"), max_digits=4, decimal_places=2, validators=multiplier_validators)
    multiplier_orange = models.DecimalField(
        _("multiplier: orange regions"), max_digits=4, decimal_places=2, validators=multiplier_validators
    )
    multiplier_yellow = models.DecimalField(
        _("multiplier: yellow regions"), max_digits=4, decimal_places=2, validators=multiplier_validators
    )
    multiplier_green = models.DecimalField(_("multiplier: green regions"), max_digits=4, decimal_places=2, validators=multiplier_validators)
    seed = models.CharField(_("draw seed"), max_length=64, help_text=_("Published with the plan: anyone can re-run the draw."))
    draw_method = models.CharField(_("draw method"), max_length=40, default="JQS-DRAW-1")
    risk_model = models.ForeignKey(
        "RiskModel",
        verbose_name=_("risk score model"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plans",
        help_text=_("JQS-DRAW-2: the adopted risk score model the draw weights by, fixed when the plan is created."),
    )
    score_floor_share = models.DecimalField(
        _("minimum chance (percent of the stratum's rate)"),
        max_digits=5,
        decimal_places=2,
        default=SCORE_FLOOR_SHARE_DEFAULT,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("JQS-DRAW-2: no enterprise's inclusion probability falls below this share of its stratum's sampling rate."),
    )
    snapshot_period = models.DateField(
        _("region colours of period"),
        null=True,
        blank=True,
        help_text=_("The draw uses the region colours of this period, fixed when the plan is created."),
    )
    status = models.CharField(_("status"), max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT, db_index=True)
    staffing_problems = models.JSONField(_("tasks that could not be staffed"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False)
    history = audit_history()

    class Meta:
        verbose_name = _("inspection plan")
        verbose_name_plural = _("inspection plans")
        ordering = ["-period_start", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")), name="plan_period_in_order"),
        ]

    def __str__(self):
        return self.name


class PlanPopulation(models.Model):
    """The population a plan's draw was run on, recorded at dispatch: each enterprise's credit code, category and
    colour (gzip-compressed CSV, ``inspections.planning.draw.population_csv``). Categories and colours change every
    night; with this record the draw can be re-run, by anyone, to the same list at any later time."""

    plan = models.OneToOneField(InspectionPlan, on_delete=models.CASCADE, related_name="population", verbose_name=_("plan"))
    csv_gzip = models.BinaryField(_("population (gzip CSV)"))
    sha256 = models.CharField(_("SHA-256 of the CSV"), max_length=64)
    enterprise_count = models.PositiveIntegerField(_("enterprises"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("draw population")
        verbose_name_plural = _("draw populations")

    def __str__(self):
        return f"{self.plan}: {self.enterprise_count}"


class TaskKind(models.TextChoices):
    SPOT_CHECK = "spot_check", _("spot check")
    REINSPECTION = "reinspection", _("re-inspection")


class DrawArm(models.TextChoices):
    RISK = "risk", _("risk-stratified draw")
    CONTROL = "control", _("random control arm")
    FOLLOW_UP = "follow_up", _("follow-up of an order")


def stratum_label(category: str, colour: str | None) -> str:
    """ "tightened", "red" → "tightened supervision·red", the label of the draw's reasons and pages, in the reader's
    language; a value that is not a category or colour (an old plan's) is shown as it is stored."""
    colour_label = Colour(colour).label if colour in Colour.values else _("uncoloured")
    category_label = Category(category).label if category in Category.values else category
    return f"{category_label}·{colour_label}"


def stratum_code_label(code: str) -> str:
    """A stored stratum (``stratum_code``: "tightened/red") as its label."""
    category, _sep, colour = code.partition("/")
    return stratum_label(category, colour)


# Why a task was drawn or created, one message per rule. A task keeps its reason as the message's key and
# parameters (``InspectionTask.reason_params``), rendered in the reader's language; ``reason`` keeps the text in the
# site language for exports and search. A "stratum" parameter is a stratum code ("routine/green"), shown as its label.
TASK_REASONS = {
    "control": _("random control arm: rank %(rank)d of %(n)d by control key"),
    "stratum": _("%(stratum)s: rank %(rank)d of %(n)d, %(quota)d drawn"),
    "stratum_pps": _("%(stratum)s: rank %(rank)d of %(n)d by risk-weighted key (inclusion probability %(p).1f%%), %(quota)d drawn"),
    "leftover": _("budget the strata left: rank %(rank)d of %(n)d by risk-weighted key (probability %(p).1f%%)"),
    "reinspection": _("Re-inspection of order %(number)s (non-conforming result %(result)s): confirm the rectification by %(day)s."),
    "second_reinspection": _("Second re-inspection of order %(number)s after its public announcement: between %(start)s and %(end)s."),
}


def task_reason(key: str, **params) -> dict:
    """A reason as stored in ``reason_params``: the message's key and its parameters (plain JSON values)."""
    if key not in TASK_REASONS:
        raise ValueError(f"unknown task reason {key!r}")
    return {"key": key, **params}


def task_reason_text(reason: dict) -> str:
    """A stored reason (``task_reason``) in the active language."""
    params = {name: value for name, value in reason.items() if name != "key"}
    if "stratum" in params:
        params["stratum"] = stratum_code_label(params["stratum"])
    return str(TASK_REASONS[reason["key"]]) % params


class TaskStatus(models.TextChoices):
    UNSTAFFED = "unstaffed", _("not dispatched: too few eligible officers")
    ASSIGNED = "assigned", _("assigned")
    SUBMITTED = "submitted", _("result submitted")
    CANCELLED = "cancelled", _("cancelled")


class InspectionTask(models.Model):
    plan = models.ForeignKey(InspectionPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="tasks", null=True, blank=True)
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="inspection_tasks")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=14, choices=TaskKind.choices, default=TaskKind.SPOT_CHECK)
    arm = models.CharField(_("draw arm"), max_length=10, choices=DrawArm.choices)
    stratum = models.CharField(_("stratum"), max_length=40, blank=True)
    draw_rank = models.PositiveIntegerField(_("rank in its stratum"), null=True, blank=True)
    draw_key = models.CharField(_("draw key"), max_length=64, blank=True)
    inclusion_probability = models.FloatField(_("inclusion probability"), null=True, blank=True)
    reason = models.CharField(_("why drawn"), max_length=300)  # in the site language (exports, search)
    reason_params = models.JSONField(_("why drawn (key and parameters)"), default=dict, blank=True)  # ``task_reason``
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.ASSIGNED, db_index=True)
    order = models.ForeignKey(
        "RectificationOrder",
        verbose_name=_("rectification order"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reinspection_tasks",
    )
    officers = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TaskAssignment", related_name="inspection_tasks")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    overdue_flagged_on = models.DateField(_("flagged overdue on"), null=True, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("inspection task")
        verbose_name_plural = _("inspection tasks")
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "enterprise"], name="one_task_per_plan_and_enterprise"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.enterprise} · {self.due_date}"

    @property
    def reason_text(self) -> str:
        """Why drawn, in the reader's language (the stored text where the task has no reason key: an old row)."""
        return task_reason_text(self.reason_params) if self.reason_params.get("key") in TASK_REASONS else self.reason


class TaskAssignment(models.Model):
    task = models.ForeignKey(InspectionTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="assignments")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("officer"), on_delete=models.PROTECT, related_name="assignments")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    draw_key = models.CharField(_("draw key"), max_length=64, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("task assignment")
        verbose_name_plural = _("task assignments")
        ordering = ["task", "position"]
        constraints = [models.UniqueConstraint(fields=["task", "officer"], name="one_assignment_per_task_and_officer")]

    def __str__(self):
        return f"{self.officer} → {self.task}"


class OfficerConflict(models.Model):
    """A declared relation between an officer and an enterprise: the officer is excluded from its tasks (回避)."""

    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("officer"), on_delete=models.CASCADE, related_name="conflicts")
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="officer_conflicts")
    reason = models.CharField(_("relation"), max_length=300)
    declared_on = models.DateField(_("declared on"), auto_now_add=True)
    history = audit_history()

    class Meta:
        verbose_name = _("declared conflict of interest")
        verbose_name_plural = _("declared conflicts of interest")
        constraints = [models.UniqueConstraint(fields=["officer", "enterprise"], name="one_conflict_per_officer_and_enterprise")]

    def __str__(self):
        return f"{self.officer} ↔ {self.enterprise}"


class Conclusion(models.TextChoices):
    CONFORMING = "conforming", _("conforming")
    NONCONFORMING = "nonconforming", _("non-conforming")


class CheckResult(models.Model):
    """An inspector's report of a task, stored once per client-generated submission key."""

    task = models.OneToOneField(InspectionTask, verbose_name=_("task"), on_delete=models.PROTECT, related_name="result")
    submission_key = models.UUIDField(_("submission key"), unique=True)
    # SHA-256 of the submission's canonical content (fieldwork.services.submission_digest): the same key with
    # other content is a conflict, never a silent overwrite. Empty for results stored before it existed.
    submission_digest = models.CharField(_("submission digest"), max_length=64, blank=True, editable=False)
    number = models.CharField(_("result number"), max_length=30, unique=True)
    conclusion = models.CharField(_("conclusion"), max_length=14, choices=Conclusion.choices)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+")
    co_inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("co-inspector"), on_delete=models.PROTECT, related_name="+")
    checked_on = models.DateField(_("date of the check"))
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    position_accuracy = models.FloatField(_("position accuracy (m)"), null=True, blank=True)
    position_source = models.CharField(_("position source"), max_length=10, blank=True)
    note = models.TextField(_("note"), blank=True)
    spot_check = models.OneToOneField(
        SpotCheckResult, verbose_name=_("spot-check result"), on_delete=models.PROTECT, null=True, blank=True, related_name="check_result"
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    history = audit_history()

    class Meta:
        verbose_name = _("check result")
        verbose_name_plural = _("check results")
        ordering = ["-submitted_at"]

    def __str__(self):
        return f"{self.number} · {self.get_conclusion_display()}"


class ItemOutcome(models.TextChoices):
    CONFORMING = "conforming", _("conforming")
    NONCONFORMING = "nonconforming", _("non-conforming")
    NOT_APPLICABLE = "na", _("not applicable")


class CheckItemResult(models.Model):
    result = models.ForeignKey(CheckResult, on_delete=models.CASCADE, related_name="items")
    checklist_item = models.ForeignKey(ChecklistItem, verbose_name=_("check point"), on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=14, choices=ItemOutcome.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("check point result")
        verbose_name_plural = _("check point results")
        ordering = ["result", "checklist_item__order"]
        constraints = [models.UniqueConstraint(fields=["result", "checklist_item"], name="one_outcome_per_check_point")]

    def __str__(self):
        return f"{self.checklist_item.order}. {self.get_outcome_display()}"


class CheckPhoto(models.Model):
    result = models.ForeignKey(CheckResult, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(_("photo"), upload_to="checks/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self):
        return self.image.name


class HeldCheck(models.Model):
    """A check sent from a phone for a task that could no longer take it (cancelled, reassigned, no product):
    kept as sent, with its photos, for a supervisor to decide — the inspector's work is never thrown away."""

    task = models.ForeignKey(InspectionTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="held_checks")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("officer"), on_delete=models.PROTECT, related_name="+")
    submission_key = models.UUIDField(_("submission key"), unique=True)
    submission_digest = models.CharField(_("submission digest"), max_length=64, editable=False)
    payload = models.JSONField(_("check as sent"))
    reason = models.CharField(_("why held"), max_length=300)
    held_at = models.DateTimeField(_("held at"), auto_now_add=True)
    decided = models.BooleanField(_("decided"), default=False)
    decision = models.TextField(_("supervisor's decision"), blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("held check")
        verbose_name_plural = _("held checks")
        ordering = ["decided", "-held_at"]

    def __str__(self):
        return f"{self.task} · {self.officer} · {self.held_at:%Y-%m-%d %H:%M}"


class FieldPhoto(models.Model):
    """A photo a phone uploaded ahead of its check (one request per photo, keyed by submission key and photo id).
    It becomes a CheckPhoto when its check is stored, or stays with the HeldCheck it was sent for."""

    submission_key = models.UUIDField(_("submission key"))
    photo_id = models.CharField(_("photo id"), max_length=64)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("officer"), on_delete=models.PROTECT, related_name="+")
    image = models.ImageField(_("photo"), upload_to="field/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    digest = models.CharField(_("digest"), max_length=64)
    held = models.ForeignKey(
        HeldCheck, verbose_name=_("held check"), on_delete=models.CASCADE, null=True, blank=True, related_name="photos"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("uploaded photo")
        verbose_name_plural = _("uploaded photos")
        constraints = [models.UniqueConstraint(fields=["submission_key", "photo_id"], name="one_photo_per_key_and_id")]

    def __str__(self):
        return self.image.name


class OrderStatus(models.TextChoices):
    """States of a rectification order (SAMR Order 18, chapter 6); transitions live in rectification.py."""

    RECTIFYING = "rectifying", _("rectifying (production and sale of the product stopped)")
    ANNOUNCED = "announced", _("failed re-inspection: reported for public announcement")
    ESCALATED = "escalated", _("failed second re-inspection: escalated for suspension")
    CLOSED = "closed", _("closed: rectified")


class RectificationOrder(models.Model):
    number = models.CharField(_("order number"), max_length=30, unique=True)
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="rectification_orders")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    result = models.OneToOneField(CheckResult, verbose_name=_("non-conforming result"), on_delete=models.PROTECT, related_name="order")
    status = models.CharField(_("status"), max_length=12, choices=OrderStatus.choices, default=OrderStatus.RECTIFYING, db_index=True)
    ordered_on = models.DateField(_("ordered on"))
    rectify_by = models.DateField(_("rectify by"))
    reinspect_by = models.DateField(_("re-inspect by"))
    objection_by = models.DateField(_("objection allowed until"))
    objection_filed_on = models.DateField(_("objection filed on"), null=True, blank=True)
    objection_text = models.TextField(_("objection"), blank=True)
    announced_on = models.DateField(_("reported for announcement on"), null=True, blank=True)
    second_reinspect_from = models.DateField(_("second re-inspection from"), null=True, blank=True)
    second_reinspect_by = models.DateField(_("second re-inspection by"), null=True, blank=True)
    escalated_on = models.DateField(_("escalated on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    overdue_flagged_on = models.DateField(_("flagged overdue on"), null=True, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("rectification order")
        verbose_name_plural = _("rectification orders")
        ordering = ["-ordered_on", "-id"]

    def __str__(self):
        return f"{self.number} · {self.enterprise} · {self.get_status_display()}"


class Channel(models.TextChoices):
    DINGTALK = "dingtalk", _("DingTalk group robot")
    DINGTALK_APP = "dingtalk_app", _("DingTalk work notification (internal app)")
    EMAIL = "email", _("e-mail")
    LOG = "log", _("log (development)")


class NotificationSetting(models.Model):
    """How a bureau (a jurisdiction) notifies its officers: a DingTalk group robot (webhook + signing secret), or
    work notifications (工作通知) to each officer from the bureau's DingTalk internal app (app key + secret, agent id;
    its corp id also serves DingTalk's 免登 on the task pages), e-mail, or the log. docs/dingtalk.md: the set-up."""

    bureau = models.OneToOneField(
        Region, verbose_name=_("bureau (jurisdiction)"), on_delete=models.CASCADE, related_name="notification_setting"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.LOG)
    webhook_url = models.URLField(_("DingTalk webhook URL"), max_length=500, blank=True)
    secret = models.CharField(_("DingTalk signing secret"), max_length=200, blank=True)
    corp_id = models.CharField(
        _("DingTalk corp id"), max_length=64, blank=True, help_text=_("The organisation's CorpId (DingTalk developer console).")
    )
    agent_id = models.PositiveBigIntegerField(
        _("DingTalk agent id"), null=True, blank=True, help_text=_("The AgentId of the internal app that sends the work notifications.")
    )
    app_key = models.CharField(_("DingTalk app key"), max_length=64, blank=True)
    app_secret = models.CharField(_("DingTalk app secret"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    # The secrets, and the webhook URL that carries the robot's access token, are not copied into history.
    history = audit_history(excluded_fields=["secret", "webhook_url", "app_secret"])

    class Meta:
        verbose_name = _("notification setting")
        verbose_name_plural = _("notification settings")

    def __str__(self):
        return f"{self.bureau.name}: {self.get_channel_display()}"

    @property
    def has_dingtalk_app(self) -> bool:
        return bool(self.corp_id and self.agent_id and self.app_key and self.app_secret)

    def clean(self):
        if self.channel == Channel.DINGTALK and not self.webhook_url:
            raise ValidationError({"webhook_url": _("A DingTalk group robot needs its webhook URL.")})
        if self.channel == Channel.DINGTALK_APP:
            missing = {
                name: _("Work notifications need the internal app's %(field)s.") % {"field": self._meta.get_field(name).verbose_name}
                for name in ("corp_id", "agent_id", "app_key", "app_secret")
                if not getattr(self, name)
            }
            if missing:
                raise ValidationError(missing)


class DingTalkAccessToken(models.Model):
    """An internal app's access token, kept in the database so every web and Celery worker shares it (DingTalk
    asks callers to cache it per app and not to call gettoken often). inspections.dingtalk reads and refreshes it."""

    app_key = models.CharField(_("DingTalk app key"), max_length=64, unique=True)
    access_token = models.CharField(_("access token"), max_length=200)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("DingTalk access token")
        verbose_name_plural = _("DingTalk access tokens")

    def __str__(self):
        return f"{self.app_key} → {self.expires_at:%Y-%m-%d %H:%M}"  # never the token itself


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")  # claimed by a worker (claimed_at): a re-run does not send it again
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Notification(models.Model):
    task = models.ForeignKey(
        InspectionTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="notifications", null=True, blank=True
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=20, default="dispatch")
    dedupe_key = models.CharField(_("once-only key"), max_length=120, unique=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # DingTalk's task_id for a work notification (asyncsend_v2 answers with it): the delivery check asks by it.
    remote_id = models.CharField(_("DingTalk task id"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.recipient}: {self.title}"


# --- Risk scores (风险评分): fitted models, adopted like rules, and each enterprise's score -------------------


class RiskModelStatus(models.TextChoices):
    FITTED = "fitted", _("fitted, not adopted")
    ADOPTED = "adopted", _("adopted: used by the draws")
    RETIRED = "retired", _("retired: replaced by a later adoption")
    TOO_THIN = "too_thin", _("history too thin to fit")


# The risk score's features (JQS-SCORE-1, inspections.scoring computes them), with the labels the pages show.
FEATURES: tuple[tuple[str, object], ...] = (
    ("nonconforming_1y", _("non-conforming spot checks in the last year")),
    ("nonconforming_1_3y", _("non-conforming spot checks 1–3 years ago")),
    ("other_events_3y", _("other risk events in the last 3 years")),
    ("checks_3y", _("spot checks in the last 3 years (log)")),
    ("years_since_check", _("years since the last spot check")),
    ("never_checked", _("never spot-checked")),
    ("product_failure_rate", _("failure rate of the product it is checked for (logit)")),
    ("max_grade", _("highest product grade")),
    ("licence_problem", _("licence or CCC missing or expired")),
    ("town_risk_share", _("risk share of its town")),
)
FEATURE_NAMES = tuple(name for name, _label in FEATURES)
FEATURE_LABELS = dict(FEATURES)


class RiskModel(models.Model):
    """One fitted version of the risk score (method JQS-SCORE-1, ``inspections.scoring``): its coefficients, the
    windows it was fitted on, its quality on a later held-out period, and who adopted it. A model is a rule: the
    draws use only the adopted version, and an adoption is audited."""

    method = models.CharField(_("method"), max_length=40, default="JQS-SCORE-1")
    as_of = models.DateField(_("fitted as of"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=RiskModelStatus.choices, default=RiskModelStatus.FITTED, db_index=True)
    features = models.JSONField(_("features"), default=list)
    intercept = models.FloatField(_("intercept (logit of the average enterprise)"), null=True, blank=True)
    coefficients = models.JSONField(_("coefficients (per standard deviation)"), default=dict, blank=True)
    means = models.JSONField(_("feature means"), default=dict, blank=True)
    scales = models.JSONField(_("feature standard deviations"), default=dict, blank=True)
    training_from = models.DateField(_("training window from"), null=True, blank=True)
    training_to = models.DateField(_("training window to"), null=True, blank=True)
    training_rows = models.PositiveIntegerField(_("checked enterprise-years in training"), default=0)
    training_positives = models.PositiveIntegerField(_("of which non-conforming"), default=0)
    holdout_from = models.DateField(_("held-out period from"), null=True, blank=True)
    holdout_to = models.DateField(_("held-out period to"), null=True, blank=True)
    holdout_rows = models.PositiveIntegerField(_("checked enterprises in the held-out period"), default=0)
    holdout_positives = models.PositiveIntegerField(_("of which non-conforming (held out)"), default=0)
    auc = models.FloatField(_("AUC on the held-out period"), null=True, blank=True)
    lift_at_20 = models.FloatField(_("lift at 20 % (held out)"), null=True, blank=True)
    top_half_share = models.FloatField(_("share of failures in the top half (held out)"), null=True, blank=True)
    calibration = models.JSONField(_("calibration (held out, by fifth)"), default=list, blank=True)
    message = models.CharField(_("note"), max_length=500, blank=True)
    fitted_at = models.DateTimeField(_("fitted at"), auto_now_add=True)
    adopted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("adopted by"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    adopted_at = models.DateTimeField(_("adopted at"), null=True, blank=True)
    adoption_reason = models.CharField(_("reason for adopting"), max_length=500, blank=True)
    history = audit_history()

    class Meta:
        verbose_name = _("risk score model")
        verbose_name_plural = _("risk score models")
        ordering = ["-as_of", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=models.Q(status="adopted"), name="one_adopted_risk_model"),
        ]

    def __str__(self):
        return f"{self.method} v{self.pk} · {self.as_of} · {self.get_status_display()}"


class RiskScore(models.Model):
    """An enterprise's risk score under the adopted model: the probability that its next spot check is
    non-conforming, and each factor's part of the logit (they sum, with the model's intercept, to the logit)."""

    enterprise = models.OneToOneField(Enterprise, on_delete=models.CASCADE, related_name="risk_score", verbose_name=_("enterprise"))
    model = models.ForeignKey(RiskModel, on_delete=models.PROTECT, related_name="scores", verbose_name=_("model"))
    as_of = models.DateField(_("as of"))
    probability = models.FloatField(_("risk score (probability of a non-conforming check)"))
    logit = models.FloatField(_("logit"))
    values = models.JSONField(_("feature values"), default=dict)
    contributions = models.JSONField(_("contributions to the logit"), default=dict)

    class Meta:
        verbose_name = _("risk score")
        verbose_name_plural = _("risk scores")

    def __str__(self):
        return f"{self.enterprise_id}: {self.probability:.3f}"

    def factors(self) -> list[dict]:
        """The factors, largest effect first, with their labels: what raised or lowered the score against the
        average enterprise."""
        rows = [
            {"name": name, "label": FEATURE_LABELS.get(name, name), "value": self.values.get(name), "contribution": part}
            for name, part in self.contributions.items()
        ]
        return sorted(rows, key=lambda row: -abs(row["contribution"]))
