"""Risk score models as rules: fit a version (a pipeline stage), adopt it (a person, audited), score every
enterprise with the adopted one (set-based). The method itself is in ``scoring``."""

import datetime as dt

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import StateConflict
from enterprises.models import Enterprise, Status

from ..models import FEATURE_NAMES, RiskModel, RiskModelStatus, RiskScore
from .model import (
    SCORE_METHOD,
    YEAR,
    design_matrix,
    histories_as_of,
    model_from_windows,
    probability,
)
from .selectors import adopted_risk_model, may_adopt_risk_models, model_fit, risk_model_fit_summary, usable_windows

SCORE_BATCH = 5000


@transaction.atomic
def risk_model_fit(*, as_of: dt.date) -> RiskModel:
    """Fit a risk score model as of ``as_of`` (method JQS-SCORE-1), stored as a new version, not adopted.

    It replaces the candidate nobody adopted. When the history is too thin the version records why (status
    "too thin") and the draws keep the category order."""
    # One candidate at a time: the versions that matter as rules are the adopted ones (kept, with their history).
    RiskModel.objects.filter(status__in=[RiskModelStatus.FITTED, RiskModelStatus.TOO_THIN], plans__isnull=True).delete()
    windows = usable_windows(as_of)
    outcome = model_from_windows(windows)
    if outcome.thin:
        return RiskModel.objects.create(method=SCORE_METHOD, as_of=as_of, status=RiskModelStatus.TOO_THIN, message=outcome.thin)
    holdout, fit, quality = windows[0], outcome.fit, outcome.quality
    return RiskModel.objects.create(
        method=SCORE_METHOD,
        as_of=as_of,
        features=list(FEATURE_NAMES),
        intercept=fit.intercept,
        coefficients=fit.coefficients,
        means=fit.means,
        scales=fit.scales,
        training_from=windows[-1].cutoff,
        training_to=as_of,
        training_rows=sum(w.rows for w in windows),
        training_positives=sum(w.positives for w in windows),
        holdout_from=holdout.cutoff + dt.timedelta(days=1),
        holdout_to=holdout.cutoff + YEAR,
        holdout_rows=holdout.rows,
        holdout_positives=holdout.positives,
        auc=quality.auc,
        lift_at_20=quality.lift_at_20,
        top_half_share=quality.top_half_share,
        calibration=quality.calibration,
    )


def risk_model_fit_monthly(*, as_of: dt.date) -> dict:
    """The pipeline's stage: fit a candidate model once per month (the nightly runs in between reuse it), on the
    history up to now: a run for a past month (a backfill) fits nothing. ``manage.py fit_risk_model`` fits at any
    time, as of any date."""
    today = timezone.localdate()
    if (as_of.year, as_of.month) < (today.year, today.month):
        return {"model": None, "message": _("a past month: the risk model is fitted on the history up to the current month")}
    same_month = RiskModel.objects.filter(as_of__year=as_of.year, as_of__month=as_of.month)
    if same_month.exists():
        latest = same_month.order_by("-as_of", "-id").first()
        return {
            "model": latest.pk,
            "message": _("risk model v%(pk)d already fitted this month (%(status)s)")
            % {"pk": latest.pk, "status": latest.get_status_display()},
        }
    return risk_model_fit_summary(risk_model_fit(as_of=as_of))


@transaction.atomic
def risk_model_adopt(*, model: RiskModel, adopted_by, reason: str, as_of: dt.date | None = None) -> dict:
    """Adopt a fitted model (audited: who, when, why); the one adopted before is retired; every active
    enterprise is scored with it at once."""
    if not may_adopt_risk_models(adopted_by):
        raise PermissionDenied(_("Only supervisors or administrators of the whole city adopt a risk score model."))
    if not reason.strip():
        raise ValidationError({"reason": _("Adopting a model needs a reason.")})
    model = RiskModel.objects.select_for_update().get(pk=model.pk)
    if model.status != RiskModelStatus.FITTED:
        raise StateConflict(
            _("Only a fitted model that is not yet adopted can be adopted (this one is: %(status)s).")
            % {"status": model.get_status_display()}
        )
    for previous in RiskModel.objects.filter(status=RiskModelStatus.ADOPTED):
        previous.status = RiskModelStatus.RETIRED
        previous._change_reason = _("replaced by model v%(pk)d") % {"pk": model.pk}
        previous._history_user = adopted_by
        previous.save(update_fields=["status"])
    model.status, model.adopted_by, model.adopted_at, model.adoption_reason = RiskModelStatus.ADOPTED, adopted_by, timezone.now(), reason
    model._change_reason, model._history_user = reason, adopted_by  # simple-history: who and why
    model.save(update_fields=["status", "adopted_by", "adopted_at", "adoption_reason"])
    return enterprises_score(as_of=as_of or timezone.localdate(), model=model)


@transaction.atomic
def enterprises_score(*, as_of: dt.date, model: RiskModel | None = None) -> dict:
    """Score every active enterprise with the adopted model (or ``model``) as of ``as_of``: its probability, logit,
    feature values and each factor's part. Replaces the scores of a model no longer adopted; without an adopted
    model there are no scores (and the draw keeps the category order)."""
    model = model or adopted_risk_model()
    if model is None:
        deleted, _detail = RiskScore.objects.all().delete()
        return {"scored": 0, "removed": deleted, "message": _("no adopted risk score model: enterprises are not scored")}
    fit = model_fit(model)
    histories = histories_as_of(as_of)
    ids = list(Enterprise.objects.filter(status=Status.ACTIVE).order_by("pk").values_list("pk", flat=True))
    matrix = design_matrix(histories, ids)
    logits = fit.logits(matrix) if ids else np.array([])
    probabilities = probability(logits)
    RiskScore.objects.all().delete()
    rows = []
    for pk, values, logit, chance in zip(ids, matrix.tolist(), logits.tolist(), probabilities.tolist(), strict=True):
        rows.append(
            RiskScore(
                enterprise_id=pk,
                model=model,
                as_of=as_of,
                probability=chance,
                logit=logit,
                values={name: round(value, 6) for name, value in zip(FEATURE_NAMES, values, strict=True)},
                contributions={name: round(part, 6) for name, part in fit.contributions(values).items()},
            )
        )
    RiskScore.objects.bulk_create(rows, batch_size=SCORE_BATCH)
    return {
        "scored": len(rows),
        "model": model.pk,
        "message": _("%(n)d enterprises scored with risk model v%(pk)d") % {"n": len(rows), "pk": model.pk},
    }
