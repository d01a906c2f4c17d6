"""The inspector's phone app (static/js/field.js, the service worker at /sw.js) talks to these, under /api/field/.

- ``GET tasks/``: the caller's open tasks with what the phone keeps for offline use (enterprise, product,
  checklist, officers); refreshed whenever the phone is online.
- ``POST photos/``: one photo of a check in the outbox (multipart), idempotent on submission key + photo id.
- ``POST checks/``: the check itself (JSON), naming its photos, which must have arrived first. 201 stored,
  200 the same check again (the same confirmation), 409 ``key_reused`` (same key, other content: nothing
  overwritten), 409 ``held`` (the task was cancelled or reassigned meanwhile: the check is kept for a
  supervisor, details.held), 409 ``photos_missing`` (send the photos, then the check again).

Session authentication with the CSRF token (the pages' ``csrfmiddlewaretoken``) for the phone; tokens work too.
The rules are fieldwork.services' (field_photo_upload, field_check_submit); these views only translate.
"""

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiRequest, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import ErrorSerializer, error_body
from common.errors import StateConflict
from regions.api.defaults import api_jurisdiction

from ..fieldwork.selectors import officer_field_tasks
from ..fieldwork.services import MAX_PHOTOS, field_check_submit, field_photo_upload
from ..models import Conclusion, ItemOutcome
from ..planning.selectors import tasks_within

CONFLICT = OpenApiResponse(ErrorSerializer, description="key_reused, held (details.held), photos_missing or photo_conflict.")
# The photo part must be an image the server can decode (photo_prepare): the schema names the formats.
PHOTO_ENCODING = {"image": {"contentType": "image/jpeg, image/png, image/webp"}}


class NoteField(serializers.CharField):
    """Free text without NUL characters (PostgreSQL's text holds none): DRF refuses them, and as a pattern
    the schema says so too (drf-spectacular turns a RegexValidator into ``pattern``). The pattern asks for one
    character or more because blank is the schema's other branch (``oneOf``), which "" must match alone."""

    def __init__(self, **kwargs):
        super().__init__(allow_blank=True, required=False, default="", **kwargs)
        no_nul = RegexValidator(r"^[^\x00]+$", message=ProhibitNullCharactersValidator.message)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)] + [no_nul]


class FieldChecklistItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.IntegerField()
    text = serializers.CharField()
    legal_basis = serializers.CharField()


class FieldOfficerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class FieldTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.CharField()
    due_date = serializers.DateField()
    reason = serializers.CharField()
    enterprise = serializers.SerializerMethodField()
    product = serializers.SerializerMethodField()
    checklist = serializers.SerializerMethodField()
    officers = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    def get_enterprise(self, task) -> dict[str, str]:
        enterprise = task.enterprise
        town = enterprise.town
        return {
            "name": enterprise.name,
            "credit_code": enterprise.credit_code,
            "address": enterprise.address,
            "town": town.name if town else "",
            "county": town.parent.name if town and town.parent_id else "",
        }

    def get_product(self, task) -> dict[str, str] | None:
        product = task.product
        if product is None:
            return None
        return {"code": product.code, "name": product.name, "grade": product.get_grade_display() if product.grade else ""}

    @extend_schema_field(FieldChecklistItemSerializer(many=True))
    def get_checklist(self, task):
        items = task.product.checklist_items.all() if task.product_id else []
        return [{"id": item.pk, "order": item.order, "text": item.text, "legal_basis": item.legal_basis} for item in items]

    @extend_schema_field(FieldOfficerSerializer(many=True))
    def get_officers(self, task):
        return [{"id": a.officer_id, "name": a.officer.get_full_name() or a.officer.username} for a in task.assignments.all()]

    def get_urls(self, task) -> dict[str, str]:
        return {
            "detail": reverse("inspections:task-detail", args=[task.pk]),
            "check": reverse("inspections:check-form", args=[task.pk]),
        }


class FieldTaskListView(ListAPIView):
    """The caller's open tasks, with what the phone keeps to work offline."""

    serializer_class = FieldTaskSerializer
    filter_backends = []

    def get_queryset(self):
        return officer_field_tasks(user=self.request.user, jurisdiction=api_jurisdiction(self.request))


@extend_schema_field(OpenApiTypes.BINARY)
class PhotoFileField(serializers.FileField):
    """A file part of the multipart body: the schema says binary (drf-spectacular would say a URL, as a FileField
    reads in a response)."""


class FieldPhotoSerializer(serializers.Serializer):
    submission_key = serializers.UUIDField()
    photo_id = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", help_text="The phone's id of the photo (letters, digits, - and _).")
    image = PhotoFileField(help_text="JPEG, PNG or WebP, at most 10 MB.")


class FieldPhotoReceiptSerializer(serializers.Serializer):
    photo_id = serializers.CharField()
    digest = serializers.CharField(help_text="SHA-256 of the photo as stored (re-encoded).")
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class FieldPhotoView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": OpenApiRequest(FieldPhotoSerializer, encoding=PHOTO_ENCODING)},
        responses={201: FieldPhotoReceiptSerializer, 200: FieldPhotoReceiptSerializer, 409: CONFLICT},
        summary="Send one photo of a check in the outbox",
    )
    def post(self, request):
        data = _valid(FieldPhotoSerializer, request.data)
        try:
            photo, created = field_photo_upload(
                officer=request.user, submission_key=data["submission_key"], photo_id=data["photo_id"], upload=data["image"]
            )
        except StateConflict:
            raise
        except ValidationError as error:  # a bad photo is the image field's problem
            raise serializers.ValidationError({"image": error.messages}) from error
        receipt = {"photo_id": photo.photo_id, "digest": photo.digest, "width": photo.width, "height": photo.height}
        return Response(receipt, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class FieldItemSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    outcome = serializers.ChoiceField(choices=ItemOutcome.choices)
    note = NoteField(max_length=500)


class FieldCheckSerializer(serializers.Serializer):
    submission_key = serializers.UUIDField(help_text="Fixed by the phone when the draft was created.")
    task = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    conclusion = serializers.ChoiceField(choices=Conclusion.choices)
    items = FieldItemSerializer(many=True, max_length=500)
    co_inspector = serializers.IntegerField(min_value=1, max_value=2**31 - 1, allow_null=True)
    checked_on = serializers.DateField()
    lat = serializers.FloatField(min_value=-90, max_value=90, allow_null=True, required=False, default=None)
    lon = serializers.FloatField(min_value=-180, max_value=180, allow_null=True, required=False, default=None)
    accuracy = serializers.FloatField(min_value=0, max_value=1e7, allow_null=True, required=False, default=None)
    position_source = serializers.ChoiceField(choices=["", "gps", "manual"], required=False, default="")
    note = NoteField(max_length=2000)
    photos = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$"), max_length=MAX_PHOTOS, required=False, default=list
    )


class FieldConfirmationSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="The result's number, the same however often the check was sent.")
    task = serializers.IntegerField()
    conclusion = serializers.CharField()
    created = serializers.BooleanField(help_text="False: this is the confirmation of a result stored before.")
    yours = serializers.BooleanField(help_text="False: the task already had a result under another submission (e.g. the co-inspector's).")
    done_url = serializers.CharField()


class FieldCheckView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        request=FieldCheckSerializer,
        responses={201: FieldConfirmationSerializer, 200: FieldConfirmationSerializer, 409: CONFLICT},
        summary="Send a check from the outbox (after its photos)",
    )
    def post(self, request):
        data = _valid(FieldCheckSerializer, request.data)
        task = get_object_or_404(tasks_within(api_jurisdiction(request)).select_related("product"), pk=data["task"])
        key, photo_ids = data["submission_key"], data["photos"]
        payload = {
            **{name: data[name] for name in ("conclusion", "co_inspector", "lat", "lon", "accuracy", "position_source", "note")},
            "checked_on": data["checked_on"].isoformat(),
            "items": [dict(item) for item in data["items"]],
        }
        outcome = field_check_submit(task=task, officer=request.user, submission_key=key, payload=payload, photo_ids=photo_ids)
        if outcome.held is not None:
            held = outcome.held
            message = _("Not stored as the task's result: %(reason)s Your check is kept for the supervisor to decide.") % {
                "reason": held.reason
            }
            return Response(error_body("held", message, {"held": held.pk}), status=status.HTTP_409_CONFLICT)
        result = outcome.result
        body = {
            "number": result.number,
            "task": task.pk,
            "conclusion": result.conclusion,
            "created": outcome.created,
            "yours": str(result.submission_key) == str(key),
            "done_url": reverse("inspections:check-done", args=[task.pk]),
        }
        return Response(body, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
