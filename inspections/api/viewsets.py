"""Read API over spot checks and the closed loop: plans, tasks, rectification orders.

Each queryset starts from the caller's jurisdiction: results, tasks and orders through their enterprise
(``enterprises_within``), plans through their scope (``within``), as the pages do. Outside it: 404.
"""

from django.db.models import Count, Prefetch, Q
from django.utils.translation import gettext_lazy as _
from rest_framework.viewsets import ReadOnlyModelViewSet

from common.api_query import ApiFilterSet, BooleanFilter, ChoiceFilter, DateFilter, IdFilter
from enterprises.selectors import enterprises_within
from products.api.params import ProductCodeFilter
from regions.api.defaults import api_jurisdiction
from regions.api.params import DivisionCodeFilter
from regions.models import COUNTY_CODE, SUPERVISORY_ROLES, TOWN_CODE, Region
from regions.selectors import within

from ..models import (
    DrawArm,
    InspectionPlan,
    InspectionTask,
    OrderStatus,
    PlanStatus,
    RectificationOrder,
    ResultSource,
    SpotCheckLevel,
    SpotCheckResult,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from ..planning.selectors import tasks_within
from ..rectification.selectors import OPEN
from .serializers import (
    InspectionPlanDetailSerializer,
    InspectionPlanSerializer,
    InspectionTaskSerializer,
    RectificationOrderDetailSerializer,
    RectificationOrderSerializer,
    SpotCheckResultSerializer,
)


class EnterpriseOwnedFilter(ApiFilterSet):
    """Filters every record that belongs to an enterprise shares: the enterprise (id), its town and county."""

    enterprise = IdFilter(field_name="enterprise_id", label=_("enterprise (id)"))
    town = DivisionCodeFilter(field_name="enterprise__town__code", pattern=TOWN_CODE, label=_("town / street division code"))
    county = DivisionCodeFilter(field_name="enterprise__town__parent__code", pattern=COUNTY_CODE, label=_("county division code"))


class SpotCheckResultFilter(EnterpriseOwnedFilter):
    product = ProductCodeFilter(field_name="product__code", label=_("product code"))
    conforming = BooleanFilter()
    level = ChoiceFilter(choices=SpotCheckLevel.choices)
    source = ChoiceFilter(choices=ResultSource.choices)
    checked_from = DateFilter(field_name="checked_on", lookup_expr="gte")
    checked_to = DateFilter(field_name="checked_on", lookup_expr="lte")

    class Meta:
        model = SpotCheckResult
        fields = ["enterprise", "town", "county", "product", "conforming", "level", "source", "checked_from", "checked_to"]


class SpotCheckResultViewSet(ReadOnlyModelViewSet):
    """Spot-checked batches (监督抽查) of the caller's enterprises and their outcome."""

    serializer_class = SpotCheckResultSerializer
    filterset_class = SpotCheckResultFilter
    ordering_fields = ["checked_on", "id", "conforming"]
    ordering = ["-checked_on", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SpotCheckResult.objects.none()
        enterprises = enterprises_within(api_jurisdiction(self.request))
        return SpotCheckResult.objects.filter(enterprise__in=enterprises).select_related("enterprise", "product")


class InspectionPlanFilter(ApiFilterSet):
    status = ChoiceFilter(choices=PlanStatus.choices)
    scope = DivisionCodeFilter(field_name="scope__code", label=_("scope division code"))
    starts_from = DateFilter(field_name="period_start", lookup_expr="gte")
    starts_to = DateFilter(field_name="period_start", lookup_expr="lte")

    class Meta:
        model = InspectionPlan
        fields = ["status", "scope", "starts_from", "starts_to"]


class InspectionPlanViewSet(ReadOnlyModelViewSet):
    """Spot-check plans (双随机) whose scope lies in the caller's jurisdiction, with seed and draw method so the
    draw can be re-run. For planners (supervisors, administrators), as the plan pages."""

    allowed_roles = SUPERVISORY_ROLES
    filterset_class = InspectionPlanFilter
    ordering_fields = ["period_start", "name", "status", "id"]
    ordering = ["-period_start", "-id"]

    def get_serializer_class(self):
        return InspectionPlanDetailSerializer if self.action == "retrieve" else InspectionPlanSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return InspectionPlan.objects.none()
        scopes = Region.objects.filter(within(api_jurisdiction(self.request)))
        return (
            InspectionPlan.objects.filter(scope__in=scopes)
            .select_related("scope", "created_by", "approved_by")
            .annotate(task_count=Count("tasks"))
        )


class InspectionTaskFilter(EnterpriseOwnedFilter):
    plan = IdFilter(field_name="plan_id", label=_("plan (id)"))
    status = ChoiceFilter(choices=TaskStatus.choices)
    kind = ChoiceFilter(choices=TaskKind.choices)
    arm = ChoiceFilter(choices=DrawArm.choices)
    officer = IdFilter(field_name="assignments__officer_id", label=_("assigned officer (user id)"))
    mine = BooleanFilter(method="filter_mine", label=_("assigned to me"))
    due_from = DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = InspectionTask
        fields = ["enterprise", "town", "county", "plan", "status", "kind", "arm", "officer", "mine", "due_from", "due_to"]

    def filter_mine(self, queryset, name, value: bool):
        mine = Q(assignments__officer=self.request.user)
        return queryset.filter(mine) if value else queryset.exclude(mine)


class InspectionTaskViewSet(ReadOnlyModelViewSet):
    """Inspection tasks (spot checks and re-inspections) of the caller's enterprises, with their officers."""

    serializer_class = InspectionTaskSerializer
    filterset_class = InspectionTaskFilter
    ordering_fields = ["due_date", "status", "id"]
    ordering = ["due_date", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return InspectionTask.objects.none()
        assignments = TaskAssignment.objects.select_related("officer").order_by("position")
        return (
            tasks_within(api_jurisdiction(self.request))
            .select_related("enterprise", "product", "result")
            .prefetch_related(Prefetch("assignments", queryset=assignments))
        )


class RectificationOrderFilter(EnterpriseOwnedFilter):
    status = ChoiceFilter(choices=OrderStatus.choices)
    open = BooleanFilter(method="filter_open", label=_("not yet closed"))
    product = ProductCodeFilter(field_name="product__code", label=_("product code"))
    ordered_from = DateFilter(field_name="ordered_on", lookup_expr="gte")
    ordered_to = DateFilter(field_name="ordered_on", lookup_expr="lte")

    class Meta:
        model = RectificationOrder
        fields = ["enterprise", "town", "county", "status", "open", "product", "ordered_from", "ordered_to"]

    def filter_open(self, queryset, name, value: bool):
        return queryset.filter(OPEN) if value else queryset.exclude(OPEN)


class RectificationOrderViewSet(ReadOnlyModelViewSet):
    """Rectification orders (SAMR Order 18, ch. 6) of the caller's enterprises with every deadline."""

    filterset_class = RectificationOrderFilter
    ordering_fields = ["ordered_on", "rectify_by", "reinspect_by", "status", "id"]
    ordering = ["-ordered_on", "-id"]

    def get_serializer_class(self):
        return RectificationOrderDetailSerializer if self.action == "retrieve" else RectificationOrderSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RectificationOrder.objects.none()
        enterprises = enterprises_within(api_jurisdiction(self.request))
        return RectificationOrder.objects.filter(enterprise__in=enterprises).select_related("enterprise", "product", "result")
