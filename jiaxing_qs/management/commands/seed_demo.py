import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import ProtectedError

from jiaxing_qs.demo import seed_demo, summary_lines


class Command(BaseCommand):
    help = (
        "Load the Jiaxing demo: divisions, the product catalogue, demo staff, synthetic enterprises (labelled demo) "
        "with four years of spot checks and risk events, then the pipeline with 12 months of backfill."
    )

    def add_arguments(self, parser):
        parser.add_argument("--enterprises", type=int, default=7000, help="How many demo enterprises (default 7000).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed: the same seed and date give the same data.")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="Date the history leads up to (YYYY-MM-DD), default today.")
        parser.add_argument("--reset", action="store_true", help="Delete all demo enterprises, their history and demo users first.")

    def handle(self, *args, enterprises=7000, seed=2026, as_of=None, reset=False, **options):
        if enterprises < 1:
            raise CommandError("--enterprises must be at least 1")
        log = self.stdout.write if options.get("verbosity", 1) >= 1 else None
        try:
            report = seed_demo(enterprises=enterprises, seed=seed, as_of=as_of, reset=reset, log=log)
        except ValidationError as error:
            raise CommandError("the catalogue was refused, nothing was loaded:\n  " + "\n  ".join(error.messages)) from None
        except ProtectedError as error:
            raise CommandError(f"cannot reset: other records still refer to demo data ({error.args[0]})") from None
        except OSError as error:
            raise CommandError(str(error)) from None
        for line in summary_lines(report):
            self.stdout.write(line)
