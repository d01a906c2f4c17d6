"""Read API over enterprises and their risk events, both starting from the caller's jurisdiction
(``enterprises_within(api_jurisdiction(request))``): a record outside it is a 404, never a 403."""

from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.viewsets import ReadOnlyModelViewSet

from common.api_query import ApiFilterSet, BooleanFilter, ChoiceFilter, DateFilter, IdFilter, TextFilter
from products.api.params import ProductCodeFilter
from products.models import Grade
from regions.api.defaults import api_jurisdiction
from regions.api.params import DivisionCodeFilter, PeriodQuery
from regions.models import COUNTY_CODE, TOWN_CODE
from regions.selectors import without_boundaries

from ..models import KEY_SUPERVISED, Category, Enterprise, EnterpriseProduct, RiskClass, RiskEvent, RiskEventKind, Status
from ..selectors import enterprises_within
from .serializers import EnterpriseDetailSerializer, EnterpriseSerializer, RiskEventSerializer
from .views import BBOX_PARAMETER


class EnterpriseFilter(ApiFilterSet):
    town = DivisionCodeFilter(field_name="town__code", pattern=TOWN_CODE, label=_("town / street division code"))
    county = DivisionCodeFilter(field_name="town__parent__code", pattern=COUNTY_CODE, label=_("county division code"))
    risk_class = ChoiceFilter(choices=RiskClass.choices)
    category = ChoiceFilter(choices=Category.choices)
    status = ChoiceFilter(choices=Status.choices)
    max_grade = ChoiceFilter(choices=Grade.choices)
    key_supervised = BooleanFilter(method="filter_key_supervised", label=_("key-supervised (tightened or routine)"))
    product = ProductCodeFilter(field_name="made__product__code", label=_("makes the product with this code"))
    q = TextFilter(method="search", label=_("name or credit code contains"))

    class Meta:
        model = Enterprise
        fields = ["town", "county", "risk_class", "category", "status", "max_grade", "key_supervised", "product", "q"]

    def search(self, queryset, name, value: str):
        return queryset.filter(Q(name__icontains=value) | Q(credit_code__icontains=value))

    def filter_key_supervised(self, queryset, name, value: bool):
        key = Q(category__in=KEY_SUPERVISED)
        return queryset.filter(key) if value else queryset.exclude(key)


class EnterpriseViewSet(ReadOnlyModelViewSet):
    """Enterprises of the caller's jurisdiction with their class, category and highest grade; the detail adds
    the products made (with licences) and the reasons behind a risk class."""

    filterset_class = EnterpriseFilter
    ordering_fields = ["name", "credit_code", "risk_class", "category", "max_grade", "classified_at", "risk_score__probability", "id"]
    ordering = ["name", "id"]

    def get_serializer_class(self):
        return EnterpriseDetailSerializer if self.action == "retrieve" else EnterpriseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Enterprise.objects.none()
        # The town and county give their codes and names only: their boundaries stay in the database.
        enterprises = without_boundaries(
            enterprises_within(api_jurisdiction(self.request)).select_related("town__parent", "risk_score"), "town", "town__parent"
        )
        if self.action == "retrieve":
            enterprises = enterprises.prefetch_related(
                Prefetch("made", queryset=EnterpriseProduct.objects.select_related("product").order_by("-product__grade", "product__code")),
                "risk_reasons",
            )
        return enterprises


class RiskEventFilter(ApiFilterSet):
    enterprise = IdFilter(field_name="enterprise_id", label=_("enterprise (id)"))
    kind = ChoiceFilter(choices=RiskEventKind.choices)
    occurred_from = DateFilter(field_name="occurred_on", lookup_expr="gte")
    occurred_to = DateFilter(field_name="occurred_on", lookup_expr="lte")
    town = DivisionCodeFilter(field_name="enterprise__town__code", pattern=TOWN_CODE, label=_("town / street division code"))
    county = DivisionCodeFilter(field_name="enterprise__town__parent__code", pattern=COUNTY_CODE, label=_("county division code"))
    product = ProductCodeFilter(field_name="product__code", label=_("product code"))

    class Meta:
        model = RiskEvent
        fields = ["enterprise", "kind", "occurred_from", "occurred_to", "town", "county", "product"]


class RiskEventViewSet(ReadOnlyModelViewSet):
    """Risk events (non-conforming checks, overdue rectifications, complaints, penalties…) of the caller's
    enterprises: the facts the enterprise classification reads."""

    serializer_class = RiskEventSerializer
    filterset_class = RiskEventFilter
    ordering_fields = ["occurred_on", "kind", "id"]
    ordering = ["-occurred_on", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RiskEvent.objects.none()
        enterprises = enterprises_within(api_jurisdiction(self.request))
        return RiskEvent.objects.filter(enterprise__in=enterprises).select_related("enterprise", "product")


# --- OpenAPI descriptions of the map's panel and marker endpoints (enterprises/api/views.py) ---------


class RegionPanelViewSchema(OpenApiViewExtension):
    target_class = "enterprises.api.views.RegionPanelView"

    def view_replacement(self):
        @extend_schema(
            summary="Map side panel of one region",
            parameters=[PeriodQuery],
            responses={
                200: OpenApiResponse(OpenApiTypes.OBJECT, description="Counts, colour, index, top reasons, key enterprises, trend.")
            },
        )
        class Described(self.target_class):
            pass

        return Described


class PriorityMarkersViewSchema(OpenApiViewExtension):
    target_class = "enterprises.api.views.PriorityMarkersView"

    def view_replacement(self):
        @extend_schema(
            summary="Map priorities layer: key-supervised enterprises to mark",
            parameters=[BBOX_PARAMETER],
            responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{markers: [...], truncated: bool}")},
        )
        class Described(self.target_class):
            pass

        return Described
