"""The pipeline's runs in the admin: read-only, each run with its stages and county parts (where, when, how); and
the beat's schedules (django-celery-beat's admin) in the reader's language."""

from cron_descriptor import Options, get_description
from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from regions.admin_scoping import CityWideAdmin

from .models import PipelineRun, PipelineStep, StepState
from .pipeline import host_label, stage_label, steps_progress


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PipelineStepInline(ReadOnly, admin.TabularInline):
    model = PipelineStep
    # The summary's message stays out: it is stored in the language of the run (the command prints it).
    fields = ("stage", "county", "state", "where", "attempts", "started_at", "finished_at", "error")
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("worker"))
    def where(self, step):
        return host_label(step.host)


@admin.register(PipelineRun)
class PipelineRunAdmin(CityWideAdmin, ReadOnly, admin.ModelAdmin):
    list_display = ("as_of", "started_at", "finished_at", "trigger", "progress", "failures")
    list_filter = ("trigger",)
    date_hierarchy = "started_at"
    readonly_fields = ("as_of", "started_at", "finished_at", "trigger")
    inlines = [PipelineStepInline]

    def get_queryset(self, request):
        # Each row's progress and failures come from its steps: read them all in one query, not one per row.
        steps = PipelineStep.objects.select_related("county").order_by("pk")
        return super().get_queryset(request).prefetch_related(Prefetch("steps", queryset=steps))

    @admin.display(description=_("progress"))
    def progress(self, run):
        """Stages done of all, then each split stage's counties done, e.g. 4/10 · enterprise risk classes 3/7."""
        stages = steps_progress(run.steps.all())
        done = sum(1 for stage in stages if stage["done"] and not stage["running"] and (not stage["split"] or stage["done"] >= run.parts))
        shown = [
            f"{stage_label(stage['stage'])} {stage['done']}/{run.parts}"
            for stage in stages
            if stage["split"] and (stage["done"] or stage["running"])
        ]
        return " · ".join([f"{done}/{len(stages)}", *shown])

    @admin.display(description=_("failed parts"))
    def failures(self, run):
        return sum(step.state == StepState.FAILED for step in run.steps.all())


# django-celery-beat's schedules in the reader's language: it describes a crontab in English words (cron-descriptor,
# its dependency, speaks Chinese too) and leaves the task field's label untranslated.
CRON_LOCALES = {"zh-hans": "zh_CN"}


def crontab_in_words(crontab: CrontabSchedule | None) -> str:
    """A crontab schedule as a sentence in the active language, with its time zone, e.g. 在 02:00 Asia/Shanghai."""
    if crontab is None:
        return ""
    options = Options()
    options.locale_code = CRON_LOCALES.get(get_language(), "en_US")
    options.use_24hour_time_format = True
    fields = (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week)
    try:
        words = get_description(" ".join(fields), options)
    except Exception:  # an expression cron-descriptor cannot read: django-celery-beat's own fallback
        return crontab.human_readable
    return f"{words} {crontab.timezone}"


class TaskNameFilter(admin.AllValuesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("task name")


class PeriodicTaskInline(beat_admin.PeriodicTaskInline):
    """The periodic tasks on a schedule's page, the task field's label translated."""

    fields = ("name", "task_name", "args", "kwargs")
    readonly_fields = fields

    @admin.display(description=_("task name"))
    def task_name(self, task):
        return task.task


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    inlines = [PeriodicTaskInline]
    list_display = ("__str__", "in_words")
    fields = ("in_words", "minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")
    readonly_fields = ("in_words",)

    @admin.display(description=_("in words"))
    def in_words(self, crontab):
        return crontab_in_words(crontab)


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    list_filter = ["enabled", "one_off", ("task", TaskNameFilter), "start_time", "last_run_at"]

    @admin.display(description=_("schedule in words"))
    def crontab_translation(self, task):
        return crontab_in_words(task.crontab)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "task" and field is not None:
            field.label = _("task name")
        return field

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The page's script shows the chosen crontab in words: give it ours (django-celery-beat's would be English).
        readable = {crontab.pk: crontab_in_words(crontab) for crontab in CrontabSchedule.objects.all()}
        context = {**(extra_context or {}), "readable_crontabs": readable}
        return admin.ModelAdmin.changeform_view(self, request, object_id, form_url, extra_context=context)


class IntervalScheduleAdmin(beat_admin.IntervalScheduleAdmin):
    inlines = [PeriodicTaskInline]


class SolarScheduleAdmin(beat_admin.SolarScheduleAdmin):
    inlines = [PeriodicTaskInline]


class ClockedScheduleAdmin(beat_admin.ClockedScheduleAdmin):
    inlines = [PeriodicTaskInline]


for _model, _admin_class in (
    (CrontabSchedule, CrontabScheduleAdmin),
    (PeriodicTask, PeriodicTaskAdmin),
    (IntervalSchedule, IntervalScheduleAdmin),
    (SolarSchedule, SolarScheduleAdmin),
    (ClockedSchedule, ClockedScheduleAdmin),
):
    admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
