"""Rectification where supervisors look: the order list of their jurisdiction (overdue first, with its Excel export),
and the enterprise page's section of open orders (asked for through common.signals.enterprise_page_sections)."""

import io

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from common.tabular import ExportField, export_xlsx
from regions.access import role_required
from regions.models import SUPERVISORY_ROLES

from ..models import TaskStatus
from .forms import OrderFilterForm
from .selectors import ORDER_EXPORT, enterprise_open_orders, orders_with_state, orders_within

PAGE_SIZE = 25
ORDER_LIST_EXPORT = (
    *ORDER_EXPORT[:3],
    ExportField("enterprise__town__parent__name", "所属县（市、区）"),
    ExportField("enterprise__town__name", "所在镇街"),
    *ORDER_EXPORT[3:],
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _labelled(orders):
    """The rows with their re-inspection's state in words (the state is an annotation, not a field with choices)."""
    for order in orders:
        order.reinspection_label = TaskStatus(order.reinspection_status).label if order.reinspection_status else ""
    return orders


def enterprise_orders_section(sender, *, request, enterprise, **kwargs) -> str:
    """The enterprise page's section: its open orders with their deadline, objection window and re-inspection."""
    today = timezone.localdate()
    context = {
        "orders": _labelled(enterprise_open_orders(enterprise.pk, today=today)),
        "enterprise": enterprise,
        "may_list": getattr(request, "role", None) in SUPERVISORY_ROLES,
        "pending": TaskStatus.ASSIGNED,
    }
    return render_to_string("inspections/orders/enterprise_section.html", context, request=request)


def _orders(request):
    """The filter form and the orders it selects, in the user's jurisdiction; none while a filter is invalid."""
    form = OrderFilterForm(request.GET, jurisdiction=request.jurisdiction)
    orders = orders_within(request.jurisdiction)
    orders = form.filter(orders) if form.is_valid() else orders.none()
    return form, orders_with_state(orders, today=timezone.localdate())


@role_required(*SUPERVISORY_ROLES)
def order_list(request):
    """整改通知: the jurisdiction's orders, overdue first then by the deadline now, filtered and paginated."""
    form, orders = _orders(request)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    _labelled(page.object_list)
    context = {"form": form, "page": page, "pending": TaskStatus.ASSIGNED}
    return render(request, "inspections/orders/list.html", context, status=200 if form.is_valid() else 400)


@role_required(*SUPERVISORY_ROLES)
def order_export(request):
    """The list as filtered, every page, as an .xlsx (the admin's order columns with the county and town)."""
    form, orders = _orders(request)
    if not form.is_valid():
        page = Paginator(orders, PAGE_SIZE).get_page(1)
        return render(request, "inspections/orders/list.html", {"form": form, "page": page}, status=400)
    buffer = io.BytesIO()
    export_xlsx(buffer, orders, ORDER_LIST_EXPORT, title="整改通知")
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localdate():%Y%m%d}.xlsx"'
    return response
