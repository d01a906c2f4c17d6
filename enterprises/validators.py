"""Unified social credit code (统一社会信用代码) per GB 32100-2015."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_character(first17: str) -> str:
    """The 18th character of a credit code: 31 − (Σ value×weight mod 31), with 31 written as 0."""
    total = sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return _("A unified social credit code has 18 characters; this one has %(n)d.") % {"n": len(code)}
    bad = sorted({char for char in code if char not in USCC_ALPHABET})
    if bad:
        return _("Characters not allowed in a credit code: %(chars)s (I, O, S, V, Z and lower case are never used).") % {
            "chars": " ".join(bad)
        }
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        return _("The check character is %(got)s but should be %(expected)s: the code is mistyped.") % {
            "got": code[17],
            "expected": expected,
        }
    return None


def validate_uscc(code: str) -> None:
    problem = uscc_problem(code)
    if problem:
        raise ValidationError(problem, code="invalid_uscc")
