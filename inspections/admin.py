from django.contrib import admin

from .models import SpotCheckResult


@admin.register(SpotCheckResult)
class SpotCheckResultAdmin(admin.ModelAdmin):
    list_display = ("lab_report_number", "checked_on", "enterprise", "product", "conforming", "level", "source", "is_demo")
    list_filter = ("conforming", "level", "source", "is_demo", "product__product_class")
    search_fields = ("lab_report_number", "batch_number", "enterprise__name", "enterprise__credit_code", "product__name")
    autocomplete_fields = ("enterprise", "product")
    list_select_related = ("enterprise", "product")
    date_hierarchy = "checked_on"
