"""Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last a check character."""

import pytest
from django.core.exceptions import ValidationError

from enterprises.validators import uscc_check_character, uscc_problem, validate_uscc

from .factories import EnterpriseFactory, TownFactory

pytestmark = pytest.mark.usefixtures("english")

# Codes of real, registered enterprises (published on their own sites and in the national register).
REAL_CODES = [
    "91330100799655058B",
    "914403001922038216",
    "9144030071526726XG",
    "91440300708461136T",
    "91310000717866186P",
    "91110000710932515R",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_pass(code):
    assert uscc_problem(code) is None
    validate_uscc(code)


@pytest.mark.parametrize("code", REAL_CODES)
def test_check_character_of_real_codes_is_recomputed(code):
    assert uscc_check_character(code[:17]) == code[17]


def test_check_character_is_zero_when_the_weighted_sum_is_a_multiple_of_31():
    # Σ = 0 → 31 − 0 = 31, written as 0.
    assert uscc_check_character("0" * 17) == "0"


def test_check_character_is_the_31st_symbol_when_the_weighted_sum_leaves_one():
    # Σ = 1×1 → 31 − 1 = 30 → "Y", the last of the 31 symbols.
    assert uscc_check_character("1" + "0" * 16) == "Y"


def test_one_character_typo_fails_naming_the_expected_check_character():
    typo = "91330100798655058B"  # 91330100799655058B with its 11th character 9 → 8
    # The weighted sum drops by 25 (weight of position 11), so the check character moves from B (11) to 5.
    problem = uscc_problem(typo)
    assert problem is not None
    assert "should be 5" in problem
    assert "mistyped" in problem


def test_wrong_check_character_names_the_right_one():
    problem = uscc_problem("91330100799655058C")
    assert "check character is C but should be B" in problem


@pytest.mark.parametrize("code", ["91330100799655058", "91330100799655058BB", ""])
def test_wrong_length_fails(code):
    assert "18 characters" in uscc_problem(code)
    assert f"this one has {len(code)}" in uscc_problem(code)


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z", "b"])
def test_forbidden_letters_fail(letter):
    code = "91330100799655058" + letter
    problem = uscc_problem(code)
    assert "not allowed" in problem
    assert letter in problem


def test_lower_case_code_fails_even_when_upper_case_is_valid():
    assert uscc_problem("9144030071526726xg") is not None


def test_validator_raises_validation_error():
    with pytest.raises(ValidationError):
        validate_uscc("91330100799655058C")


@pytest.mark.django_db
def test_enterprise_full_clean_refuses_an_invalid_code():
    enterprise = EnterpriseFactory.build(credit_code="91330100799655058C", town=TownFactory())
    with pytest.raises(ValidationError) as refused:
        enterprise.full_clean()
    assert "credit_code" in refused.value.message_dict
    assert "should be B" in refused.value.message_dict["credit_code"][0]


@pytest.mark.django_db
def test_enterprise_full_clean_accepts_a_valid_code():
    EnterpriseFactory.build(credit_code=REAL_CODES[0], town=TownFactory()).full_clean()


@pytest.mark.django_db
def test_enterprise_factory_makes_valid_codes():
    town = TownFactory()
    for enterprise in EnterpriseFactory.create_batch(40, town=town):
        enterprise.full_clean()
