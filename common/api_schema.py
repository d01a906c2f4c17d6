"""The OpenAPI document says what the API really answers (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] points here).

drf-spectacular describes the successful responses; this adds, to every operation, the failures it can give
in the one error shape (``common.api_errors.ErrorSerializer``): 401 and 403 (every endpoint needs a member of
staff), 404 (a record outside the caller's jurisdiction, a page past the end, an unknown format), and 400 where
the operation takes query parameters or a body. A numeric id in a path is an integer in range, as the
database can hold it (``common.api_query.ID_SCHEMA``), rather than the bare string drf-spectacular infers.
"""

from django.db import models
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model
from drf_spectacular.utils import OpenApiParameter

from .api_errors import ERROR_RESPONSES, ErrorSerializer
from .api_query import ID_SCHEMA

ALWAYS = ("401", "403", "404")


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if "{id}" in self.path and self._has_integer_ids():
            described = OpenApiParameter("id", ID_SCHEMA, OpenApiParameter.PATH, description="The record's id.")
            parameters = [described, *parameters]  # an explicit @extend_schema parameter still wins
        return parameters

    def _has_integer_ids(self) -> bool:
        model = get_view_model(self.view, emit_warnings=False)
        return model is not None and isinstance(model._meta.pk, models.AutoField | models.BigAutoField)

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = {"application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}}
        takes_input = "requestBody" in operation or any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
        responses = operation.setdefault("responses", {})
        for status in (*ALWAYS, "400") if takes_input else ALWAYS:
            responses.setdefault(status, {"description": ERROR_RESPONSES[status], "content": error})
        return operation
