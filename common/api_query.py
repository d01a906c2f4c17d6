"""What a list endpoint accepts in its query string, strictly: filters, ordering and pages.

Every parameter is either well formed or a 400 in the one error shape naming it (``common.api_errors``);
nothing is silently ignored, clipped or passed on to the database unchecked (a huge id once reached SQLite
and came back a 500). Each building block also describes itself in the OpenAPI document, from the same
definition that validates it, so that the schema and the API cannot drift apart:

- ``ApiFilterSet`` with ``IdFilter`` (an integer id in range), ``CodeFilter`` (a code of a given form),
  ``TextFilter`` (free text, empty means no filter), ``ChoiceFilter``, ``BooleanFilter`` (``true``/``false``)
  and ``DateFilter`` (``YYYY-MM-DD``). A parameter given empty (``?town=``) is refused, except free text,
  and so is one given twice (``?status=a&status=b``: Django would quietly keep the last).
- ``OrderingFilter``: ``?ordering=name,-id`` over the view's ``ordering_fields`` only; any other is a 400.
- ``BoundedPageNumberPagination``: ``page`` ≥ 1 and ``1 ≤ page_size ≤ max_page_size``, else a 400; a page
  past the end stays a 404.
- ``query_params``: the query string of a plain view, validated by a serializer (its fields document it).
"""

import re

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter as DrfOrderingFilter
from rest_framework.pagination import PageNumberPagination

MAX_ID = 2**63 - 1  # the largest primary key a 64-bit integer column holds (SQLite's INTEGER, PostgreSQL's bigint)
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
NO_NUL = r"^[^\x00]*$"  # neither database stores a NUL character in text; Django's form fields refuse it

BLANK = _("Give a value, or leave the parameter out.")
ONCE = _("Give this parameter once.")


def single_value(query, name: str) -> str | None:
    """The one value of ``name`` in a query string (None when absent); a 400 when it is given more than once."""
    values = query.getlist(name)
    if len(values) > 1:
        raise ValidationError({name: [ONCE]})
    return values[0] if values else None


def blank_refused(field_class):
    """A form field class that refuses a parameter given empty: ``?date_from=`` is a mistake, not "no filter"."""

    class NotBlank(field_class):
        def clean(self, value):
            if value == "":
                raise DjangoValidationError(BLANK, code="blank")
            return super().clean(value)

    NotBlank.__name__ = f"NotBlank{field_class.__name__}"
    return NotBlank


class WholeNumberField(blank_refused(forms.IntegerField)):
    """Digits with an optional minus, nothing else: Python's ``int()`` would also take "1_000", "５" or "7.0"."""

    def to_python(self, value):
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value):
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (JSON's spelling, as the OpenAPI document has it); anything else is an error."""

    default_error_messages = {"invalid": _("Use true or false.")}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value not in ("true", "false"):
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid")
        return value == "true"


def described(filter_, schema: dict):
    """Attach the OpenAPI schema of a filter (drf-spectacular reads it instead of guessing from the model)."""
    if filter_.label:
        schema = {**schema, "description": str(filter_.label)}
    extend_schema_field(schema)(filter_)
    return filter_


class IdFilter(filters.Filter):
    """A record's id: a whole number from 1 to MAX_ID."""

    field_class = WholeNumberField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)
        described(self, ID_SCHEMA)


class CodeFilter(filters.CharFilter):
    """A code of a known form (a division code, a product code): anything else is a 400, not an empty list."""

    field_class = blank_refused(forms.CharField)

    def __init__(self, *args, pattern: str, message=None, **kwargs):
        anchored = f"^(?:{pattern})$"
        super().__init__(*args, strip=False, validators=[RegexValidator(anchored, message)], **kwargs)
        described(self, {"type": "string", "pattern": anchored})


class TextFilter(filters.CharFilter):
    """Free text (a search): any characters but NUL, at most ``max_length``; empty means no filter."""

    def __init__(self, *args, max_length: int = 100, **kwargs):
        super().__init__(*args, max_length=max_length, strip=False, **kwargs)
        described(self, {"type": "string", "maxLength": max_length, "pattern": NO_NUL})


class ChoiceFilter(filters.Filter):
    """One of ``choices`` (a TextChoices' or IntegerChoices' values)."""

    field_class = blank_refused(forms.TypedChoiceField)

    def __init__(self, *args, choices, **kwargs):
        values = [value for value, _label in choices]
        coerce = int if all(isinstance(value, int) for value in values) else str
        super().__init__(*args, choices=choices, coerce=coerce, **kwargs)
        described(self, {"type": "integer" if coerce is int else "string", "enum": values})


class BooleanFilter(filters.Filter):
    field_class = blank_refused(StrictBooleanField)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        described(self, {"type": "boolean"})


class DateFilter(filters.Filter):
    """A calendar date written YYYY-MM-DD (the only form the OpenAPI ``date`` format has)."""

    field_class = blank_refused(forms.DateField)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, input_formats=["%Y-%m-%d"], **kwargs)
        described(self, {"type": "string", "format": "date"})


STRICT_FILTERS = (IdFilter, CodeFilter, TextFilter, ChoiceFilter, BooleanFilter, DateFilter)


class _EachOnce(forms.Form):
    def clean(self):
        for name in self.fields:
            if len(self.data.getlist(name)) > 1:
                self.add_error(name, ONCE)
        return super().clean()


class ApiFilterSet(filters.FilterSet):
    """The filters of an API list. Use only the strict filters above (tests/test_api_params.py checks it)."""

    def get_form_class(self):
        form = super().get_form_class()
        return type(form.__name__, (_EachOnce, form), {})


# --- Ordering ---------------------------------------------------------------------------------------


class OrderingFilter(DrfOrderingFilter):
    """``?ordering=a,-b`` over the view's ``ordering_fields``. DRF drops a field it does not know and sorts by
    the default instead; here that is a 400 listing the fields there are."""

    def ordering_terms(self, view) -> list[str]:
        fields = getattr(view, "ordering_fields", None)
        if not isinstance(fields, list | tuple):
            raise TypeError(f"{type(view).__name__} must list its ordering_fields for the API to validate them")
        return [term for field in fields for term in (field, f"-{field}")]

    def get_ordering(self, request, queryset, view):
        text = single_value(request.query_params, self.ordering_param)
        if text is None:
            return self.get_default_ordering(view)
        allowed = self.ordering_terms(view)
        terms = text.split(",")
        if any(term not in allowed for term in terms):
            message = _("Order by one or more of these, separated by commas: %(terms)s.") % {"terms": ", ".join(allowed)}
            raise ValidationError({self.ordering_param: [message]})
        return terms

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": str(_("Sort by these fields, comma-separated; a leading minus sorts descending.")),
                "schema": {"type": "array", "items": {"type": "string", "enum": self.ordering_terms(view)}, "minItems": 1},
                "style": "form",
                "explode": False,
            }
        ]


# --- Pages -------------------------------------------------------------------------------------------


def _whole_number(request, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    text = single_value(request.query_params, name)
    if text is None:
        return None
    field = WholeNumberField(min_value=minimum, max_value=maximum)
    try:
        return field.clean(text)
    except DjangoValidationError as error:
        raise ValidationError({name: error.messages}) from None


class BoundedPageNumberPagination(PageNumberPagination):
    """``?page=N&page_size=M``: a page from 1, a size from 1 to ``max_page_size``; anything else is a 400 (DRF
    would quietly use its default size or answer 404 "invalid page")."""

    page_size_query_param = "page_size"

    def get_page_size(self, request):
        size = _whole_number(request, self.page_size_query_param, minimum=1, maximum=self.max_page_size)
        return self.page_size if size is None else size

    def paginate_queryset(self, queryset, request, view=None):
        self.requested_page = _whole_number(request, self.page_query_param, minimum=1)
        return super().paginate_queryset(queryset, request, view)

    def get_page_number(self, request, paginator):
        return self.requested_page or 1

    def get_schema_operation_parameters(self, view):
        sizes = {"most": self.max_page_size, "default": self.page_size}
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Page number, from 1; a page past the last is a 404.")),
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Rows per page, from 1 to %(most)d (default %(default)d).") % sizes),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


# --- The query string of a plain view ----------------------------------------------------------------


def query_params(serializer_class, request) -> dict:
    """``request``'s query string validated by ``serializer_class`` (a 400 naming each bad parameter), which the
    view also gives drf-spectacular (``extend_schema(parameters=[serializer_class])``) so the two agree."""
    serializer = serializer_class(data=request.query_params)
    # DRF reads an empty value in a query string as "left out" (its HTML-form rule); here it is an error, as for filters.
    given = {name: single_value(request.query_params, name) for name in serializer.fields}
    blank = [name for name, value in given.items() if value == "" and not getattr(serializer.fields[name], "allow_blank", False)]
    if blank:
        raise ValidationError({name: [BLANK] for name in blank})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
