import datetime as dt
import time

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from jiaxing_qs.models import Trigger
from jiaxing_qs.pipeline import host_label, month_ends_before, run_progress, stage_label
from jiaxing_qs.tasks import pipeline_start


class Command(BaseCommand):
    help = (
        "Run the three-division pipeline (grade → class → categorise → colour → index) and print what changed. "
        "With a broker configured it runs as a Celery chain on the workers, the split stages one task per county, "
        "and the stages' progress is printed as the workers report it."
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
            run, result = pipeline_start(day, trigger=Trigger.COMMAND)
            try:
                self._follow(run.pk, result, timeout)
                report = result.get(timeout=timeout, disable_sync_subtasks=False)
            except (TimeoutError, CeleryTimeoutError):
                raise CommandError(_("no answer from the workers within %(s).0f s: is a worker running?") % {"s": timeout}) from None
            for stage in report:
                shared = (
                    ngettext(" (%(n)d county)", " (%(n)d counties)", stage["parts"]) % {"n": stage["parts"]} if "parts" in stage else ""
                )
                self.stdout.write(f"  {stage_label(stage['stage'])}: {stage['message']}{shared}  [{stage['ran_on']}]")

    def _follow(self, run_id: int, result, timeout: float) -> None:
        """While the workers run it, a line each time a stage has more parts done (eager runs are already done)."""
        deadline, shown = time.monotonic() + timeout, {}
        while not result.ready() and time.monotonic() < deadline:
            for stage in run_progress(run_id):
                seen = (stage["done"], stage["running"], stage["failed"])
                if (stage["done"] or stage["running"] or stage["failed"]) and shown.get(stage["stage"]) != seen:
                    shown[stage["stage"]] = seen
                    running = (
                        _(", running: %(counties)s") % {"counties": ", ".join(stage["running"])}
                        if stage["running"] and stage["split"]
                        else ""
                    )
                    failed = _(", %(n)d failed (retried)") % {"n": stage["failed"]} if stage["failed"] else ""
                    done = _("%(n)d done") % {"n": stage["done"]}
                    self.stdout.write(
                        f"    … {stage_label(stage['stage'])}: {done}{running}{failed} [{', '.join(map(host_label, stage['hosts']))}]"
                    )
            time.sleep(1)
