"""Shared fixtures: the real Jiaxing divisions, a small region tree, the cast of users, and factories.

Fixtures build on each other: ``region_tree`` → ``county`` / ``other_county`` / ``town`` → the staff
fixtures (``supervisor``, ``inspector``, ``administrator`` of ``county``; ``outsider`` from ``other_county``).
"""

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.utils import translation

from regions.imports import load_jiaxing
from regions.models import Level, Region, Role

from .factories import (
    EnterpriseFactory,
    EnterpriseProductFactory,
    ProductClassFactory,
    ProductFactory,
    RiskEventFactory,
    SpotCheckResultFactory,
    StaffProfileFactory,
    UserFactory,
)


@pytest.fixture
def english():
    """Messages in English, whatever LANGUAGE_CODE says, for tests that read a rule's message text."""
    with translation.override("en"):
        yield


@pytest.fixture
def client_en(client):
    """A test client whose user chose English with the language switch (pages are Chinese otherwise)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def jiaxing(db) -> Region:
    """The real divisions shipped with the app: Jiaxing city, its 7 counties (with boundaries) and 72 towns."""
    load_jiaxing()
    return Region.objects.get(code="330400")


@dataclass(frozen=True)
class RegionTree:
    """A fictional city with two counties of two towns each (codes outside Jiaxing's, so both can coexist)."""

    city: Region
    county_a: Region
    county_b: Region
    town_a1: Region
    town_a2: Region
    town_b1: Region
    town_b2: Region

    @property
    def towns(self) -> list[Region]:
        return [self.town_a1, self.town_a2, self.town_b1, self.town_b2]


@pytest.fixture
def region_tree(db) -> RegionTree:
    city = Region.objects.create(code="349900", name="测试市", level=Level.CITY)
    county_a = Region.objects.create(code="349901", name="甲区", level=Level.COUNTY, parent=city)
    county_b = Region.objects.create(code="349902", name="乙县", level=Level.COUNTY, parent=city)

    def town(code: str, name: str, county: Region) -> Region:
        return Region.objects.create(code=code, name=name, level=Level.TOWN, parent=county)

    return RegionTree(
        city=city,
        county_a=county_a,
        county_b=county_b,
        town_a1=town("349901001", "甲一街道", county_a),
        town_a2=town("349901002", "甲二镇", county_a),
        town_b1=town("349902001", "乙一镇", county_b),
        town_b2=town("349902002", "乙二镇", county_b),
    )


@pytest.fixture
def county(region_tree) -> Region:
    """The jurisdiction of the supervisor, inspector and administrator fixtures."""
    return region_tree.county_a


@pytest.fixture
def other_county(region_tree) -> Region:
    """A neighbouring jurisdiction: its staff must not see or touch ``county``'s records."""
    return region_tree.county_b


@pytest.fixture
def town(region_tree) -> Region:
    """A town inside ``county``."""
    return region_tree.town_a1


@pytest.fixture
def supervisor(county):
    return StaffProfileFactory(user=UserFactory(username="supervisor"), role=Role.SUPERVISOR, jurisdiction=county).user


@pytest.fixture
def inspector(county):
    return StaffProfileFactory(user=UserFactory(username="inspector"), role=Role.INSPECTOR, jurisdiction=county).user


@pytest.fixture
def administrator(county):
    return StaffProfileFactory(user=UserFactory(username="administrator"), role=Role.ADMINISTRATOR, jurisdiction=county).user


@pytest.fixture
def outsider(other_county):
    """An administrator of another county: every right, the wrong jurisdiction (so a refusal is about jurisdiction)."""
    return StaffProfileFactory(user=UserFactory(username="outsider"), role=Role.ADMINISTRATOR, jurisdiction=other_county).user


# Factories as fixtures, for tests that prefer injection to imports.
@pytest.fixture
def product_class_factory(db):
    return ProductClassFactory


@pytest.fixture
def product_factory(db):
    return ProductFactory


@pytest.fixture
def enterprise_factory(db):
    return EnterpriseFactory


@pytest.fixture
def enterprise_product_factory(db):
    return EnterpriseProductFactory


@pytest.fixture
def risk_event_factory(db):
    return RiskEventFactory


@pytest.fixture
def spot_check_result_factory(db):
    return SpotCheckResultFactory
