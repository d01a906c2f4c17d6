"""The pipeline's runs in the admin: read-only, each run with its stages and county parts (where, when, how)."""

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from regions.admin_scoping import CityWideAdmin

from .models import PipelineRun, PipelineStep, StepState
from .pipeline import steps_progress


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
    fields = ("stage", "county", "state", "host", "attempts", "started_at", "finished_at", "error")
    readonly_fields = fields
    extra = 0


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
        """Stages done of all, then each split stage's counties done, e.g. 4/10 · classify_enterprises 3/7."""
        stages = steps_progress(run.steps.all())
        done = sum(1 for stage in stages if stage["done"] and not stage["running"] and (not stage["split"] or stage["done"] >= run.parts))
        shown = [
            f"{stage['stage']} {stage['done']}/{run.parts}" for stage in stages if stage["split"] and (stage["done"] or stage["running"])
        ]
        return " · ".join([f"{done}/{len(stages)}", *shown])

    @admin.display(description=_("failed parts"))
    def failures(self, run):
        return sum(step.state == StepState.FAILED for step in run.steps.all())
