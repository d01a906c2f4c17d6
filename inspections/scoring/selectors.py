import datetime as dt

from django.utils.translation import gettext as _

from regions.models import SUPERVISORY_ROLES
from regions.selectors import is_topmost, role_and_jurisdiction_of

from ..models import RiskModel, RiskModelStatus
from .model import Fit, Window, window_at, window_usable, windows_before


def usable_windows(as_of: dt.date) -> list[Window]:
    """The training windows before ``as_of`` from the database, with enough checked enterprises, latest first."""
    return [window for window in (window_at(cutoff) for cutoff in windows_before(as_of)) if window_usable(window)]


def risk_model_fit_summary(model: RiskModel) -> dict:
    if model.status == RiskModelStatus.TOO_THIN:
        return {"model": model.pk, "message": model.message}
    return {
        "model": model.pk,
        "message": _(
            "risk model v%(pk)d fitted on %(rows)d checked enterprise-years: AUC %(auc).3f, lift at 20 %% %(lift).2f on the "
            "held-out year (adopt it to use it)"
        )
        % {"pk": model.pk, "rows": model.training_rows, "auc": model.auc, "lift": model.lift_at_20},
    }


def adopted_risk_model() -> RiskModel | None:
    return RiskModel.objects.filter(status=RiskModelStatus.ADOPTED).first()


def may_adopt_risk_models(user) -> bool:
    """A model is a shared rule: supervisors and administrators of the top division (the city, or the province) adopt it."""
    role, jurisdiction = role_and_jurisdiction_of(user)
    return role in SUPERVISORY_ROLES and is_topmost(jurisdiction)


def model_fit(model: RiskModel) -> Fit:
    return Fit(intercept=model.intercept, coefficients=model.coefficients, means=model.means, scales=model.scales)
