from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inspections.models import InspectionPlan

from ...planning.selectors import plan_verify


class Command(BaseCommand):
    help = (
        "Re-run a dispatched plan's draw (its method, JQS-DRAW-1 or JQS-DRAW-2, and seed) on the population recorded at dispatch, "
        "or on a published population CSV, and compare it with the plan's tasks. Exit status 1 on any difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("plan", type=int, help="The plan's number.")
        parser.add_argument("--population", type=Path, help="A population CSV (as downloaded from the plan's public page).")

    def handle(self, *args, plan, population=None, **options):
        try:
            record = InspectionPlan.objects.get(pk=plan)
        except InspectionPlan.DoesNotExist:
            raise CommandError(f"no plan {plan}") from None
        try:
            differences = plan_verify(record, population.read_bytes() if population else None)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        if differences:
            for line in differences:
                self.stderr.write(line)
            raise CommandError(f"plan {plan}: the draw does not give the plan's tasks ({len(differences)} differences)")
        self.stdout.write(
            self.style.SUCCESS(_("plan %(plan)s: the draw re-runs to the plan's %(n)d tasks") % {"plan": plan, "n": record.tasks.count()})
        )
