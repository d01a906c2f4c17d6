from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from common.admin_utils import RuleVersionAdmin, TranslatedPermissionsMixin, badge
from common.import_admin import ExportMixin, ImportExportMixin

from .access import manages_staff, staff_grant_problem
from .admin_scoping import CityWideAdmin, JurisdictionScopedAdmin, division_filter
from .imports import REGION_SNAPSHOT_EXPORT, staff_dingtalk_import
from .models import Bureau, ColourThresholds, IndexWeights, Region, RegionSnapshot, StaffProfile
from .selectors import without_boundaries
from .services import index_formula


class SnapshotInline(admin.TabularInline):
    model = RegionSnapshot
    fields = ("period", "colour_badge", "risk_count", "enterprise_count", "risk_share", "index")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-period",)

    @admin.display(description=_("colour"))
    def colour_badge(self, obj):
        return badge(obj.get_colour_display(), obj.colour)


class RegionChangeList(ChangeList):
    """The list shows whether a division has a boundary (computed in SQL), never the boundary itself: its rows
    and their parents are read without it."""

    def get_queryset(self, request, exclude_parameters=None):
        return without_boundaries(super().get_queryset(request, exclude_parameters), "", "parent")


@admin.register(Region)
class RegionAdmin(JurisdictionScopedAdmin, CityWideAdmin, admin.ModelAdmin):
    jurisdiction_path = ""  # a division itself: county staff see their county and its towns
    list_display = ("code", "name", "level", "parent", "latest_colour", "latest_share", "has_boundary")
    list_filter = ("level", ("parent", division_filter()))
    search_fields = ("code", "name", "name_en")
    list_select_related = ("parent",)
    readonly_fields = ("label_lat", "label_lon")
    exclude = ("boundary_simplified",)
    inlines = [SnapshotInline]

    def get_queryset(self, request):
        latest = RegionSnapshot.objects.filter(region=OuterRef("pk")).order_by("-period")
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_colour_value=Subquery(latest.values("colour")[:1]),
                latest_share_value=Subquery(latest.values("risk_share")[:1]),
                has_boundary_value=ExpressionWrapper(Q(boundary__isnull=False), output_field=BooleanField()),
            )
        )

    def get_changelist(self, request, **kwargs):
        return RegionChangeList

    @admin.display(description=_("colour (latest period)"), ordering="latest_colour_value")
    def latest_colour(self, obj):
        from .models import Colour

        if not obj.latest_colour_value:
            return "—"
        return badge(Colour(obj.latest_colour_value).label, obj.latest_colour_value)

    @admin.display(description=_("risk share (%)"), ordering="latest_share_value")
    def latest_share(self, obj):
        return "—" if obj.latest_share_value is None else f"{obj.latest_share_value:.1f}"

    @admin.display(description=_("boundary"), boolean=True, ordering="has_boundary_value")
    def has_boundary(self, obj):
        return obj.has_boundary_value


@admin.register(RegionSnapshot)
class RegionSnapshotAdmin(JurisdictionScopedAdmin, ExportMixin, admin.ModelAdmin):
    jurisdiction_path = "region"
    export_fields = REGION_SNAPSHOT_EXPORT
    list_display = ("region", "period", "colour_badge", "risk_count", "enterprise_count", "risk_share", "index")
    list_filter = ("period", "colour", "region__level")
    search_fields = ("region__name", "region__code")
    list_select_related = ("region",)
    date_hierarchy = "period"
    readonly_fields = ("formula",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + ["formula"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("colour"), ordering="colour")
    def colour_badge(self, obj):
        return badge(obj.get_colour_display(), obj.colour)

    @admin.display(description=_("index formula"))
    def formula(self, obj):
        return index_formula(obj.weights) if obj.weights else "—"


@admin.register(ColourThresholds)
class ColourThresholdsAdmin(CityWideAdmin, RuleVersionAdmin):
    rule_fields = ("yellow_from", "orange_from", "red_from", "min_enterprises")


@admin.register(IndexWeights)
class IndexWeightsAdmin(CityWideAdmin, RuleVersionAdmin):
    rule_fields = (
        "risk_share_weight",
        "pass_rate_weight",
        "rectification_weight",
        "incident_weight",
        "incidents_per_100_for_zero",
        "window_months",
    )


@admin.register(StaffProfile)
class StaffProfileAdmin(JurisdictionScopedAdmin, ImportExportMixin, SimpleHistoryAdmin):
    """Staff, their roles and jurisdictions: administrators manage those of their own jurisdiction
    (regions.access.staff_grant_problem); supervisors with the view permission read them."""

    jurisdiction_path = "jurisdiction"
    importers = (staff_dingtalk_import,)  # 用户名 + 钉钉用户ID: the DingTalk userids of many staff at once
    list_display = ("user", "role", "jurisdiction", "officer_number", "dingtalk_userid", "is_demo")
    list_filter = ("role", ("jurisdiction", admin.RelatedOnlyFieldListFilter), "is_demo")
    search_fields = ("user__username", "user__first_name", "user__last_name", "officer_number", "dingtalk_userid")
    list_select_related = ("user", "jurisdiction")

    def get_autocomplete_fields(self, request):
        # The user search goes through Django's user admin, which only superusers may open (jiaxing_qs/demo/users.py):
        # other administrators choose from the list of users they may give a profile.
        return ("user", "jurisdiction") if request.user.is_superuser else ("jurisdiction",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and not request.user.is_superuser:
            field.queryset = field.queryset.filter(is_superuser=False)
        return field

    def _may_manage(self, request, obj) -> bool:
        if not manages_staff(request.user):
            return False
        return obj is None or staff_grant_problem(request.user, user=obj.user, jurisdiction=obj.jurisdiction) is None

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self._may_manage(request, None)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_manage(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        granter = request.user

        class StaffProfileForm(form):
            def clean(self):
                data = super().clean()
                if data.get("jurisdiction"):
                    problem = staff_grant_problem(granter, user=data.get("user"), jurisdiction=data["jurisdiction"])
                    if problem:
                        self.add_error("jurisdiction", problem)
                return data

        return StaffProfileForm


@admin.register(Bureau)
class BureauAdmin(JurisdictionScopedAdmin, SimpleHistoryAdmin):
    """Each city's bureau name and phone (a county may have its own), within the user's jurisdiction."""

    jurisdiction_path = "region"
    list_display = ("region", "name", "phone")
    search_fields = ("name", "region__name", "region__code")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)


# Django's own user and group admins, with their permission pickers in the reader's language.
class TranslatedUserAdmin(TranslatedPermissionsMixin, UserAdmin):
    pass


class TranslatedGroupAdmin(TranslatedPermissionsMixin, GroupAdmin):
    pass


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), TranslatedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, TranslatedGroupAdmin)
