"""产品分级: score = harm (severe 3 / moderate 2 / minor 1) + licence or CCC 1 + vulnerable users 1 + failure rate
(≥10 % 2, ≥5 % 1, only with ≥5 spot checks); high from 5 points, medium from 3, low below (GradingPolicy defaults).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test.utils import CaptureQueriesContext

from inspections.spotchecks.services import products_failure_rates_refresh
from products.models import Grade, GradingPolicy, HarmSeverity, LicenceType, Product
from products.selectors import grade_points
from products.services import product_override_grade, products_grade

from .factories import ProductFactory, SpotCheckResultFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

SEVERE, MODERATE, MINOR = HarmSeverity.SEVERE, HarmSeverity.MODERATE, HarmSeverity.MINOR
CCC, LICENCE, NONE = LicenceType.CCC, LicenceType.PRODUCTION_LICENCE, LicenceType.NONE


def graded(**factors) -> Product:
    product = ProductFactory(**factors)
    products_grade()
    product.refresh_from_db()
    return product


@pytest.mark.parametrize(
    ("harm", "licence", "vulnerable", "expected"),
    [
        (SEVERE, CCC, True, Grade.HIGH),  # 3 + 1 + 1 = 5
        (SEVERE, LICENCE, False, Grade.MEDIUM),  # 3 + 1 = 4
        (SEVERE, NONE, True, Grade.MEDIUM),  # 3 + 1 = 4
        (SEVERE, NONE, False, Grade.MEDIUM),  # 3
        (MODERATE, CCC, True, Grade.MEDIUM),  # 2 + 1 + 1 = 4
        (MODERATE, LICENCE, False, Grade.MEDIUM),  # 2 + 1 = 3
        (MODERATE, NONE, False, Grade.LOW),  # 2
        (MINOR, CCC, True, Grade.MEDIUM),  # 1 + 1 + 1 = 3
        (MINOR, NONE, True, Grade.LOW),  # 1 + 1 = 2
        (MINOR, NONE, False, Grade.LOW),  # 1
    ],
)
def test_product_grade_follows_its_nature_with_default_policy(harm, licence, vulnerable, expected):
    product = graded(harm_severity=harm, licence_type=licence, vulnerable_users=vulnerable)
    assert product.grade == expected
    assert product.computed_grade == expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("10", Grade.HIGH),  # 2 + 1 + 2 = 5
        ("9.99", Grade.MEDIUM),  # 2 + 1 + 1 = 4
        ("5", Grade.MEDIUM),  # 2 + 1 + 1 = 4
        ("4.99", Grade.MEDIUM),  # 2 + 1 = 3
    ],
)
def test_recent_failure_rate_adds_points_at_five_and_ten_percent(rate, expected):
    product = graded(harm_severity=MODERATE, licence_type=LICENCE, failure_rate=Decimal(rate), failure_sample=20)
    assert product.grade == expected


def test_medium_failure_rate_lifts_a_low_product_to_medium():
    assert graded(harm_severity=MODERATE, failure_rate=Decimal("5"), failure_sample=5).grade == Grade.MEDIUM  # 2 + 1
    assert graded(harm_severity=MODERATE, failure_rate=Decimal("4.99"), failure_sample=5).grade == Grade.LOW


def test_failure_rate_counts_only_with_the_minimum_sample():
    # 2 of 4 checks failed (50 %): too few checks to mean anything, no points.
    assert graded(harm_severity=MODERATE, licence_type=CCC, failure_rate=Decimal("50"), failure_sample=4).grade == Grade.MEDIUM
    assert graded(harm_severity=MODERATE, licence_type=CCC, failure_rate=Decimal("50"), failure_sample=5).grade == Grade.HIGH


def test_grade_points_explain_each_factor():
    product = ProductFactory.build(
        harm_severity=SEVERE, licence_type=CCC, vulnerable_users=True, failure_rate=Decimal("12"), failure_sample=8
    )
    points = grade_points(product, GradingPolicy.in_force())
    assert [value for _, value in points] == [3, 1, 1, 2]
    assert "12" in points[-1][0]


def test_the_grade_of_every_score_is_the_same_in_python_and_in_sql():
    """The cut-offs live in GradingPolicy.grade_cut_offs; the SQL form (the pipeline) and the Python form (the
    benchmark, the admin's explanation) read them both."""
    policy = GradingPolicy.in_force()
    products = [
        ProductFactory(harm_severity=harm, licence_type=licence, vulnerable_users=vulnerable)
        for harm in HarmSeverity.values
        for licence in (LicenceType.NONE, LicenceType.CCC)
        for vulnerable in (False, True)
    ]
    products_grade(policy=policy)
    for product in products:
        product.refresh_from_db()
        score = sum(points for _label, points in grade_points(product, policy))
        assert product.computed_grade == policy.grade_for_score(score), product
    assert {policy.grade_for_score(score) for score in range(0, 12)} == set(Grade.values)


def test_edited_grading_policy_changes_the_grade():
    product = graded(harm_severity=SEVERE, licence_type=LICENCE)  # 4 points
    assert product.grade == Grade.MEDIUM
    GradingPolicy.objects.create(high_from_score=4, medium_from_score=2, reason="stricter after recalls")
    products_grade()
    product.refresh_from_db()
    assert product.grade == Grade.HIGH


def test_grading_scores_out_of_order_are_refused():
    with pytest.raises(ValidationError, match="high-risk score must be above"):
        GradingPolicy(high_from_score=3, medium_from_score=3, reason="x").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        GradingPolicy.objects.create(high_from_score=3, medium_from_score=3, reason="x")


def test_override_wins_over_the_computed_grade():
    product = graded(harm_severity=MODERATE)
    product = product_override_grade(product=product, grade=Grade.HIGH, reason="重大召回 / major recall wave")
    assert product.grade == Grade.HIGH
    assert product.computed_grade == Grade.LOW
    products_grade()
    product.refresh_from_db()
    assert product.grade == Grade.HIGH  # a later run keeps the override


def test_override_needs_a_reason_in_the_service():
    product = graded(harm_severity=MODERATE)
    with pytest.raises(ValidationError) as refused:
        product_override_grade(product=product, grade=Grade.HIGH, reason="   ")
    assert "override_reason" in refused.value.message_dict
    product.refresh_from_db()
    assert (product.override_grade, product.grade) == (None, Grade.LOW)


def test_override_needs_a_reason_in_the_model():
    product = ProductFactory.build(override_grade=Grade.HIGH, override_reason="")
    with pytest.raises(ValidationError) as refused:
        product.full_clean()
    assert "override_reason" in refused.value.message_dict


def test_override_without_reason_is_refused_by_the_database():
    product = graded(harm_severity=MODERATE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(override_grade=Grade.HIGH, override_reason="")


def test_clearing_the_override_returns_to_the_computed_grade():
    product = graded(harm_severity=SEVERE, licence_type=CCC, vulnerable_users=True)
    product = product_override_grade(product=product, grade=Grade.LOW, reason="only sold to industry")
    assert product.grade == Grade.LOW
    product = product_override_grade(product=product, grade=None, reason="")
    assert product.grade == Grade.HIGH
    assert (product.override_grade, product.override_reason) == (None, "")


def test_grading_twice_changes_nothing_the_second_time():
    ProductFactory.create_batch(3, harm_severity=SEVERE, licence_type=CCC, vulnerable_users=True)
    ProductFactory.create_batch(2, harm_severity=MINOR)
    assert products_grade()["changed"] == 5
    assert products_grade()["changed"] == 0


def test_grading_reports_only_products_whose_grade_changed():
    low, high = ProductFactory(harm_severity=MINOR), ProductFactory(harm_severity=SEVERE, licence_type=CCC, vulnerable_users=True)
    products_grade()
    Product.objects.filter(pk=low.pk).update(vulnerable_users=True, licence_type=CCC)  # 1 + 1 + 1 = 3: medium now
    assert products_grade()["changed"] == 1
    assert Product.objects.get(pk=high.pk).grade == Grade.HIGH


def test_grading_query_count_does_not_grow_with_products():

    def queries_to_grade(count: int) -> int:
        Product.objects.all().delete()
        ProductFactory.create_batch(count, harm_severity=SEVERE)
        with CaptureQueriesContext(transaction.get_connection()) as captured:
            products_grade()
        return len(captured)

    assert queries_to_grade(3) == queries_to_grade(40)


AS_OF = dt.date(2026, 6, 30)


def test_failure_rate_is_the_share_of_non_conforming_results_in_the_window():
    product = ProductFactory()
    for conforming in [False, True, True, True, True, True]:  # 1 of 6 = 16.67 %
        SpotCheckResultFactory(product=product, conforming=conforming, checked_on=dt.date(2025, 1, 10))
    products_failure_rates_refresh(as_of=AS_OF)
    product.refresh_from_db()
    assert product.failure_sample == 6
    assert product.failure_rate == Decimal("16.67")


def test_failure_rate_ignores_results_outside_the_window():
    product = ProductFactory()
    SpotCheckResultFactory(product=product, conforming=False, checked_on=dt.date(2023, 6, 29))  # a day before the 3 years
    SpotCheckResultFactory(product=product, conforming=False, checked_on=dt.date(2026, 7, 1))  # after as_of
    SpotCheckResultFactory(product=product, conforming=False, checked_on=dt.date(2023, 6, 30))  # first day of the window
    SpotCheckResultFactory(product=product, conforming=True, checked_on=AS_OF)
    products_failure_rates_refresh(as_of=AS_OF)
    product.refresh_from_db()
    assert (product.failure_sample, product.failure_rate) == (2, Decimal("50.00"))


def test_product_without_results_has_no_failure_rate():
    product = ProductFactory(failure_rate=Decimal("30"), failure_sample=10)
    products_failure_rates_refresh(as_of=AS_OF)
    product.refresh_from_db()
    assert (product.failure_sample, product.failure_rate) == (0, Decimal("0"))
