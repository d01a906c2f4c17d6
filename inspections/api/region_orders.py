"""The map panel's rectification figures of one region (一图): open and overdue orders, pending re-inspections.

The panel itself (enterprises.api.views.RegionPanelView) cannot read orders — enterprises does not import
inspections — so the map asks this endpoint beside it (static/js/map.js)."""

from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from regions.api.defaults import api_jurisdiction, staff_scope
from regions.models import SUPERVISORY_ROLES, Level, Region
from regions.selectors import within

from ..rectification.selectors import order_counts


class RegionOrdersSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Division code of the region.")
    open = serializers.IntegerField(help_text="Rectification orders not closed (escalated ones included).")
    overdue = serializers.IntegerField(help_text="Open orders flagged overdue by the daily check.")
    reinspections_pending = serializers.IntegerField(help_text="Re-inspection tasks still to be done (assigned or not staffed).")
    orders_url = serializers.CharField(
        allow_null=True, help_text="The supervisors' order list filtered to the region; null for a user who may not open it."
    )


def order_list_url(region: Region) -> str:
    """/orders/ narrowed to ``region``: its county or its town (a city or province: every order of the user)."""
    param = {Level.COUNTY: "county", Level.TOWN: "town"}.get(region.level)
    return reverse("inspections:order-list") + (f"?{urlencode({param: region.code})}" if param else "")


class RegionOrdersView(APIView):
    """GET /api/regions/<code>/orders/ — the region's rectification figures, within the caller's jurisdiction."""

    @extend_schema(summary="Map side panel: rectification orders of one region", responses={200: RegionOrdersSerializer})
    def get(self, request, code):
        region = get_object_or_404(Region.objects.filter(within(api_jurisdiction(request))), code=code)
        counts = order_counts(region)
        may_list = staff_scope(request).role in SUPERVISORY_ROLES
        data = {
            "code": region.code,
            "open": counts.open,
            "overdue": counts.overdue,
            "reinspections_pending": counts.reinspections_pending,
            "orders_url": order_list_url(region) if may_list else None,
        }
        return Response(RegionOrdersSerializer(data).data)
