"""Rules are versioned rows: an edit adds a version; the newest version valid at a date is the one in force then."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from enterprises.models import SupervisionPolicy
from products.models import GradingPolicy
from regions.models import ColourThresholds, IndexWeights

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def at(year: int, month: int, day: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, 12))


@pytest.fixture
def history() -> list[ColourThresholds]:
    """Three versions of the colour thresholds: 2024, 2025 and one announced for 2027."""
    return [
        ColourThresholds.objects.create(valid_from=at(2024, 1, 1), reason="first thresholds"),
        ColourThresholds.objects.create(valid_from=at(2025, 7, 1), red_from=Decimal("25"), reason="fewer red towns"),
        ColourThresholds.objects.create(valid_from=at(2027, 1, 1), red_from=Decimal("30"), reason="announced for 2027"),
    ]


@pytest.mark.parametrize("rule", [GradingPolicy, SupervisionPolicy, ColourThresholds, IndexWeights])
def test_a_migrated_database_holds_the_documented_defaults_as_the_first_version(rule):
    (first,) = rule.objects.all()
    assert first.valid_from == timezone.make_aware(dt.datetime(2000, 1, 1))
    assert first.reason
    assert rule.in_force() == first


@pytest.mark.parametrize("rule", [GradingPolicy, SupervisionPolicy, ColourThresholds, IndexWeights])
def test_reading_the_rules_in_force_never_writes(rule, django_assert_num_queries):
    with django_assert_num_queries(1):
        rule.in_force()
    rule.objects.all().delete()
    with pytest.raises(rule.DoesNotExist, match="migrate"):
        rule.in_force()
    assert not rule.objects.exists()


@time_machine.travel(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), tick=False)
def test_in_force_is_the_newest_version_whose_date_has_passed(history):
    assert ColourThresholds.in_force() == history[1]  # the 2027 version is not in force yet


def test_a_past_date_gets_the_version_in_force_then(history):
    assert ColourThresholds.in_force(at(2024, 6, 1)) == history[0]
    assert ColourThresholds.in_force(at(2025, 6, 30)) == history[0]
    assert ColourThresholds.in_force(at(2025, 7, 1)) == history[1]
    assert ColourThresholds.in_force(at(2027, 3, 1)) == history[2]


def test_on_a_business_date_the_version_adopted_during_that_day_applies_to_all_of_it(history):
    assert ColourThresholds.in_force_on(dt.date(2025, 6, 30)) == history[0]
    assert ColourThresholds.in_force_on(dt.date(2025, 7, 1)) == history[1]  # valid from noon, in force all day


def test_a_date_before_every_version_gets_the_oldest_version(history):
    ColourThresholds.objects.exclude(pk__in=[version.pk for version in history]).delete()  # the defaults of 2000
    assert ColourThresholds.in_force(at(2020, 1, 1)) == history[0]


def test_of_two_versions_valid_from_the_same_moment_the_later_saved_wins():
    moment = at(2025, 1, 1)
    ColourThresholds.objects.create(valid_from=moment, reason="typo")
    corrected = ColourThresholds.objects.create(valid_from=moment, red_from=Decimal("22"), reason="corrected")
    assert ColourThresholds.in_force(at(2025, 2, 1)) == corrected
    assert corrected.previous().reason == "typo"


def test_previous_gives_the_version_a_change_was_made_from(history):
    assert history[2].previous() == history[1]
    assert history[1].previous() == history[0]
    assert history[0].previous().reason == "系统默认值 / system defaults"
    assert (history[1].previous().red_from, history[1].red_from) == (Decimal("20"), Decimal("25"))


def test_a_new_version_leaves_the_old_one_in_place(history):
    assert list(ColourThresholds.objects.order_by("valid_from").values_list("red_from", flat=True)) == [20, 20, 25, 30]  # defaults first


# --- A new version must change something ------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [GradingPolicy, SupervisionPolicy, ColourThresholds, IndexWeights])
def test_a_version_identical_to_the_one_it_would_replace_is_refused(rule):
    current = rule.in_force()
    copy = rule(**current.rule_values(), reason="the same again")
    problem = copy.unchanged_problem()
    assert problem is not None and "nothing would change" in problem.messages[0]


def test_a_version_changing_one_value_is_accepted(history):
    changed = ColourThresholds(**history[1].rule_values() | {"red_from": Decimal("26")}, valid_from=at(2026, 1, 1), reason="x")
    assert changed.unchanged_problem() is None


def test_the_comparison_is_with_the_version_in_force_when_the_new_one_starts(history):
    """Identical to the 2025 version but starting in 2027, it would replace the announced one: a change."""
    like_2025 = ColourThresholds(**history[1].rule_values(), valid_from=at(2027, 6, 1), reason="back to 25")
    assert like_2025.unchanged_problem() is None
    assert ColourThresholds(**history[1].rule_values(), valid_from=at(2026, 1, 1), reason="again").unchanged_problem() is not None


def test_the_admin_refuses_an_unchanged_version_and_keeps_the_form(client_en, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")
    client_en.force_login(admin_user)
    before = ColourThresholds.objects.count()
    current = ColourThresholds.in_force()
    data = {name: current.rule_values()[name] for name in ("yellow_from", "orange_from", "red_from", "min_enterprises")}
    now = timezone.localtime()
    page = client_en.post(
        "/admin/regions/colourthresholds/add/",
        data | {"valid_from_0": now.date().isoformat(), "valid_from_1": now.strftime("%H:%M:%S"), "reason": "no change"},
    )
    assert page.status_code == 200 and "nothing would change" in page.content.decode()
    assert ColourThresholds.objects.count() == before
    data["red_from"] = "21"
    page = client_en.post(
        "/admin/regions/colourthresholds/add/",
        data | {"valid_from_0": now.date().isoformat(), "valid_from_1": now.strftime("%H:%M:%S"), "reason": "more red towns"},
    )
    assert page.status_code == 302 and ColourThresholds.objects.count() == before + 1
