"""Output shapes of the inspections API: spot-check results, plans, tasks, rectification orders."""

from rest_framework import serializers

from ..models import InspectionPlan, InspectionTask, RectificationOrder, SpotCheckResult, TaskAssignment


class SpotCheckResultSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = SpotCheckResult
        fields = [
            "id",
            "enterprise",
            "enterprise_name",
            "product",
            "product_name",
            "checked_on",
            "conforming",
            "batch_number",
            "lab_report_number",
            "level",
            "failed_items",
            "source",
            "is_demo",
            "created_at",
        ]
        read_only_fields = fields


class InspectionPlanSerializer(serializers.ModelSerializer):
    scope = serializers.CharField(source="scope.code", read_only=True, help_text="Division code of the plan's scope.")
    scope_name = serializers.CharField(source="scope.name", read_only=True)
    task_count = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, allow_null=True)

    class Meta:
        model = InspectionPlan
        fields = [
            "id",
            "name",
            "scope",
            "scope_name",
            "period_start",
            "period_end",
            "batch_budget",
            "control_share",
            "ratio_tightened",
            "ratio_routine",
            "ratio_responsibility",
            "ratio_credit",
            "multiplier_red",
            "multiplier_orange",
            "multiplier_yellow",
            "multiplier_green",
            "seed",
            "draw_method",
            "status",
            "task_count",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "dispatched_at",
            "is_demo",
        ]
        read_only_fields = fields


class InspectionPlanDetailSerializer(InspectionPlanSerializer):
    class Meta(InspectionPlanSerializer.Meta):
        fields = [*InspectionPlanSerializer.Meta.fields, "staffing_problems"]
        read_only_fields = fields


class OfficerSerializer(serializers.ModelSerializer):
    """An officer assigned to a task (at least two per task, 行政处罚法 Art. 42)."""

    id = serializers.IntegerField(source="officer_id", read_only=True)
    username = serializers.CharField(source="officer.username", read_only=True)
    name = serializers.CharField(source="officer.get_full_name", read_only=True)

    class Meta:
        model = TaskAssignment
        fields = ["id", "username", "name", "position"]
        read_only_fields = fields


class InspectionTaskSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True, allow_null=True)
    product_name = serializers.CharField(source="product.name", read_only=True, allow_null=True)
    officers = OfficerSerializer(source="assignments", many=True, read_only=True)
    result = serializers.CharField(source="result.number", read_only=True, allow_null=True, help_text="Number of the submitted result.")

    class Meta:
        model = InspectionTask
        fields = [
            "id",
            "plan",
            "enterprise",
            "enterprise_name",
            "product",
            "product_name",
            "kind",
            "arm",
            "stratum",
            "draw_rank",
            "reason",
            "due_date",
            "status",
            "order",
            "officers",
            "result",
            "created_at",
            "overdue_flagged_on",
        ]
        read_only_fields = fields


class RectificationOrderSerializer(serializers.ModelSerializer):
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    result = serializers.CharField(source="result.number", read_only=True, help_text="Number of the non-conforming result.")

    class Meta:
        model = RectificationOrder
        fields = [
            "id",
            "number",
            "enterprise",
            "enterprise_name",
            "product",
            "product_name",
            "result",
            "status",
            "ordered_on",
            "rectify_by",
            "reinspect_by",
            "objection_by",
            "objection_filed_on",
            "announced_on",
            "second_reinspect_from",
            "second_reinspect_by",
            "escalated_on",
            "closed_on",
            "overdue_flagged_on",
        ]
        read_only_fields = fields


class RectificationOrderDetailSerializer(RectificationOrderSerializer):
    class Meta(RectificationOrderSerializer.Meta):
        fields = [*RectificationOrderSerializer.Meta.fields, "objection_text"]
        read_only_fields = fields
