"""Inspection plans: create with the policy's ratios and a fresh seed, preview the draw, approve, dispatch.

Approval only changes the plan's state and queues the dispatch (on commit). The dispatch — a Celery task —
draws the targets, staffs them and creates the tasks in one transaction, then writes one notification per
officer and task and queues their sending. Every step is idempotent: tasks are unique per plan and
enterprise, assignments per task and officer, notifications per once-only key, and a plan whose tasks exist
is never drawn again, so re-running a dispatch after a crash creates nothing twice.
"""

import datetime as dt
import gzip
import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common.queue import queue_each_on_commit, queue_on_commit
from enterprises.models import DRAW_RATIO_FIELDS, SupervisionPolicy
from regions.models import Level, Region, RegionSnapshot

from ..models import (
    InspectionPlan,
    InspectionTask,
    Notification,
    NotificationStatus,
    PlanPopulation,
    PlanStatus,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from ..notifications import channel_for, unsent
from ..scoring.selectors import adopted_risk_model
from .draw import (
    DRAW_METHOD,
    DRAW_METHOD_PPS,
    Candidate,
    Draw,
    draw_targets,
    plan_population,
    population_csv,
)
from .selectors import plan_preview


@transaction.atomic
def plan_create(
    *, name: str, scope: Region, period_start: dt.date, period_end: dt.date, batch_budget: int, created_by, **overrides
) -> InspectionPlan:
    """A draft plan with the draw ratios of the supervision policy in force (editable per plan) and a new seed;
    drawn by JQS-DRAW-2 with the adopted risk score model, by JQS-DRAW-1 while none is adopted."""
    if scope.level not in (Level.PROVINCE, Level.CITY, Level.COUNTY):
        raise ValidationError({"scope": _("A plan covers a county, a city or a province.")})
    policy = SupervisionPolicy.in_force()
    values = {field: getattr(policy, field) for field in DRAW_RATIO_FIELDS} | overrides
    model = adopted_risk_model()
    plan = InspectionPlan(
        name=name,
        scope=scope,
        period_start=period_start,
        period_end=period_end,
        batch_budget=batch_budget,
        seed=secrets.token_hex(16),
        draw_method=DRAW_METHOD_PPS if model else DRAW_METHOD,
        risk_model=model,
        # Fixed now, so the dispatch draws with the colours the supervisor previewed.
        snapshot_period=RegionSnapshot.objects.order_by("-period").values_list("period", flat=True).first(),
        created_by=created_by,
        **values,
    )
    plan.full_clean()
    plan.save()
    return plan


@transaction.atomic
def plan_approve(*, plan: InspectionPlan, approved_by) -> InspectionPlan:
    """Approve a draft plan; its dispatch is queued once this transaction commits."""
    plan = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != PlanStatus.DRAFT:
        raise ValidationError(_("Only a draft plan can be approved; this one is %(status)s.") % {"status": plan.get_status_display()})
    plan.status = PlanStatus.APPROVED
    plan.approved_by = approved_by
    plan.approved_at = timezone.now()
    plan.save(update_fields=["status", "approved_by", "approved_at"])
    queue_on_commit("inspections.tasks.dispatch_plan", plan.pk)
    return plan


def _create_tasks(plan: InspectionPlan) -> None:
    """Draw, staff and create the plan's tasks and assignments (once: skipped when the tasks exist)."""
    if plan.tasks.exists():
        return
    population = plan_population(plan)
    preview = plan_preview(plan, population)
    population_record(plan, population, preview.draw)
    staffed = preview.staffing.officers
    with translation.override(settings.LANGUAGE_CODE):  # the stored text is in the site language
        reasons = [target.reason for target in preview.draw.targets]
    InspectionTask.objects.bulk_create(
        [
            InspectionTask(
                plan=plan,
                enterprise_id=target.enterprise_id,
                product_id=target.product_id,
                kind=TaskKind.SPOT_CHECK,
                arm=target.arm,
                stratum=target.stratum,
                draw_rank=target.rank,
                draw_key=target.key,
                inclusion_probability=target.inclusion_probability,
                reason=reason[:300],
                reason_params=target.reason_params,
                due_date=plan.period_end,
                status=TaskStatus.ASSIGNED if target.enterprise_id in staffed else TaskStatus.UNSTAFFED,
            )
            for target, reason in zip(preview.draw.targets, reasons, strict=True)
        ],
        ignore_conflicts=True,
    )
    task_of = dict(plan.tasks.values_list("enterprise_id", "id"))
    TaskAssignment.objects.bulk_create(
        [
            TaskAssignment(task_id=task_of[enterprise_id], officer_id=officer_id, position=position, draw_key=key)
            for enterprise_id, officers in staffed.items()
            for position, (officer_id, key) in enumerate(officers, start=1)
        ],
        ignore_conflicts=True,
    )
    plan.staffing_problems = preview.staffing.problems
    plan.save(update_fields=["staffing_problems"])


def population_record(plan: InspectionPlan, population: list[Candidate], draw: Draw | None = None) -> None:
    """Keep the population the plan's draw was run on (published on the plan's public page), with every
    enterprise's inclusion probability under JQS-DRAW-2."""
    pps = plan.draw_method == DRAW_METHOD_PPS
    data = population_csv(population, (draw or draw_targets(plan, population)).probabilities if pps else None)
    PlanPopulation.objects.update_or_create(
        plan=plan,
        defaults={"csv_gzip": gzip.compress(data), "sha256": hashlib.sha256(data).hexdigest(), "enterprise_count": len(population)},
    )


def task_notifications(tasks) -> list[Notification]:
    """One dispatch notification per officer of each task, in the channel of the enterprise's bureau."""
    notifications = []
    for task in tasks:
        officers = [assignment.officer for assignment in task.assignments.all()]
        channel = channel_for(task.enterprise.town)
        for officer in officers:
            partners = "、".join(o.get_full_name() or o.username for o in officers if o.pk != officer.pk)
            kind = task.get_kind_display()
            notifications.append(
                Notification(
                    task=task,
                    recipient=officer,
                    channel=channel,
                    purpose="dispatch",
                    dedupe_key=f"dispatch:{task.pk}:{officer.pk}",
                    title=_("New %(kind)s task: %(enterprise)s") % {"kind": kind, "enterprise": task.enterprise.name},
                    body=_("%(enterprise)s (%(town)s), product: %(product)s, due %(due)s, with %(partners)s.")
                    % {
                        "enterprise": task.enterprise.name,
                        "town": task.enterprise.town.name,
                        "product": task.product.name if task.product else "—",
                        "due": task.due_date.isoformat(),
                        "partners": partners,
                    },
                )
            )
    return notifications


def plan_dispatch(*, plan_id: int) -> list[int]:
    """Dispatch an approved plan (idempotent); returns the ids of notifications still to send."""
    with transaction.atomic():
        plan = InspectionPlan.objects.select_for_update().get(pk=plan_id)
        if plan.status not in (PlanStatus.APPROVED, PlanStatus.DISPATCHED):
            raise ValidationError(_("Only an approved plan can be dispatched."))
        _create_tasks(plan)
        tasks = (
            plan.tasks.filter(status=TaskStatus.ASSIGNED)
            .select_related("enterprise__town__parent", "product")
            .prefetch_related("assignments__officer")
        )
        Notification.objects.bulk_create(task_notifications(tasks), ignore_conflicts=True)
        if plan.status != PlanStatus.DISPATCHED:
            plan.status = PlanStatus.DISPATCHED
            plan.dispatched_at = timezone.now()
            plan.save(update_fields=["status", "dispatched_at"])
    return list(unsent(Notification.objects.filter(task__plan=plan)).values_list("id", flat=True))


@transaction.atomic
def plan_notifications_resend(*, plan: InspectionPlan) -> int:
    """A supervisor sends a plan's failed notifications again (the task's own retries have run out, or DingTalk was
    fixed meanwhile): each goes back to pending and is queued once this commits; how many. One that fails again is
    marked failed again with its new error; one sent meanwhile by a late retry is not sent twice (its claim)."""
    failed = list(
        Notification.objects.select_for_update()
        .filter(task__plan=plan, status=NotificationStatus.FAILED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Notification.objects.filter(pk__in=failed).update(status=NotificationStatus.PENDING)
    queue_each_on_commit("inspections.tasks.send_notification", [(pk,) for pk in failed])
    return len(failed)
