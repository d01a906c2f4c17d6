"""Each city's bureau (name and phone) on the pages and cards of its enterprises: the division's own, else the
nearest above it, else the settings' BUREAU_NAME / BUREAU_PHONE."""

import pytest
from django.urls import reverse

from enterprises.codes import code_for
from regions.imports import city_bureaus_ensure
from regions.models import Bureau, Level, Region
from regions.selectors import bureau_for

from .factories import EnterpriseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def province(region_tree):
    """The test city under a province, beside a second city with one county and town."""
    province = Region.objects.create(code="340000", name="测试省", level=Level.PROVINCE)
    region_tree.city.parent = province
    region_tree.city.save()
    other_city = Region.objects.create(code="349800", name="丙市", level=Level.CITY, parent=province)
    other_county = Region.objects.create(code="349801", name="丙区", level=Level.COUNTY, parent=other_city)
    other_town = Region.objects.create(code="349801001", name="丙一街道", level=Level.TOWN, parent=other_county)
    return province, other_city, other_town


def test_without_bureaus_every_division_is_named_by_the_settings(region_tree, settings):
    settings.BUREAU_NAME, settings.BUREAU_PHONE = "设置的市场监督管理局", "0573-12345"
    contact = bureau_for(region_tree.town_a1.id)
    assert (contact.name, contact.phone) == ("设置的市场监督管理局", "0573-12345")
    assert bureau_for(None).name == "设置的市场监督管理局"


def test_a_town_is_named_by_its_citys_bureau_unless_its_county_has_its_own(region_tree, province):
    _province, other_city, other_town = province
    Bureau.objects.create(region=region_tree.city, name="测试市市场监督管理局", phone="0571-1")
    Bureau.objects.create(region=other_city, name="丙市市场监督管理局", phone="0572-2")
    Bureau.objects.create(region=region_tree.county_b, name="乙县市场监督管理局", phone="0573-3")
    assert bureau_for(region_tree.town_a1.id).name == "测试市市场监督管理局"
    assert bureau_for(other_town.id) == bureau_for(other_city.id)
    assert (bureau_for(other_town.id).name, bureau_for(other_town.id).phone) == ("丙市市场监督管理局", "0572-2")
    assert bureau_for(region_tree.town_b1.id).name == "乙县市场监督管理局"


def test_a_province_bureau_names_the_cities_that_have_none(region_tree, province, settings):
    the_province, other_city, other_town = province
    Bureau.objects.create(region=the_province, name="测试省市场监督管理局", phone="0571-0")
    Bureau.objects.create(region=other_city, name="丙市市场监督管理局", phone="0572-2")
    assert bureau_for(region_tree.town_a1.id).name == "测试省市场监督管理局"
    assert bureau_for(other_town.id).name == "丙市市场监督管理局"


def test_loading_a_province_gives_each_city_without_one_a_bureau_and_keeps_edited_ones(region_tree, province):
    _province, other_city, _town = province
    Bureau.objects.create(region=other_city, name="丙市局（已改）", phone="0572-9")
    assert city_bureaus_ensure()["created"] == 1
    assert Bureau.objects.get(region=region_tree.city).name == "测试市市场监督管理局"
    assert Bureau.objects.get(region=other_city).name == "丙市局（已改）"
    assert city_bureaus_ensure()["created"] == 0


def test_the_card_and_the_public_page_name_the_enterprises_city_bureau(client, region_tree, province, inspector, settings):
    _province, other_city, other_town = province
    Bureau.objects.create(region=region_tree.city, name="测试市市场监督管理局", phone="0571-1")
    Bureau.objects.create(region=other_city, name="丙市市场监督管理局", phone="0572-2")
    ours, theirs = EnterpriseFactory(town=region_tree.town_a1), EnterpriseFactory(town=other_town)
    client.force_login(inspector)
    card = client.get(f"/enterprises/{ours.pk}/code/card/").content.decode()
    assert "测试市市场监督管理局" in card and "丙市市场监督管理局" not in card and settings.BUREAU_NAME not in card
    public = client.get(f"/q/{code_for(enterprise=theirs).token}/").content.decode()
    assert "丙市市场监督管理局" in public and "0572-2" in public and "测试市市场监督管理局" not in public


def test_bureaus_in_the_admin_are_limited_to_the_jurisdiction(client, region_tree, province, administrator):
    from django.contrib.auth.models import Permission

    _province, other_city, _town = province
    Bureau.objects.create(region=region_tree.county_a, name="甲区局", phone="1")
    Bureau.objects.create(region=other_city, name="丙市局", phone="2")
    administrator.is_staff = True
    administrator.save()
    administrator.user_permissions.set(Permission.objects.filter(codename__in=["view_bureau", "change_bureau"]))
    client.force_login(administrator)
    page = client.get("/admin/regions/bureau/").content.decode()
    assert "甲区局" in page and "丙市局" not in page


def test_the_public_plan_page_names_the_bureau_of_the_plans_city(client, region_tree, province):
    import datetime as dt
    from decimal import Decimal

    from inspections.models import InspectionPlan, PlanStatus

    _province, other_city, _town = province
    Bureau.objects.create(region=other_city, name="丙市市场监督管理局", phone="0572-2")
    county = other_city.children.get()
    plan = InspectionPlan.objects.create(
        name="丙区年度抽查计划",
        scope=county,
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        batch_budget=1,
        seed="0" * 32,
        status=PlanStatus.DISPATCHED,
        **{f"ratio_{c}": Decimal("10") for c in ("tightened", "routine", "responsibility", "credit")},
        **{f"multiplier_{c}": Decimal("1") for c in ("red", "orange", "yellow", "green")},
    )
    page = client.get(reverse("inspections:public-plan", args=[plan.pk])).content.decode()
    assert "丙市市场监督管理局" in page


def test_the_map_offers_the_levels_below_the_users_jurisdiction(region_tree, province):
    from regions.views import map_levels

    the_province, _city, _town = province
    assert map_levels(the_province) == ["city", "county", "town"]  # a province starts with its cities
    assert map_levels(region_tree.city) == ["county", "town"]
    assert map_levels(region_tree.county_a) == ["county", "town"]  # a county sees itself and its towns
