"""Risk score models over the API: every version with its coefficients and held-out quality, and their adoption
(POST ``/api/risk-models/<id>/adopt/`` with a reason) by city-level supervisors or administrators, audited as on
the page."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from common.api_errors import ERROR_RESPONSES, ErrorSerializer
from regions.api.defaults import api_jurisdiction

from ..models import RiskModel
from ..scoring.services import risk_model_adopt


class RiskModelSerializer(serializers.ModelSerializer):
    adopted_by = serializers.CharField(source="adopted_by.username", read_only=True, allow_null=True)

    class Meta:
        model = RiskModel
        fields = [
            "id",
            "method",
            "as_of",
            "status",
            "features",
            "intercept",
            "coefficients",
            "means",
            "scales",
            "training_from",
            "training_to",
            "training_rows",
            "training_positives",
            "holdout_from",
            "holdout_to",
            "holdout_rows",
            "holdout_positives",
            "auc",
            "lift_at_20",
            "top_half_share",
            "calibration",
            "message",
            "fitted_at",
            "adopted_by",
            "adopted_at",
            "adoption_reason",
        ]
        read_only_fields = fields


@extend_schema_field({"type": "string", "maxLength": 500, "pattern": r"^[^\x00]*[^\x00\s][^\x00]*$"})
class ReasonField(serializers.CharField):
    """A string (not a number or a boolean) that is not only white space, without NUL; its length counted as sent
    (DRF would count it stripped, so that the documented maxLength and the check would disagree)."""

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):  # DRF would take 7 or true as "7", "True"; the schema says a string
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not value.strip():
            self.fail("blank")
        return value


class AdoptionSerializer(serializers.Serializer):
    reason = ReasonField(max_length=500, help_text="Why the model is adopted (kept in its history).")


class RiskModelViewSet(ReadOnlyModelViewSet):
    """Risk score model versions, newest first. A model is city-wide: every member of staff may read them."""

    serializer_class = RiskModelSerializer
    queryset = RiskModel.objects.select_related("adopted_by")
    ordering_fields = ["as_of", "id", "auc"]
    ordering = ["-as_of", "-id"]

    def get_queryset(self):
        api_jurisdiction(self.request)  # staff only, as every list
        return super().get_queryset()

    @extend_schema(
        request=AdoptionSerializer,
        responses={200: RiskModelSerializer, 409: OpenApiResponse(ErrorSerializer, description=ERROR_RESPONSES["409"])},
    )
    @action(detail=True, methods=["post"])
    def adopt(self, request, pk=None):
        """Adopt this fitted model: the draws use it from the next plan on, and every enterprise is scored with it."""
        model = self.get_object()
        payload = AdoptionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            risk_model_adopt(model=model, adopted_by=request.user, reason=payload.validated_data["reason"].strip())
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        model.refresh_from_db()
        return Response(RiskModelSerializer(model).data, status=status.HTTP_200_OK)
