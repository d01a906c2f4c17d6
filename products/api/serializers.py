"""Output shapes of the catalogue API: products with their grade factors and grade, checklist items."""

from rest_framework import serializers

from ..models import ChecklistItem, Product


class ChecklistItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChecklistItem
        fields = ["id", "order", "text", "legal_basis"]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    product_class = serializers.CharField(source="product_class.code", read_only=True)
    product_class_name = serializers.CharField(source="product_class.name", read_only=True)
    failure_rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "code",
            "name",
            "name_en",
            "product_class",
            "product_class_name",
            "harm_severity",
            "licence_type",
            "vulnerable_users",
            "failure_rate",
            "failure_sample",
            "computed_grade",
            "override_grade",
            "override_reason",
            "grade",
            "is_active",
        ]
        read_only_fields = fields


class ProductDetailSerializer(ProductSerializer):
    checklist_items = ChecklistItemSerializer(many=True, read_only=True)

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "spot_check_cost", "checklist_items"]
        read_only_fields = fields
