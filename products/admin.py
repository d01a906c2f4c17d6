from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from jiaxing_qs.admin_utils import RuleVersionAdmin, badge
from jiaxing_qs.tasks import enqueue_pipeline

from .models import ChecklistItem, Grade, GradingPolicy, Product, ProductClass
from .services import grade_points, products_grade

GRADE_COLOURS = {Grade.HIGH: "red", Grade.MEDIUM: "orange", Grade.LOW: "green"}


def grade_badge(grade):
    return badge(Grade(grade).label, GRADE_COLOURS[grade]) if grade else "—"


@admin.register(ProductClass)
class ProductClassAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "product_count")
    search_fields = ("code", "name", "name_en")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_products=Count("products"))

    @admin.display(description=_("products"), ordering="n_products")
    def product_count(self, obj):
        return obj.n_products


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 1
    fields = ("order", "text", "legal_basis")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
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
    readonly_fields = ("grade_badge", "computed", "why_this_grade", "failure_rate", "failure_sample")
    inlines = [ChecklistItemInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "product_class", "is_active")}),
        (_("Grade factors"), {"fields": ("harm_severity", "licence_type", "vulnerable_users", "failure_rate", "failure_sample")}),
        (_("Grade"), {"fields": ("grade_badge", "computed", "why_this_grade", "override_grade", "override_reason")}),
        (_("Costs"), {"fields": ("spot_check_cost",)}),
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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The grade in force follows an edited factor or override at once, and the categories of the
        # enterprises making the product follow through the pipeline.
        products_grade(products=Product.objects.filter(pk=obj.pk))
        enqueue_pipeline()


@admin.register(GradingPolicy)
class GradingPolicyAdmin(RuleVersionAdmin):
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
