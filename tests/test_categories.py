"""监管类别判定: the highest grade an enterprise makes × its class decides its supervision category, its code colour
and the share drawn for spot checks (tightened 100 %, routine 30 %, responsibility 10 %, credit 3 %; ×1.5 red,
×1.2 orange, ×0.8 green, capped at 100 %).
"""

from decimal import Decimal

import pytest

from enterprises.models import Category, Enterprise, RiskClass, SupervisionPolicy
from enterprises.services import enterprises_categorise
from products.models import Grade, Product
from regions.models import Colour

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def graded_product(grade: int) -> Product:
    """A product with its grade in force already set (grading itself is tested in test_grading)."""
    return ProductFactory(grade=grade, computed_grade=grade)


def categorised(enterprise: Enterprise) -> Enterprise:
    enterprises_categorise()
    enterprise.refresh_from_db()
    return enterprise


def enterprise_making(*grades: int, risk: bool) -> Enterprise:
    enterprise = EnterpriseFactory()
    Enterprise.objects.filter(pk=enterprise.pk).update(risk_class=RiskClass.RISK if risk else RiskClass.NON_RISK)
    for grade in grades:
        EnterpriseProductFactory(enterprise=enterprise, product=graded_product(grade))
    return enterprise


@pytest.mark.parametrize(
    ("grade", "risk", "expected"),
    [
        (Grade.HIGH, True, Category.TIGHTENED),
        (Grade.HIGH, False, Category.ROUTINE),
        (Grade.MEDIUM, True, Category.ROUTINE),
        (Grade.MEDIUM, False, Category.RESPONSIBILITY),
        (Grade.LOW, True, Category.RESPONSIBILITY),
        (Grade.LOW, False, Category.CREDIT),
    ],
)
def test_grade_times_class_table_with_default_policy(grade, risk, expected):
    enterprise = categorised(enterprise_making(grade, risk=risk))
    assert enterprise.max_grade == grade
    assert enterprise.category == expected


@pytest.mark.parametrize(("grade", "risk", "expected"), [(Grade.HIGH, True, Category.TIGHTENED), (Grade.LOW, False, Category.CREDIT)])
def test_category_for_reads_the_same_table(grade, risk, expected):
    assert SupervisionPolicy.in_force().category_for(grade, RiskClass.RISK if risk else RiskClass.NON_RISK) == expected


def test_enterprise_making_no_product_counts_as_low_grade():
    assert categorised(enterprise_making(risk=True)).category == Category.RESPONSIBILITY
    enterprise = categorised(enterprise_making(risk=False))
    assert enterprise.max_grade is None
    assert enterprise.category == Category.CREDIT


def test_enterprise_making_only_ungraded_products_counts_as_low_grade():
    enterprise = EnterpriseFactory()
    EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(grade=None))
    assert categorised(enterprise).category == Category.CREDIT


def test_highest_grade_among_several_products_wins():
    enterprise = categorised(enterprise_making(Grade.LOW, Grade.HIGH, Grade.MEDIUM, risk=False))
    assert enterprise.max_grade == Grade.HIGH
    assert enterprise.category == Category.ROUTINE


def test_regraded_product_recategorises_its_makers():
    enterprise = categorised(enterprise_making(Grade.MEDIUM, risk=True))
    assert enterprise.category == Category.ROUTINE
    Product.objects.update(grade=Grade.HIGH)
    assert categorised(enterprise).category == Category.TIGHTENED


def test_edited_supervision_policy_changes_the_category():
    enterprise = categorised(enterprise_making(Grade.LOW, risk=False))
    assert enterprise.category == Category.CREDIT
    SupervisionPolicy.objects.create(low_non_risk=Category.RESPONSIBILITY, reason="no credit category this year")
    assert categorised(enterprise).category == Category.RESPONSIBILITY


def test_categorising_twice_changes_nothing_the_second_time():
    enterprise_making(Grade.HIGH, risk=True)
    enterprise_making(Grade.MEDIUM, risk=False)
    enterprise_making(risk=False)
    first = enterprises_categorise()
    assert (first["changed"], first["key_supervised"]) == (3, 1)
    second = enterprises_categorise()
    assert (second["changed"], second["key_supervised"]) == (0, 1)


def test_key_supervised_enterprises_are_tightened_and_routine():
    enterprise_making(Grade.HIGH, risk=True)  # tightened
    enterprise_making(Grade.HIGH, risk=False)  # routine
    enterprise_making(Grade.MEDIUM, risk=True)  # routine
    enterprise_making(Grade.MEDIUM, risk=False)  # responsibility
    enterprise_making(Grade.LOW, risk=False)  # credit
    assert enterprises_categorise()["key_supervised"] == 3


@pytest.mark.parametrize(
    ("category", "colour"),
    [
        (Category.TIGHTENED, "red"),
        (Category.ROUTINE, "yellow"),
        (Category.RESPONSIBILITY, "blue"),
        (Category.CREDIT, "green"),
        (None, None),
    ],
)
def test_quality_code_colour_follows_the_category(category, colour):
    assert Enterprise(category=category).code_colour == colour


@pytest.mark.parametrize(
    ("category", "region_colour", "ratio"),
    [
        (Category.TIGHTENED, None, "100"),
        (Category.ROUTINE, None, "30"),
        (Category.RESPONSIBILITY, None, "10"),
        (Category.CREDIT, None, "3"),
        (Category.ROUTINE, Colour.RED, "45"),  # 30 × 1.5
        (Category.ROUTINE, Colour.ORANGE, "36"),  # 30 × 1.2
        (Category.ROUTINE, Colour.YELLOW, "30"),  # 30 × 1.0
        (Category.ROUTINE, Colour.GREEN, "24"),  # 30 × 0.8
        (Category.CREDIT, Colour.GREEN, "2.4"),  # 3 × 0.8
        (Category.RESPONSIBILITY, Colour.TOO_FEW, "10"),  # too few to colour: no multiplier
        (Category.TIGHTENED, Colour.RED, "100"),  # 100 × 1.5 capped
        (Category.TIGHTENED, Colour.ORANGE, "100"),  # 100 × 1.2 capped
    ],
)
def test_draw_ratio_scales_with_region_colour_and_is_capped_at_100(category, region_colour, ratio):
    assert SupervisionPolicy.in_force().draw_ratio(category, region_colour) == Decimal(ratio)


def test_draw_ratio_cap_applies_to_edited_ratios():
    SupervisionPolicy.objects.create(ratio_routine=Decimal("80"), reason="crackdown")
    policy = SupervisionPolicy.in_force()
    assert policy.draw_ratio(Category.ROUTINE, Colour.RED) == Decimal("100")  # 80 × 1.5 = 120 → 100
    assert policy.draw_ratio(Category.ROUTINE, Colour.GREEN) == Decimal("64")
