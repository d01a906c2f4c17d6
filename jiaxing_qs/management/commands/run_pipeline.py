import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from jiaxing_qs.pipeline import month_ends_before
from jiaxing_qs.tasks import run_pipeline


class Command(BaseCommand):
    help = (
        "Run the three-division pipeline (grade → class → categorise → colour → index) and print what changed. "
        "With a broker configured it runs as a Celery chain on the workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="Date to evaluate the rules on (YYYY-MM-DD), default today.")
        parser.add_argument(
            "--backfill-months", type=int, default=0, help="First run as of the end of each of the N previous months, for the trend."
        )
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait for the workers.")

    def handle(self, *args, as_of=None, backfill_months=0, timeout=3600, **options):
        as_of = as_of or timezone.localdate()
        if backfill_months < 0:
            raise CommandError(_("--backfill-months cannot be negative"))
        where = _("in-process") if settings.CELERY_TASK_ALWAYS_EAGER else _("on the Celery workers")
        for day in [*month_ends_before(as_of, backfill_months), as_of]:
            self.stdout.write(self.style.MIGRATE_HEADING(_("Pipeline as of %(day)s (%(where)s)") % {"day": day, "where": where}))
            try:
                report = run_pipeline(day, timeout=timeout)
            except TimeoutError:
                raise CommandError(_("no answer from the workers within %(s).0f s: is a worker running?") % {"s": timeout}) from None
            for stage in report:
                self.stdout.write(f"  {stage['stage']}: {stage['message']}  [{stage['ran_on']}]")
