"""Publication (一公开): an approved plan's draw and outcomes, public, without login.

Anyone can re-run the draw from what is shown: the seed, the published method, the plan's budget, ratios and
multipliers. Shown per drawn enterprise: its public identity (name, credit code, town), the product, why it was
drawn (arm, stratum, rank) and, once reported, the outcome and the rectification state. Never shown: officers,
notes, photos, addresses, positions — rows are built from an explicit list of public fields, so the template
cannot reach anything else.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from enterprises.models import Category
from regions.models import Colour
from regions.selectors import bureau_for, without_boundaries

from ..models import Conclusion, DrawArm, InspectionPlan, PlanPopulation, PlanStatus, stratum_code_label
from .draw import DRAW_METHOD, DRAW_METHOD_PPS, draw_method_description
from .selectors import plan_population_csv

PUBLIC_STATUSES = (PlanStatus.APPROVED, PlanStatus.DISPATCHED, PlanStatus.CLOSED)
CATEGORY_ORDER = [category.value for category in Category]


@dataclass(frozen=True)
class PublicRow:
    enterprise: str
    credit_code: str
    town: str
    product: str
    arm: str  # the DrawArm value
    arm_label: str
    stratum: str
    rank: int | None
    checked_on: dt.date | None = None
    conforming: bool | None = None
    rectification: str = ""


def stratum_label(arm: str, stratum: str) -> str:
    """A target's stratum as the public reads it: the risk arm's stratum label, or the arm (control)."""
    return stratum_code_label(stratum) if arm == DrawArm.RISK else DrawArm(arm).label


def _sort_key(task) -> tuple:
    category, _sep, colour = task.stratum.partition("/")
    rank_of_category = CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)
    return (task.arm != DrawArm.RISK, rank_of_category, colour, task.draw_rank or 0, task.pk)


def public_plan_rows(plan: InspectionPlan) -> list[PublicRow]:
    """The drawn enterprises of a plan with their outcomes so far, public fields only (one query)."""
    tasks = without_boundaries(plan.tasks.select_related("enterprise__town", "product", "result__order"), "enterprise__town")
    rows = []
    for task in sorted(tasks, key=_sort_key):
        result = getattr(task, "result", None)
        order = getattr(result, "order", None) if result else None
        rows.append(
            PublicRow(
                enterprise=task.enterprise.name,
                credit_code=task.enterprise.credit_code,
                town=task.enterprise.town.name,
                product=task.product.name if task.product else "",
                arm=task.arm,
                arm_label=task.get_arm_display(),
                stratum=stratum_label(task.arm, task.stratum),
                rank=task.draw_rank,
                checked_on=result.checked_on if result else None,
                conforming=(result.conclusion == Conclusion.CONFORMING) if result else None,
                rectification=order.get_status_display() if order else "",
            )
        )
    return rows


def method_blocks(text: str) -> list[dict]:
    """The published method's text as paragraphs and numbered lists (its hard line breaks joined)."""
    blocks = []
    for chunk in text.replace("``", "").strip().split("\n\n"):
        lines = [line.strip() for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        if not re.match(r"\d+\. ", lines[0]):
            blocks.append({"paragraph": " ".join(lines)})
            continue
        items: list[str] = []
        for line in lines:
            numbered = re.match(r"\d+\. (.*)", line)
            if numbered:
                items.append(numbered.group(1))
            else:
                items[-1] += " " + line
        blocks.append({"numbered": items})
    return blocks


@require_safe
def public_plan(request, pk: int):
    """一公开: the public page of an approved, dispatched or closed plan; drafts are not published (404)."""
    plan = get_object_or_404(InspectionPlan.objects.filter(status__in=PUBLIC_STATUSES).select_related("scope", "risk_model"), pk=pk)
    rows = public_plan_rows(plan)
    reported = [row for row in rows if row.conforming is not None]
    counts = {
        "risk": sum(row.arm == DrawArm.RISK for row in rows),
        "control": sum(row.arm == DrawArm.CONTROL for row in rows),
        "reported": len(reported),
        "nonconforming": sum(not row.conforming for row in reported),
    }
    context = {
        "plan": plan,
        "bureau": bureau_for(plan.scope_id),  # who publishes it: the bureau of the plan's city (or county, province)
        "rows": rows,
        "counts": counts,
        "method_blocks": method_blocks(draw_method_description()) if plan.draw_method in (DRAW_METHOD, DRAW_METHOD_PPS) else [],
        "ratios": [(Category(c).label, plan.ratio(c)) for c in CATEGORY_ORDER],
        "multipliers": [(colour.label, plan.multiplier(colour.value)) for colour in Colour if colour != Colour.TOO_FEW],
        "population": PlanPopulation.objects.filter(plan=plan).only("sha256", "enterprise_count", "recorded_at").first(),
    }
    return render(request, "inspections/public_plan.html", context)


@require_safe
def public_plan_population(request, pk: int):
    """The enterprise list the plan's draw was run on (credit code, category, colour — all public on each
    enterprise's quality-code page): with the seed and the method, what anyone needs to re-run the draw."""
    plan = get_object_or_404(InspectionPlan.objects.filter(status__in=PUBLIC_STATUSES), pk=pk)
    data = plan_population_csv(plan)
    if data is None:
        raise Http404
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="plan-{plan.pk}-population.csv"'
    return response
