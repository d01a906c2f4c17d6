"""The risk score page (风险评分模型): the model in force, the candidate and its adoption, the earlier versions,
and the back-test on the bureau's own data."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from common.views import refusal_show
from regions.access import role_required
from regions.models import SUPERVISORY_ROLES

from ..models import FEATURE_LABELS, RiskModel, RiskModelStatus
from .backtest import DEFAULT_BUDGET_SHARE, backtest
from .model import SCORE_METHOD_DESCRIPTION
from .selectors import may_adopt_risk_models
from .services import risk_model_adopt

RANKING_LABELS = {
    "random": gettext_lazy("random"),
    "categories": gettext_lazy("categories alone"),
    "categories_score": gettext_lazy("categories + risk score"),
    "score": gettext_lazy("risk score alone"),
}


class AdoptForm(forms.Form):
    model = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": gettext_lazy("Choose the model to adopt.")})
    reason = forms.CharField(
        label=gettext_lazy("Reason for adopting"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": gettext_lazy("Adopting a model needs a reason.")},
    )


class BacktestForm(forms.Form):
    as_of = forms.DateField(
        label=gettext_lazy("Stand on the date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),  # ISO, any language
    )
    budget_share = forms.DecimalField(
        label=gettext_lazy("Budget (per cent of the checked enterprises)"),
        min_value=1,
        max_value=100,
        initial=int(100 * DEFAULT_BUDGET_SHARE),
    )

    def clean_as_of(self):
        day = self.cleaned_data["as_of"]
        if day > timezone.localdate():
            raise ValidationError(_("A back-test stands on a past date: the year after it must have its results."))
        return day


def _coefficient_rows(model: RiskModel) -> list[dict]:
    return sorted(
        ({"label": FEATURE_LABELS.get(name, name), "coefficient": value} for name, value in model.coefficients.items()),
        key=lambda row: -abs(row["coefficient"]),
    )


@role_required(*SUPERVISORY_ROLES)
def risk_models_page(request):
    may_adopt = may_adopt_risk_models(request.user)
    models = list(RiskModel.objects.select_related("adopted_by").order_by("-as_of", "-id")[:20])
    adopted = next((m for m in models if m.status == RiskModelStatus.ADOPTED), None)
    candidate = next((m for m in models if m.status in (RiskModelStatus.FITTED, RiskModelStatus.TOO_THIN)), None)
    form = BacktestForm(request.GET if "as_of" in request.GET else None, initial={"as_of": timezone.localdate() - dt.timedelta(days=365)})
    report = None
    if form.is_bound and form.is_valid():
        report = backtest(
            as_of=form.cleaned_data["as_of"], jurisdiction=request.jurisdiction, budget_share=float(form.cleaned_data["budget_share"]) / 100
        )
    context = {
        "adopted": adopted,
        "candidate": candidate,
        "earlier": [m for m in models if m not in (adopted, candidate)],
        "may_adopt": may_adopt,
        "adopt_form": AdoptForm(),
        "coefficients": {m.pk: _coefficient_rows(m) for m in (adopted, candidate) if m and m.coefficients},
        "method": SCORE_METHOD_DESCRIPTION,
        "backtest_form": form,
        "report": report,
        "ranking_labels": RANKING_LABELS,
    }
    return render(request, "inspections/risk_models.html", context)


@require_POST
@role_required(*SUPERVISORY_ROLES)
def risk_model_adopt_view(request):
    """Adopt the model named in the form (a city-wide rule: city-level staff only)."""
    if not may_adopt_risk_models(request.user):
        raise PermissionDenied
    form = AdoptForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect("inspections:risk-models")
    model = get_object_or_404(RiskModel, pk=form.cleaned_data["model"])
    try:
        report = risk_model_adopt(model=model, adopted_by=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        refusal_show(request, error)
    else:
        messages.success(
            request,
            _("Model v%(pk)d adopted: %(n)d enterprises scored; the next plans draw by JQS-DRAW-2.")
            % {
                "pk": model.pk,
                "n": report["scored"],
            },
        )
    return redirect("inspections:risk-models")
