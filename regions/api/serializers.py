"""Output shapes of the regions API: a region with one period's snapshot, and a region's snapshots."""

from rest_framework import serializers

from ..models import Colour, Region, RegionSnapshot
from .params import PeriodField


class RegionSerializer(serializers.ModelSerializer):
    """A division and its snapshot for the period asked (the latest by default); null when it has none."""

    parent = serializers.CharField(source="parent_code", read_only=True, allow_null=True, help_text="Division code of the parent.")
    period = PeriodField(read_only=True, allow_null=True)
    colour = serializers.ChoiceField(choices=Colour.choices, read_only=True, allow_null=True)
    risk_share = serializers.DecimalField(max_digits=7, decimal_places=4, coerce_to_string=False, read_only=True, allow_null=True)
    enterprise_count = serializers.IntegerField(read_only=True, allow_null=True)
    risk_count = serializers.IntegerField(read_only=True, allow_null=True)
    index = serializers.DecimalField(max_digits=4, decimal_places=1, coerce_to_string=False, read_only=True, allow_null=True)

    class Meta:
        model = Region
        fields = [
            "code",
            "name",
            "name_en",
            "level",
            "parent",
            "label_lat",
            "label_lon",
            "period",
            "colour",
            "risk_share",
            "enterprise_count",
            "risk_count",
            "index",
        ]
        read_only_fields = fields


class RegionDetailSerializer(RegionSerializer):
    reason_counts = serializers.JSONField(read_only=True, allow_null=True)
    index_inputs = serializers.JSONField(read_only=True, allow_null=True)

    class Meta(RegionSerializer.Meta):
        fields = [*RegionSerializer.Meta.fields, "reason_counts", "index_inputs"]
        read_only_fields = fields


class RegionSnapshotSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region.code", read_only=True)
    period = PeriodField(read_only=True)
    risk_share = serializers.DecimalField(max_digits=7, decimal_places=4, coerce_to_string=False, read_only=True)
    index = serializers.DecimalField(max_digits=4, decimal_places=1, coerce_to_string=False, read_only=True, allow_null=True)

    class Meta:
        model = RegionSnapshot
        fields = [
            "region",
            "period",
            "enterprise_count",
            "risk_count",
            "risk_share",
            "colour",
            "reason_counts",
            "index",
            "index_inputs",
            "thresholds",
            "weights",
            "computed_at",
        ]
        read_only_fields = fields
