"""Small pure-Python GeoJSON helpers (no GDAL): simplification, label points, point-in-polygon."""

import math


def _perpendicular_distance(point, start, end) -> float:
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def simplify_line(points: list, tolerance: float) -> list:
    """Douglas–Peucker, iterative so long rings cannot overflow the stack."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        farthest, distance = None, tolerance
        for index in range(first + 1, last):
            d = _perpendicular_distance(points[index], points[first], points[last])
            if d > distance:
                farthest, distance = index, d
        if farthest is not None:
            keep[farthest] = True
            stack.extend([(first, farthest), (farthest, last)])
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def _polygons(geometry: dict) -> list:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    raise ValueError(f"expected a Polygon or MultiPolygon, got {geometry['type']}")


def simplify_geometry(geometry: dict, tolerance: float = 0.002, precision: int = 4) -> dict:
    """A lighter copy of a (Multi)Polygon for the map: rings simplified, tiny rings dropped, rounded."""
    polygons = []
    for polygon in _polygons(geometry):
        rings = []
        for ring in polygon:
            simplified = [[round(x, precision), round(y, precision)] for x, y in simplify_line(ring, tolerance)]
            if len(simplified) >= 4:
                rings.append(simplified)
        if rings:
            polygons.append(rings)
    if not polygons:  # everything smaller than the tolerance: keep the original shape
        return geometry
    return {"type": "MultiPolygon", "coordinates": polygons}


def _ring_area_centroid(ring) -> tuple[float, float, float]:
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    area /= 2
    if area == 0:
        xs, ys = zip(*ring, strict=True)
        return 0.0, sum(xs) / len(xs), sum(ys) / len(ys)
    return area, cx / (6 * area), cy / (6 * area)


def point_in_ring(x: float, y: float, ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def point_in_geometry(lon: float, lat: float, geometry: dict) -> bool:
    for polygon in _polygons(geometry):
        outer, *holes = polygon
        if point_in_ring(lon, lat, outer) and not any(point_in_ring(lon, lat, hole) for hole in holes):
            return True
    return False


def bounding_box(geometry: dict) -> tuple[float, float, float, float]:
    xs = [x for polygon in _polygons(geometry) for x, _ in polygon[0]]
    ys = [y for polygon in _polygons(geometry) for _, y in polygon[0]]
    return min(xs), min(ys), max(xs), max(ys)


def label_point(geometry: dict) -> tuple[float, float]:
    """(lon, lat) for a label: the centroid of the largest polygon, or a point inside it when the
    centroid falls outside (a crescent-shaped county)."""
    largest = max(_polygons(geometry), key=lambda polygon: abs(_ring_area_centroid(polygon[0])[0]))
    _, cx, cy = _ring_area_centroid(largest[0])
    if point_in_geometry(cx, cy, geometry):
        return cx, cy
    xs = [x for x, _ in largest[0]]
    # Scan the horizontal line through the centroid for the midpoint of the widest inside stretch.
    crossings = sorted(
        x1 + (cy - y1) * (x2 - x1) / (y2 - y1)
        for (x1, y1), (x2, y2) in zip(largest[0], largest[0][1:] + largest[0][:1], strict=True)
        if (y1 > cy) != (y2 > cy)
    )
    spans = list(zip(crossings[::2], crossings[1::2], strict=False))
    if not spans:
        return (min(xs) + max(xs)) / 2, cy
    start, end = max(spans, key=lambda span: span[1] - span[0])
    return (start + end) / 2, cy
