"""Map side panel and priority markers: region data combined with the enterprises behind it."""

import math
import re

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_query import query_params
from regions.api.params import PeriodQuery
from regions.models import Region, RegionSnapshot
from regions.selectors import jurisdiction_of, latest_period, within
from regions.services import index_formula

from ..models import Category, ReasonKind
from ..selectors import key_enterprises, priority_markers

JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
BBOX_SCHEMA = {"type": "array", "items": {"type": "number", "minimum": -180, "maximum": 180}, "minItems": 4, "maxItems": 4}
BBOX_PARAMETER = OpenApiParameter(
    "bbox", BBOX_SCHEMA, style="form", explode=False, description="west,south,east,north in degrees (default: everywhere)."
)


class BBoxField(serializers.Field):
    """``west,south,east,north``: four numbers from -180 to 180 (BBOX_PARAMETER documents it)."""

    default_error_messages = {"invalid": _("Give the bounds as west,south,east,north in degrees.")}

    def to_internal_value(self, data):
        parts = data.split(",") if isinstance(data, str) else []
        if len(parts) != 4 or not all(JSON_NUMBER.fullmatch(part) for part in parts):
            self.fail("invalid")
        bounds = tuple(float(part) for part in parts)
        if not all(math.isfinite(bound) and -180 <= bound <= 180 for bound in bounds):
            self.fail("invalid")
        return bounds


class PriorityQuery(serializers.Serializer):
    bbox = BBoxField(required=False)


def _period(request):
    return query_params(PeriodQuery, request).get("period") or latest_period()


class RegionPanelView(APIView):
    """GET /api/regions/<code>/panel/?period=YYYY-MM — what the map's side panel shows for one region."""

    def get(self, request, code):
        jurisdiction = jurisdiction_of(request.user)
        region = get_object_or_404(Region.objects.filter(within(jurisdiction)), code=code)
        period = _period(request)
        history = list(RegionSnapshot.objects.filter(region=region, period__lte=period).select_related("weights").order_by("-period")[:12])
        snapshot = history[0] if history and history[0].period == period else None
        enterprises, key_total = key_enterprises(region)
        reason_labels = dict(ReasonKind.choices)
        return Response(
            {
                "code": region.code,
                "name": region.name,
                "level": region.level,
                "period": f"{period:%Y-%m}" if period else None,
                "colour": snapshot.colour if snapshot else None,
                "colour_label": snapshot.get_colour_display() if snapshot else None,
                "risk_share": float(snapshot.risk_share) if snapshot else None,
                "risk_count": snapshot.risk_count if snapshot else 0,
                "enterprise_count": snapshot.enterprise_count if snapshot else 0,
                "index": float(snapshot.index) if snapshot and snapshot.index is not None else None,
                "index_formula": index_formula(snapshot.weights) if snapshot and snapshot.weights else None,
                "index_inputs": snapshot.index_inputs if snapshot else {},
                "top_reasons": [
                    {"kind": kind, "label": str(reason_labels.get(kind, kind)), "count": count}
                    for kind, count in sorted((snapshot.reason_counts if snapshot else {}).items(), key=lambda item: -item[1])[:5]
                ],
                "key_enterprises": [
                    {
                        "id": enterprise.id,
                        "name": enterprise.name,
                        "town": enterprise.town.name,
                        "category": enterprise.category,
                        "category_label": str(Category(enterprise.category).label),
                        "url": reverse("enterprises:detail", args=[enterprise.id]),
                    }
                    for enterprise in enterprises
                ],
                "key_total": key_total,
                "key_list_url": reverse("enterprises:key-list", args=[region.code]),
                "trend": [
                    {
                        "period": f"{item.period:%Y-%m}",
                        "colour": item.colour,
                        "risk_share": float(item.risk_share),
                        "index": float(item.index) if item.index is not None else None,
                    }
                    for item in reversed(history)
                ],
            }
        )


class PriorityMarkersView(APIView):
    """GET /api/enterprises/priorities/?bbox=west,south,east,north — key-supervised enterprises to mark."""

    def get(self, request):
        bbox = query_params(PriorityQuery, request).get("bbox")
        data = priority_markers(jurisdiction_of(request.user), bbox=bbox)
        labels = dict(Category.choices)
        for marker in data["markers"]:
            marker["category_label"] = str(labels[marker["category"]])
            marker["url"] = reverse("enterprises:detail", args=[marker["id"]])
        return Response(data)
