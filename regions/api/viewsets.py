"""Read API over regions: the divisions of the caller's jurisdiction with a period's snapshot, and their history.

Every queryset starts from ``within(api_jurisdiction(request))``: a county's staff see their county and its
towns, the city's staff and superusers see all; a region outside is a 404.
"""

from django.db.models import F, FilteredRelation, Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.mixins import ListModelMixin
from rest_framework.viewsets import GenericViewSet, ReadOnlyModelViewSet

from common.api_query import ApiFilterSet, ChoiceFilter, TextFilter, query_params
from regions.api.defaults import api_jurisdiction

from ..models import DIVISION_CODE, Colour, Level, Region, RegionSnapshot
from ..selectors import latest_period, within
from .params import DivisionCodeFilter, MapQuery, PeriodFilter, PeriodQuery
from .serializers import RegionDetailSerializer, RegionSerializer, RegionSnapshotSerializer

REGION_CODE = f"(?:{DIVISION_CODE})"  # a division code in a URL


def regions_with_snapshot(regions, *, period):
    """Regions annotated with their snapshot of ``period`` (a LEFT JOIN: one query, nulls where none)."""
    return regions.annotate(snapshot=FilteredRelation("snapshots", condition=Q(snapshots__period=period))).annotate(
        parent_code=F("parent__code"),
        period=F("snapshot__period"),
        colour=F("snapshot__colour"),
        risk_share=F("snapshot__risk_share"),
        enterprise_count=F("snapshot__enterprise_count"),
        risk_count=F("snapshot__risk_count"),
        index=F("snapshot__index"),
        reason_counts=F("snapshot__reason_counts"),
        index_inputs=F("snapshot__index_inputs"),
    )


class RegionFilter(ApiFilterSet):
    level = ChoiceFilter(choices=Level.choices)
    parent = DivisionCodeFilter(field_name="parent__code", label=_("parent division code"))
    colour = ChoiceFilter(field_name="colour", choices=Colour.choices, label=_("colour in the period shown"))
    q = TextFilter(method="search", label=_("name or code contains"))

    class Meta:
        model = Region
        fields = ["level", "parent", "colour", "q"]

    def search(self, queryset, name, value: str):
        return queryset.filter(Q(name__icontains=value) | Q(name_en__icontains=value) | Q(code__startswith=value))


@extend_schema_view(list=extend_schema(parameters=[PeriodQuery]), retrieve=extend_schema(parameters=[PeriodQuery]))
class RegionViewSet(ReadOnlyModelViewSet):
    """Divisions (city, counties, towns/streets) with the colour, counts and index of one period."""

    lookup_field = "code"
    lookup_value_regex = REGION_CODE
    filterset_class = RegionFilter
    ordering_fields = ["code", "name", "level", "risk_share", "index", "enterprise_count", "risk_count"]
    ordering = ["code"]

    def get_serializer_class(self):
        return RegionDetailSerializer if self.action == "retrieve" else RegionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Region.objects.none()
        regions = Region.objects.filter(within(api_jurisdiction(self.request)))
        return regions_with_snapshot(regions, period=self._period())

    def _period(self):
        return query_params(PeriodQuery, self.request).get("period") or latest_period()


class RegionSnapshotFilter(ApiFilterSet):
    period_from = PeriodFilter(field_name="period", lookup_expr="gte", label=_("from period (YYYY-MM)"))
    period_to = PeriodFilter(field_name="period", lookup_expr="lte", label=_("to period (YYYY-MM)"))
    colour = ChoiceFilter(choices=Colour.choices)

    class Meta:
        model = RegionSnapshot
        fields = ["period_from", "period_to", "colour"]


class RegionSnapshotViewSet(ListModelMixin, GenericViewSet):
    """One region's snapshots, newest first: how its colour and index moved month by month."""

    serializer_class = RegionSnapshotSerializer
    filterset_class = RegionSnapshotFilter
    ordering_fields = ["period", "risk_share", "index"]
    ordering = ["-period"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RegionSnapshot.objects.none()
        regions = Region.objects.filter(within(api_jurisdiction(self.request)))
        region = get_object_or_404(regions, code=self.kwargs["region_code"])
        return RegionSnapshot.objects.filter(region=region).select_related("region")


class RegionMapViewSchema(OpenApiViewExtension):
    """Describes the one-map GeoJSON endpoint (regions/api/views.py) for the OpenAPI document."""

    target_class = "regions.api.views.RegionMapView"

    def view_replacement(self):
        @extend_schema(
            summary="Map data: regions of one level as GeoJSON",
            parameters=[MapQuery],
            responses={
                (200, "application/geo+json"): OpenApiResponse(
                    OpenApiTypes.OBJECT, description="GeoJSON FeatureCollection with colour, counts and index per region."
                ),
                304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)."),
            },
        )
        class Described(self.target_class):
            pass

        return Described
