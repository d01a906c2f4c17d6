"""The top floor's own records: the login failure counts (jiaxing_qs.login), the pipeline runs and their steps."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LoginFailures(models.Model):
    """Failed logins counted against one username or one address, in the database so that every worker process
    and app server counts the same attempts (jiaxing_qs.login has the rule)."""

    key = models.CharField(_("counted for"), max_length=100, unique=True)  # "user:<hash>" or "ip:<address>"
    failures = models.PositiveIntegerField(_("failures in the window"), default=0)
    window_ends = models.DateTimeField(_("window ends"), db_index=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("login failures")
        verbose_name_plural = _("login failures")

    def __str__(self):
        return self.key


class Trigger(models.TextChoices):
    """What started a run (stored as these words, shown in the reader's language)."""

    COMMAND = "run_pipeline command", _("the run_pipeline command")
    RULES_CHANGED = "rules changed", _("rules changed")
    NIGHTLY = "nightly schedule", _("the nightly schedule")


class PipelineRun(models.Model):
    """One run of the three-division pipeline as of a day: its steps show what is done, where and when."""

    as_of = models.DateField(_("as of"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    trigger = models.CharField(_("started by"), max_length=100, blank=True, choices=Trigger.choices)
    parts = models.PositiveIntegerField(_("county parts per split stage"), default=0)

    class Meta:
        verbose_name = _("pipeline run")
        verbose_name_plural = _("pipeline runs")
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.as_of.isoformat()} · {self.pk}"


class StageName(models.TextChoices):
    """The pipeline's stages in order (jiaxing_qs.pipeline.STAGES runs them), each with what a reader is shown."""

    RECORD_SPOT_CHECK_EVENTS = "record_spot_check_events", _("non-conforming results as risk events")
    REFRESH_FAILURE_RATES = "refresh_failure_rates", _("products' failure rates")
    GRADE_PRODUCTS = "grade_products", _("product risk grades")
    CLASSIFY_ENTERPRISES = "classify_enterprises", _("enterprise risk classes")
    CATEGORISE_ENTERPRISES = "categorise_enterprises", _("supervision categories")
    PLACE_TOWNS = "place_towns", _("town positions")
    COLOUR_REGIONS = "colour_regions", _("region colours")
    COMPUTE_INDEX = "compute_index", _("quality index")
    FIT_RISK_MODEL = "fit_risk_model", _("risk score model")
    SCORE_ENTERPRISES = "score_enterprises", _("enterprise risk scores")


class StepState(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class PipelineStep(models.Model):
    """A stage of a run, or one county's part of a split stage, as the worker that ran it reported it. A part
    delivered again (its worker lost) counts a second attempt on the same row."""

    run = models.ForeignKey(PipelineRun, verbose_name=_("pipeline run"), on_delete=models.CASCADE, related_name="steps")
    stage = models.CharField(_("stage"), max_length=60, choices=StageName.choices)
    county = models.ForeignKey(
        "regions.Region", verbose_name=_("county"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(_("state"), max_length=10, choices=StepState.choices, default=StepState.RUNNING)
    host = models.CharField(_("worker"), max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("pipeline step")
        verbose_name_plural = _("pipeline steps")
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "stage", "county"], name="one_step_per_county_part"),
            models.UniqueConstraint(fields=["run", "stage"], condition=models.Q(county__isnull=True), name="one_step_per_whole_stage"),
        ]

    def __str__(self):
        return f"{self.get_stage_display()} · {self.county or '—'}"
