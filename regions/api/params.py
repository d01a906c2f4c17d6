"""Query parameters about divisions and periods, which the API of every app takes: a division code of the right
form (a 400 otherwise, not an empty list), a period YYYY-MM. Built on ``common.api_query``'s strict filters."""

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api_query import CodeFilter, blank_refused, described

from ..models import DIVISION_CODE, Level, division_code_validator
from ..periods import MONTH_PATTERN, parse_period
from ..selectors import MAP_LEVELS

PERIOD_SCHEMA = {"type": "string", "pattern": f"^{MONTH_PATTERN}$", "example": "2026-11"}


class DivisionCodeFilter(CodeFilter):
    """A division code; ``pattern`` narrows it to one level's form (models.COUNTY_CODE, TOWN_CODE)."""

    def __init__(self, *args, pattern: str = DIVISION_CODE, **kwargs):
        super().__init__(*args, pattern=pattern, message=division_code_validator.message, **kwargs)


class PeriodFormField(blank_refused(forms.CharField)):
    def to_python(self, value):
        text = super().to_python(value)
        try:
            return parse_period(text) if text else None
        except ValueError as error:  # the message quotes the input, which may hold a "%": pass it as a parameter
            raise DjangoValidationError("%(message)s", code="invalid", params={"message": str(error)}) from None


class PeriodFilter(filters.Filter):
    """A snapshot month, YYYY-MM (``lookup_expr`` gte / lte for a range)."""

    field_class = PeriodFormField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        described(self, PERIOD_SCHEMA)


@extend_schema_field(PERIOD_SCHEMA)
class PeriodField(serializers.Field):
    """A period (a month, stored as its first day) written YYYY-MM, as everywhere else in the app; in a query
    string too (``PeriodQuery``)."""

    def to_representation(self, value):
        return f"{value:%Y-%m}"

    def to_internal_value(self, data):
        try:
            return parse_period(data)
        except (TypeError, ValueError) as error:
            raise serializers.ValidationError(str(error)) from None


class PeriodQuery(serializers.Serializer):
    """``?period=YYYY-MM``: which month's snapshots to show; the latest computed when left out."""

    period = PeriodField(required=False, help_text=_("Which month, YYYY-MM (default: the latest computed)."))


class MapQuery(PeriodQuery):
    """``?level=county|town&period=YYYY-MM`` of the map data."""

    level = serializers.ChoiceField(choices=MAP_LEVELS, default=Level.COUNTY, help_text=_("Which level's regions."))
