"""Read queries over regions, each starting from what the user may see (their jurisdiction)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Q, QuerySet

from .models import Bureau, Colour, ColourThresholds, Level, Region, RegionSnapshot, Role, StaffProfile, code_prefix

PROFILE_LOADED = "_jqs_staff_profile_loaded"  # marks a user whose staff_profile was loaded with it (jiaxing_qs.auth)


def _staff_profile(user) -> StaffProfile | None:
    """The user's staff profile: the one loaded with a request's user (jiaxing_qs.auth), else one query."""
    if not user.is_authenticated:
        return None
    if getattr(user, PROFILE_LOADED, False):
        try:
            return user.staff_profile
        except StaffProfile.DoesNotExist:
            return None
    return StaffProfile.objects.filter(user=user).select_related("jurisdiction").first()


def jurisdiction_of(user) -> Region | None:
    """The division a user works in: their staff profile's jurisdiction; None means everywhere (superusers)."""
    profile = _staff_profile(user)
    return profile.jurisdiction if profile else None


def role_of(user) -> str | None:
    return role_and_jurisdiction_of(user)[0]


def role_and_jurisdiction_of(user) -> tuple[str | None, Region | None]:
    """The user's role (superusers without a profile: city-wide administrators) and jurisdiction."""
    if not user.is_authenticated:
        return None, None
    profile = _staff_profile(user)
    if profile:
        return profile.role, profile.jurisdiction
    return (Role.ADMINISTRATOR if user.is_superuser else None), None


def is_topmost(jurisdiction: Region | None) -> bool:
    """Reaches every division loaded: superusers (no jurisdiction) and staff of the top division (one without a
    parent: the city when only a city is loaded, the province when a province is). Only they see every record
    in the admin and change the shared rules (thresholds, policy, catalogue, risk models): the rules are one set
    for all that is loaded, so a city inside a province no more changes its neighbours' rules than a county does."""
    return jurisdiction is None or jurisdiction.parent_id is None


def within(jurisdiction: Region | None) -> Q:
    """Regions inside (or equal to) a jurisdiction, by division-code prefix."""
    if jurisdiction is None:
        return Q()
    return Q(code__startswith=code_prefix(jurisdiction.code))


BOUNDARY_FIELDS = ("boundary", "boundary_simplified")


def without_boundaries(queryset: QuerySet, *paths: str) -> QuerySet:
    """``queryset`` with the GeoJSON boundaries of the regions at ``paths`` ("town", "town__parent"; "" for the
    regions themselves) left unloaded: for rows that show a division's name or code, not its shape, decoding
    them is most of the work (a county's boundary is tens of kilobytes of JSON, per row)."""
    return queryset.defer(*(f"{path}__{field}" if path else field for path in paths for field in BOUNDARY_FIELDS))


def counties_with_towns() -> list[int]:
    """The county-level divisions holding towns (every enterprise is in a town), by code: the parts the pipeline's
    split stages are cut into, and the counties a run over all enterprises has classed."""
    return list(Region.objects.filter(level=Level.COUNTY, children__isnull=False).distinct().order_by("code").values_list("pk", flat=True))


def lies_within(division: Region | None, jurisdiction: Region) -> bool:
    """``within`` for one division at hand: it is the jurisdiction or lies inside it."""
    return division is not None and division.code.startswith(code_prefix(jurisdiction.code))


def periods_available() -> list:
    return list(RegionSnapshot.objects.order_by("-period").values_list("period", flat=True).distinct())


def latest_period():
    return RegionSnapshot.objects.aggregate(latest=Max("period"))["latest"]


def period_state(period) -> tuple[datetime | None, int | None]:
    """When the period's snapshots last changed and the thresholds they were coloured with: one aggregate."""
    state = RegionSnapshot.objects.filter(period=period).aggregate(changed=Max("computed_at"), thresholds=Max("thresholds_id"))
    return state["changed"], state["thresholds"]


def map_version(*, level: str, period, jurisdiction: Region | None, state=None) -> tuple[str, datetime | None]:
    """What a map response depends on, and when it last changed (``state``: ``period_state(period)`` if known)."""
    changed, thresholds = state or period_state(period)
    key = f"{level}|{period}|{jurisdiction.code if jurisdiction else '*'}|{changed.isoformat() if changed else '-'}|{thresholds}"
    return key, changed


def map_feature_collection(*, level: str, period, jurisdiction: Region | None) -> dict:
    """GeoJSON of the regions of ``level`` inside the jurisdiction with their snapshot for ``period``.

    Regions with a boundary are drawn as their simplified (Multi)Polygon; the others (towns, in the demo)
    as a Point at their label position. Two queries whatever the number of regions.
    """
    regions = Region.objects.filter(within(jurisdiction), level=level).only(
        "code", "name", "name_en", "level", "parent_id", "boundary_simplified", "label_lat", "label_lon"
    )
    snapshots = {
        snapshot.region_id: snapshot
        for snapshot in RegionSnapshot.objects.filter(period=period, region__level=level).filter(
            **({"region__code__startswith": code_prefix(jurisdiction.code)} if jurisdiction else {})
        )
    }
    features = []
    for region in regions:
        geometry = region.boundary_simplified
        if geometry is None and region.label_lat is not None:
            geometry = {"type": "Point", "coordinates": [round(region.label_lon, 5), round(region.label_lat, 5)]}
        snapshot = snapshots.get(region.id)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "code": region.code,
                    "name": region.name,
                    "name_en": region.name_en,
                    "level": region.level,
                    "parent_id": region.parent_id,
                    "label": [region.label_lat, region.label_lon] if region.label_lat is not None else None,
                    "colour": snapshot.colour if snapshot else Colour.TOO_FEW,
                    "risk_share": float(snapshot.risk_share) if snapshot else None,
                    "enterprise_count": snapshot.enterprise_count if snapshot else 0,
                    "risk_count": snapshot.risk_count if snapshot else 0,
                    "index": float(snapshot.index) if snapshot and snapshot.index is not None else None,
                },
            }
        )
    thresholds = thresholds_for_period(period)
    return {
        "type": "FeatureCollection",
        "period": f"{period:%Y-%m}" if period else None,
        "level": level,
        "thresholds": {
            "yellow_from": float(thresholds.yellow_from),
            "orange_from": float(thresholds.orange_from),
            "red_from": float(thresholds.red_from),
            "min_enterprises": thresholds.min_enterprises,
        },
        "features": features,
    }


def thresholds_for_period(period) -> ColourThresholds:
    """The thresholds the period's map was coloured with (those in force now when it has no snapshot)."""
    snapshot = RegionSnapshot.objects.filter(period=period).select_related("thresholds").first() if period else None
    return snapshot.thresholds if snapshot else ColourThresholds.in_force()


MAP_LEVELS = (Level.CITY, Level.COUNTY, Level.TOWN)


def staff_for_dingtalk_userid(userid: str, *, bureau: Region) -> StaffProfile | None:
    """The active staff member a DingTalk userid is mapped to, if they work where the bureau's DingTalk app serves:
    their jurisdiction inside the bureau's, or the bureau inside theirs (city staff opening a county's link).
    None for an unmapped userid, a disabled account or staff of another bureau (DingTalk's 免登, inspections)."""
    if not userid:
        return None
    profile = StaffProfile.objects.filter(dingtalk_userid=userid, user__is_active=True).select_related("user", "jurisdiction").first()
    if profile is None:
        return None
    theirs, bureaus = profile.jurisdiction.code, bureau.code
    if theirs.startswith(code_prefix(bureaus)) or bureaus.startswith(code_prefix(theirs)):
        return profile
    return None


@dataclass(frozen=True)
class BureauContact:
    name: str
    phone: str


LEVEL_DEPTH = {Level.PROVINCE: 0, Level.CITY: 1, Level.COUNTY: 2, Level.TOWN: 3}


def bureau_for(region_id: int | None) -> BureauContact:
    """The bureau named for a division's records (an enterprise's town, a plan's scope): the Bureau of the
    division or of the nearest division above it (a county's own, else its city's, else the province's), else
    the settings' BUREAU_NAME and BUREAU_PHONE. One query from the division's id, whatever the depth."""
    if region_id is not None:
        above = Q(region_id=region_id)
        for depth in range(1, len(LEVEL_DEPTH)):
            above |= Q(**{"region" + "__children" * depth + "__id": region_id})
        bureaus = Bureau.objects.filter(above).values_list("name", "phone", "region__level").distinct()
        nearest = max(bureaus, key=lambda bureau: LEVEL_DEPTH.get(bureau[2], -1), default=None)
        if nearest is not None:
            return BureauContact(nearest[0], nearest[1])
    return BureauContact(settings.BUREAU_NAME, settings.BUREAU_PHONE)
