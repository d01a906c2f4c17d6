"""One error shape for every API failure: ``{"error": {"code": "...", "message": "...", "details": {...}}}``.

``code`` is stable and machine-readable (``invalid``, ``not_authenticated``, ``authentication_failed``,
``permission_denied``, ``not_found``, ``method_not_allowed``, ``throttled``, ``server_error``…); ``message``
is for people, in the request's language; ``details`` holds the per-field messages of a 400 (the field
name as key, a list of messages as value) and is empty otherwise. A Django ``ValidationError`` raised by a
service is a 400 like a serializer's; a ``common.errors.StateConflict`` (the record's state forbids the action)
is a 409 ``conflict`` (or the StateConflict's own code, e.g. ``key_reused``, ``held``).
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import StateConflict

logger = logging.getLogger("jiaxing_qs.api")


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = gettext_lazy("The record is not in a state that allows this.")
    default_code = "conflict"


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "details": details or {}}}


def _as_api_exception(exc: Exception) -> Exception:
    """Django's exceptions as DRF's, without the internals they may carry (a 404 names no model)."""
    if isinstance(exc, StateConflict):
        return Conflict(" ".join(exc.messages), code=getattr(exc, "code", None) or Conflict.default_code)
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def _body_of(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else as_serializer_error(exc)
        return error_body("invalid", _("The request has invalid values; see details."), details)
    if isinstance(exc.detail, dict | list):
        return error_body(exc.default_code, exc.default_detail, {"errors": exc.detail})
    details = {"wait": exc.wait} if isinstance(exc, exceptions.Throttled) and exc.wait is not None else {}
    return error_body(getattr(exc.detail, "code", exc.default_code), exc.detail, details)


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's handling (status, headers, rollback), our body."""
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _body_of(exc)
        return response
    if settings.DEBUG:
        return None  # let Django show the traceback page
    logger.error("Unhandled API error", exc_info=exc, extra={"request": context.get("request")})
    return Response(error_body("server_error", _("Something went wrong on our side; it has been logged.")), status=500)


@csrf_exempt  # a POST to no endpoint is a 404 too, not the CSRF failure page
def api_not_found(request, path=""):
    """A URL under /api/ that names no endpoint: the same 404 body as a missing record, whatever the method."""
    return JsonResponse(error_body("not_found", exceptions.NotFound.default_detail), status=404)


# --- The shape in the OpenAPI document (common.api_schema attaches it to every operation) ------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable: invalid, not_found, conflict…")
    message = serializers.CharField(help_text="For people, in the request's language.")
    details = serializers.DictField(
        child=serializers.JSONField(), help_text="A 400's messages per parameter or field (name → list of messages); else empty."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_RESPONSES = {
    "400": "Invalid query or body (details name each parameter or field).",
    "401": "No or bad credentials.",
    "403": "Not bureau staff, or the role may not use this endpoint.",
    "404": "No such record in your jurisdiction, no such page, or no such URL.",
    "409": "The record is not in a state that allows this.",
}
