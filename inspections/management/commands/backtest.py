import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from regions.models import Region

from ...scoring.backtest import DEFAULT_BUDGET_SHARE, backtest

LABELS = {"random": "random", "categories": "categories alone", "categories_score": "categories + risk score", "score": "risk score alone"}


class Command(BaseCommand):
    help = (
        "Back-test the targeting: fit the risk score on the history up to --as-of, rank the enterprises spot-checked in the "
        "year after it at random, by category, and by category + score, and print what each ranking would have found."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True, help="The date to stand on (YYYY-MM-DD).")
        parser.add_argument("--jurisdiction", help="Division code: only the enterprises of this region (default: all).")
        parser.add_argument("--budget-share", type=float, default=DEFAULT_BUDGET_SHARE, help="Checks at the plan's budget, as a share.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")

    def handle(self, *args, as_of, jurisdiction=None, budget_share=DEFAULT_BUDGET_SHARE, json=False, **options):
        region = None
        if jurisdiction:
            region = Region.objects.filter(code=jurisdiction).first()
            if region is None:
                raise CommandError(f"no region with the code {jurisdiction}")
        if not 0 < budget_share <= 1:
            raise CommandError("--budget-share is a share between 0 and 1")
        report = backtest(as_of=as_of, jurisdiction=region, budget_share=budget_share)
        if json:
            self.stdout.write(_as_json(report))
            return
        self.stdout.write(
            f"as of {as_of}: {report.checked} enterprises checked in the year after, {report.nonconforming} non-conforming; "
            f"budget {report.budget} checks ({budget_share:.0%})"
        )
        if report.model_note:
            self.stdout.write(f"  {report.model_note}")
        if report.auc is not None:
            self.stdout.write(f"  risk score AUC on the model's own held-out year: {report.auc:.3f}")
        self.stdout.write(f"  {'ranking':<26} {'found in top half':>22} {'lift at 20 %':>13} {'found per 100 at budget':>26}")
        for ranking in report.rankings:
            half, per = ranking.top_half, ranking.per_100
            self.stdout.write(
                f"  {LABELS[ranking.key]:<26} {half.value:>7.1%} ({half.low:.1%}–{half.high:.1%}) {ranking.lift_at_20:>13.2f} "
                f"{100 * per.value:>11.1f} ({100 * per.low:.1f}–{100 * per.high:.1f})"
            )


def _as_json(report) -> str:
    return json.dumps(
        {
            "as_of": report.as_of.isoformat(),
            "checked": report.checked,
            "nonconforming": report.nonconforming,
            "budget": report.budget,
            "note": report.model_note,
            "auc": report.auc,
            "rankings": {
                r.key: {"top_half": r.top_half.as_percent(), "lift_at_20": round(r.lift_at_20, 3), "per_100": r.per_100.as_percent()}
                for r in report.rankings
            },
        },
        ensure_ascii=False,
        indent=2,
    )
