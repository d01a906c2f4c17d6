from django.conf import settings
from django.shortcuts import redirect, render

from .access import ALL_STAFF, role_required
from .models import Level, Region, Role
from .selectors import periods_available, thresholds_for_period


@role_required(*ALL_STAFF)
def map_page(request):
    """一图: the colour-coded map of the user's jurisdiction, the landing page of supervisors."""
    periods = periods_available()
    top = request.jurisdiction or Region.objects.filter(parent__isnull=True).order_by("code").first()
    return render(
        request,
        "regions/map.html",
        {
            "periods": periods,
            "thresholds": thresholds_for_period(periods[0] if periods else None),
            "levels": [(Level.COUNTY.value, Level.COUNTY.label), (Level.TOWN.value, Level.TOWN.label)],
            "top_region": top,
            "map_settings": {
                "tileUrl": settings.MAP_TILE_URL,
                "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
                "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
                "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
                "topRegion": top.code if top else None,
            },
        },
    )


@role_required(*ALL_STAFF)
def home(request):
    """Each role's landing page: inspectors their task list, everyone else the map."""
    return redirect("inspections:my-tasks" if request.role == Role.INSPECTOR else "regions:map")
