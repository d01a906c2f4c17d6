"""Pipeline benchmark: synthetic enterprises at scale, every stage timed with its number of SQL queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jqs_bench python -m bench.pipeline --enterprises 1000000
    JQS_VAR_DIR=/tmp/bench_sqlite python -m bench.pipeline --enterprises 7000 --json /tmp/bench.json
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jqs_bench_zj python -m bench.pipeline --province --enterprises 1000000

Runs only on a migrated database that holds nothing but benchmark data (every generated enterprise is named
``BENCH-…``). The data is a pure function of ``--enterprises`` (hashes, not random draws), so a second
invocation with the same size reuses it; ``--fresh`` flushes and regenerates. Steps: generate → reset the
derived state → the pipeline (the ORM services, via ``jiaxing_qs.pipeline.run_stage``) → the same again (the
idempotent rerun) → reset → the hand-written SQL of bench/handwritten_sql.py twice → reset → the same SQL
against a narrow table of derived enterprise state (the floor) twice → compare the derived state each left
with the ORM's → report (``--repeat N``: all of it N times, per-stage medians). See bench/README.md.
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
django.setup()

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import DatabaseError, connection, transaction  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.db.models import Count, F, Max, Q, Sum  # noqa: E402

from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent, RiskEventKind, RiskReason, SupervisionPolicy  # noqa: E402
from inspections.models import SpotCheckResult  # noqa: E402
from jiaxing_qs.pipeline import STAGES, run_stage  # noqa: E402
from products.imports import load_catalogue  # noqa: E402
from products.models import GradingPolicy, LicenceType, Product  # noqa: E402
from regions.imports import load_jiaxing, load_province  # noqa: E402
from regions.models import ColourThresholds, IndexWeights, Level, Region, RegionSnapshot  # noqa: E402
from regions.periods import period_of  # noqa: E402

MARK = "BENCH-"  # prefix of every generated enterprise name, report number and event reference
DEFAULT_AS_OF = dt.date(2026, 10, 31)

# The shape of the data (per enterprise unless said otherwise).
CLOSED_SHARE = 0.03
SECOND_PRODUCT_SHARE, THIRD_PRODUCT_SHARE = 0.5, 0.2  # 1–3 products made, 1.7 on average
CHECKS_PER_YEAR, CHECK_YEARS = 0.6, 3
NONCONFORMING_SHARE = 0.10  # on average; varies ×0.4–1.6 by town and ×0.5–1.5 by product
OTHER_EVENT_SHARE = 0.05  # enterprises with one other risk event, dated over 3.5 years (some fall outside the window)
LICENCE_MISSING_SHARE = 0.02  # of products made that need a licence; about 3 % more have it expired
OTHER_EVENT_KINDS = (
    (RiskEventKind.VERIFIED_COMPLAINT, 30),
    (RiskEventKind.OVERDUE_RECTIFICATION, 20),
    (RiskEventKind.PENALTY, 15),
    (RiskEventKind.FAILED_REINSPECTION, 10),
    (RiskEventKind.INCIDENT, 10),
    (RiskEventKind.RECALL, 10),
    (RiskEventKind.LICENCE_PROBLEM, 5),
)
# --- Deterministic pseudo-random values in SQL ---------------------------------------------------------------
# Multiplicative (Weyl) hashes: integer arithmetic that PostgreSQL and SQLite evaluate identically, so the
# same size gives the same data on both, without seeding a random generator.
TWO32 = 1 << 32
MULTIPLIERS = (
    2654435761, 2246822519, 3266489917, 668265263, 374761393, 3323455319, 1597334677, 2869860233,
    1181783497, 4093883597, 2028178513, 3735928559, 1103515245, 2891336453, 1664525, 22695477,
)  # fmt: skip


def _u(expr: str, salt: int) -> str:
    """A value spread evenly over 0 .. 2³²−1, a different one per salt."""
    return f"((CAST({expr} AS BIGINT) * {MULTIPLIERS[salt]} + {salt * 7919 + 1}) % {TWO32})"


def _pick(expr: str, salt: int, n: int) -> str:
    """An integer 0 .. n−1."""
    return f"({_u(expr, salt)} * {n} / {TWO32})"


def _chance(expr: str, salt: int, share: float | str) -> str:
    """True for about ``share`` of the values (``share`` may be an SQL expression)."""
    return f"({_u(expr, salt)} < {TWO32}.0 * ({share}))"


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _date_plus(day: dt.date, days_expr: str) -> str:
    if _pg():
        return f"(DATE '{day.isoformat()}' + CAST({days_expr} AS integer))"
    return f"date('{day.isoformat()}', ({days_expr}) || ' days')"


def _series(n: int) -> str:
    """A CTE ``s(g)`` of 1 .. n (the statement starts WITH RECURSIVE)."""
    if _pg():
        return f"s(g) AS (SELECT generate_series(1, {n}))"
    return f"s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n})"


def _values_cte(name: str, columns: str, rows: list[tuple]) -> str:
    return f"{name}({columns}) AS (VALUES {', '.join('(' + ', '.join(str(v) for v in row) + ')' for row in rows)})"


def _execute(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.rowcount


# --- The benchmark database ------------------------------------------------------------------------------------
class Refused(Exception):
    pass


def check_database(enterprises: int, *, fresh: bool, scope: str = "jiaxing") -> bool:
    """Refuse any database holding data that is not the benchmark's; True when the data must be generated."""
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise Refused("the database has unapplied migrations: run `python manage.py migrate` with the same settings first")
    foreign = Enterprise.objects.exclude(name__startswith=MARK).count()
    if foreign:
        raise Refused(
            f"this database holds {foreign:,} enterprises that are not benchmark data: the benchmark writes, flushes and "
            "regrades freely, so it only runs on a database of its own (e.g. DATABASE_URL=…/jqs_bench or JQS_VAR_DIR=/tmp/…)"
        )
    present = Enterprise.objects.count()
    if present and not fresh and present != enterprises:
        raise Refused(f"this database holds benchmark data for {present:,} enterprises, not {enterprises:,}: use --fresh to regenerate")
    if present and not fresh:
        outside = Enterprise.objects.exclude(town__code__startswith=SCOPES[scope]["towns_under"]).exists()
        inside_jiaxing_only = not Enterprise.objects.exclude(town__code__startswith=SCOPES["jiaxing"]["towns_under"]).exists()
        if outside or (scope == "zhejiang" and inside_jiaxing_only):
            raise Refused(f"this database holds benchmark data of another scope than {scope}: use --fresh to regenerate")
    if fresh and present:
        flush()
        return True
    return present == 0


def flush() -> None:
    """Remove the benchmark's enterprises and everything hanging off them (check_database made sure there is nothing
    else, so CASCADE only reaches rows of benchmark enterprises); the divisions and the product catalogue stay."""
    started = time.perf_counter()
    children_first = [SpotCheckResult, RiskReason, RiskEvent, EnterpriseProduct, *audit_models(), Enterprise, RegionSnapshot]
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in children_first)
    with transaction.atomic():
        truncated = False
        if _pg():
            try:
                with transaction.atomic():
                    _execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                truncated = True
            except DatabaseError:  # e.g. no TRUNCATE privilege: delete instead
                pass
        if not truncated:
            for model in children_first:
                _execute(f"DELETE FROM {model._meta.db_table}")
    print(f"flushed the benchmark data in {time.perf_counter() - started:.1f} s", flush=True)


def _products() -> list[tuple[int, int, int]]:
    """The catalogue shipped with the app (249 products, real grade factors): (ordinal, id, needs a licence)."""
    if not Product.objects.exists():
        load_catalogue()
    rows = Product.objects.filter(is_active=True).order_by("code").values_list("id", "licence_type")
    return [(ordinal, pk, int(licence != LicenceType.NONE)) for ordinal, (pk, licence) in enumerate(rows)]


# Where the enterprises are: Jiaxing's 72 towns, or (--province) every town and street of Zhejiang's 90 counties.
SCOPES = {
    "jiaxing": {"load": load_jiaxing, "towns_under": "3304", "name": "嘉兴某制造有限公司", "box": (30.45, 0.65, 120.30, 0.95)},
    "zhejiang": {
        "load": lambda: load_province("zhejiang"),
        "towns_under": "33",
        "name": "浙江某制造有限公司",
        "box": (27.05, 4.15, 118.05, 4.90),
    },
}


def generate(enterprises: int, as_of: dt.date, scope: str = "jiaxing") -> dict[str, float]:
    """Write the synthetic data with a handful of INSERT … SELECT statements; returns seconds per table."""
    timings = {}

    def step(name: str, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        work()
        timings[name] = time.perf_counter() - started
        print(f"  {name}: {timings[name]:.1f} s", flush=True)

    where = SCOPES[scope]
    print(f"generating {enterprises:,} enterprises ({scope}) …", flush=True)
    step("divisions", where["load"])
    towns = list(
        Region.objects.filter(level=Level.TOWN, code__startswith=where["towns_under"]).order_by("code").values_list("id", flat=True)
    )
    print(f"  over {len(towns):,} towns", flush=True)
    products: list[tuple[int, int, int]] = []
    step("products", lambda: products.extend(_products()))
    enterprise_table = Enterprise._meta.db_table
    made_table = EnterpriseProduct._meta.db_table
    checks_table = SpotCheckResult._meta.db_table
    events_table = RiskEvent._meta.db_table
    towns_cte = _values_cte("towns", "ord, id", list(enumerate(towns)))
    products_cte = _values_cte("products", "ord, id, licensed", products)
    n_products = len(products)

    # Enterprises: ids 1..N; towns skewed (the first towns of the list hold more), 3 % closed. Names and report
    # numbers are zero-padded so that their unique indexes are filled in order (much faster than at random).
    name = f"'{MARK}' || SUBSTR(CAST(10000000 + s.g AS TEXT), 2) || ' {where['name']}'"
    lat0, lat_span, lon0, lon_span = where["box"]
    town_u = f"CASE WHEN {_u('s.g', 3)} < {_u('s.g', 4)} THEN {_u('s.g', 3)} ELSE {_u('s.g', 4)} END"
    step(
        "enterprises",
        lambda: _execute(
            f"WITH RECURSIVE {_series(enterprises)}, {towns_cte} "
            f"INSERT INTO {enterprise_table} (id, credit_code, name, address, lat, lon, status, is_demo, risk_class, max_grade, "
            "category, classified_at, town_id) "
            f"SELECT s.g, '91330400' || CAST(1000000000 + s.g AS TEXT), {name}, '', "
            f"{lat0} + {_u('s.g', 1)} / {TWO32}.0 * {lat_span}, {lon0} + {_u('s.g', 2)} / {TWO32}.0 * {lon_span}, "
            f"CASE WHEN {_chance('s.g', 5, CLOSED_SHARE)} THEN 'closed' ELSE 'active' END, FALSE, 'non_risk', NULL, NULL, NULL, towns.id "
            f"FROM s JOIN towns ON towns.ord = ({town_u}) * {len(towns)} / {TWO32}"
        ),
    )
    # Products made: ids e*3+j; each town's enterprises cluster on ~40 neighbouring catalogue products.
    product_ord = f"(e.town_id * 31 + {_pick('e.id', 6, 40)} + j.j * 83) % {n_products}"
    licence_number = (
        f"CASE WHEN products.licensed = 1 AND NOT {_chance('x.id', 7, LICENCE_MISSING_SHARE)} THEN 'XK' || CAST(x.id AS TEXT) ELSE '' END"
    )
    expiry = _date_plus(as_of, _pick("x.id", 8, 1800) + " - 60")
    step(
        "products made",
        lambda: _execute(
            f"WITH RECURSIVE j(j) AS (VALUES (0), (1), (2)), {products_cte} "
            f"INSERT INTO {made_table} (id, enterprise_id, product_id, licence_number, licence_expiry) "
            f"SELECT x.id, x.enterprise_id, products.id, {licence_number}, "
            f"CASE WHEN {licence_number} = '' THEN NULL ELSE {expiry} END "
            f"FROM (SELECT e.id * 3 + j.j AS id, e.id AS enterprise_id, {product_ord} AS ord FROM {enterprise_table} e CROSS JOIN j "
            f"WHERE j.j = 0 OR (j.j = 1 AND {_chance('e.id', 9, SECOND_PRODUCT_SHARE)}) "
            f"OR (j.j = 2 AND {_chance('e.id', 9, THIRD_PRODUCT_SHARE)})) x "
            "JOIN products ON products.ord = x.ord"
        ),
    )
    # Spot checks: up to 4 per product made over 3 years, ~0.6 per enterprise and year; ids m*4+slot.
    per_slot = CHECKS_PER_YEAR * CHECK_YEARS / (1 + SECOND_PRODUCT_SHARE + THIRD_PRODUCT_SHARE) / 4
    failure_share = f"{NONCONFORMING_SHARE} * (0.4 + 1.2 * ((e.town_id * 37) % 100) / 100.0) * (0.5 + ((m.product_id * 53) % 100) / 100.0)"
    step(
        "spot checks",
        lambda: _execute(
            "WITH RECURSIVE slots(slot) AS (VALUES (0), (1), (2), (3)) "
            f"INSERT INTO {checks_table} (id, enterprise_id, product_id, checked_on, conforming, batch_number, lab_report_number, "
            "level, failed_items, source, is_demo, created_at) "
            f"SELECT x.id, x.enterprise_id, x.product_id, {_date_plus(as_of, '-' + _pick('x.id', 10, 365 * CHECK_YEARS))}, "
            f"NOT x.failed, 'B' || CAST(x.id AS TEXT), '{MARK}' || SUBSTR(CAST(100000000 + x.id AS TEXT), 2), "
            f"CASE {_pick('x.id', 12, 10)} WHEN 0 THEN 'national' WHEN 1 THEN 'provincial' WHEN 2 THEN 'county' ELSE 'city' END, "
            "CASE WHEN x.failed THEN '标签标识; 关键安全指标' ELSE '' END, 'imported', FALSE, CURRENT_TIMESTAMP "
            f"FROM (SELECT m.id * 4 + slots.slot AS id, m.enterprise_id, m.product_id, "
            f"{_chance('m.id * 4 + slots.slot', 11, failure_share)} AS failed "
            f"FROM {made_table} m JOIN {enterprise_table} e ON e.id = m.enterprise_id CROSS JOIN slots "
            f"WHERE {_chance('m.id * 4 + slots.slot', 13, per_slot)}) x"
        ),
    )
    kind_cases, cumulative = [], 0
    for kind, weight in OTHER_EVENT_KINDS:
        cumulative += weight
        kind_cases.append(f"WHEN {_pick('e.id', 14, 100)} < {cumulative} THEN '{kind.value}'")
    step(
        "other risk events",
        lambda: _execute(
            f"INSERT INTO {events_table} (enterprise_id, kind, occurred_on, source_ref, product_id, description, is_demo) "
            f"SELECT e.id, CASE {' '.join(kind_cases)} END, {_date_plus(as_of, '-' + _pick('e.id', 15, 1280))}, "
            f"'{MARK}EV' || CAST(e.id AS TEXT), NULL, '', FALSE FROM {enterprise_table} e WHERE {_chance('e.id', 0, OTHER_EVENT_SHARE)}"
        ),
    )
    if _pg():  # ids were written explicitly: move the identity sequences past them
        for model in (Enterprise, EnterpriseProduct, SpotCheckResult):
            table = model._meta.db_table
            _execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    step("analyze", analyze)
    return timings


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have them on a live database (SQLite: left as is)."""
    if _pg():
        models = (Enterprise, EnterpriseProduct, SpotCheckResult, RiskEvent, RiskReason, Product, Region, RegionSnapshot, *audit_models())
        tables = [model._meta.db_table for model in models]
        _execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def audit_models() -> list:
    """The tables where the rules log the changes they make (present once the audit trail is installed)."""
    found = []
    for app_label, model_name in (("enterprises", "StateChange"), ("products", "GradeChange")):
        with contextlib.suppress(LookupError):
            found.append(apps.get_model(app_label, model_name))
    return found


def reset_derived(period: dt.date) -> None:
    """Back to the state right after generation: no pipeline-made events, reasons, grades, classes, snapshots or
    audit rows. Plain SQL: QuerySet.delete() would send a signal (and write a history row) per deleted row."""
    with transaction.atomic():
        _execute(f"DELETE FROM {RiskEvent._meta.db_table} WHERE kind = '{RiskEventKind.NONCONFORMING_SPOT_CHECK.value}'")
        for model in (RiskReason, *audit_models()):
            _execute(f"DELETE FROM {model._meta.db_table}")
        Enterprise.objects.exclude(max_grade=None, category=None, classified_at=None, risk_class="non_risk").update(
            risk_class="non_risk", max_grade=None, category=None, classified_at=None
        )
        Product.objects.update(failure_rate=0, failure_sample=0, computed_grade=None, grade=None)
        _execute(f"DELETE FROM {RegionSnapshot._meta.db_table} WHERE period = '{period.isoformat()}'")
        Region.objects.filter(level=Level.TOWN, boundary__isnull=True).update(label_lat=None, label_lon=None)
    analyze()


def data_summary() -> dict:
    checks = SpotCheckResult.objects.aggregate(n=Count("id"), failed=Count("id", filter=Q(conforming=False)))
    return {
        "enterprises": Enterprise.objects.count(),
        "towns": Enterprise.objects.values("town_id").distinct().count(),
        "products": Product.objects.count(),
        "products_made": EnterpriseProduct.objects.count(),
        "spot_checks": checks["n"],
        "nonconforming": checks["failed"],
        "other_risk_events": RiskEvent.objects.exclude(kind=RiskEventKind.NONCONFORMING_SPOT_CHECK).count(),
    }


def fingerprint(period: dt.date) -> dict:
    """The derived state the pipeline writes, condensed, to check the hand-written SQL does the same work."""
    snapshots = {}
    for s in RegionSnapshot.objects.filter(period=period).order_by("region_id"):
        inputs = {k: v for k, v in s.index_inputs.items() if k != "scores"}
        counts = [s.enterprise_count, s.risk_count, s.key_supervised_count, str(s.risk_share)]
        snapshots[s.region_id] = [*counts, s.colour, s.reason_counts, str(s.index), inputs]
    products = Product.objects.order_by("id").values_list("id", "failure_sample", "failure_rate", "computed_grade", "grade")
    classes = ("risk_class", "max_grade", "category")
    reasons = RiskReason.objects.values("kind").annotate(
        n=Count("id"), total=Sum("count"), weighted=Sum(F("enterprise_id") * F("count")), last=Max("last_on")
    )
    return {
        "products": [list(map(str, row)) for row in products],
        "enterprises": list(Enterprise.objects.values(*classes).annotate(n=Count("id"), ids=Sum("id")).order_by(*classes)),
        "reasons": [{**row, "last": str(row["last"])} for row in reasons.order_by("kind")],
        "events": list(RiskEvent.objects.values("kind").annotate(n=Count("id"), ids=Sum("enterprise_id")).order_by("kind")),
        "snapshots": snapshots,
        "audit rows": {model.__name__: model.objects.count() for model in audit_models()},  # texts may differ, counts may not
    }


def fingerprint_differences(a: dict, b: dict) -> list[str]:
    differences = []
    for key in a:
        if key == "snapshots":
            for region_id in sorted(set(a[key]) | set(b[key])):
                left, right = a[key].get(region_id), b[key].get(region_id)
                if left != right:
                    differences.append(f"snapshot of region {region_id}: ORM {left} vs SQL {right}")
        elif json.dumps(a[key], sort_keys=True, default=str) != json.dumps(b[key], sort_keys=True, default=str):
            differences.append(f"{key} differ")
    return differences


# --- Timing ----------------------------------------------------------------------------------------------------
class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class StageTiming:
    stage: str
    seconds: float  # the median of the samples when the measurement is repeated
    queries: int
    summary: str = ""
    samples: list[float] = field(default_factory=list)


@dataclass
class Run:
    label: str
    stages: list[StageTiming] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def queries(self) -> int:
        return sum(stage.queries for stage in self.stages)


def timed_run(label: str, run: Callable[[str, dt.date], dict], as_of: dt.date) -> Run:
    result = Run(label)
    print(f"{label} …", flush=True)
    for stage in STAGES:
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            summary = run(stage.name, as_of)
            seconds = time.perf_counter() - started
        result.stages.append(StageTiming(stage.name, seconds, counter.count, summary.get("message", "")))
        print(f"  {stage.name:<26} {seconds:8.3f} s {counter.count:5d} queries   {summary.get('message', '')}", flush=True)
    return result


def median_run(label: str, repetitions: list[Run]) -> Run:
    """Per stage, the median time over the repetitions (queries and summary from the first)."""
    stages = []
    for index, first in enumerate(repetitions[0].stages):
        samples = [run.stages[index].seconds for run in repetitions]
        stages.append(StageTiming(first.stage, statistics.median(samples), first.queries, first.summary, samples))
    return Run(label, stages)


def ensure_rules() -> None:
    """The rule versions exist before timing starts (the first in_force() call creates the defaults)."""
    for rule in (GradingPolicy, SupervisionPolicy, ColourThresholds, IndexWeights):
        rule.in_force()


def machine() -> dict:
    def first(path: str, prefix: str) -> str | None:
        try:
            with open(path) as lines:
                return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), None)
        except OSError:
            return None

    cpu = first("/proc/cpuinfo", "model name") or platform.processor()
    memory_kb = first("/proc/meminfo", "MemTotal")
    memory = int(memory_kb.split()[0]) // 1024 // 1024 if memory_kb else None
    with connection.cursor() as cursor:
        if _pg():
            cursor.execute("SELECT current_setting('server_version'), current_setting('shared_buffers'), current_setting('work_mem')")
            version, shared_buffers, work_mem = cursor.fetchone()
            database = f"PostgreSQL {version} (shared_buffers {shared_buffers}, work_mem {work_mem})"
        else:
            cursor.execute("SELECT sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]}"
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory,
        "python": platform.python_version(),
        "database": database,
        "load_average": [round(value, 1) for value in os.getloadavg()],  # the machine may be shared: say how busy it was
    }


def print_report(report: dict) -> None:
    runs = {run["label"]: run for run in report["runs"]}
    info = report["machine"]
    data = report["data"]
    print()
    print(f"Pipeline benchmark — {data['enterprises']:,} enterprises, as of {report['as_of']}")
    print(f"machine: {info['cpus']} cores {info['cpu']}, {info['memory_gb']} GB; Python {info['python']}; {info['database']}")
    print(f"load average when the runs ended (1, 5, 15 min): {', '.join(map(str, info['load_average']))}")
    print(
        f"data: {data['towns']} towns, {data['products']} products, {data['products_made']:,} products made, "
        f"{data['spot_checks']:,} spot checks "
        f"({data['nonconforming'] / max(data['spot_checks'], 1):.1%} non-conforming), {data['other_risk_events']:,} other risk events"
        + (f"; generated in {sum(report['generation'].values()):.1f} s" if report["generation"] else "; reused")
    )
    # ORM/SQL k, ORM/floor k: the pipeline's run k against the hand-written SQL's (and the floor's) run k, all
    # from the same starting state.
    pairs = [(f"ORM run {k}", f"{other} run {k}") for other in ("SQL", "floor") for k in (1, 2)]
    pairs = [(orm, other) for orm, other in pairs if orm in runs and other in runs]
    print()
    heads = "".join(f" {'ORM/' + other.split()[0] + ' ' + orm[-1]:>11}" for orm, other in pairs)
    print(f"{'stage':<26}" + "".join(f" {label:>16}" for label in runs) + heads)
    print(f"{'':<26}" + "".join(f" {'s':>9} {'queries' if label.startswith('ORM') else 'stmts':>6}" for label in runs))

    def line(name: str, rows: dict[str, dict]) -> str:
        cells = "".join(f" {rows[label]['seconds']:9.3f} {rows[label]['queries']:6d}" for label in runs)
        ratios = "".join(
            f" {rows[orm]['seconds'] / rows[sql]['seconds']:11.2f}" if rows[sql]["seconds"] else f" {'—':>11}" for orm, sql in pairs
        )
        return f"{name:<26}{cells}{ratios}"

    for index, stage in enumerate(next(iter(runs.values()))["stages"]):
        print(line(stage["stage"], {label: run["stages"][index] for label, run in runs.items()}))
    print(line("total", runs))
    for other, what in (("SQL", "hand-written SQL"), ("floor", "narrow-table floor")):
        if f"same_result {other}" in report:
            print()
            same = report[f"same_result {other}"]
            print(f"{what} left the same derived state as the ORM pipeline" if same else f"DIFFERENCES between ORM and {what} results:")
            for difference in report[f"differences {other}"][:20]:
                print(f"  {difference}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=7000, help="number of synthetic enterprises (default 7000)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=DEFAULT_AS_OF, help=f"pipeline date (default {DEFAULT_AS_OF})")
    parser.add_argument("--fresh", action="store_true", help="flush the benchmark data and generate it again")
    parser.add_argument(
        "--province",
        action="store_true",
        help="load Zhejiang's divisions, spread the enterprises over all its towns (default: Jiaxing's)",
    )
    parser.add_argument("--no-handwritten", action="store_true", help="skip the hand-written SQL comparison")
    parser.add_argument("--no-floor", action="store_true", help="skip the narrow-table floor (the hand-written SQL on narrow state)")
    parser.add_argument("--runs", type=int, choices=(1, 2), default=2, help="runs of each: 2 = first run and idempotent rerun (default)")
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, report each stage's median (for a busy machine)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH ('-' for stdout)")
    options = parser.parse_args(argv)
    settings.DEBUG = False  # no query log: time what production runs
    period = period_of(options.as_of)
    scope = "zhejiang" if options.province else "jiaxing"

    try:
        must_generate = check_database(options.enterprises, fresh=options.fresh, scope=scope)
    except Refused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 2
    generation = generate(options.enterprises, options.as_of, scope) if must_generate else {}
    if not must_generate:
        print(f"reusing the benchmark data already in the database ({options.enterprises:,} enterprises)", flush=True)
    ensure_rules()
    from bench import handwritten_sql

    contenders = [("ORM", run_stage)]
    if not options.no_handwritten:
        contenders.append(("SQL", handwritten_sql.run_stage))
    if not options.no_floor:
        contenders.append(("floor", handwritten_sql.narrow_run_stage))
    measured: dict[str, list[Run]] = {}
    report = {"as_of": options.as_of.isoformat(), "scope": scope, "generation": generation}
    for repetition in range(options.repeat):
        states = {}
        for name, run in contenders:  # each from the state right after generation
            reset_derived(period)
            if name == "floor":
                handwritten_sql.narrow_prepare()
            for k in range(1, options.runs + 1):
                measured.setdefault(f"{name} run {k}", []).append(
                    timed_run(f"{name} run {k} ({repetition + 1}/{options.repeat})", run, options.as_of)
                )
            states[name] = fingerprint(period)
            if name == "floor":  # its enterprise state is in the narrow table; the enterprises' own columns stay reset
                states[name]["enterprises"] = handwritten_sql.narrow_enterprise_state()
                handwritten_sql.narrow_drop()
        for other in states.keys() - {"ORM"}:
            if f"differences {other}" not in report:
                differences = fingerprint_differences(states["ORM"], states[other])
                report[f"differences {other}"] = differences
                report[f"same_result {other}"] = not differences
    report["data"] = data_summary()
    runs = [median_run(label, repetitions) for label, repetitions in measured.items()]
    report["runs"] = [asdict(run) | {"seconds": run.seconds, "queries": run.queries} for run in runs]
    report["machine"] = machine()
    print_report(report)
    if options.json:
        text = json.dumps(report, indent=2, ensure_ascii=False, default=str)
        if options.json == "-":
            print(text)
        else:
            with open(options.json, "w", encoding="utf-8") as handle:
                handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
