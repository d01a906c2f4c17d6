"""Administrative divisions: Jiaxing's city, 7 counties with boundaries and 72 towns load from the shipped files;
a bad row or feature refuses the whole file, naming the line, and writes nothing.
"""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from regions.geometry import point_in_geometry
from regions.imports import boundaries_import
from regions.models import Level, Region

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

JIAXING_COUNTIES = {"330402", "330411", "330421", "330424", "330481", "330482", "330483"}


def load(*args) -> str:
    out = StringIO()
    call_command("load_divisions", *args, stdout=out)
    return out.getvalue()


def vertices(geometry: dict) -> int:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return sum(len(ring) for polygon in polygons for ring in polygon)


def state() -> list[tuple]:
    return list(Region.objects.order_by("code").values_list("code", "name", "level", "parent__code", "boundary", "label_lat", "label_lon"))


def write_csv(tmp_path, *lines: str):
    path = tmp_path / "divisions.csv"
    path.write_text("\n".join(["code,name,level,parent_code", *lines]) + "\n", encoding="utf-8")
    return path


def square(x: float, y: float, size: float = 0.1) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_load_divisions_loads_jiaxing_city_counties_and_towns():
    printed = load()
    assert Region.objects.filter(level=Level.CITY).count() == 1
    assert set(Region.objects.filter(level=Level.COUNTY).values_list("code", flat=True)) == JIAXING_COUNTIES
    assert Region.objects.filter(level=Level.TOWN).count() == 72
    assert "80 divisions created" in printed
    assert "7 boundaries loaded" in printed


def test_every_town_lies_in_a_jiaxing_county_and_every_county_in_the_city():
    load()
    city = Region.objects.get(level=Level.CITY)
    assert city.code == "330400"
    assert set(Region.objects.filter(level=Level.COUNTY).values_list("parent", flat=True)) == {city.id}
    for town in Region.objects.filter(level=Level.TOWN).select_related("parent"):
        assert town.parent.level == Level.COUNTY
        assert town.code.startswith(town.parent.code)


def test_the_seven_counties_have_boundaries_and_towns_have_none_yet():
    load()
    assert set(Region.objects.filter(boundary__isnull=False).values_list("code", flat=True)) == JIAXING_COUNTIES
    assert not Region.objects.filter(level=Level.TOWN, boundary__isnull=False).exists()


@pytest.mark.parametrize("code", sorted(JIAXING_COUNTIES))
def test_county_label_point_lies_inside_its_boundary(code):
    load()
    county = Region.objects.get(code=code)
    assert point_in_geometry(county.label_lon, county.label_lat, county.boundary)
    assert 120.0 < county.label_lon < 121.5 and 30.2 < county.label_lat < 31.1  # within Jiaxing


@pytest.mark.parametrize("code", sorted(JIAXING_COUNTIES))
def test_simplified_boundary_is_smaller_than_the_original(code):
    load()
    county = Region.objects.get(code=code)
    assert 0 < vertices(county.boundary_simplified) < vertices(county.boundary)
    assert len(json.dumps(county.boundary_simplified)) < len(json.dumps(county.boundary))


def test_loading_twice_changes_nothing():
    load()
    before = state()
    printed = load()
    assert "0 divisions created, 0 updated" in printed
    assert "0 boundaries loaded (7 unchanged)" in printed
    assert state() == before


def test_jiaxing_fixture_provides_the_real_divisions(jiaxing):
    assert jiaxing.code == "330400"
    assert jiaxing.children.count() == 7


def test_csv_with_an_unknown_parent_code_is_refused_naming_the_line_and_writes_nothing(tmp_path):
    path = write_csv(tmp_path, "330400,嘉兴市,city,", "330402,南湖区,county,330400", "330402007,建设街道,town,330499")
    with pytest.raises(CommandError) as refused:
        load("--divisions", str(path))
    assert "line 4: unknown parent region code 330499" in str(refused.value)
    assert Region.objects.count() == 0


@pytest.mark.parametrize("bad_code", ["33040", "3304020071", "33040A"])
def test_csv_with_a_bad_code_is_refused_naming_the_line_and_writes_nothing(tmp_path, bad_code):
    path = write_csv(tmp_path, "330400,嘉兴市,city,", f"{bad_code},南湖区,county,330400")
    with pytest.raises(CommandError) as refused:
        load("--divisions", str(path))
    assert f"line 3: '{bad_code}' is not a 6-, 9- or 12-digit division code" in str(refused.value)
    assert Region.objects.count() == 0


def test_csv_with_a_town_directly_under_a_city_is_refused_and_writes_nothing(tmp_path):
    path = write_csv(tmp_path, "330400,嘉兴市,city,", "330402,南湖区,county,330400", "330400100,某镇,town,330400")
    with pytest.raises(CommandError) as refused:
        load("--divisions", str(path))
    assert "line 4: a town cannot sit under a city" in str(refused.value)
    assert Region.objects.count() == 0


def test_csv_with_a_code_outside_its_parent_is_refused(tmp_path):
    path = write_csv(tmp_path, "330400,嘉兴市,city,", "330502,吴兴区,county,330400")
    with pytest.raises(CommandError, match="line 3: code 330502 does not lie within parent 330400"):
        load("--divisions", str(path))
    assert Region.objects.count() == 0


def test_csv_with_a_duplicate_code_is_refused(tmp_path):
    path = write_csv(tmp_path, "330400,嘉兴市,city,", "330402,南湖区,county,330400", "330402,南湖区,county,330400")
    with pytest.raises(CommandError, match="line 4: code 330402 appears twice"):
        load("--divisions", str(path))


def test_refusal_lists_every_bad_line_and_leaves_existing_divisions_untouched(jiaxing, tmp_path):
    before = state()
    path = write_csv(tmp_path, "330402,改名区,county,330400", "330402999,某镇,town,330499", "33040,坏码,county,330400")
    with pytest.raises(CommandError) as refused:
        load("--divisions", str(path))
    assert "line 3" in str(refused.value) and "line 4" in str(refused.value)
    assert state() == before  # the good rename on line 2 was not written either


def test_csv_adds_a_new_town_to_the_loaded_divisions(jiaxing, tmp_path):
    path = write_csv(tmp_path, "330402999,新设街道,town,330402")
    assert "1 divisions created, 0 updated" in load("--divisions", str(path))
    assert Region.objects.get(code="330402999").parent.code == "330402"


def test_geojson_feature_with_an_unknown_code_is_refused_and_writes_nothing(jiaxing, tmp_path):
    before = state()
    path = tmp_path / "towns.geojson"
    features = [
        {"type": "Feature", "properties": {"code": "330402007"}, "geometry": square(120.75, 30.75)},
        {"type": "Feature", "properties": {"code": "339999999"}, "geometry": square(120.80, 30.80)},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        load("--boundaries", str(path))
    assert "feature 2: unknown region code '339999999'" in str(refused.value)
    assert state() == before  # the good town boundary in feature 1 was not written


def test_geojson_feature_that_is_not_a_polygon_is_refused(jiaxing):
    point = {"type": "FeatureCollection", "features": [{"properties": {"code": "330402"}, "geometry": {"type": "Point"}}]}
    with pytest.raises(ValidationError, match="feature 1: geometry must be a Polygon or MultiPolygon"):
        boundaries_import(point)


def test_town_boundary_imported_later_gets_a_simplified_copy_and_a_label_point(jiaxing):
    report = boundaries_import(
        {"type": "FeatureCollection", "features": [{"properties": {"code": "330402007"}, "geometry": square(120.7, 30.7)}]}
    )
    assert report["changed"] == 1
    town = Region.objects.get(code="330402007")
    assert (town.label_lon, town.label_lat) == pytest.approx((120.75, 30.75))  # centre of the square
    assert town.boundary_simplified["type"] == "MultiPolygon"


def test_point_in_geometry_respects_holes():
    outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    ring = {"type": "Polygon", "coordinates": [outer, hole]}
    assert point_in_geometry(2, 2, ring)
    assert not point_in_geometry(5, 5, ring)
    assert not point_in_geometry(11, 5, ring)


def zhejiang_file_counts() -> dict[str, int]:
    from collections import Counter

    from regions.imports import PROVINCES, read_divisions_csv

    return Counter(row["level"] for row in read_divisions_csv(PROVINCES["zhejiang"][0]))


def test_load_divisions_province_loads_zhejiang_cities_counties_and_towns():
    printed = load("--province", "zhejiang")
    counts = zhejiang_file_counts()
    assert (counts["province"], counts["city"], counts["county"]) == (1, 11, 90)
    assert 1300 < counts["town"] < 1450  # 1,380 in the file
    province = Region.objects.get(level=Level.PROVINCE)
    assert (province.code, province.parent) == ("330000", None)
    assert Region.objects.filter(level=Level.CITY, parent=province).count() == 11
    assert Region.objects.filter(level=Level.COUNTY, parent__parent=province).count() == 90
    assert Region.objects.filter(level=Level.TOWN, parent__parent__parent=province).count() == counts["town"]
    assert f"{sum(counts.values())} divisions created" in printed
    # 87 county shapes (临平区, 钱塘区 and 龙港市 have none in the source) and the 11 city outlines
    assert Region.objects.filter(level=Level.COUNTY, boundary__isnull=False).count() == 87
    assert Region.objects.filter(level=Level.CITY, boundary__isnull=False).count() == 11
    assert not Region.objects.filter(code="330383", boundary__isnull=False).exists()
    for city in Region.objects.filter(level=Level.CITY):
        assert point_in_geometry(city.label_lon, city.label_lat, city.boundary)
        assert 118.0 < city.label_lon < 123.5 and 27.0 < city.label_lat < 31.2  # within Zhejiang


def test_loading_the_province_over_jiaxing_puts_the_city_under_it_and_loading_again_changes_nothing():
    load()
    jiaxing_ids = dict(Region.objects.values_list("code", "id"))
    load("--province", "zhejiang")
    jiaxing = Region.objects.get(code="330400")
    assert jiaxing.parent.code == "330000" and jiaxing.id == jiaxing_ids["330400"]
    assert all(Region.objects.get(code=code).id == pk for code, pk in jiaxing_ids.items())  # same rows: nothing lost
    before = state()
    printed = load("--province", "zhejiang")
    assert "0 divisions created, 0 updated" in printed
    assert "0 boundaries loaded (87 unchanged)" in printed and "0 boundaries loaded (11 unchanged)" in printed
    assert state() == before


def test_a_province_load_that_fails_writes_nothing(monkeypatch, tmp_path):
    from regions import imports

    broken = tmp_path / "broken.geojson"
    feature = {"properties": {"code": "339999"}, "geometry": square(120, 30)}
    broken.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    divisions, (counties, _cities) = imports.PROVINCES["zhejiang"]
    monkeypatch.setitem(imports.PROVINCES, "zhejiang", (divisions, (counties, broken)))
    with pytest.raises(CommandError) as refused:
        load("--province", "zhejiang")
    assert "unknown region code '339999'" in str(refused.value)
    assert Region.objects.count() == 0
