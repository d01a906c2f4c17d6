"""The inspector's pages, made for a phone: my tasks (我的任务), a task, its check form (检查表), the confirmation.

Every query starts from the user's jurisdiction (a task elsewhere is a 404); only the task's assigned
officers may open its form and submit it (anyone else gets a 403).
"""

import functools
import hashlib
import json
import uuid

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from common.views import refusal_show
from enterprises.code_views import code_public
from enterprises.codes import code_by_token
from regions.access import ALL_STAFF, role_required

from ..models import CheckResult, ItemOutcome, RectificationOrder, TaskKind, TaskStatus
from ..planning.selectors import tasks_within
from ..rectification.selectors import spot_checks_awaiting_objection_window
from .forms import CheckForm
from .selectors import officer_open_task, officer_tasks
from .services import MAX_PHOTOS, check_answer_problems, check_result_submit


def field_page(view):
    """A page the phone keeps for offline use: the service worker files it under the user named here (X-JQS-User),
    so a shared phone never shows one inspector's kept pages to another."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if request.user.is_authenticated and response.status_code == 200:
            response["X-JQS-User"] = str(request.user.pk)
        # Revalidated, never reused from the browser's HTTP cache (the service worker keeps the offline copy);
        # not no-store, so that the back button still returns to a form that came back with errors.
        patch_cache_control(response, no_cache=True, private=True)
        return response

    return wrapped


SHELL_STATIC = ("css/app.css", "css/mobile.css", "js/field-store.js", "js/field.js", "js/check.js", "field/manifest.webmanifest")


@functools.cache
def _shell_version() -> str:
    """Changes whenever a file of the app shell changes, so phones fetch the new shell (a new service worker)."""
    digest = hashlib.sha256()
    for path in [*(finders.find(name) for name in SHELL_STATIC), get_template("field/offline.html").origin.name]:
        with open(path, "rb") as file:
            digest.update(file.read())
    return digest.hexdigest()[:12]


@never_cache
def service_worker(request):
    """/sw.js, at the root so that its scope is the whole site (the field pages under /tasks/ and their assets)."""
    offline_url = reverse("inspections:field-offline")
    context = {
        "version": _shell_version(),
        "shell_urls": json.dumps([offline_url, *(staticfiles_storage.url(name) for name in SHELL_STATIC)]),
        "offline_url": offline_url,
        "catalogue_url": reverse("javascript-catalog"),
    }
    return render(request, "field/sw.js", context, content_type="application/javascript; charset=utf-8")


def field_offline(request):
    """What the service worker shows offline for a page it does not keep: the tasks from the phone's IndexedDB."""
    return render(request, "field/offline.html")


@never_cache  # a revoked code must stop working at once
def code_scan(request, token):
    """What a scan of a quality code opens: the check form for an inspector with an open task at the enterprise,
    else the enterprise's public profile."""
    code = code_by_token(token)
    task = code and officer_open_task(officer=request.user, enterprise_id=code.enterprise_id)
    if task:
        return redirect("inspections:check-form", task.pk)
    today = timezone.localdate()
    return code_public(request, token, withheld_checks=lambda enterprise_id: spot_checks_awaiting_objection_window(enterprise_id, today))


def _state(task, today) -> tuple[str, str]:
    """The word a task's row leads with: 逾期 overdue, 复查 re-inspection, 待查 to check."""
    if task.status == TaskStatus.ASSIGNED and task.due_date < today:
        return "overdue", _("Overdue")
    if task.kind == TaskKind.REINSPECTION:
        return "reinspection", _("Re-inspection")
    if task.status == TaskStatus.SUBMITTED:
        return "submitted", _("Submitted")
    return "todo", _("To check")


@field_page
@role_required(*ALL_STAFF)
def my_tasks(request):
    """我的任务: the user's open tasks, overdue first then by due date; a second tab lists the submitted ones."""
    submitted = request.GET.get("show") == "submitted"
    today = timezone.localdate()
    tasks = officer_tasks(user=request.user, jurisdiction=request.jurisdiction, submitted=submitted)[:200]
    counts = (
        tasks_within(request.jurisdiction)
        .filter(assignments__officer=request.user)
        .aggregate(open=Count("id", filter=Q(status=TaskStatus.ASSIGNED)), submitted=Count("id", filter=Q(status=TaskStatus.SUBMITTED)))
    )
    rows = [(task, *_state(task, today)) for task in tasks]
    return render(request, "inspections/my_tasks.html", {"rows": rows, "submitted": submitted, "counts": counts})


def _task_or_404(request, pk, *related):
    return get_object_or_404(tasks_within(request.jurisdiction).select_related("enterprise__town__parent", "product", *related), pk=pk)


def _officers(task) -> list:
    return [assignment.officer for assignment in task.assignments.select_related("officer").order_by("position")]


@field_page
@role_required(*ALL_STAFF)
def task_detail(request, pk):
    """A task as its officers see it before going: the enterprise, its products and history, the co-inspector."""
    task = _task_or_404(request, pk, "order", "plan")
    enterprise = task.enterprise
    officers = _officers(task)
    context = {
        "task": task,
        "enterprise": enterprise,
        "state": _state(task, timezone.localdate()),
        "officers": officers,
        "is_officer": any(officer.pk == request.user.pk for officer in officers),
        "made": enterprise.made.select_related("product").order_by("-product__grade", "product__name"),
        "spot_checks": enterprise.spot_checks.select_related("product").order_by("-checked_on", "-id")[:5],
        "risk_events": enterprise.risk_events.order_by("-occurred_on")[:5],
        "result": CheckResult.objects.filter(task=task).first(),
    }
    return render(request, "inspections/task_detail.html", context)


def _submission_key_value(form) -> str:
    """The key the page carries: the posted one when valid (so a retry repeats it), else a fresh one."""
    try:
        return str(uuid.UUID(str(form["submission_key"].value())))
    except ValueError:
        return str(uuid.uuid4())


@field_page
@role_required(*ALL_STAFF)
@require_http_methods(["GET", "POST"])
def check_form(request, pk):
    """检查表: the product's check points, photos, position, conclusion and both officers; submitted once."""
    task = _task_or_404(request, pk, "order")
    officers = _officers(task)
    if not any(officer.pk == request.user.pk for officer in officers):
        raise PermissionDenied
    if CheckResult.objects.filter(task=task).exists():
        # A retried or repeated submit, whatever its key, lands on the confirmation of the stored result.
        return redirect("inspections:check-done", pk=task.pk)
    items = list(task.product.checklist_items.order_by("order")) if task.product_id else []
    status = 200
    if request.method == "POST":
        form = CheckForm(request.POST, request.FILES, items=items, officers=officers, user=request.user)
        if not form.is_valid():
            _add_rule_problems(form, task, items, request.POST)
        else:
            try:
                check_result_submit(task=task, submitted_by=request.user, **form.submission())
            except ValidationError as error:
                refusal_show(request, error, form)
            else:
                return redirect("inspections:check-done", pk=task.pk)
        status = 422
    else:
        form = CheckForm(items=items, officers=officers, user=request.user)
    context = {
        "task": task,
        "enterprise": task.enterprise,
        "form": form,
        "officers": officers,
        "can_submit": task.status == TaskStatus.ASSIGNED and task.product_id is not None,
        "submission_key": _submission_key_value(form),
        "photos_lost": form.is_bound and bool(request.FILES.getlist("photos")),
        "max_photos": MAX_PHOTOS,
    }
    return render(request, "inspections/check_form.html", context, status=status)


def _add_rule_problems(form, task, items, data) -> None:
    """Errors all at once: the answer rules (a non-conforming point's note, the conclusion's note) beside a bad
    photo or date, rather than one round later."""
    answers = [(item.pk, data.get(f"item_{item.pk}", ""), data.get(f"note_{item.pk}", "")) for item in items]
    problems = check_answer_problems(task, answers, data.get("conclusion", ""), data.get("note", ""))
    for name, messages in problems.items():
        if name in form.fields and name not in form.errors:
            for message in messages:
                form.add_error(name, message)


@field_page
@role_required(*ALL_STAFF)
def check_done(request, pk):
    """The confirmation: the stored result's number — the same page however often the form was submitted."""
    task = _task_or_404(request, pk)
    result = CheckResult.objects.filter(task=task).select_related("submitted_by", "co_inspector").first()
    if result is None:
        return redirect("inspections:task-detail", pk=task.pk)
    outcomes = dict(result.items.order_by().values_list("outcome").annotate(n=Count("id")))
    context = {
        "task": task,
        "result": result,
        "nonconforming_items": result.items.filter(outcome=ItemOutcome.NONCONFORMING).select_related("checklist_item"),
        "counts": {outcome: outcomes.get(outcome, 0) for outcome in ItemOutcome.values},
        "photo_count": result.photos.count(),
        "order": RectificationOrder.objects.filter(result=result).first(),
    }
    return render(request, "inspections/check_done.html", context)
