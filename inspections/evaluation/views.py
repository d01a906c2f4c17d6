"""Supervisors' evaluation pages: the dashboard of the bureau's figures (with its Excel export) and the policy simulator."""

import io
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from common.admin_utils import changelist_link
from common.tabular import Sheet, write_xlsx_sheets
from common.views import refusal_show
from enterprises.models import CATEGORY_CELLS, MULTIPLIER_FIELDS, RATIO_FIELDS, Category, SupervisionPolicy
from regions.access import role_required
from regions.models import SUPERVISORY_ROLES, ColourThresholds, Level
from regions.periods import Period
from regions.selectors import is_topmost

from ..models import OrderStatus
from . import selectors as kpis
from .forms import PeriodsForm, SimulatorForm
from .services import rules_adopt
from .simulator import DRAFT_POLICY_FIELDS, THRESHOLD_FIELDS, policy_simulate, rule_changes

# --- Dashboard -----------------------------------------------------------------------------------------------


def _periods(request) -> tuple[PeriodsForm, Period, Period]:
    default_a, default_b = kpis.default_periods(timezone.localdate())
    form = PeriodsForm(request.GET or None, initial={"a": default_a.label, "b": default_b.label})
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["a"] or default_a, form.cleaned_data["b"] or default_b
    return form, default_a, default_b


TOWN_PATH = {
    "inspections.spotcheckresult": "enterprise__town",
    "inspections.rectificationorder": "enterprise__town",
    "inspections.inspectiontask": "enterprise__town",
}
PARENTS_ABOVE_TOWN = {Level.TOWN: 0, Level.COUNTY: 1, Level.CITY: 2, Level.PROVINCE: 3}


def records_link(request, records: kpis.Records | None) -> dict | None:
    """The admin changelist behind a figure, filtered by its period and the user's jurisdiction as far as the
    admin allows (``changelist_link``)."""
    if records is None:
        return None
    wanted = dict(records.params)
    jurisdiction = request.jurisdiction
    if jurisdiction is not None and records.model in TOWN_PATH:
        path = TOWN_PATH[records.model] + "__parent" * PARENTS_ABOVE_TOWN.get(jurisdiction.level, 0)
        wanted[f"{path}__id__exact"] = jurisdiction.pk
    return changelist_link(request, records.model, wanted)


def _rate_json(rate: kpis.Rate) -> dict:
    interval = rate.interval
    return {
        "n": rate.inspections,
        "k": rate.nonconforming,
        "rate": rate.per_100,
        "low": interval[0] if interval else None,
        "high": interval[1] if interval else None,
    }


def _chart_data(report: kpis.Dashboard) -> dict:
    def number(value):
        return float(value) if value is not None else None

    return {
        "periods": [report.a.label, report.b.label],
        "figures": [{"key": f.key, "label": str(f.label), "a": number(f.a), "b": number(f.b), "unit": f.unit} for f in report.figures],
        "monthly": report.monthly,
        "ranges": [[f"{p.start:%Y-%m}", f"{p.end:%Y-%m}"] for p in (report.a, report.b)],
        "arms": [
            {"label": str(row.label), "risk": _rate_json(row.risk), "control": _rate_json(row.control), "small": row.too_small}
            for row in report.arms[1]
        ],
        "inspectors": [{"name": e.name, "z": e.z, "outlier": e.outlier, "n": e.tasks} for e in report.inspectors.shown if e.z is not None],
    }


def display_value(figure: kpis.Figure, value) -> str:
    if value is None:
        return "—"
    if figure.change_unit == "pp":
        return f"{value:.2f}%"
    return f"{value:,.0f}"


def display_change(figure: kpis.Figure) -> str:
    """+5.63%, −20.00%, +5.00 points; a dash when there is no change to show."""
    if figure.change is None:
        return "—"
    sign = "+" if figure.change > 0 else "−" if figure.change < 0 else "±"
    unit = _(" points") if figure.change_unit == "pp" else "%"
    return f"{sign}{abs(figure.change):.2f}{unit}"


@role_required(*SUPERVISORY_ROLES)
def dashboard_page(request):
    form, a, b = _periods(request)
    report = kpis.dashboard(jurisdiction=request.jurisdiction, a=a, b=b)
    figures = [
        {
            "figure": figure,
            "a": display_value(figure, figure.a),
            "b": display_value(figure, figure.b),
            "change": display_change(figure),
            "direction": "flat" if not figure.change else ("up" if figure.change > 0 else "down"),
            "links": [records_link(request, records) for records in figure.records],
        }
        for figure in report.figures
    ]
    loop_links = [
        {
            "closed": records_link(request, kpis.Records("inspections.rectificationorder", kpis.date_filter("closed_on", period))),
            "opened": records_link(request, kpis.Records("inspections.rectificationorder", kpis.date_filter("ordered_on", period))),
        }
        for period in (a, b)
    ]
    overdue_link = records_link(
        request, kpis.Records("inspections.rectificationorder", {"overdue_flagged_on__isnull": "0", "closed_on__isnull": "1"})
    )
    context = {
        "form": form,
        "report": report,
        "figures": figures,
        "loop_rows": _loop_rows(report),
        "loop_links": loop_links,
        "overdue_link": overdue_link,
        "arm_tables": list(zip((a, b), report.arms)),
        "estimate_tables": [(period, rows) for period, rows in zip((a, b), report.estimates)],
        "chart_data": _chart_data(report),
        "export_query": urlencode({"a": a.label, "b": b.label}),
        "limits": {"arm": kpis.MIN_ARM_SAMPLE, "officer": kpis.MIN_OFFICER_TASKS, "z": kpis.OUTLIER_Z},
    }
    return render(request, "inspections/dashboard.html", context)


def _loop_rows(report: kpis.Dashboard) -> list[tuple[str, object, object, str]]:
    """(label, A, B, unit) rows of the closed-loop table."""
    a, b = report.loop
    rows = [
        (_("Orders closed"), a["closed"], b["closed"], ""),
        (_("of which on time"), a["on_time"], b["on_time"], ""),
        (_("Closed on time"), a["on_time_share"], b["on_time_share"], "%"),
        (_("Mean days to close"), a["mean_days"], b["mean_days"], _("days")),
        (_("Orders opened"), a["opened"], b["opened"], ""),
    ]
    rows += [(f"· {OrderStatus(status).label}", a["outcomes"][status], b["outcomes"][status], "") for status in OrderStatus.values]
    return rows


def dashboard_workbook(report: kpis.Dashboard, jurisdiction_name: str) -> bytes:
    """The dashboard as an .xlsx: the four figures, the closed loop, the two arms and the inspectors."""
    a, b = report.a.label, report.b.label
    sheets = []
    sheets.append(
        Sheet(
            _("Figures"),
            [_("Figure"), _("Unit"), f"A {a}", f"B {b}", _("Change"), _("Change unit"), _("Notes A"), _("Notes B"), _("Definition")],
            [
                [
                    str(f.label),
                    f.unit,
                    f.a,
                    f.b,
                    f.change,
                    _("percentage points") if f.change_unit == "pp" else "%",
                    *f.notes,
                    str(f.definition),
                ]
                for f in report.figures
            ]
            + [[_("Jurisdiction"), jurisdiction_name, "", "", "", "", "", "", str(kpis.DEFINITIONS["change"])]],
        )
    )
    loop_rows = [[label, value_a, value_b, unit] for label, value_a, value_b, unit in _loop_rows(report)]
    loop_rows.append([_("Overdue now"), "", report.overdue_now, ""])
    sheets.append(Sheet(_("Closed loop"), [_("Figure"), f"A {a}", f"B {b}", _("Unit")], loop_rows))
    arm_rows = []
    for period, rows in zip((report.a, report.b), report.arms):
        for row in rows:
            ratio = row.ratio
            for arm, rate in ((_("risk-stratified draw"), row.risk), (_("random control arm"), row.control)):
                interval = rate.interval
                arm_rows.append(
                    [
                        period.label,
                        str(row.label),
                        arm,
                        rate.inspections,
                        rate.nonconforming,
                        rate.per_100,
                        interval[0] if interval else None,
                        interval[1] if interval else None,
                        ratio[0] if ratio else None,
                        ratio[1] if ratio else None,
                        ratio[2] if ratio else None,
                        _("sample too small") if row.too_small else "",
                    ]
                )
    sheets.append(
        Sheet(
            _("Targeted vs random"),
            [
                _("Period"),
                _("Category"),
                _("Arm"),
                _("Inspections"),
                _("Non-conforming"),
                _("Per 100"),
                _("Interval low"),
                _("Interval high"),
                _("Ratio risk/control"),
                _("Ratio low"),
                _("Ratio high"),
                _("Note"),
            ],
            arm_rows,
        )
    )
    sheets.append(
        Sheet(
            _("Inspectors"),
            [_("Officer"), _("Tasks"), _("Non-conforming"), _("Observed per 100"), _("Expected per 100"), "z", _("Outlier"), _("Note")],
            [
                [e.name, e.tasks, e.nonconforming, e.observed_per_100, e.expected_per_100, e.z, _("yes") if e.outlier else "", ""]
                for e in report.inspectors.shown
            ]
            + [
                [e.name, e.tasks, e.nonconforming, e.observed_per_100, e.expected_per_100, None, "", _("too few tasks to compare")]
                for e in report.inspectors.too_few
            ],
        )
    )
    buffer = io.BytesIO()
    write_xlsx_sheets(buffer, sheets)
    return buffer.getvalue()


@role_required(*SUPERVISORY_ROLES)
def dashboard_export(request):
    _form, a, b = _periods(request)
    report = kpis.dashboard(jurisdiction=request.jurisdiction, a=a, b=b)
    name = request.jurisdiction.name if request.jurisdiction else _("all regions")
    response = HttpResponse(
        dashboard_workbook(report, name), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="dashboard-{a.label}-vs-{b.label}.xlsx"'.replace("..", "_")
    return response


# --- Policy simulator ----------------------------------------------------------------------------------------


def _initial(thresholds: ColourThresholds, policy: SupervisionPolicy) -> dict:
    return {name: getattr(thresholds, name) for name in THRESHOLD_FIELDS} | {name: getattr(policy, name) for name in DRAFT_POLICY_FIELDS}


def _comparison_rows(simulation) -> list[dict]:
    current, draft = simulation.in_force, simulation.draft
    rows = [
        (_("Key-supervised enterprises"), current.key_supervised, draft.key_supervised, 0),
        *((f"· {Category(c).label}", current.by_category[c], draft.by_category[c], 0) for c in Category.values),
        (_("Batches in the next plan"), current.batches, draft.batches, 1),
        (_("Spending of the next plan (yuan)"), current.spending, draft.spending, 0),
        (_("Non-conforming enterprises expected to be reached"), current.expected_nonconforming, draft.expected_nonconforming, 1),
        (_("Expected non-conforming per 100 batches"), current.yield_per_100, draft.yield_per_100, 1),
    ]
    return [
        {
            "label": label,
            "current": _number(old, places),
            "draft": _number(new, places),
            "delta": _number(new - old, places, signed=True) if None not in (old, new) else "—",
            "changed": None not in (old, new) and round(new - old, places) != 0,
        }
        for label, old, new, places in rows
    ]


def _number(value, places: int, signed: bool = False) -> str:
    """1,157,910 / 12.3 / +1,015 / −3.7 (a real minus sign)."""
    if value is None:
        return "—"
    text = f"{abs(value):,.{places}f}"
    if round(value, places) == 0:
        return text
    return ("+" if value > 0 else "−") + text if signed else ("−" + text if value < 0 else text)


@role_required(*SUPERVISORY_ROLES)
def simulator_page(request):
    thresholds, policy = ColourThresholds.in_force(), SupervisionPolicy.in_force()
    adopting = request.method == "POST"
    # The rules are city-wide: a county's staff may try drafts on their county but not adopt them for everyone.
    may_adopt = is_topmost(request.jurisdiction)
    if adopting and not may_adopt:
        raise PermissionDenied
    data = request.POST if adopting else (request.GET if "red_from" in request.GET else None)
    form = SimulatorForm(data, initial=_initial(thresholds, policy))
    context = {"form": form, "thresholds": thresholds, "policy": policy, "grades": _grade_rows(form), "may_adopt": may_adopt}
    if form.is_bound and form.is_valid():
        thresholds_draft, policy_draft = form.drafts(thresholds, policy)
        if adopting:
            try:
                created = rules_adopt(
                    thresholds=thresholds_draft, policy=policy_draft, created_by=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                refusal_show(request, error, form)
            else:
                names = pgettext("between names", ", ").join(str(version._meta.verbose_name) for version in created)
                messages.success(
                    request, _("Adopted: new versions of %(rules)s are in force; the pipeline is re-running.") % {"rules": names}
                )
                return redirect("inspections:simulator")
        simulation = policy_simulate(
            jurisdiction=request.jurisdiction,
            thresholds_in_force=thresholds,
            policy_in_force=policy,
            thresholds_draft=thresholds_draft,
            policy_draft=policy_draft,
        )
        context |= {
            "simulation": simulation,
            "rows": _comparison_rows(simulation),
            "rule_changes": [
                (name, _rule_value(old), _rule_value(new))
                for name, old, new in rule_changes(thresholds, thresholds_draft, THRESHOLD_FIELDS)
                + rule_changes(policy, policy_draft, DRAFT_POLICY_FIELDS)
            ],
            "simulation_columns": [(_("In force"), simulation.in_force), (_("Draft"), simulation.draft)],
            "category_changes": [(Category(old).label, Category(new).label, n) for old, new, n in simulation.category_changes],
            "draft_values": [
                (name, form.data.get(name)) for name in (*THRESHOLD_FIELDS, *RATIO_FIELDS, *MULTIPLIER_FIELDS, *CATEGORY_CELLS)
            ],
        }
    return render(request, "inspections/simulator.html", context)


def _rule_value(value):
    return Category(value).label if value in Category.values else value


def _grade_rows(form: SimulatorForm) -> list[tuple[str, object, object]]:
    """The grade × class table of the form: (grade, risk cell, non-risk cell)."""
    return [
        (_("high"), form["high_risk"], form["high_non_risk"]),
        (_("medium"), form["medium_risk"], form["medium_non_risk"]),
        (_("low"), form["low_risk"], form["low_non_risk"]),
    ]
