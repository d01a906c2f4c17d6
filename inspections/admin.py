from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from common.import_admin import ExportMixin, ImportExportMixin
from products.admin import AuditedAdmin, ChangeReasonMixin, related_history
from regions.admin_scoping import JurisdictionScopedAdmin, ScopedChoicesMixin

from .fieldwork.selectors import CHECK_RESULT_EXPORT
from .models import (
    CheckItemResult,
    CheckResult,
    DrawArm,
    FieldPhoto,
    HeldCheck,
    InspectionPlan,
    InspectionTask,
    Notification,
    NotificationSetting,
    OfficerConflict,
    RectificationOrder,
    SpotCheckResult,
    TaskAssignment,
    stratum_code_label,
)
from .notification_forms import NotificationSettingForm
from .planning.selectors import TASK_EXPORT
from .rectification.selectors import ORDER_EXPORT
from .spotchecks.imports import SPOT_CHECK_EXPORT, spot_checks_import


@admin.register(SpotCheckResult)
class SpotCheckResultAdmin(JurisdictionScopedAdmin, ChangeReasonMixin, ImportExportMixin, AuditedAdmin):
    jurisdiction_path = "enterprise__town"
    importers = (spot_checks_import,)
    export_fields = SPOT_CHECK_EXPORT
    list_display = ("lab_report_number", "checked_on", "enterprise", "product", "conforming", "level", "source", "is_demo")
    list_filter = (
        "conforming",
        "level",
        "source",
        "is_demo",
        "product__product_class",
        ("enterprise__town__parent", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("lab_report_number", "batch_number", "enterprise__name", "enterprise__credit_code", "product__name")
    autocomplete_fields = ("enterprise", "product")
    list_select_related = ("enterprise", "product")
    date_hierarchy = "checked_on"


class TaskAssignmentInline(ScopedChoicesMixin, admin.TabularInline):
    model = TaskAssignment
    extra = 0
    autocomplete_fields = ("officer",)
    fields = ("officer", "position", "draw_key")
    readonly_fields = ("draw_key",)


@admin.register(InspectionPlan)
class InspectionPlanAdmin(JurisdictionScopedAdmin, AuditedAdmin):
    jurisdiction_path = "scope"
    list_display = ("name", "scope", "period_start", "period_end", "batch_budget", "status", "approved_by", "dispatched_at")
    list_filter = ("status", ("scope", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "seed")
    readonly_fields = ("seed", "draw_method", "status", "staffing_problems", "created_by", "approved_by", "approved_at", "dispatched_at")

    def has_change_permission(self, request, obj=None):
        # Plans are changed through their pages, where approval and dispatch keep their rules.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == "draft")


@admin.register(InspectionTask)
class InspectionTaskAdmin(JurisdictionScopedAdmin, ExportMixin, AuditedAdmin):
    jurisdiction_path = "enterprise__town"
    export_fields = TASK_EXPORT
    list_display = ("enterprise", "kind", "arm", "stratum_shown", "due_date", "status", "plan")
    list_filter = (
        "kind",
        "arm",
        "status",
        ("plan", admin.RelatedOnlyFieldListFilter),
        ("enterprise__town__parent", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("enterprise__name", "enterprise__credit_code", "reason")
    autocomplete_fields = ("enterprise", "product")
    list_select_related = ("enterprise", "plan")
    date_hierarchy = "due_date"
    readonly_fields = ("plan", "arm", "stratum_shown", "draw_rank", "draw_key", "reason_shown", "order", "assignment_history")
    exclude = ("stratum", "reason", "reason_params")
    inlines = [TaskAssignmentInline]

    @admin.display(description=_("stratum"), ordering="stratum")
    def stratum_shown(self, obj):
        return stratum_code_label(obj.stratum) if obj.arm == DrawArm.RISK and obj.stratum else "—"

    @admin.display(description=_("why drawn"))
    def reason_shown(self, obj):
        return obj.reason_text

    @admin.display(description=_("changes to the assignments"))
    def assignment_history(self, obj):
        if not obj.pk:
            return "—"
        records = TaskAssignment.history.filter(task_id=obj.pk)
        names = dict(get_user_model().objects.filter(pk__in=records.values("officer_id")).values_list("pk", "username"))
        return related_history(records, label=lambda record: names.get(record.officer_id, record.officer_id))


@admin.register(OfficerConflict)
class OfficerConflictAdmin(JurisdictionScopedAdmin, AuditedAdmin):
    jurisdiction_path = "enterprise__town"
    list_display = ("officer", "enterprise", "reason", "declared_on")
    search_fields = ("officer__username", "officer__first_name", "officer__last_name", "enterprise__name")
    autocomplete_fields = ("officer", "enterprise")


class CheckItemResultInline(admin.TabularInline):
    model = CheckItemResult
    extra = 0
    fields = ("checklist_item", "outcome", "note")
    readonly_fields = fields
    can_delete = False


@admin.register(CheckResult)
class CheckResultAdmin(JurisdictionScopedAdmin, ExportMixin, AuditedAdmin):
    jurisdiction_path = "task__enterprise__town"
    export_fields = CHECK_RESULT_EXPORT
    list_display = ("number", "task", "conclusion", "submitted_by", "co_inspector", "checked_on", "submitted_at")
    list_filter = ("conclusion",)
    search_fields = ("number", "task__enterprise__name")
    list_select_related = ("task__enterprise", "submitted_by", "co_inspector")
    inlines = [CheckItemResultInline]

    def get_readonly_fields(self, request, obj=None):
        # A submitted result is evidence: it is read, never edited.
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class FieldPhotoInline(admin.TabularInline):
    model = FieldPhoto
    fields = ("image", "width", "height", "uploaded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(HeldCheck)
class HeldCheckAdmin(JurisdictionScopedAdmin, AuditedAdmin):
    """Checks sent from a phone for a task that could no longer take them: kept as sent, for a supervisor to decide
    (re-open the task and ask the inspector to send again, or record why the check is set aside)."""

    jurisdiction_path = "task__enterprise__town"
    list_display = ("task", "officer", "reason", "held_at", "decided")
    list_filter = ("decided",)
    search_fields = ("task__enterprise__name", "officer__username")
    list_select_related = ("task__enterprise", "officer")
    readonly_fields = ("task", "officer", "submission_key", "payload", "reason", "held_at")
    fields = (*readonly_fields, "decided", "decision")
    inlines = [FieldPhotoInline]

    def has_add_permission(self, request):
        return False


@admin.register(RectificationOrder)
class RectificationOrderAdmin(JurisdictionScopedAdmin, ExportMixin, AuditedAdmin):
    jurisdiction_path = "enterprise__town"
    export_fields = ORDER_EXPORT
    list_display = ("number", "enterprise", "product", "status", "ordered_on", "rectify_by", "reinspect_by", "overdue_flagged_on")
    list_filter = ("status", ("enterprise__town__parent", admin.RelatedOnlyFieldListFilter))
    search_fields = ("number", "enterprise__name", "enterprise__credit_code")
    list_select_related = ("enterprise", "product")
    date_hierarchy = "ordered_on"

    def get_readonly_fields(self, request, obj=None):
        # States change only through the rectification rules (inspections/rectification.py).
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(NotificationSetting)
class NotificationSettingAdmin(JurisdictionScopedAdmin, AuditedAdmin):
    """The secrets are write-only: the form never shows them back (notification_forms.NotificationSettingForm)."""

    form = NotificationSettingForm
    jurisdiction_path = "bureau"
    list_display = ("bureau", "channel", "enabled")
    autocomplete_fields = ("bureau",)
    fieldsets = (
        (None, {"fields": ("bureau", "channel", "enabled")}),
        (_("DingTalk group robot"), {"fields": ("webhook_url", "secret", "secret_clear")}),
        (
            _("DingTalk work notifications and 免登 (internal app)"),
            {
                "fields": ("corp_id", "agent_id", "app_key", "app_secret", "app_secret_clear"),
                "description": _("See docs/dingtalk.md for the set-up."),
            },
        ),
    )


@admin.register(Notification)
class NotificationAdmin(JurisdictionScopedAdmin, admin.ModelAdmin):
    jurisdiction_path = "recipient__staff_profile__jurisdiction"  # some notices have no task; every one has a recipient
    list_display = ("created_at", "recipient", "channel", "purpose", "title", "status", "attempts", "last_error")
    list_filter = ("status", "channel", "purpose")
    search_fields = ("title", "recipient__username", "dedupe_key")
    list_select_related = ("recipient",)
    readonly_fields = (
        "task",
        "recipient",
        "channel",
        "purpose",
        "dedupe_key",
        "title",
        "body",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "remote_id",
    )
