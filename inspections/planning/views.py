"""Supervisors' plan pages: list, create, preview the draw, approve (which dispatches), follow up."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from common.views import refusal_show
from enterprises.models import DRAW_RATIO_FIELDS, SupervisionPolicy
from regions.access import role_required
from regions.models import SUPERVISORY_ROLES, Level, Region
from regions.selectors import within, without_boundaries

from ..models import SCORE_FLOOR_SHARE_DEFAULT, DrawArm, InspectionPlan, NotificationStatus, PlanStatus, TaskStatus, stratum_label
from .assignment import officers_named
from .draw import draw_method_description
from .selectors import plan_notifications, plan_preview, plans_awaiting_dispatch
from .services import plan_approve, plan_create, plan_notifications_resend

APPROVAL_CONFIRMATION = "dispatch"  # the value of the approval form's confirmation box


class PlanForm(forms.ModelForm):
    class Meta:
        model = InspectionPlan
        fields = ("name", "scope", "period_start", "period_end", "batch_budget", "control_share", "score_floor_share", *DRAW_RATIO_FIELDS)
        # A date input reads ISO dates only, whatever the page's language formats dates as.
        widgets = {
            "period_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "period_end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, jurisdiction=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["score_floor_share"].required = False  # left empty: the default floor (a fifth of the stratum's rate)
        self.fields["scope"].queryset = Region.objects.filter(within(jurisdiction), level__in=[Level.CITY, Level.COUNTY, Level.PROVINCE])

    def clean_score_floor_share(self):
        value = self.cleaned_data.get("score_floor_share")
        return SCORE_FLOOR_SHARE_DEFAULT if value is None else value

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", _("The period ends before it starts."))
        return cleaned


def plans_for(request):
    return InspectionPlan.objects.filter(scope__in=Region.objects.filter(within(request.jurisdiction)))


@role_required(*SUPERVISORY_ROLES)
def plan_list(request):
    plans = (
        plans_for(request)
        .select_related("scope")
        .annotate(task_count=Count("tasks"), submitted=Count("tasks", filter=Q(tasks__status=TaskStatus.SUBMITTED)))
    )
    return render(request, "inspections/plans/list.html", {"plans": plans})


@role_required(*SUPERVISORY_ROLES)
def plan_new(request):
    policy = SupervisionPolicy.in_force()
    today = timezone.localdate()
    initial = {field: getattr(policy, field) for field in DRAW_RATIO_FIELDS} | {
        "scope": request.jurisdiction,
        "period_start": today,
        "period_end": today.replace(month=12, day=31),
        "control_share": 10,
        "score_floor_share": SCORE_FLOOR_SHARE_DEFAULT,
    }
    form = PlanForm(request.POST or None, initial=initial, jurisdiction=request.jurisdiction)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            plan = plan_create(created_by=request.user, **data)
        except ValidationError as error:
            refusal_show(request, error, form)
        else:
            messages.success(request, _("Draft plan created. Check the draw below before approving it."))
            return redirect("inspections:plan-detail", pk=plan.pk)
    return render(request, "inspections/plans/new.html", {"form": form})


@role_required(*SUPERVISORY_ROLES)
def plan_detail(request, pk):
    plan = get_object_or_404(plans_for(request).select_related("scope", "created_by", "approved_by"), pk=pk)
    context = {"plan": plan, "method": draw_method_description()}
    if plan.status == PlanStatus.DRAFT:
        preview = plan_preview(plan)
        rows = [
            (
                target,
                DrawArm(target.arm).label,
                officers_named([uid for uid, _key in preview.staffing.officers.get(target.enterprise_id, [])]),
            )
            for target in preview.draw.targets
        ]
        for stratum in preview.draw.strata:
            stratum.label = stratum_label(stratum.category, stratum.colour)
        context |= {"preview": preview, "rows": rows}
    else:
        context |= {
            "tasks": without_boundaries(plan.tasks.select_related("enterprise__town", "product"), "enterprise__town")
            .prefetch_related("assignments__officer")
            .order_by("arm", "stratum", "draw_rank"),
        }
        notifications, counts = plan_notifications(plan)
        waited = dt.timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
        context |= {
            # approved a while ago and still not dispatched: the task queue did not take it (the sweep retries)
            "dispatch_waiting": plan.status == PlanStatus.APPROVED and plan.pk in plans_awaiting_dispatch(older_than=waited),
            "notifications": notifications,
            "notification_counts": [
                (NotificationStatus(status).label, counts[status]) for status in NotificationStatus if counts.get(status)
            ],
            "failed_notifications": [n for n in notifications if n.status == NotificationStatus.FAILED][:50],
            "pending_notifications": counts.get(NotificationStatus.PENDING, 0) + counts.get(NotificationStatus.SENDING, 0),
            "more_notifications": sum(counts.values()) - len(notifications),
        }
    return render(request, "inspections/plans/detail.html", context)


@require_POST
@role_required(*SUPERVISORY_ROLES)
def plan_approve_view(request, pk):
    plan = get_object_or_404(plans_for(request), pk=pk)
    if request.POST.get("confirm") != APPROVAL_CONFIRMATION:  # dispatching notifies officers: it cannot be undone
        messages.error(request, _("Nothing was dispatched: tick the confirmation beside the button to approve the plan."))
        return redirect("inspections:plan-detail", pk=plan.pk)
    try:
        plan_approve(plan=plan, approved_by=request.user)
    except ValidationError as error:
        refusal_show(request, error)
    else:
        messages.success(request, _("Plan approved: the tasks are being dispatched and the officers notified."))
    return redirect("inspections:plan-detail", pk=plan.pk)


@require_POST
@role_required(*SUPERVISORY_ROLES)
def plan_notifications_resend_view(request, pk):
    plan = get_object_or_404(plans_for(request), pk=pk)
    resent = plan_notifications_resend(plan=plan)
    said = ngettext("%(n)d failed notification is being sent again.", "%(n)d failed notifications are being sent again.", resent)
    messages.success(request, said % {"n": resent})
    return redirect("inspections:plan-detail", pk=plan.pk)
