"""seed_demo: divisions, catalogue, staff, ~7000 synthetic enterprises with their history, the pipeline, then the
closed loop (a dispatched plan per county, results reported on part of its tasks: see ``loop``).

Each phase runs in its own transaction and reports its time. Generation draws from one
``random.Random(seed)`` in a fixed order, so the same seed and ``as_of`` give the same data; dates are
relative to ``as_of``. Seeding again without ``reset`` leaves existing demo data alone.
"""

import datetime as dt
import io
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import router, transaction
from django.db.models import Count, Exists, OuterRef, ProtectedError
from django.db.models.deletion import Collector
from django.utils import timezone
from simple_history.utils import get_history_model_for_model

from common.history import history_paused
from enterprises.models import Enterprise, EnterpriseProduct, RiskClass, RiskEvent, Status, SupervisionPolicy
from inspections.models import InspectionTask, RiskModel, RiskModelStatus, SpotCheckResult
from inspections.scoring.services import risk_model_adopt
from products.imports import CATALOGUE_CSV, CHECKLISTS_CSV, catalogue_import, industry_tags, read_csv
from regions.imports import load_jiaxing
from regions.models import Level, Region, RegionSnapshot, StaffProfile
from regions.periods import months_before, period_of

from .enterprises import demo_products, demo_towns, generate_enterprises, save_enterprises
from .history import generate_history, save_history
from .loop import demo_loop, demo_loop_counts
from .users import DEMO_PASSWORD, DemoUser, demo_users_delete, demo_users_upsert

CITY_CODE = "330400"
JIAXING_TOWNS = 72
BACKFILL_MONTHS = 12
COLOURS = ("red", "orange", "yellow", "green", "too_few")
DEMO_APPS = ("regions", "products", "enterprises", "inspections", "jiaxing_qs")
MAX_DEPENDANT_DEPTH = 5
DEMO_ADOPTER = "supervisor"  # the demo's city-level supervisor
HISTORY_DELETE_BATCH = 10_000  # ids per DELETE of history rows (under SQLite's limit of bound parameters)


@dataclass
class SeedReport:
    as_of: dt.date
    seed: int
    already_present: int = 0  # demo enterprises found, so nothing was generated
    phases: list[tuple[str, float, str]] = field(default_factory=list)  # (phase, seconds, message)
    counts: dict[str, int] = field(default_factory=dict)
    counties: list[dict] = field(default_factory=list)
    towns: Counter = field(default_factory=Counter)
    logins: list[DemoUser] = field(default_factory=list)
    skipped_users: list[str] = field(default_factory=list)
    region_names: dict[str, str] = field(default_factory=dict)
    county_factors: dict[str, float] = field(default_factory=dict)  # solved non-conformity factor per county


@contextmanager
def _phase(report: SeedReport, name: str, log: Callable[[str], None]) -> Iterator[list[str]]:
    """Time a phase and log its message (the block appends it to the yielded list)."""
    started, message = time.perf_counter(), []
    yield message
    seconds = time.perf_counter() - started
    report.phases.append((name, seconds, "; ".join(message)))
    log(f"{name}: {'; '.join(message)} ({seconds:.1f} s)")


def _divisions_missing() -> bool:
    towns = Region.objects.filter(level=Level.TOWN, code__startswith=CITY_CODE[:4]).count()
    counties_without_boundary = Region.objects.filter(level=Level.COUNTY, code__startswith=CITY_CODE[:4], boundary__isnull=True)
    return towns < JIAXING_TOWNS or counties_without_boundary.exists() or not Region.objects.filter(code=CITY_CODE).exists()


def _tracked(model) -> bool:
    """Whether simple-history keeps the model's history."""
    return hasattr(model._meta, "simple_history_manager_attribute")


def _our_models() -> list:
    return [model for label in DEMO_APPS for model in apps.get_app_config(label).get_models()]


def _demo_flagged(model) -> bool:
    return "is_demo" in {field.name for field in model._meta.get_fields()}


def _delete(queryset, deleted: dict) -> dict[str, int]:
    """``queryset.delete()``, noting the ids of the tracked rows it deletes (cascades included): their history goes too."""
    collector = Collector(using=router.db_for_write(queryset.model), origin=queryset)
    collector.collect(queryset.order_by())
    ids = {model: [row.pk for row in rows] for model, rows in collector.data.items() if _tracked(model)}
    counts = collector.delete()[1]  # sets the collected rows' pks to None, hence the ids first
    for model, pks in ids.items():
        deleted.setdefault(model, set()).update(pks)
    return counts


def _delete_with_dependants(queryset, counts: Counter, deleted: dict, depth: int = 0) -> None:
    """Delete the rows, first deleting what refers to them with PROTECT (tasks, results reported on a demo
    enterprise…): on a demo reset those belong to the demo too."""
    while True:
        try:
            with transaction.atomic():
                counts.update(_delete(queryset, deleted))
            return
        except ProtectedError as error:
            if depth >= MAX_DEPENDANT_DEPTH:
                raise
            by_model: dict = {}
            for row in error.protected_objects:
                by_model.setdefault(type(row), []).append(row.pk)
            for model, pks in by_model.items():
                _delete_with_dependants(model._default_manager.filter(pk__in=pks), counts, deleted, depth + 1)


def _demo_flagged_models() -> list:
    """Models of ours with an is_demo flag, other than enterprises (last), staff profiles (with their users) and
    history models (their rows go with the rows they are the history of)."""
    history_models = {get_history_model_for_model(model) for model in _our_models() if _tracked(model)}
    return [
        model for model in _our_models() if _demo_flagged(model) and model not in (Enterprise, StaffProfile) and model not in history_models
    ]


def _demo_history_delete(deleted: dict) -> int:
    """Delete the history of the deleted rows, and any demo history whose row is already gone (a demo user's
    profile, an earlier reset's leftovers): a reset leaves no orphaned history. Returns the rows deleted."""
    total = 0
    for model, pks in deleted.items():
        history = get_history_model_for_model(model)
        ids = sorted(pks)
        for start in range(0, len(ids), HISTORY_DELETE_BATCH):
            batch = ids[start : start + HISTORY_DELETE_BATCH]
            total += history.objects.filter(**{f"{model._meta.pk.attname}__in": batch}).delete()[0]
    for model in _our_models():
        if _tracked(model) and _demo_flagged(model):
            gone = ~Exists(model._default_manager.filter(pk=OuterRef(model._meta.pk.attname)))
            total += get_history_model_for_model(model).objects.filter(gone, is_demo=True).delete()[0]
    return total


@transaction.atomic
def demo_data_delete() -> dict:
    """Remove every demo row (spot checks, events, plans…), then the demo enterprises with everything that
    hangs off them, then the demo users (a user something still refers to is kept), and the history of all
    of them. No history row records the deletion itself: one per deleted row made a reset slow, and demo data
    is nobody's record."""
    counts: Counter = Counter()
    deleted: dict = {}
    with history_paused():
        for model in _demo_flagged_models():
            _delete_with_dependants(model._default_manager.filter(is_demo=True), counts, deleted)
        _delete_with_dependants(Enterprise.objects.filter(is_demo=True), counts, deleted)
        users, kept = demo_users_delete()
    history = _demo_history_delete(deleted)
    largest_first = sorted(counts.items(), key=lambda item: -item[1])
    deleted_names = [f"{count} {apps.get_model(label)._meta.verbose_name_plural}" for label, count in largest_first if count]
    kept_note = f" ({kept} users kept: other records refer to them)" if kept else ""
    return {
        "deleted": dict(counts),
        "history": history,
        "message": f"deleted {', '.join(deleted_names) or 'nothing'}, {users} demo users{kept_note}, {history} history rows",
    }


def _generate(rng: random.Random, *, enterprises: int, as_of: dt.date, tags: dict, report: SeedReport, log) -> None:
    with _phase(report, "enterprises", log) as message, transaction.atomic():
        products = demo_products(rng, tags)
        towns = demo_towns(rng)
        demos = generate_enterprises(rng, total=enterprises, as_of=as_of, products=products, towns=towns)
        save_enterprises(demos)
        message.append(f"{len(demos)} enterprises in {len(towns)} towns, {sum(len(demo.made) for demo in demos)} products made")
    with _phase(report, "history", log) as message, transaction.atomic():
        window_years = SupervisionPolicy.in_force_on(as_of).risk_window_years
        results, events, factors = generate_history(rng, demos, as_of=as_of, risk_window_years=window_years)
        save_history(results, events)
        failed = sum(not result.conforming for result in results)
        report.county_factors = factors
        message.append(f"{len(results)} spot checks ({failed} non-conforming), {len(events)} other risk events")


def _adopt_first_risk_model(*, report: SeedReport, log) -> None:
    """The demo's city supervisor adopts the risk model the pipeline fitted, so the demo plans draw by JQS-DRAW-2."""
    with _phase(report, "risk model", log) as message:
        model = RiskModel.objects.filter(status=RiskModelStatus.FITTED).order_by("-as_of", "-id").first()
        adopter = get_user_model().objects.filter(username=DEMO_ADOPTER).first()
        if model is None or adopter is None or RiskModel.objects.filter(status=RiskModelStatus.ADOPTED).exists():
            message.append("none adopted (a model is in force already, none was fitted, or the demo supervisor is missing)")
            return
        scored = risk_model_adopt(
            model=model, adopted_by=adopter, reason="演示数据：采用首个拟合的风险评分模型 / demo: the first fitted model"
        )
        message.append(f"model v{model.pk} adopted by {DEMO_ADOPTER} (AUC {model.auc:.3f}), {scored['scored']} enterprises scored")


def _close_the_loop(rng: random.Random, *, as_of: dt.date, report: SeedReport, log) -> None:
    """Not one transaction: the approval's dispatch and each result's feedback run when their own commit does."""
    with _phase(report, "loop", log) as message:
        loop = demo_loop(rng, as_of=as_of, city_code=CITY_CODE)
        tasks = InspectionTask.objects.filter(plan__in=loop.plans).count()
        message.append(
            f"{len(loop.plans)} plans dispatched with {tasks} tasks, {loop.results} results reported ({loop.nonconforming} non-conforming)"
        )
        if loop.without_supervisor:
            message.append(f"no plan where a real user holds the supervisor's login: {', '.join(loop.without_supervisor)}")


def seed_demo(
    *, enterprises: int = 7000, seed: int = 2026, as_of: dt.date | None = None, reset: bool = False, log=None, derive: bool = True
) -> SeedReport:
    """Load the demo: divisions (if missing), catalogue and users (upserted), then — unless demo
    enterprises exist and ``reset`` is off — enterprises, products made, spot checks and risk events, the
    pipeline as of ``as_of`` with 12 months of backfill so the monthly trend has 13 points, and the closed loop.
    ``derive=False`` stops after the history: nothing derived yet (for the pipeline's own tests and benchmarks).
    """
    log = log or (lambda line: None)
    as_of = as_of or timezone.localdate()
    report = SeedReport(as_of=as_of, seed=seed)
    with _phase(report, "divisions", log) as message, transaction.atomic():
        message.append("loaded: " + ", ".join(part["message"] for part in load_jiaxing()) if _divisions_missing() else "present")
    with _phase(report, "catalogue", log) as message, transaction.atomic():
        catalogue_rows = read_csv(CATALOGUE_CSV)
        source = f"{CATALOGUE_CSV.name}, {CHECKLISTS_CSV.name}"
        message.append(catalogue_import(catalogue_rows, read_csv(CHECKLISTS_CSV), source=source)["message"])
    if reset:
        with _phase(report, "reset", log) as message:
            message.append(demo_data_delete()["message"])
    with _phase(report, "users", log) as message, transaction.atomic():
        users = demo_users_upsert()
        report.logins, report.skipped_users = users["logins"], users["skipped"]
        report.region_names = dict(
            Region.objects.filter(code__in={user.jurisdiction for user in report.logins}).values_list("code", "name")
        )
        message.append(f"{len(users['logins'])} demo users, {users['users_changed']} changed, {users['groups_changed']} groups changed")
        if users["skipped"]:
            message.append(f"left alone (not demo users): {', '.join(users['skipped'])}")
    report.already_present = Enterprise.objects.filter(is_demo=True).count()
    if report.already_present:
        return report
    _generate(random.Random(seed), enterprises=enterprises, as_of=as_of, tags=industry_tags(catalogue_rows), report=report, log=log)
    if not derive:
        return report
    with _phase(report, "pipeline", log) as message:
        call_command("run_pipeline", as_of=as_of, backfill_months=BACKFILL_MONTHS, stdout=io.StringIO())
        message.append(f"{BACKFILL_MONTHS + 1} monthly runs up to {as_of}")
    _adopt_first_risk_model(report=report, log=log)
    _close_the_loop(random.Random(seed), as_of=as_of, report=report, log=log)
    _summarise(report)
    return report


def _summarise(report: SeedReport) -> None:
    demo = Enterprise.objects.filter(is_demo=True)
    report.counts = {
        "enterprises": demo.count(),
        "closed": demo.filter(status=Status.CLOSED).count(),
        "products_made": EnterpriseProduct.objects.filter(enterprise__is_demo=True).count(),
        "spot_checks": SpotCheckResult.objects.filter(is_demo=True).count(),
        "non_conforming": SpotCheckResult.objects.filter(is_demo=True, conforming=False).count(),
        "risk_events": RiskEvent.objects.filter(is_demo=True).count(),
        "risk_enterprises": demo.filter(risk_class=RiskClass.RISK).count(),
        **demo_loop_counts(),
    }
    period = period_of(report.as_of)
    year_ago = period_of(months_before(period, BACKFILL_MONTHS))
    earlier = dict(RegionSnapshot.objects.filter(period=year_ago, region__level=Level.COUNTY).values_list("region__code", "risk_share"))
    for snapshot in (
        RegionSnapshot.objects.filter(period=period, region__level=Level.COUNTY).select_related("region").order_by("-risk_share")
    ):
        report.counties.append(
            {
                "code": snapshot.region.code,
                "name": snapshot.region.name,
                "enterprises": snapshot.enterprise_count,
                "risk": snapshot.risk_count,
                "share": snapshot.risk_share,
                "colour": snapshot.colour,
                "year_ago": earlier.get(snapshot.region.code),
            }
        )
    towns = RegionSnapshot.objects.filter(period=period, region__level=Level.TOWN).values("colour").annotate(n=Count("id"))
    report.towns = Counter({row["colour"]: row["n"] for row in towns})


def summary_lines(report: SeedReport) -> list[str]:
    if report.already_present and not report.counts:
        return [f"demo data already present ({report.already_present} enterprises); use --reset to regenerate", *_login_lines(report)]
    counts = report.counts
    lines = [
        f"Demo data for Jiaxing as of {report.as_of} (seed {report.seed}):",
        f"  {counts['enterprises']} enterprises ({counts['closed']} closed), {counts['products_made']} products made, "
        f"{counts['spot_checks']} spot checks ({counts['non_conforming']} non-conforming), {counts['risk_events']} risk events, "
        f"{counts['risk_enterprises']} risk enterprises",
        f"  plans: {counts['plans_dispatched']} dispatched, {counts['tasks']} tasks{_unstaffed(counts)}, {counts['results']} results "
        f"({counts['results_nonconforming']} non-conforming), {counts['orders']} rectification orders, "
        f"{counts['notifications']} notifications to officers",
        "County colours (share of active enterprises that are risk enterprises; 12 months earlier in brackets):",
    ]
    for county in report.counties:
        before = f"{county['year_ago']:.1f}%" if county["year_ago"] is not None else "–"
        lines.append(
            f"  {county['code']} {county['name']}  {county['enterprises']:5d} enterprises  {county['risk']:4d} risk  "
            f"{county['share']:5.1f}%  {county['colour']:<7} ({before})"
        )
    lines.append("Towns: " + ", ".join(f"{report.towns.get(colour, 0)} {colour}" for colour in COLOURS))
    lines.append("Timings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds, _ in report.phases))
    return lines + _login_lines(report)


def _unstaffed(counts: dict) -> str:
    return f" ({counts['tasks_unstaffed']} unstaffed)" if counts["tasks_unstaffed"] else ""


def _login_lines(report: SeedReport) -> list[str]:
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):", f"  {'username':<22} {'role':<14} jurisdiction  name"]
    for user in report.logins:
        where = f"{user.jurisdiction} {report.region_names.get(user.jurisdiction, '')}"
        lines.append(f"  {user.username:<22} {user.role:<14} {where}    {user.surname}{user.given_name}")
    if report.skipped_users:
        lines.append(f"  (existing non-demo users left alone: {', '.join(report.skipped_users)})")
    return lines
