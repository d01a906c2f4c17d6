"""Map data for the one-map page (一图): GeoJSON per level and period, cached, gzip-compressed, revalidated."""

import gzip
import hashlib
import json

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import http_date
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from common.api_query import query_params
from regions.api.defaults import StaffWithRole

from ..access import map_scope
from ..map_cache import map_microcache, scope_key
from ..selectors import latest_period, map_feature_collection, map_version, period_state
from .params import MapQuery


def _map_params(request):
    params = query_params(MapQuery, request)
    period = params.get("period") or map_microcache.remember(("latest",), latest_period, settings.MAP_MICROCACHE_SECONDS)
    return params["level"], period


class RegionMapView(APIView):
    """GET /api/regions/map/?level=county|town&period=YYYY-MM — a GeoJSON FeatureCollection.

    Boundaries were simplified at import; the encoded body (plain and gzip) is cached under a version key
    that changes whenever the period's snapshots are recomputed, and served with ETag / Last-Modified so
    a browser revalidates with a 304. Data is scoped by ``regions.access.map_scope``; a request carrying a map
    ticket of the same scope is answered by ``regions.map_cache`` with this view's response, without reaching it.
    """

    permission_classes = [IsAuthenticated]  # and map_scope below: the rule the map ticket is issued by

    def get(self, request):
        level, period = _map_params(request)
        scope = map_scope(request.user)
        if scope is None:
            raise PermissionDenied(StaffWithRole.message)
        role, jurisdiction = scope
        state = map_microcache.remember(("state", period), lambda: period_state(period), settings.MAP_MICROCACHE_SECONDS)
        version, changed_at = map_version(level=level, period=period, jurisdiction=jurisdiction, state=state)
        etag = '"' + hashlib.sha1(version.encode()).hexdigest()[:20] + '"'
        if etag in request.headers.get("If-None-Match", ""):
            not_modified = HttpResponseNotModified(headers={"ETag": etag})
            not_modified.map_scope = scope_key(role, jurisdiction)
            return not_modified
        key = f"regionmap:{etag}"
        cached = cache.get(key)
        if cached is None:
            collection = map_feature_collection(level=level, period=period, jurisdiction=jurisdiction)
            body = json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()
            cached = (body, gzip.compress(body, compresslevel=6))
            cache.set(key, cached, timeout=24 * 3600)
        plain, compressed = cached
        use_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = HttpResponse(compressed if use_gzip else plain, content_type="application/geo+json; charset=utf-8")
        if use_gzip:
            response["Content-Encoding"] = "gzip"
        response["Vary"] = "Accept-Encoding, Cookie"
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        if changed_at:
            response["Last-Modified"] = http_date(changed_at.timestamp())
        response.map_scope = scope_key(role, jurisdiction)  # regions.map_cache replays it to tickets of this scope
        return response
