"""Read queries: what a user's jurisdiction holds (every page, API and figure starts here), and the counts over
spot checks that the pipeline hands to the regions app."""

import datetime as dt
from collections import Counter, defaultdict

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from enterprises.models import INCIDENT_KINDS, RiskEvent, RiskEventKind
from enterprises.selectors import enterprises_within

from .models import InspectionTask, Notification, NotificationStatus, RectificationOrder, SpotCheckResult, TaskStatus


def tasks_within(jurisdiction) -> QuerySet[InspectionTask]:
    """The tasks of the enterprises in ``jurisdiction`` (None: everywhere)."""
    return InspectionTask.objects.filter(enterprise__in=enterprises_within(jurisdiction))


def officer_open_task(*, officer, enterprise_id: int) -> InspectionTask | None:
    """The officer's earliest open (assigned) task at the enterprise, if any."""
    if not officer.is_authenticated:
        return None
    tasks = InspectionTask.objects.filter(enterprise_id=enterprise_id, assignments__officer=officer, status=TaskStatus.ASSIGNED)
    return tasks.order_by("due_date", "id").first()


def spot_checks_within(jurisdiction) -> QuerySet[SpotCheckResult]:
    return SpotCheckResult.objects.filter(enterprise__in=enterprises_within(jurisdiction))


def orders_within(jurisdiction) -> QuerySet[RectificationOrder]:
    return RectificationOrder.objects.filter(enterprise__in=enterprises_within(jurisdiction))


def town_quality_counts(*, start: dt.date, end: dt.date) -> dict[int, Counter]:
    """Per town, over ``start``..``end`` inclusive: spot checks and passes, rectifications due (one per
    non-conforming result) and overdue, and incidents (complaints, incidents, recalls). Two queries.

    "Overdue" counts the overdue-rectification risk events: the imported ones, and the one the daily check
    records when an order passes its re-inspection deadline (inspections.daily), so an order is overdue by the
    same rule here as on the dashboard (on time = closed by ``reinspect_by``).
    """
    counts: dict[int, Counter] = defaultdict(Counter)
    checks = (
        SpotCheckResult.objects.filter(checked_on__gte=start, checked_on__lte=end)
        .values("enterprise__town_id")
        .annotate(total=Count("id"), passed=Count("id", filter=Q(conforming=True)))
    )
    for row in checks:
        counts[row["enterprise__town_id"]].update(
            spot_checks=row["total"], spot_checks_passed=row["passed"], rectifications_due=row["total"] - row["passed"]
        )
    events = (
        RiskEvent.objects.filter(occurred_on__gte=start, occurred_on__lte=end)
        .values("enterprise__town_id")
        .annotate(
            overdue=Count("id", filter=Q(kind=RiskEventKind.OVERDUE_RECTIFICATION)),
            incidents=Count("id", filter=Q(kind__in=INCIDENT_KINDS)),
        )
    )
    for row in events:
        counts[row["enterprise__town_id"]].update(rectifications_overdue=row["overdue"], incidents=row["incidents"])
    return counts


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
