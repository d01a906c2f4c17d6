"""Synthetic enterprises and the products they make, spread over Jiaxing's towns by local industry.

Everything is drawn from one ``random.Random`` in a fixed order (regions and products by code), so the
same seed and date give the same enterprises, codes and positions.
"""

import datetime as dt
import itertools
import math
import random
from dataclasses import dataclass, field

from enterprises.models import Enterprise, EnterpriseProduct, Status
from enterprises.validators import USCC_ALPHABET, uscc_check_character
from products.models import LicenceType, Product
from regions.geometry import bounding_box, point_in_geometry
from regions.models import Level, Region

from .places import (
    BASE_INDUSTRIES,
    CITY_RISK_SHARE,
    COUNTIES,
    INDUSTRY_WORDS,
    NAME_SUFFIXES,
    ROADS,
    STREET_WEIGHT,
    TOWNS,
    TRADE_FIRST,
    TRADE_SECOND,
    CountyProfile,
    TownProfile,
    town_stem,
)

CLOSED_SHARE = 0.02
PRODUCTS_PER_ENTERPRISE = ((1, 45), (2, 30), (3, 17), (4, 8))
LICENCE_EXPIRED_SHARE = 0.03
LICENCE_MISSING_SHARE = 0.01
LAPSED_DAYS = 1460  # an expired licence lapsed up to four years ago, so the monthly trend is not all licence lapses
CCC_CATEGORIES = ("0107", "0109", "0111", "0112", "0117", "0118", "0119", "0201", "0907")
TOWN_SPACING = 0.05  # degrees kept between town centres of a county, so towns read as separate clusters
CLUSTER_SIGMA = (0.016, 0.013)  # spread of a town's enterprises around its centre (lon, lat degrees)
CROWDED_AFTER = 40  # attempts at a free two-character trade name before using three characters


@dataclass
class DemoProduct:
    id: int
    code: str
    name: str
    class_id: int
    harm: int
    licence_type: str
    tags: tuple[str, ...]
    noise: float  # the product's own tendency to fail spot checks
    popularity: float  # how many local enterprises make it, relatively


@dataclass
class DemoTown:
    region: Region
    county: Region
    county_profile: CountyProfile
    profile: TownProfile
    risk: float
    industries: dict[str, float]
    centre: tuple[float, float] = (0.0, 0.0)

    @property
    def place_risk(self) -> float:
        """How much worse than the city this place is, for licence lapses, complaints and the like."""
        return self.county_profile.risk_share / CITY_RISK_SHARE * self.risk


@dataclass
class DemoEnterprise:
    enterprise: Enterprise
    town: DemoTown
    industry: str
    made: list[EnterpriseProduct] = field(default_factory=list)
    products: list[DemoProduct] = field(default_factory=list)


def _weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[key] for key in keys])[0]


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; deterministic)."""
    exact = [total * weight / sum(weights) for weight in weights]
    counts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda index: (counts[index] - exact[index], index))
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


def demo_products(rng: random.Random, tags_by_code: dict[str, list[str]]) -> list[DemoProduct]:
    products = []
    for product in Product.objects.filter(is_active=True).order_by("code"):
        products.append(
            DemoProduct(
                id=product.id,
                code=product.code,
                name=product.name,
                class_id=product.product_class_id,
                harm=product.harm_severity,
                licence_type=product.licence_type,
                tags=tuple(tags_by_code.get(product.code, ())),
                noise=min(2.5, rng.lognormvariate(0, 0.35)),
                popularity=rng.lognormvariate(0, 0.6),
            )
        )
    return products


def _town_centre(rng: random.Random, boundary: dict, taken: list[tuple[float, float]]) -> tuple[float, float]:
    """A random point inside the county, away from the other towns' centres when there is room."""
    west, south, east, north = bounding_box(boundary)
    point = None
    for _attempt in range(300):
        candidate = (rng.uniform(west, east), rng.uniform(south, north))
        if not point_in_geometry(*candidate, boundary):
            continue
        point = point or candidate
        if all(math.hypot(candidate[0] - x, candidate[1] - y) >= TOWN_SPACING for x, y in taken):
            return candidate
    return point or ((west + east) / 2, (south + north) / 2)


def demo_towns(rng: random.Random) -> list[DemoTown]:
    counties = {region.code: region for region in Region.objects.filter(level=Level.COUNTY, code__in=COUNTIES)}
    towns = []
    for town in Region.objects.filter(level=Level.TOWN, parent__code__in=COUNTIES).select_related("parent").order_by("code"):
        county = counties[town.parent.code]
        profile = TOWNS.get(town.name, TownProfile())
        county_profile = COUNTIES[county.code]
        industries = {**BASE_INDUSTRIES}
        for tag, weight in county_profile.industries.items():
            industries[tag] = industries.get(tag, 0) + weight
        for tag, weight in profile.industries.items():
            industries[tag] = industries.get(tag, 0) + weight * 1.5
        risk = profile.risk if profile.risk is not None else min(2.2, max(0.45, rng.lognormvariate(0, 0.35)))
        towns.append(DemoTown(town, county, county_profile, profile, risk, industries))
    taken: dict[str, list] = {}
    for town in towns:
        town.centre = _town_centre(rng, town.county.boundary, taken.setdefault(town.county.code, []))
        taken[town.county.code].append(town.centre)
    return towns


def _town_weight(town: DemoTown) -> float:
    if town.profile.weight is not None:
        return town.profile.weight
    return STREET_WEIGHT if town.region.name.endswith("街道") else 1.0


def town_sizes(towns: list[DemoTown], total: int) -> list[int]:
    """Enterprises per town: each county's share of ``total``, split over its towns by size."""
    county_codes = sorted(COUNTIES)
    county_counts = dict(zip(county_codes, _allocate(total, [COUNTIES[code].share for code in county_codes])))
    sizes = [0] * len(towns)
    for code in county_codes:
        indexes = [index for index, town in enumerate(towns) if town.county.code == code]
        for index, count in zip(indexes, _allocate(county_counts[code], [_town_weight(towns[i]) for i in indexes])):
            sizes[index] = count
    return sizes


def credit_code(rng: random.Random, county_code: str) -> str:
    """统一社会信用代码: 9 (registered by market supervision) 1 (company) + division + 9 characters + check."""
    first17 = "91" + county_code + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return first17 + uscc_check_character(first17)


class _Names:
    """Unique enterprise names: [county] [town] 字号 industry word 有限公司 / 股份有限公司 / 厂."""

    def __init__(self):
        self.taken: set[str] = set()
        self.suffixes = [suffix for suffix, _ in NAME_SUFFIXES]
        self.suffix_weights = [weight for _, weight in NAME_SUFFIXES]

    def make(self, rng: random.Random, town: DemoTown, industry: str) -> str:
        company_words, factory_words = INDUSTRY_WORDS.get(industry, (("实业",), ("制品",)))
        for attempt in itertools.count():
            suffix = rng.choices(self.suffixes, weights=self.suffix_weights)[0]
            word = rng.choice(factory_words if suffix == "厂" else company_words)
            trade = rng.choice(TRADE_FIRST) + rng.choice(TRADE_SECOND)
            if attempt >= CROWDED_AFTER:  # the two-character names are running out: add a third character
                trade += rng.choice(TRADE_SECOND)
            form = rng.random()
            if suffix == "股份有限公司" and form < 0.5:
                prefix = "浙江"
            elif form < 0.35:
                prefix = town.county_profile.name_prefix + town_stem(town.region.name)
            else:
                prefix = town.county_profile.name_prefix
            name = f"{prefix}{trade}{word}{suffix}"
            if name not in self.taken:
                self.taken.add(name)
                return name
        raise AssertionError("unreachable")


def _position(rng: random.Random, town: DemoTown) -> tuple[float, float]:
    """(lon, lat) near the town's centre and inside its county; rounded before the test so it stays inside."""
    boundary = town.county.boundary
    for _attempt in range(40):
        lon = round(rng.gauss(town.centre[0], CLUSTER_SIGMA[0]), 6)
        lat = round(rng.gauss(town.centre[1], CLUSTER_SIGMA[1]), 6)
        if point_in_geometry(lon, lat, boundary):
            return lon, lat
    return town.centre


def _address(rng: random.Random, town: DemoTown) -> str:
    road = rng.choice(ROADS) if rng.random() < 0.8 else town_stem(town.region.name) + rng.choice(("大道", "路", "工业园路"))
    number = int(rng.paretovariate(1.2) * 8) % 2999 + 1
    return f"浙江省嘉兴市{town.county.name}{town.region.name}{road}{number}号"


def _licence(rng: random.Random, product: DemoProduct, town: DemoTown, as_of: dt.date) -> tuple[str, dt.date | None]:
    """A licence or CCC number and expiry; a few expired or missing, more of them where quality is poor."""
    place = min(2.5, max(0.15, town.place_risk**1.5))
    draw = rng.random()
    if product.licence_type == LicenceType.CCC:
        number = f"{as_of.year - rng.randint(0, 4)}{rng.choice(CCC_CATEGORIES)}{rng.randrange(10**8):08d}"
    else:
        number = f"XK{rng.randint(1, 31):02d}-{rng.randint(1, 399):03d}-{rng.randrange(100000):05d}"
    expired, valid = as_of - dt.timedelta(days=rng.randint(1, LAPSED_DAYS)), as_of + dt.timedelta(days=rng.randint(20, 5 * 365))
    if draw < LICENCE_MISSING_SHARE * place:
        return "", None
    if draw < (LICENCE_MISSING_SHARE + LICENCE_EXPIRED_SHARE) * place:
        return number, expired
    return number, valid


def _pick_products(rng: random.Random, town: DemoTown, industry: str, by_tag: dict[str, list[DemoProduct]], everything) -> list:
    """1–4 products: a main one of the enterprise's industry, more of the same kind, now and then one of
    another of the town's main industries."""
    count = rng.choices([n for n, _ in PRODUCTS_PER_ENTERPRISE], weights=[w for _, w in PRODUCTS_PER_ENTERPRISE])[0]
    pool = by_tag.get(industry) or everything
    chosen = rng.choices(pool, weights=[product.popularity for product in pool])
    same_kind = [product for product in pool if product.class_id == chosen[0].class_id]
    if len(same_kind) < 2:
        same_kind = pool
    other_industries = [tag for tag, weight in town.industries.items() if weight >= 1 and tag != industry and tag in by_tag]
    for _attempt in range(count * 3):
        if len(chosen) == count:
            break
        pool = by_tag[rng.choice(other_industries)] if other_industries and rng.random() < 0.15 else same_kind
        product = rng.choices(pool, weights=[product.popularity for product in pool])[0]
        if product not in chosen:
            chosen.append(product)
    return chosen


def generate_enterprises(rng: random.Random, *, total: int, as_of: dt.date, products: list[DemoProduct], towns: list[DemoTown]):
    """Unsaved enterprises (with their products made) for every town, in town order."""
    by_tag: dict[str, list[DemoProduct]] = {}
    for product in products:
        for tag in product.tags:
            by_tag.setdefault(tag, []).append(product)
    names, codes = _Names(), set()
    result = []
    for town, size in zip(towns, town_sizes(towns, total)):
        for _ in range(size):
            industry = _weighted(rng, {tag: weight for tag, weight in town.industries.items() if tag in by_tag} or town.industries)
            code = credit_code(rng, town.county.code)
            while code in codes:
                code = credit_code(rng, town.county.code)
            codes.add(code)
            lon, lat = _position(rng, town)
            made = _pick_products(rng, town, industry, by_tag, products)
            enterprise = Enterprise(
                credit_code=code,
                name=names.make(rng, town, made[0].tags[0] if made[0].tags else industry),  # named after its main product
                address=_address(rng, town),
                town=town.region,
                lat=lat,
                lon=lon,
                status=Status.CLOSED if rng.random() < CLOSED_SHARE else Status.ACTIVE,
                is_demo=True,
            )
            demo = DemoEnterprise(enterprise, town, industry)
            for product in made:
                number, expiry = _licence(rng, product, town, as_of) if product.licence_type != LicenceType.NONE else ("", None)
                demo.products.append(product)
                demo.made.append(
                    EnterpriseProduct(enterprise=enterprise, product_id=product.id, licence_number=number, licence_expiry=expiry)
                )
            result.append(demo)
    return result


def save_enterprises(demos: list[DemoEnterprise], *, batch_size: int = 1000) -> None:
    Enterprise.objects.bulk_create([demo.enterprise for demo in demos], batch_size=batch_size)
    # Rows built before their enterprise had an id pick it up here (Django re-reads a saved related object).
    EnterpriseProduct.objects.bulk_create([row for demo in demos for row in demo.made], batch_size=batch_size)
