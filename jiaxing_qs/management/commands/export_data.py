import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Model, Q
from django.utils.translation import gettext as _

from common.tabular import ExportField, export_xlsx
from enterprises.imports import ENTERPRISE_EXPORT, PRODUCTS_MADE_EXPORT, RISK_EVENT_EXPORT
from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent
from inspections.fieldwork.selectors import CHECK_RESULT_EXPORT
from inspections.models import CheckResult, InspectionTask, RectificationOrder, SpotCheckResult
from inspections.planning.selectors import TASK_EXPORT
from inspections.rectification.selectors import ORDER_EXPORT
from inspections.spotchecks.imports import SPOT_CHECK_EXPORT
from regions.imports import REGION_SNAPSHOT_EXPORT
from regions.models import RegionSnapshot
from regions.periods import parse_period


@dataclass(frozen=True)
class Export:
    model: type[Model]
    fields: tuple[ExportField, ...]
    town: str  # path to the town's code; the county is its parent
    date: str = ""  # the date --since/--until filter on
    order: tuple[str, ...] = ("pk",)


EXPORTS = {
    "enterprises": Export(Enterprise, ENTERPRISE_EXPORT, "town__code", order=("town__code", "name")),
    "products_made": Export(
        EnterpriseProduct, PRODUCTS_MADE_EXPORT, "enterprise__town__code", order=("enterprise__credit_code", "product__code")
    ),
    "risk_events": Export(RiskEvent, RISK_EVENT_EXPORT, "enterprise__town__code", "occurred_on", ("occurred_on", "pk")),
    "spot_checks": Export(SpotCheckResult, SPOT_CHECK_EXPORT, "enterprise__town__code", "checked_on", ("checked_on", "pk")),
    "tasks": Export(InspectionTask, TASK_EXPORT, "enterprise__town__code", "due_date", ("due_date", "pk")),
    "check_results": Export(CheckResult, CHECK_RESULT_EXPORT, "task__enterprise__town__code", "checked_on", ("checked_on", "pk")),
    "orders": Export(RectificationOrder, ORDER_EXPORT, "enterprise__town__code", "ordered_on", ("ordered_on", "pk")),
    "regions": Export(RegionSnapshot, REGION_SNAPSHOT_EXPORT, "region__code", "period", ("period", "region__code")),
}
ALIASES = {"results": "spot_checks", "events": "risk_events", "rectification_orders": "orders"}


class Command(BaseCommand):
    help = (
        "Export a list to .xlsx with Chinese headers (numbers as numbers, dates as dates): "
        + ", ".join(EXPORTS)
        + " ('results' = spot_checks). 'regions' is the regions with their colours for one period (default the latest)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted([*EXPORTS, *ALIASES]), help="What to export.")
        parser.add_argument("file", type=Path, help="The .xlsx file to write.")
        parser.add_argument("--county", metavar="CODE", help="Only this county-level division (e.g. 330481 海宁市).")
        parser.add_argument("--town", metavar="CODE", help="Only this town or street (e.g. 330481004 马桥街道).")
        parser.add_argument("--since", type=dt.date.fromisoformat, help="Only rows dated on or after YYYY-MM-DD.")
        parser.add_argument("--until", type=dt.date.fromisoformat, help="Only rows dated on or before YYYY-MM-DD.")
        parser.add_argument("--period", type=parse_period, help="regions: the month YYYY-MM (default: the latest computed).")

    def handle(self, *args, kind, file, county=None, town=None, since=None, until=None, period=None, **options):
        if file.suffix.lower() != ".xlsx":
            raise CommandError("the file must end in .xlsx")
        export = EXPORTS[ALIASES.get(kind, kind)]
        queryset = export.model._default_manager.order_by(*export.order)
        if county:
            if export.model is RegionSnapshot:
                queryset = queryset.filter(Q(region__code=county) | Q(region__parent__code=county))
            else:
                queryset = queryset.filter(**{export.town.replace("__code", "__parent__code"): county})
        if town:
            queryset = queryset.filter(**{export.town: town})
        if (since or until) and not export.date:
            raise CommandError(f"{kind} has no date to filter on")
        if since:
            queryset = queryset.filter(**{f"{export.date}__gte": since})
        if until:
            queryset = queryset.filter(**{f"{export.date}__lte": until})
        if export.model is RegionSnapshot and not (since or until):
            period = period or queryset.aggregate(latest=Max("period"))["latest"]
            queryset = queryset.filter(period=period)
        try:
            count = export_xlsx(file, queryset, export.fields, title=kind)
        except OSError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(_("%(count)s rows written to %(file)s") % {"count": f"{count:,}", "file": file})
