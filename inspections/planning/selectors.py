import datetime as dt
import gzip
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from common.tabular import ExportField
from enterprises.selectors import enterprises_within

from ..models import DrawArm, InspectionPlan, InspectionTask, Notification, NotificationStatus, PlanPopulation, PlanStatus, TaskKind
from .assignment import Staffing, assign_officers
from .draw import DRAW_METHOD_PPS, Candidate, Draw, draw_targets, plan_draw, population_csv, population_from_csv


def tasks_within(jurisdiction) -> QuerySet[InspectionTask]:
    """The tasks of the enterprises in ``jurisdiction`` (None: everywhere)."""
    return InspectionTask.objects.filter(enterprise__in=enterprises_within(jurisdiction))


@dataclass
class Preview:
    draw: Draw
    staffing: Staffing


def plan_preview(plan: InspectionPlan, population: list[Candidate] | None = None) -> Preview:
    """What approving would dispatch: the drawn targets, their officers and any task that cannot be staffed."""
    draw = plan_draw(plan, population)
    return Preview(draw=draw, staffing=assign_officers(plan, draw.targets))


def plan_population_csv(plan: InspectionPlan) -> bytes | None:
    """The recorded population of a dispatched plan as published (None when the plan has none recorded)."""
    record = PlanPopulation.objects.filter(plan=plan).only("csv_gzip").first()
    return gzip.decompress(record.csv_gzip) if record else None


def plan_verify(plan: InspectionPlan, population: bytes | None = None) -> list[str]:
    """Re-run the plan's draw on its recorded population (or on ``population``, a published CSV) and compare it
    with the plan's tasks: the differences, none when the draw checks out."""
    data = plan_population_csv(plan) if population is None else population
    if data is None:
        return [_("No population was recorded for this plan (dispatched before populations were kept).")]
    population = population_from_csv(data)
    draw = draw_targets(plan, population)
    expected = {(t.credit_code, t.arm, t.stratum, t.rank) for t in draw.targets}
    actual = set(plan.tasks.filter(kind=TaskKind.SPOT_CHECK).values_list("enterprise__credit_code", "arm", "stratum", "draw_rank"))
    differences = [_("drawn but without a task: %(target)s") % {"target": " ".join(map(str, t))} for t in sorted(expected - actual)]
    differences += [
        _("a task that the draw does not give: %(target)s") % {"target": " ".join(map(str, t))} for t in sorted(actual - expected)
    ]
    if plan.draw_method == DRAW_METHOD_PPS and population_csv(population, draw.probabilities) != data:
        differences.append(_("the published inclusion probabilities are not the ones the draw gives"))
    return differences


def plan_summary(plan: InspectionPlan) -> dict:
    """Counts per arm and status, for the supervisor's plan page and the public page."""
    counts = {arm: plan.tasks.filter(arm=arm).count() for arm in (DrawArm.RISK, DrawArm.CONTROL)}
    return {"risk": counts[DrawArm.RISK], "control": counts[DrawArm.CONTROL], "unstaffed": len(plan.staffing_problems)}


TASK_EXPORT = (
    ExportField("plan__name", "抽查计划"),
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("enterprise__town__parent__name", "所属县（市、区）"),
    ExportField("enterprise__town__name", "所在镇街"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("kind", "任务类型"),
    ExportField("arm", "抽取方式"),
    ExportField("stratum", "分层"),
    ExportField("reason", "抽取原因"),
    ExportField("due_date", "截止日期"),
    ExportField("status", "任务状态"),
    ExportField("created_at", "创建时间"),
)


# The order a plan's notifications are listed in: what needs the supervisor's eye first.
NOTIFICATION_ORDER = {
    NotificationStatus.FAILED: 0,
    NotificationStatus.SENDING: 1,
    NotificationStatus.PENDING: 2,
    NotificationStatus.SENT: 3,
}


def plan_notifications(plan, *, limit: int = 100) -> tuple[list[Notification], dict[str, int]]:
    """A plan's notifications, failed first then being sent, waiting and sent (newest first within each), at most
    ``limit``; and how many there are in each status."""
    counts = dict(Notification.objects.filter(task__plan=plan).values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    order = Case(*(When(status=status, then=Value(rank)) for status, rank in NOTIFICATION_ORDER.items()), output_field=IntegerField())
    rows = (
        Notification.objects.filter(task__plan=plan)
        .select_related("recipient", "task__enterprise")
        .order_by(order, "-created_at", "-id")[:limit]
    )
    return list(rows), counts


def plans_awaiting_dispatch(*, older_than: dt.timedelta) -> list[int]:
    """Plans approved longer ago than ``older_than`` and still not dispatched: their dispatch never reached a
    worker (the broker was down at approval) or its worker died; dispatching is idempotent, so queue it again."""
    cutoff = timezone.now() - older_than
    return list(InspectionPlan.objects.filter(status=PlanStatus.APPROVED, approved_at__lt=cutoff).values_list("pk", flat=True))
