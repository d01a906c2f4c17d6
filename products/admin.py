import dataclasses
import functools

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from common.admin_utils import RuleVersionAdmin, badge
from common.history_display import history_value
from common.import_admin import ImportExportMixin
from common.signals import pipeline_inputs_changed
from regions.admin_scoping import CityWideAdmin

from .imports import PRODUCT_EXPORT, grade_overrides_import
from .models import ChecklistItem, Grade, GradeChange, GradingPolicy, Product, ProductClass
from .selectors import grade_points
from .services import products_grade

GRADE_COLOURS = {Grade.HIGH: "red", Grade.MEDIUM: "orange", Grade.LOW: "green"}


def grade_badge(grade):
    return badge(Grade(grade).label, GRADE_COLOURS[grade]) if grade else "—"


# --- Audit (STYLE 7): a History view per record, the reason for a change, read-only histories on a page --------
# Shared with the enterprises and inspections admins.


class ChoiceLabelsInHistory(HistoricalRecordContextHelper):
    """The History view's old → new with choice labels ("high risk"), not stored codes ("3"), and times local to
    the minute, not UTC to the microsecond (``history_value``)."""

    def prepare_delta_change_value(self, change, value):
        choices = dict(self.model._meta.get_field(change.field).flatchoices)
        return super().prepare_delta_change_value(change, history_value(choices.get(value, value) if choices else value))


class AuditedAdmin(SimpleHistoryAdmin):
    """Each record's History view (simple-history): who, when, old → new per field, and the reason given."""

    def get_historical_record_context_helper(self, request, historical_record):
        return ChoiceLabelsInHistory(self.model, historical_record)


class ChangeReasonForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("reason for the change"),
        required=False,
        max_length=500,
        help_text=_("Kept in the history with who changed what and when, also for the rows below changed with it."),
    )


class ChangeReasonMixin:
    """An optional reason (变更原因) on the change form, kept as simple-history's reason for the record and for
    every inline row saved with it."""

    form = ChangeReasonForm

    def change_reason_of(self, form) -> str:
        return form.cleaned_data.get("change_reason", "").strip()

    def save_model(self, request, obj, form, change):
        reason = self.change_reason_of(form)
        if reason:
            obj._change_reason = reason
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        reason = self.change_reason_of(form)
        if reason:
            for row in formset.forms:
                row.instance._change_reason = reason
        super().save_formset(request, form, formset, change)


class LatestFormSet(BaseInlineFormSet):
    """An inline of the latest rows only (the model's ordering, newest first)."""

    limit = 50

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[: self.limit]
        return self._latest


def related_history(records, *, label=lambda record: str(record.instance), limit: int = 20):
    """The latest changes of a record's inline rows (no admin page of their own): when, who, which row, what
    changed (old → new), why."""
    rows = list(records.select_related("history_user").order_by("-history_date", "-history_id")[:limit])
    if not rows:
        return "—"
    fields = {field.name: field for field in rows[0].instance_type._meta.fields}

    def changes(record) -> str:
        previous = record.prev_record if record.history_type == "~" else None
        if previous is None:
            return ""
        delta = record.diff_against(previous, excluded_fields=["id"])
        return "; ".join(
            f"{fields[c.field].verbose_name}: {history_value(c.old)} → {history_value(c.new)}" for c in delta.changes if c.field in fields
        )

    cells = (
        (
            timezone.localtime(record.history_date).strftime("%Y-%m-%d %H:%M"),
            record.history_user or "—",
            record.get_history_type_display(),
            label(record),
            changes(record),
            record.history_change_reason or "",
        )
        for record in rows
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("when"),
        _("who"),
        _("change"),
        _("row"),
        _("old → new"),
        _("reason"),
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", cells),
    )


@admin.register(ProductClass)
class ProductClassAdmin(CityWideAdmin, AuditedAdmin):
    list_display = ("code", "name", "name_en", "product_count")
    search_fields = ("code", "name", "name_en")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_products=Count("products"))

    @admin.display(description=_("products"), ordering="n_products")
    def product_count(self, obj):
        return obj.n_products


class ChecklistItemInline(CityWideAdmin, admin.TabularInline):
    model = ChecklistItem
    extra = 1
    fields = ("order", "text", "legal_basis")


class GradeChangeInline(admin.TabularInline):
    """Every change of the grade in force, by the grading rule or an override (read-only, newest first)."""

    model = GradeChange
    formset = LatestFormSet
    fields = ("changed_at", "old_grade", "new_grade", "computed", "policy", "reason_shown", "changed_by")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("grade history (latest 50)")

    @admin.display(description=_("reason"))
    def reason_shown(self, obj):
        return obj.reason_text

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("policy", "changed_by")


@admin.register(Product)
class ProductAdmin(CityWideAdmin, ChangeReasonMixin, ImportExportMixin, AuditedAdmin):
    """The catalogue; grade overrides also come from a file (upload → preview → confirm), for city-level
    administrators only (CityWideAdmin), and the list exports with the override columns the import reads back."""

    importers = (grade_overrides_import,)
    export_fields = PRODUCT_EXPORT
    list_display = (
        "code",
        "name",
        "product_class",
        "grade_badge",
        "computed",
        "override",
        "licence_type",
        "vulnerable_users",
        "failure_rate",
        "maker_count",
    )
    list_filter = ("product_class", "grade", "licence_type", "harm_severity", "vulnerable_users", "is_active")
    search_fields = ("code", "name", "name_en")
    list_select_related = ("product_class",)
    readonly_fields = ("grade_badge", "computed", "why_this_grade", "failure_rate", "failure_sample", "checklist_history")
    inlines = [ChecklistItemInline, GradeChangeInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "product_class", "is_active")}),
        (_("Grade factors"), {"fields": ("harm_severity", "licence_type", "vulnerable_users", "failure_rate", "failure_sample")}),
        (_("Grade"), {"fields": ("grade_badge", "computed", "why_this_grade", "override_grade", "override_reason")}),
        (_("Costs"), {"fields": ("spot_check_cost",)}),
        (_("reason for the change"), {"fields": ("change_reason",)}),
        (_("History"), {"fields": ("checklist_history",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_makers=Count("makers"))

    @admin.display(description=_("grade in force"), ordering="grade")
    def grade_badge(self, obj):
        return grade_badge(obj.grade)

    @admin.display(description=_("computed grade"), ordering="computed_grade")
    def computed(self, obj):
        return obj.get_computed_grade_display() if obj.computed_grade else "—"

    @admin.display(description=_("override"), ordering="override_grade")
    def override(self, obj):
        return obj.get_override_grade_display() if obj.override_grade else ""

    @admin.display(description=_("enterprises"), ordering="n_makers")
    def maker_count(self, obj):
        return getattr(obj, "n_makers", obj.makers.count())

    @admin.display(description=_("why this grade"))
    def why_this_grade(self, obj):
        if not obj.pk:
            return "—"
        policy = GradingPolicy.in_force()
        points = grade_points(obj, policy)
        total = sum(value for _label, value in points)
        rows = format_html_join("", "<li>{} +{}</li>", points)
        summary = _("score %(total)d (high from %(high)d, medium from %(medium)d)") % {
            "total": total,
            "high": policy.high_from_score,
            "medium": policy.medium_from_score,
        }
        return format_html('<ul style="margin:0">{}</ul>{}', rows, summary)

    @admin.display(description=_("checklist changes"))
    def checklist_history(self, obj):
        return related_history(ChecklistItem.history.filter(product_id=obj.pk)) if obj.pk else "—"

    def change_reason_of(self, form) -> str:
        # A grade override's reason (mandatory) is the reason for setting it.
        reason = super().change_reason_of(form)
        override = form.instance.override_reason.strip()
        if form.instance.override_grade is not None and {"override_grade", "override_reason"} & set(form.changed_data):
            return override if reason in ("", override) else f"{override}; {reason}"
        return reason

    def _importer_within(self, request, kind: str):
        # The grade changes (GradeChange) name the administrator who imported them, as an edit on the page does.
        importer = super()._importer_within(request, kind)
        return dataclasses.replace(importer, run=functools.partial(importer.run, by=request.user))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The grade in force follows an edited factor or override at once, and the categories of the
        # enterprises making the product follow through the pipeline.
        edited = ", ".join(str(obj._meta.get_field(name).verbose_name) for name in form.changed_data if name != "change_reason")
        reason = getattr(obj, "_change_reason", "") or gettext("edited in the administration: %(fields)s") % {"fields": edited}
        products_grade(products=Product.objects.filter(pk=obj.pk), reason=reason, by=request.user)
        pipeline_inputs_changed.send(sender=Product)


@admin.register(GradingPolicy)
class GradingPolicyAdmin(CityWideAdmin, RuleVersionAdmin):
    rule_fields = (
        "points_severe",
        "points_moderate",
        "points_minor",
        "points_licence",
        "points_vulnerable",
        "failure_rate_high",
        "points_failure_high",
        "failure_rate_medium",
        "points_failure_medium",
        "min_failure_sample",
        "high_from_score",
        "medium_from_score",
        "failure_window_years",
    )
