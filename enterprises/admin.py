from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.admin_utils import EstimatedCountPaginator, RuleVersionAdmin, badge
from common.import_admin import ImportExportMixin
from products.admin import AuditedAdmin, ChangeReasonMixin, LatestFormSet, related_history
from products.models import Product
from regions.admin_scoping import CityWideAdmin, JurisdictionScopedAdmin, division_filter
from regions.models import Level
from regions.selectors import without_boundaries

from .codes import codes_revoke
from .imports import ENTERPRISE_EXPORT, RISK_EVENT_EXPORT, enterprises_import, products_made_import, risk_events_import
from .models import (
    CODE_COLOURS,
    Enterprise,
    EnterpriseProduct,
    QualityCode,
    RiskClass,
    RiskEvent,
    RiskReason,
    StateChange,
    SupervisionPolicy,
)


class EnterpriseProductInline(admin.TabularInline):
    model = EnterpriseProduct
    extra = 0
    autocomplete_fields = ("product",)
    fields = ("product", "product_grade", "licence_number", "licence_expiry")
    readonly_fields = ("product_grade",)

    @admin.display(description=_("grade"))
    def product_grade(self, obj):
        return obj.product.get_grade_display() if obj.pk and obj.product.grade else "—"


class RiskEventInline(admin.TabularInline):
    model = RiskEvent
    extra = 0
    fields = ("kind", "occurred_on", "source_ref", "product", "description")
    autocomplete_fields = ("product",)
    ordering = ("-occurred_on",)


class RiskReasonInline(admin.TabularInline):
    model = RiskReason
    fields = ("kind", "count", "last_on")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("reasons for the risk class (within the risk window)")


class QualityCodeInline(admin.TabularInline):
    """The enterprise's quality codes, the active one with its links; revoked ones kept with who, when and why."""

    model = QualityCode
    fields = ("token", "created_at", "links", "revoked_at", "revoked_by", "revoke_reason")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("quality codes (一码)")

    @admin.display(description=_("links"))
    def links(self, obj):
        if obj.pk is None or obj.revoked_at:  # the inline's blank form, or a code no longer valid
            return "—"
        return format_html(
            '<a href="{}" target="_blank">{}</a> · <a href="{}">SVG</a> · <a href="{}">PNG</a> · <a href="{}">{}</a>',
            reverse("inspections:quality-code", args=[obj.token]),
            _("public page"),
            reverse("enterprises:code-svg", args=[obj.enterprise_id]),
            reverse("enterprises:code-png", args=[obj.enterprise_id]),
            reverse("enterprises:code-card", args=[obj.enterprise_id]),
            _("printable card"),
        )


class StateChangeInline(admin.TabularInline):
    """Every change of risk class and supervision category made by the rules (read-only, newest first)."""

    model = StateChange
    formset = LatestFormSet
    fields = ("changed_at", "field", "old_label", "new_label", "as_of", "reason_shown")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("class and category history (latest 50)")

    @admin.display(description=_("reason"))
    def reason_shown(self, obj):
        return obj.reason_text

    @admin.display(description=_("old value"))
    def old_label(self, obj):
        return obj.old_label

    @admin.display(description=_("new value"))
    def new_label(self, obj):
        return obj.new_label


@admin.register(Enterprise)
class EnterpriseAdmin(JurisdictionScopedAdmin, ChangeReasonMixin, ImportExportMixin, AuditedAdmin):
    jurisdiction_path = "town"
    importers = (enterprises_import, products_made_import)
    export_fields = ENTERPRISE_EXPORT
    list_display = ("name", "credit_code", "town", "county", "risk_badge", "category_badge", "status", "is_demo")
    list_filter = ("risk_class", "category", "status", ("town__parent", division_filter(Level.COUNTY)), "is_demo")
    search_fields = ("name", "credit_code", "address")
    list_select_related = ("town__parent",)
    # A million rows: the unfiltered list is counted from the planner's estimate, a filtered one once (not twice).
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    autocomplete_fields = ("town",)
    readonly_fields = ("risk_badge", "reasons", "max_grade", "category_badge", "classified_at", "made_history", "events_history")
    fieldsets = (
        (None, {"fields": ("credit_code", "name", "address", "town", ("lat", "lon"), "status", "is_demo")}),
        (_("Derived by the pipeline"), {"fields": ("risk_badge", "reasons", "max_grade", "category_badge", "classified_at")}),
        (_("reason for the change"), {"fields": ("change_reason",)}),
        (_("History"), {"fields": ("made_history", "events_history")}),
    )
    inlines = [EnterpriseProductInline, RiskReasonInline, RiskEventInline, QualityCodeInline, StateChangeInline]
    actions = ["revoke_quality_codes"]

    def get_queryset(self, request):
        # The list, the page and the export name the town and county; their boundaries are never shown here.
        return without_boundaries(super().get_queryset(request).select_related("town__parent"), "town", "town__parent")

    @admin.action(description=_("Revoke and reissue quality code"))
    def revoke_quality_codes(self, request, queryset):
        revoked = codes_revoke(
            enterprise_ids=queryset.values_list("pk", flat=True), by=request.user, reason=str(_("revoked in the administration"))
        )
        self.message_user(
            request,
            ngettext("%(count)d quality code revoked; new codes issued.", "%(count)d quality codes revoked; new codes issued.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )

    @admin.display(description=_("county"), ordering="town__parent__name")
    def county(self, obj):
        return obj.town.parent.name if obj.town.parent_id else "—"

    @admin.display(description=_("risk class"), ordering="risk_class")
    def risk_badge(self, obj):
        return badge(obj.get_risk_class_display(), "red" if obj.risk_class == RiskClass.RISK else "green")

    @admin.display(description=_("supervision category"), ordering="category")
    def category_badge(self, obj):
        return badge(obj.get_category_display(), CODE_COLOURS.get(obj.category)) if obj.category else "—"

    @admin.display(description=_("reasons"))
    def reasons(self, obj):
        kept = [f"{reason.get_kind_display()} × {reason.count}" for reason in obj.risk_reasons.all()]
        return "; ".join(kept) or _("none within the risk window")

    @admin.display(description=_("changes to the products made"))
    def made_history(self, obj):
        if not obj.pk:
            return "—"
        records = EnterpriseProduct.history.filter(enterprise_id=obj.pk)
        names = dict(Product.objects.filter(pk__in=records.values("product_id")).values_list("pk", "name"))
        return related_history(records, label=lambda record: names.get(record.product_id, record.product_id))

    @admin.display(description=_("changes to the risk events"))
    def events_history(self, obj):
        records = RiskEvent.history.filter(enterprise_id=obj.pk)
        return related_history(records, label=lambda record: f"{record.get_kind_display()} {record.source_ref}") if obj.pk else "—"


@admin.register(RiskEvent)
class RiskEventAdmin(JurisdictionScopedAdmin, ChangeReasonMixin, ImportExportMixin, AuditedAdmin):
    jurisdiction_path = "enterprise__town"
    importers = (risk_events_import,)
    export_fields = RISK_EVENT_EXPORT
    list_display = ("occurred_on", "kind", "enterprise", "product", "source_ref", "is_demo")
    list_filter = ("kind", "is_demo", ("enterprise__town__parent", division_filter(Level.COUNTY)))
    search_fields = ("source_ref", "enterprise__name", "enterprise__credit_code")
    autocomplete_fields = ("enterprise", "product")
    list_select_related = ("enterprise", "product")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    date_hierarchy = "occurred_on"


@admin.register(SupervisionPolicy)
class SupervisionPolicyAdmin(CityWideAdmin, RuleVersionAdmin):
    rule_fields = (
        "risk_window_years",
        "high_risk",
        "high_non_risk",
        "medium_risk",
        "medium_non_risk",
        "low_risk",
        "low_non_risk",
        "ratio_tightened",
        "ratio_routine",
        "ratio_responsibility",
        "ratio_credit",
        "visits_tightened",
        "visits_routine",
        "visits_responsibility",
        "visits_credit",
        "multiplier_red",
        "multiplier_orange",
        "multiplier_yellow",
        "multiplier_green",
    )
