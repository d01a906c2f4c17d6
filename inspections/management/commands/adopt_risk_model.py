from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inspections.models import RiskModel, RiskModelStatus

from ...scoring.services import risk_model_adopt


class Command(BaseCommand):
    help = (
        "Adopt a fitted risk score model in the name of a city-level supervisor or administrator (audited); "
        "every active enterprise is scored with it and the next plans draw by JQS-DRAW-2."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", help="The model's version number, or 'latest' for the newest fitted one.")
        parser.add_argument("--by", required=True, help="Login name of the person adopting it.")
        parser.add_argument("--reason", required=True, help="Why it is adopted (kept in its history).")

    def handle(self, *args, model, by, reason, **options):
        user = get_user_model().objects.filter(username=by).first()
        if user is None:
            raise CommandError(f"no user {by!r}")
        fitted = RiskModel.objects.filter(status=RiskModelStatus.FITTED).order_by("-as_of", "-id")
        chosen = fitted.first() if model == "latest" else RiskModel.objects.filter(pk=int(model) if model.isdigit() else 0).first()
        if chosen is None:
            raise CommandError("no such fitted model: run `manage.py fit_risk_model` (or run_pipeline) first")
        try:
            report = risk_model_adopt(model=chosen, adopted_by=user, reason=reason)
        except (PermissionDenied, ValidationError) as error:
            raise CommandError(" ".join(getattr(error, "messages", [str(error)]))) from None
        self.stdout.write(_("adopted risk model v%(pk)d: %(message)s") % {"pk": chosen.pk, "message": report["message"]})
