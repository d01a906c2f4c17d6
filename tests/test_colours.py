"""区域分色: a region's colour is set by its share of risk enterprises (default cut-offs 5 / 10 / 20 %, at least 5 enterprises)."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from regions.models import Colour, ColourThresholds, Level, RegionSnapshot
from regions.periods import period_of
from regions.services import colour_for, region_snapshots_update, town_draw_colours

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def defaults() -> ColourThresholds:
    """The thresholds in force when no administrator has edited them."""
    return ColourThresholds.in_force()


def test_defaults_are_the_documented_cut_offs(defaults):
    assert (defaults.yellow_from, defaults.orange_from, defaults.red_from, defaults.min_enterprises) == (5, 10, 20, 5)


def test_town_turns_red_when_risk_share_reaches_threshold(defaults):
    assert colour_for(20, 100, defaults) == Colour.RED


def test_town_just_below_red_threshold_is_orange(defaults):
    assert colour_for(199, 1000, defaults) == Colour.ORANGE  # 19.9 %


def test_town_turns_orange_when_risk_share_reaches_ten_percent(defaults):
    assert colour_for(10, 100, defaults) == Colour.ORANGE


def test_town_just_below_orange_threshold_is_yellow(defaults):
    assert colour_for(99, 1000, defaults) == Colour.YELLOW  # 9.9 %


def test_town_turns_yellow_when_risk_share_reaches_five_percent(defaults):
    assert colour_for(5, 100, defaults) == Colour.YELLOW


def test_town_just_below_yellow_threshold_is_green(defaults):
    assert colour_for(49, 1000, defaults) == Colour.GREEN  # 4.9 %


def test_town_without_risk_enterprises_is_green(defaults):
    assert colour_for(0, 50, defaults) == Colour.GREEN


def test_share_is_compared_exactly_not_after_rounding(defaults):
    # 2 of 21 is 9.52 %, which reads "10 %" once rounded: still yellow. 1999 of 10000 is 19.99 %: still orange.
    assert colour_for(2, 21, defaults) == Colour.YELLOW
    assert colour_for(1999, 10000, defaults) == Colour.ORANGE


def test_town_with_exactly_the_minimum_of_enterprises_is_coloured(defaults):
    assert colour_for(1, 5, defaults) == Colour.RED  # 20 %
    assert colour_for(0, 5, defaults) == Colour.GREEN


def test_town_with_one_enterprise_fewer_than_the_minimum_is_too_few_to_colour(defaults):
    assert colour_for(0, 4, defaults) == Colour.TOO_FEW
    assert colour_for(4, 4, defaults) == Colour.TOO_FEW


def test_town_without_enterprises_is_too_few_to_colour_never_green(defaults):
    assert colour_for(0, 0, defaults) == Colour.TOO_FEW


def test_town_without_enterprises_is_too_few_even_when_the_minimum_is_zero():
    thresholds = ColourThresholds.objects.create(min_enterprises=0, reason="colour every town")
    assert colour_for(0, 0, thresholds) == Colour.TOO_FEW
    assert colour_for(0, 1, thresholds) == Colour.GREEN


def test_new_thresholds_version_takes_effect(defaults):
    assert colour_for(25, 100, defaults) == Colour.RED
    ColourThresholds.objects.create(
        yellow_from=Decimal("8"), orange_from=Decimal("15"), red_from=Decimal("30"), min_enterprises=3, reason="2026 review"
    )
    edited = ColourThresholds.in_force()
    assert colour_for(25, 100, edited) == Colour.ORANGE
    assert colour_for(7, 100, edited) == Colour.GREEN
    assert colour_for(1, 3, edited) == Colour.RED  # 3 enterprises are now enough to colour


def test_region_snapshots_use_the_thresholds_in_force(region_tree):
    ColourThresholds.in_force()
    period = period_of(dt.date(2026, 5, 31))
    town_counts = {region_tree.town_a1.id: Counter(enterprises=10, risk=2)}
    region_snapshots_update(period=period, town_counts=town_counts)
    assert RegionSnapshot.objects.get(region=region_tree.town_a1, period=period).colour == Colour.RED
    ColourThresholds.objects.create(red_from=Decimal("25"), reason="fewer red towns")
    region_snapshots_update(period=period, town_counts=town_counts)
    assert RegionSnapshot.objects.get(region=region_tree.town_a1, period=period).colour == Colour.ORANGE


def test_the_first_colouring_is_reported_as_such_not_as_no_change(region_tree):
    period = period_of(dt.date(2026, 5, 31))
    town_counts = {region_tree.town_a1.id: Counter(enterprises=10, risk=2)}
    first = region_snapshots_update(period=period, town_counts=town_counts).as_dict()
    regions = RegionSnapshot.objects.filter(period=period).count()
    assert (first["changed"], first["first_coloured"]) == (0, regions)
    assert f"{regions} for the first time" in first["message"]
    again = region_snapshots_update(period=period, town_counts=town_counts).as_dict()
    assert (again["changed"], again["first_coloured"]) == (0, 0) and "first time" not in again["message"]


@pytest.mark.parametrize(
    ("yellow", "orange", "red", "wrong"),
    [
        ("5", "10", "8", "red below orange"),
        ("10", "10", "20", "yellow equal to orange"),
        ("0", "10", "20", "yellow at zero"),
        ("5", "10", "120", "red above 100"),
    ],
)
def test_thresholds_out_of_order_are_refused_with_a_clear_message(yellow, orange, red, wrong):
    thresholds = ColourThresholds(yellow_from=Decimal(yellow), orange_from=Decimal(orange), red_from=Decimal(red), reason=wrong)
    with pytest.raises(ValidationError) as refused:
        thresholds.full_clean()
    message = " ".join(refused.value.messages)
    assert "Thresholds must rise" in message
    assert f"yellow ({yellow})" in message and f"orange ({orange})" in message and f"red ({red})" in message


@pytest.mark.parametrize(("yellow", "orange", "red"), [("5", "10", "8"), ("10", "10", "20"), ("0", "10", "20"), ("5", "10", "120")])
def test_thresholds_out_of_order_are_refused_by_the_database(yellow, orange, red):
    with pytest.raises(IntegrityError), transaction.atomic():
        ColourThresholds.objects.create(yellow_from=Decimal(yellow), orange_from=Decimal(orange), red_from=Decimal(red), reason="bypass")


def test_thresholds_in_order_pass_validation():
    ColourThresholds(yellow_from=Decimal("2.5"), orange_from=Decimal("7.5"), red_from=Decimal("100"), reason="ok").full_clean()


def test_region_colour_rolls_up_from_towns_to_county_and_city(region_tree):
    period = dt.date(2026, 5, 1)
    region_snapshots_update(
        period=period,
        town_counts={
            region_tree.town_a1.id: Counter(enterprises=4, risk=2),  # too few on its own
            region_tree.town_a2.id: Counter(enterprises=6, risk=0),
            region_tree.town_b1.id: Counter(enterprises=20, risk=1),
        },
    )
    colours = dict(RegionSnapshot.objects.filter(period=period).values_list("region__code", "colour"))
    assert colours == {
        "349900": Colour.ORANGE,  # 3 of 30 = 10 %
        "349901": Colour.RED,  # 2 of 10 = 20 %
        "349902": Colour.YELLOW,  # 1 of 20 = 5 %
        "349901001": Colour.TOO_FEW,
        "349901002": Colour.GREEN,
        "349902001": Colour.YELLOW,
        "349902002": Colour.TOO_FEW,  # no enterprises at all
    }


# --- The colour a town's enterprises are drawn with ---------------------------------------------------------

COUNTY, TOWN = 1, 2


@pytest.mark.parametrize(
    ("town", "county", "drawn_with"),
    [
        (Colour.YELLOW, Colour.RED, Colour.YELLOW),  # its own colour
        (Colour.TOO_FEW, Colour.RED, Colour.RED),  # too few to colour: its county's
        (Colour.TOO_FEW, Colour.TOO_FEW, None),  # the county too: no colour, multiplier 1
        (Colour.TOO_FEW, None, None),  # the county not coloured in that snapshot
    ],
)
def test_a_town_is_drawn_with_its_colour_or_its_countys_when_too_small(town, county, drawn_with):
    regions = [(TOWN, COUNTY, Level.TOWN, town)] + ([(COUNTY, None, Level.COUNTY, county)] if county else [])
    assert town_draw_colours(regions) == {TOWN: drawn_with}
