import datetime as dt

from django.db.models import QuerySet

from common.tabular import ExportField
from enterprises.selectors import enterprises_within

from ..models import RectificationOrder, SpotCheckResult


def orders_within(jurisdiction) -> QuerySet[RectificationOrder]:
    return RectificationOrder.objects.filter(enterprise__in=enterprises_within(jurisdiction))


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
