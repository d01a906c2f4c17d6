"""Reading rectification orders: whose they are, which are open or overdue, what each waits for now.

The states, deadlines and transitions are the services' (services.py) and the daily job's (daily.py); the
selectors below only read what those recorded, so a page, the map, the API and the dashboard agree:

- **open**: not CLOSED. An ESCALATED order (suspension for rectification) is open: the bureau still has to
  decide on it, and no re-inspection remains.
- **overdue**: flagged by the daily job (no re-inspection confirmed the rectification by ``reinspect_by``) and
  not closed. The flag stays through the announcement and the escalation that may follow: the rectification
  is late until a conforming re-inspection closes the order.
- **the deadline now**: what the order waits for next — the re-inspection by ``reinspect_by`` while RECTIFYING,
  the second re-inspection by ``second_reinspect_by`` once ANNOUNCED; none for an escalated or closed order.
- **the objection window**: open until ``objection_by`` inclusive, unless an objection was filed.
- **the re-inspection**: the order's latest re-inspection task (a later one supersedes the earlier).
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import BooleanField, Case, Count, DateField, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from common.tabular import ExportField
from enterprises.selectors import enterprises_within

from ..models import InspectionTask, OrderStatus, RectificationOrder, SpotCheckResult, TaskKind, TaskStatus

OPEN = ~Q(status=OrderStatus.CLOSED)
OVERDUE = Q(overdue_flagged_on__isnull=False) & OPEN
REINSPECTION_PENDING = (TaskStatus.ASSIGNED, TaskStatus.UNSTAFFED)  # a re-inspection still to be done
FAR_FUTURE = dt.date(9999, 12, 31)  # sorts the orders that wait for no deadline last


def orders_within(jurisdiction) -> QuerySet[RectificationOrder]:
    return RectificationOrder.objects.filter(enterprise__in=enterprises_within(jurisdiction))


def objection_open_q(today: dt.date) -> Q:
    """The 15-day objection window (SAMR Order 18) is still open on ``today``: until ``objection_by`` inclusive
    (services.objection_record refuses from the day after)."""
    return Q(objection_by__gte=today, objection_filed_on__isnull=True)


def deadline_now() -> Case:
    """The day the order's current step falls due (module docstring); NULL when it waits for none."""
    return Case(
        When(status=OrderStatus.RECTIFYING, then=F("reinspect_by")),
        When(status=OrderStatus.ANNOUNCED, then=F("second_reinspect_by")),
        default=Value(None),
        output_field=DateField(),
    )


def orders_with_state(orders: QuerySet[RectificationOrder], *, today: dt.date) -> QuerySet[RectificationOrder]:
    """``orders`` with what a supervisor reads on one line — ``deadline``, ``is_overdue``, ``objection_open`` and the
    current re-inspection (``reinspection_id``, ``reinspection_status``, ``reinspection_due``,
    ``reinspection_overdue``) — and the enterprise, its town and county, the product: one query whatever the
    number of rows. Ordered overdue first, then by the deadline now (none last), then by number."""
    latest = InspectionTask.objects.filter(order=OuterRef("pk"), kind=TaskKind.REINSPECTION).order_by("-id")
    return (
        orders.select_related("enterprise__town__parent", "product")
        .annotate(
            deadline=deadline_now(),
            is_overdue=Case(When(OVERDUE, then=Value(True)), default=Value(False), output_field=BooleanField()),
            objection_open=Case(When(objection_open_q(today), then=Value(True)), default=Value(False), output_field=BooleanField()),
            reinspection_id=Subquery(latest.values("id")[:1]),
            reinspection_status=Subquery(latest.values("status")[:1]),
            reinspection_due=Subquery(latest.values("due_date")[:1]),
            reinspection_overdue=Subquery(latest.values("overdue_flagged_on")[:1]),
        )
        .order_by("-is_overdue", Coalesce("deadline", Value(FAR_FUTURE)), "number")
    )


def orders_open(orders: QuerySet[RectificationOrder]) -> QuerySet[RectificationOrder]:
    return orders.filter(OPEN)


def orders_overdue(orders: QuerySet[RectificationOrder]) -> QuerySet[RectificationOrder]:
    return orders.filter(OVERDUE)


def enterprise_open_orders(enterprise_id: int, *, today: dt.date) -> list[RectificationOrder]:
    """An enterprise's open orders, overdue first (its page shows them): one query."""
    return list(orders_with_state(orders_open(RectificationOrder.objects.filter(enterprise_id=enterprise_id)), today=today))


@dataclass(frozen=True)
class OrderCounts:
    open: int
    overdue: int
    reinspections_pending: int


def order_counts(region) -> OrderCounts:
    """Open and overdue orders and pending re-inspections of the enterprises in ``region`` (the map's panel): two
    queries, whatever the number of orders."""
    orders = orders_within(region).aggregate(open=Count("id", filter=OPEN), overdue=Count("id", filter=OVERDUE))
    pending = (
        InspectionTask.objects.filter(enterprise__in=enterprises_within(region), kind=TaskKind.REINSPECTION)
        .filter(status__in=REINSPECTION_PENDING)
        .count()
    )
    return OrderCounts(open=orders["open"], overdue=orders["overdue"], reinspections_pending=pending)


ORDER_EXPORT = (
    ExportField("number", "整改通知编号"),
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("status", "状态"),
    ExportField("ordered_on", "责令整改日期"),
    ExportField("rectify_by", "整改期限"),
    ExportField("reinspect_by", "复查期限"),
    ExportField("objection_by", "异议期限"),
    ExportField("objection_filed_on", "提出异议日期"),
    ExportField("announced_on", "报请公告日期"),
    ExportField("second_reinspect_by", "再次复查期限"),
    ExportField("escalated_on", "移送处理日期"),
    ExportField("closed_on", "结案日期"),
    ExportField("overdue_flagged_on", "逾期标记日期"),
)


def spot_checks_awaiting_objection_window(enterprise_id: int, today: dt.date) -> set[int]:
    """The enterprise's spot-check results whose outcome is not yet public: the non-conforming field checks whose
    order's 15-day objection window (``objection_by``, inclusive) is still open. Staff pages show them in full;
    the public quality-code page says "结果待确认（异议期内）" instead of the outcome."""
    return set(
        SpotCheckResult.objects.filter(enterprise_id=enterprise_id, check_result__order__objection_by__gte=today).values_list(
            "id", flat=True
        )
    )
