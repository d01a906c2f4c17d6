"""Output shapes of the enterprises API: enterprises (list, and detail with products made and risk reasons),
risk events."""

from rest_framework import serializers

from ..models import Enterprise, EnterpriseProduct, RiskEvent, RiskReason


class EnterpriseSerializer(serializers.ModelSerializer):
    town = serializers.CharField(source="town.code", read_only=True, help_text="Division code of the town / street.")
    town_name = serializers.CharField(source="town.name", read_only=True)
    county = serializers.CharField(source="town.parent.code", read_only=True, help_text="Division code of the county.")
    county_name = serializers.CharField(source="town.parent.name", read_only=True)
    code_colour = serializers.CharField(read_only=True, allow_null=True, help_text="Colour of the quality code (一码), from the category.")
    # The risk score is kept by the inspections app (its model is fitted on spot-check results), read here through
    # the reverse relation: null while no model is adopted or before the enterprise's first scoring.
    risk_score = serializers.FloatField(
        source="risk_score.probability",
        read_only=True,
        allow_null=True,
        help_text="Probability that the next spot check is non-conforming, under the adopted risk score model (JQS-SCORE-1).",
    )
    risk_model = serializers.IntegerField(source="risk_score.model_id", read_only=True, allow_null=True, help_text="Version of that model.")
    risk_score_as_of = serializers.DateField(source="risk_score.as_of", read_only=True, allow_null=True)

    class Meta:
        model = Enterprise
        fields = [
            "id",
            "credit_code",
            "name",
            "address",
            "town",
            "town_name",
            "county",
            "county_name",
            "lat",
            "lon",
            "status",
            "risk_class",
            "max_grade",
            "category",
            "code_colour",
            "classified_at",
            "risk_score",
            "risk_model",
            "risk_score_as_of",
            "is_demo",
        ]
        read_only_fields = fields


class ProductMadeSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    grade = serializers.IntegerField(source="product.grade", read_only=True, allow_null=True)
    licence_type = serializers.CharField(source="product.licence_type", read_only=True)

    class Meta:
        model = EnterpriseProduct
        fields = ["product", "product_name", "grade", "licence_type", "licence_number", "licence_expiry"]
        read_only_fields = fields


class RiskReasonSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = RiskReason
        fields = ["kind", "label", "count", "last_on"]
        read_only_fields = fields


class RiskFactorSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    contribution = serializers.FloatField(help_text="Part of the score's logit; with the model's intercept they sum to it.")


class EnterpriseDetailSerializer(EnterpriseSerializer):
    products = ProductMadeSerializer(source="made", many=True, read_only=True)
    risk_reasons = RiskReasonSerializer(many=True, read_only=True)
    risk_factors = serializers.SerializerMethodField(help_text="The factors behind the risk score, largest effect first.")

    class Meta(EnterpriseSerializer.Meta):
        fields = [*EnterpriseSerializer.Meta.fields, "products", "risk_reasons", "risk_factors"]
        read_only_fields = fields

    def get_risk_factors(self, enterprise) -> list[dict]:
        score = getattr(enterprise, "risk_score", None)  # the missing reverse row raises an AttributeError subclass
        return RiskFactorSerializer(score.factors(), many=True).data if score else []


class RiskEventSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True, allow_null=True)

    class Meta:
        model = RiskEvent
        fields = ["id", "enterprise", "enterprise_name", "kind", "occurred_on", "source_ref", "product", "description", "is_demo"]
        read_only_fields = fields
