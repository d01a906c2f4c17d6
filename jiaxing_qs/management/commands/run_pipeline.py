import datetime as dt
import time

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from jiaxing_qs.pipeline import month_ends_before, run_progress
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
            raise CommandError("--backfill-months cannot be negative")
        where = "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "on the Celery workers"
        for day in [*month_ends_before(as_of, backfill_months), as_of]:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Pipeline as of {day} ({where})"))
            run, result = pipeline_start(day, trigger="run_pipeline command")
            try:
                self._follow(run.pk, result, timeout)
                report = result.get(timeout=timeout, disable_sync_subtasks=False)
            except (TimeoutError, CeleryTimeoutError):
                raise CommandError(f"no answer from the workers within {timeout:.0f} s: is a worker running?") from None
            for stage in report:
                shared = f" ({stage['parts']} counties)" if "parts" in stage else ""
                self.stdout.write(f"  {stage['stage']}: {stage['message']}{shared}  [{stage['ran_on']}]")

    def _follow(self, run_id: int, result, timeout: float) -> None:
        """While the workers run it, a line each time a stage has more parts done (eager runs are already done)."""
        deadline, shown = time.monotonic() + timeout, {}
        while not result.ready() and time.monotonic() < deadline:
            for stage in run_progress(run_id):
                seen = (stage["done"], stage["running"], stage["failed"])
                if (stage["done"] or stage["running"] or stage["failed"]) and shown.get(stage["stage"]) != seen:
                    shown[stage["stage"]] = seen
                    running = f", running: {', '.join(stage['running'])}" if stage["running"] and stage["split"] else ""
                    failed = f", {stage['failed']} failed (retried)" if stage["failed"] else ""
                    hosts = ", ".join(stage["hosts"])
                    self.stdout.write(f"    … {stage['stage']}: {stage['done']} done{running}{failed} [{hosts}]")
            time.sleep(1)
