import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from ...scoring.selectors import risk_model_fit_summary
from ...scoring.services import risk_model_fit


class Command(BaseCommand):
    help = "Fit a risk score model (JQS-SCORE-1) on the history up to a date; it is used once a supervisor adopts it."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="Fit on the history up to this date (YYYY-MM-DD), default today.")

    def handle(self, *args, as_of=None, **options):
        model = risk_model_fit(as_of=as_of or timezone.localdate())
        self.stdout.write(risk_model_fit_summary(model)["message"])
