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


class EnterpriseDetailSerializer(EnterpriseSerializer):
    products = ProductMadeSerializer(source="made", many=True, read_only=True)
    risk_reasons = RiskReasonSerializer(many=True, read_only=True)

    class Meta(EnterpriseSerializer.Meta):
        fields = [*EnterpriseSerializer.Meta.fields, "products", "risk_reasons"]
        read_only_fields = fields


class RiskEventSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True, allow_null=True)

    class Meta:
        model = RiskEvent
        fields = ["id", "enterprise", "enterprise_name", "kind", "occurred_on", "source_ref", "product", "description", "is_demo"]
        read_only_fields = fields
