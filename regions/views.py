from django.conf import settings
from django.shortcuts import redirect, render

from .access import ALL_STAFF, role_required
from .models import Level, Region, Role
from .selectors import LEVEL_DEPTH, MAP_LEVELS, periods_available, thresholds_for_period


def map_levels(top: Region | None) -> list[Level]:
    """The levels the map offers below ``top`` (a province: city, county, town; a city or county: county, town),
    the first being where it starts."""
    depth = LEVEL_DEPTH.get(top.level, -1) if top else -1
    return [level for level in MAP_LEVELS if LEVEL_DEPTH[level] > depth or level in (Level.COUNTY, Level.TOWN)]


@role_required(*ALL_STAFF)
def map_page(request):
    """一图: the colour-coded map of the user's jurisdiction, the landing page of supervisors."""
    periods = periods_available()
    top = request.jurisdiction or Region.objects.filter(parent__isnull=True).order_by("code").first()
    levels = map_levels(top)
    return render(
        request,
        "regions/map.html",
        {
            "periods": periods,
            "thresholds": thresholds_for_period(periods[0] if periods else None),
            "levels": [(level.value, level.label) for level in levels],
            "top_region": top,
            "map_settings": {
                "tileUrl": settings.MAP_TILE_URL,
                "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
                "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
                "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
                "topRegion": top.code if top else None,
                "levels": [level.value for level in levels],
            },
        },
    )


@role_required(*ALL_STAFF)
def home(request):
    """Each role's landing page: inspectors their task list, everyone else the map."""
    return redirect("inspections:my-tasks" if request.role == Role.INSPECTOR else "regions:map")
