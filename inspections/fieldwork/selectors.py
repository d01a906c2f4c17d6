from django.db import models

from common.tabular import ExportField
from products.models import ChecklistItem
from regions.selectors import without_boundaries

from ..models import InspectionTask, TaskAssignment, TaskStatus
from ..planning.selectors import tasks_within


def officer_open_task(*, officer, enterprise_id: int) -> InspectionTask | None:
    """The officer's earliest open (assigned) task at the enterprise, if any."""
    if not officer.is_authenticated:
        return None
    tasks = InspectionTask.objects.filter(enterprise_id=enterprise_id, assignments__officer=officer, status=TaskStatus.ASSIGNED)
    return tasks.order_by("due_date", "id").first()


def officer_tasks(*, user, jurisdiction, submitted: bool = False) -> "models.QuerySet[InspectionTask]":
    """An officer's open tasks by due date (so the overdue come first), or their submitted ones, newest first."""
    tasks = tasks_within(jurisdiction).filter(assignments__officer=user).select_related("enterprise__town__parent", "product")
    tasks = without_boundaries(tasks, "enterprise__town", "enterprise__town__parent")
    if submitted:
        return tasks.filter(status=TaskStatus.SUBMITTED).select_related("result").order_by("-result__submitted_at", "-id")
    return tasks.filter(status=TaskStatus.ASSIGNED).order_by("due_date", "id")


def officer_field_tasks(*, user, jurisdiction) -> "models.QuerySet[InspectionTask]":
    """What the phone keeps for offline work: the officer's open tasks with checklists and officers, in 4 queries."""
    return officer_tasks(user=user, jurisdiction=jurisdiction).prefetch_related(
        models.Prefetch("product__checklist_items", queryset=ChecklistItem.objects.order_by("order")),
        models.Prefetch("assignments", queryset=TaskAssignment.objects.select_related("officer").order_by("position")),
    )


CHECK_RESULT_EXPORT = (
    ExportField("number", "结果编号"),
    ExportField("task__enterprise__credit_code", "统一社会信用代码"),
    ExportField("task__enterprise__name", "企业名称"),
    ExportField("task__product__code", "产品代码"),
    ExportField("task__product__name", "产品名称"),
    ExportField("conclusion", "检查结论"),
    ExportField("checked_on", "检查日期"),
    ExportField("submitted_by__username", "检查人员"),
    ExportField("co_inspector__username", "协查人员"),
    ExportField("note", "备注"),
    ExportField("submitted_at", "提交时间"),
)
