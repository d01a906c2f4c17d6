import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from common.tabular import PROGRESS_EVERY
from enterprises.imports import enterprises_import, products_made_import, risk_events_import
from inspections.spotchecks.imports import spot_checks_import
from products.imports import grade_overrides_import

IMPORTERS = {
    importer.kind: importer
    for importer in (enterprises_import, products_made_import, risk_events_import, spot_checks_import, grade_overrides_import)
}


class Command(BaseCommand):
    help = (
        "Import enterprises, the products they make, risk events, historic spot-check results or product grade "
        "overrides from .xlsx or .csv "
        "(UTF-8, UTF-8 with BOM, GBK/GB18030). Every row is checked first: one bad row and nothing is written. "
        "Importing the same file again changes nothing. Column layouts: docs/imports.md; examples: samples/."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(IMPORTERS), help="What the file holds.")
        parser.add_argument("file", type=Path, help="An .xlsx or .csv file with a header row.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report what would change; write nothing.")

    def handle(self, *args, kind, file, dry_run=False, **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        verbosity = options.get("verbosity", 1)
        started = time.monotonic()

        def progress(stage: str, done: int, total: int) -> None:
            if verbosity >= 2 or (verbosity == 1 and total >= PROGRESS_EVERY):
                self.stdout.write(
                    "  "
                    + _("%(stage)s %(done)s / %(total)s rows (%(s).1f s)")
                    % {"stage": stage, "done": f"{done:,}", "total": f"{total:,}", "s": time.monotonic() - started}
                )

        report = IMPORTERS[kind](file, filename=file.name, dry_run=dry_run, progress=progress)
        for name in report.ignored_columns:
            self.stdout.write("  " + _("column %(name)s ignored (not part of the %(kind)s layout)") % {"name": name, "kind": kind})
        if not report.ok:
            raise CommandError("\n  ".join([report.summary, *report.problem_lines()]))
        self.stdout.write(
            _("%(summary)s (%(rows)s rows in %(s).1f s)")
            % {"summary": report.summary, "rows": f"{report.rows:,}", "s": time.monotonic() - started}
        )
        if report.written and (report.created or report.updated):
            self.stdout.write(_("Run `python manage.py run_pipeline` to re-class the enterprises and re-colour the regions."))
