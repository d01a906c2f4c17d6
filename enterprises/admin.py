from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from jiaxing_qs.admin_utils import RuleVersionAdmin, badge

from .models import CODE_COLOURS, Enterprise, EnterpriseProduct, RiskClass, RiskEvent, RiskReason, SupervisionPolicy


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


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("name", "credit_code", "town", "county", "risk_badge", "category_badge", "status", "is_demo")
    list_filter = ("risk_class", "category", "status", ("town__parent", admin.RelatedOnlyFieldListFilter), "is_demo")
    search_fields = ("name", "credit_code", "address")
    list_select_related = ("town__parent",)
    autocomplete_fields = ("town",)
    readonly_fields = ("risk_badge", "reasons", "max_grade", "category_badge", "classified_at")
    fieldsets = (
        (None, {"fields": ("credit_code", "name", "address", "town", ("lat", "lon"), "status", "is_demo")}),
        (_("Derived by the pipeline"), {"fields": ("risk_badge", "reasons", "max_grade", "category_badge", "classified_at")}),
    )
    inlines = [EnterpriseProductInline, RiskReasonInline, RiskEventInline]

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


@admin.register(RiskEvent)
class RiskEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_on", "kind", "enterprise", "product", "source_ref", "is_demo")
    list_filter = ("kind", "is_demo", ("enterprise__town__parent", admin.RelatedOnlyFieldListFilter))
    search_fields = ("source_ref", "enterprise__name", "enterprise__credit_code")
    autocomplete_fields = ("enterprise", "product")
    list_select_related = ("enterprise", "product")
    date_hierarchy = "occurred_on"


@admin.register(SupervisionPolicy)
class SupervisionPolicyAdmin(RuleVersionAdmin):
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
