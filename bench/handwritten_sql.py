"""The pipeline's work written by hand in SQL, to see how far the ORM services are from it.

On PostgreSQL each stage is one statement (writable CTEs), after one lookup of the rule version in force; on
SQLite, which has no writable CTEs, a stage is a few statements. The results must equal the services' (the
benchmark compares the derived state of both); the reports are shorter (no list of changed colours).

The same statements also run against a narrow table of derived enterprise state (``narrow_run_stage``): the
floor the issue asks the pipeline to come close to (see the end of this module).
"""

import datetime as dt

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from enterprises.models import (
    INCIDENT_KINDS,
    KEY_SUPERVISED,
    Enterprise,
    EnterpriseProduct,
    ReasonKind,
    RiskClass,
    RiskEvent,
    RiskEventKind,
    RiskReason,
    Status,
    SupervisionPolicy,
)
from inspections.models import SpotCheckResult
from jiaxing_qs.pipeline import run_stage as pipeline_run_stage
from products.models import GradingPolicy, LicenceType, Product
from regions.models import ColourThresholds, IndexWeights, Region, RegionSnapshot
from regions.periods import months_before, period_of, years_before

ENTERPRISES = Enterprise._meta.db_table
MADE = EnterpriseProduct._meta.db_table
EVENTS = RiskEvent._meta.db_table
REASONS = RiskReason._meta.db_table
CHECKS = SpotCheckResult._meta.db_table
PRODUCTS = Product._meta.db_table
REGIONS = Region._meta.db_table
SNAPSHOTS = RegionSnapshot._meta.db_table
STATE_CHANGES = apps.get_model("enterprises", "StateChange")._meta.db_table  # the rules' audit trail
GRADE_CHANGES = apps.get_model("products", "GradeChange")._meta.db_table
PREFIX = "抽查 "
NONCONFORMING = RiskEventKind.NONCONFORMING_SPOT_CHECK.value


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _run(sql: str, params=()) -> tuple[int, list]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.rowcount, rows


def record_spot_check_events(as_of: dt.date) -> dict:
    recorded, _ = _run(
        f"INSERT INTO {EVENTS} (enterprise_id, product_id, kind, occurred_on, source_ref, description, is_demo) "
        f"SELECT s.enterprise_id, s.product_id, %s, s.checked_on, %s || s.lab_report_number, substr(s.failed_items, 1, 500), s.is_demo "
        f"FROM {CHECKS} s WHERE NOT s.conforming ON CONFLICT DO NOTHING",  # the unique (enterprise, kind, source) skips known ones
        [NONCONFORMING, PREFIX],
    )
    return {"message": f"{recorded} non-conforming results recorded as risk events"}


def refresh_failure_rates(as_of: dt.date) -> dict:
    policy = GradingPolicy.in_force_on(as_of)
    changed, _ = _run(
        f"UPDATE {PRODUCTS} AS p SET failure_sample = f.n, failure_rate = f.rate "
        f"FROM (SELECT p2.id, COALESCE(a.n, 0) AS n, COALESCE(a.rate, 0) AS rate FROM {PRODUCTS} p2 LEFT JOIN "
        "(SELECT product_id, COUNT(*) AS n, ROUND(CAST(COUNT(*) FILTER (WHERE NOT conforming) * 100.0 / COUNT(*) AS NUMERIC), 2) AS rate "
        f"FROM {CHECKS} WHERE checked_on >= %s AND checked_on <= %s GROUP BY product_id) a ON a.product_id = p2.id) f "
        "WHERE f.id = p.id AND (p.failure_sample <> f.n OR p.failure_rate <> f.rate)",
        [years_before(as_of, policy.failure_window_years), as_of],
    )
    return {"message": f"failure rates changed for {changed} products"}


def grade_products(as_of: dt.date) -> dict:
    g = GradingPolicy.in_force_on(as_of)
    graded = (
        "SELECT id, grade AS old_grade, override_grade, CASE WHEN score >= %s THEN 3 WHEN score >= %s THEN 2 ELSE 1 END AS computed FROM ("
        "SELECT id, grade, override_grade, CASE harm_severity WHEN 3 THEN %s WHEN 2 THEN %s ELSE %s END "
        "+ CASE WHEN licence_type <> %s THEN %s ELSE 0 END + CASE WHEN vulnerable_users THEN %s ELSE 0 END "
        "+ CASE WHEN failure_sample >= %s AND failure_rate >= %s THEN %s "
        f"WHEN failure_sample >= %s AND failure_rate >= %s THEN %s ELSE 0 END AS score FROM {PRODUCTS}) s"
    )
    params = [
        *(g.high_from_score, g.medium_from_score, g.points_severe, g.points_moderate, g.points_minor),
        *(LicenceType.NONE.value, g.points_licence, g.points_vulnerable),
        *(g.min_failure_sample, g.failure_rate_high, g.points_failure_high, g.min_failure_sample, g.failure_rate_medium),
        g.points_failure_medium,
    ]
    differs = "(COALESCE(p.computed_grade, 0) <> g.computed OR COALESCE(p.grade, 0) <> COALESCE(p.override_grade, g.computed))"
    update = f"UPDATE {PRODUCTS} AS p SET computed_grade = g.computed, grade = COALESCE(p.override_grade, g.computed) FROM graded g "
    audit = f"INSERT INTO {GRADE_CHANGES} (product_id, changed_at, old_grade, new_grade, computed, policy_id, reason, changed_by_id) "
    audit_params = [timezone.now(), g.pk, f"pipeline {timezone.localdate().isoformat()}"]
    if _pg():  # the audit rows of the grades that change, then the UPDATE, in one statement
        _, rows = _run(
            f"WITH graded AS ({graded}), changed AS ({update} WHERE g.id = p.id AND {differs} "
            "RETURNING p.id, g.old_grade, p.grade, p.override_grade IS NULL AS computed), "
            f"audit AS ({audit} SELECT id, %s, old_grade, grade, computed, %s, %s, NULL FROM changed "
            "WHERE old_grade IS DISTINCT FROM grade) SELECT COUNT(*) FROM changed WHERE old_grade IS DISTINCT FROM grade",
            [*params, *audit_params],
        )
        changed = rows[0][0]
    else:
        changed, _ = _run(
            f"WITH graded AS ({graded}) {audit} SELECT g.id, %s, g.old_grade, COALESCE(g.override_grade, g.computed), "
            "g.override_grade IS NULL, %s, %s, NULL FROM graded g WHERE COALESCE(g.old_grade, 0) <> COALESCE(g.override_grade, g.computed)",
            [*params, *audit_params],
        )
        _run(f"WITH graded AS ({graded}) {update} WHERE g.id = p.id AND {differs}", params)
    return {"message": f"{changed} products changed grade"}


def _desired_reasons(as_of: dt.date) -> tuple[str, list]:
    policy = SupervisionPolicy.in_force_on(as_of)
    licence_kind = (
        f"CASE WHEN m.licence_number = '' THEN '{ReasonKind.LICENCE_MISSING.value}' ELSE '{ReasonKind.LICENCE_EXPIRED.value}' END"
    )
    sql = (
        f"SELECT enterprise_id, kind, COUNT(*) AS n, MAX(occurred_on) AS last_on FROM {EVENTS} "
        "WHERE occurred_on >= %s AND occurred_on <= %s GROUP BY enterprise_id, kind "
        f"UNION ALL SELECT m.enterprise_id, {licence_kind}, COUNT(*), MAX(m.licence_expiry) "
        f"FROM {MADE} m JOIN {PRODUCTS} p ON p.id = m.product_id "
        f"WHERE p.licence_type <> %s AND (m.licence_number = '' OR m.licence_expiry < %s) GROUP BY m.enterprise_id, {licence_kind}"
    )
    return sql, [years_before(as_of, policy.risk_window_years), as_of, LicenceType.NONE.value, as_of]


def classify_enterprises(as_of: dt.date, enterprises: str = ENTERPRISES) -> dict:
    desired, params = _desired_reasons(as_of)
    now = timezone.now()
    risk, non_risk, active = RiskClass.RISK.value, RiskClass.NON_RISK.value, Status.ACTIVE.value
    upsert = (
        "ON CONFLICT (enterprise_id, kind) DO UPDATE SET count = excluded.count, last_on = excluded.last_on "
        f"WHERE {REASONS}.count <> excluded.count OR COALESCE({REASONS}.last_on, '1900-01-01') <> COALESCE(excluded.last_on, '1900-01-01')"
    )
    # Audit rows as the service writes them: old → new class, as of, and why (the reasons, or an empty window).
    audit = f"INSERT INTO {STATE_CHANGES} (enterprise_id, changed_at, field, old_value, new_value, as_of, reason) "
    why_not = "No risk event within the risk window."
    if _pg():
        _, rows = _run(
            f"WITH desired AS ({desired}), "
            f"removed AS (DELETE FROM {REASONS} r WHERE NOT EXISTS (SELECT 1 FROM desired d WHERE d.enterprise_id = r.enterprise_id "
            "AND d.kind = r.kind)), "
            f"upserted AS (INSERT INTO {REASONS} (enterprise_id, kind, count, last_on) SELECT * FROM desired {upsert}), "
            "risky AS (SELECT enterprise_id, string_agg(kind || ' × ' || n, '; ' ORDER BY kind) AS why FROM desired "
            "GROUP BY enterprise_id), "
            f"to_risk AS (UPDATE {enterprises} e SET risk_class = %s, classified_at = %s FROM risky "
            "WHERE risky.enterprise_id = e.id AND e.risk_class <> %s RETURNING e.id, e.status, risky.why), "
            f"to_non_risk AS (UPDATE {enterprises} e SET risk_class = %s, classified_at = %s "
            "WHERE e.risk_class = %s AND e.id NOT IN (SELECT enterprise_id FROM risky) RETURNING e.id, e.status), "
            f"audit_risk AS ({audit} SELECT id, %s, 'risk_class', %s, %s, %s, why FROM to_risk), "
            f"audit_non_risk AS ({audit} SELECT id, %s, 'risk_class', %s, %s, %s, %s FROM to_non_risk) "
            "SELECT (SELECT COUNT(*) FROM to_risk), (SELECT COUNT(*) FROM to_non_risk), "
            f"(SELECT COUNT(*) FROM {enterprises} WHERE risk_class = %s AND status = %s) "
            "+ (SELECT COUNT(*) FROM to_risk WHERE status = %s) - (SELECT COUNT(*) FROM to_non_risk WHERE status = %s)",
            [
                *(*params, risk, now, risk, non_risk, now, risk),
                *(now, non_risk, risk, as_of, now, risk, non_risk, as_of, why_not),
                *(risk, active, active, active),
            ],
        )
        became_risk, became_non_risk, total = rows[0]
    else:
        _run(f"CREATE TEMP TABLE desired AS {desired}", params)
        _run("CREATE INDEX desired_enterprise ON desired (enterprise_id)")
        _run(f"DELETE FROM {REASONS} WHERE NOT EXISTS (SELECT 1 FROM desired d WHERE d.enterprise_id = {REASONS}.enterprise_id "
             f"AND d.kind = {REASONS}.kind)")  # fmt: skip
        _run(f"INSERT INTO {REASONS} (enterprise_id, kind, count, last_on) SELECT * FROM desired WHERE true {upsert}")
        why = "(SELECT group_concat(kind || ' × ' || n, '; ') FROM desired d WHERE d.enterprise_id = e.id)"
        to_risk = "WHERE risk_class <> %s AND id IN (SELECT enterprise_id FROM desired)"
        to_non_risk = "WHERE risk_class = %s AND id NOT IN (SELECT enterprise_id FROM desired)"
        _run(f"{audit} SELECT id, %s, 'risk_class', risk_class, %s, %s, {why} FROM {enterprises} e {to_risk}", [now, risk, as_of, risk])
        _run(
            f"{audit} SELECT id, %s, 'risk_class', risk_class, %s, %s, %s FROM {enterprises} e {to_non_risk}",
            [now, non_risk, as_of, why_not, risk],
        )
        became_risk, _ = _run(f"UPDATE {enterprises} SET risk_class = %s, classified_at = %s {to_risk}", [risk, now, risk])
        became_non_risk, _ = _run(f"UPDATE {enterprises} SET risk_class = %s, classified_at = %s {to_non_risk}", [non_risk, now, risk])
        total = _run(f"SELECT COUNT(*) FROM {enterprises} WHERE risk_class = %s AND status = %s", [risk, active])[1][0][0]
        _run("DROP TABLE desired")
    return {"message": f"{became_risk} enterprises became risk, {became_non_risk} became non-risk ({total} risk in all)"}


def _category_case(policy: SupervisionPolicy, grade: str, risk_class: str) -> tuple[str, list]:
    """The grade × class table as a CASE over a grade expression and a risk-class expression."""
    risk = RiskClass.RISK.value
    sql = (
        f"CASE WHEN {grade} = 3 THEN (CASE WHEN {risk_class} = %s THEN %s ELSE %s END) "
        f"WHEN {grade} = 2 THEN (CASE WHEN {risk_class} = %s THEN %s ELSE %s END) "
        f"ELSE (CASE WHEN {risk_class} = %s THEN %s ELSE %s END) END"
    )
    params = [risk, policy.high_risk, policy.high_non_risk, risk, policy.medium_risk, policy.medium_non_risk]
    return sql, [*params, risk, policy.low_risk, policy.low_non_risk]


def categorise_enterprises(as_of: dt.date, enterprises: str = ENTERPRISES) -> dict:
    policy = SupervisionPolicy.in_force_on(as_of)
    key = [category.value for category in KEY_SUPERVISED]
    top = f"SELECT m.enterprise_id, MAX(p.grade) AS grade FROM {MADE} m JOIN {PRODUCTS} p ON p.id = m.product_id GROUP BY m.enterprise_id"
    audit = f"INSERT INTO {STATE_CHANGES} (enterprise_id, changed_at, field, old_value, new_value, as_of, reason) "
    now, today = timezone.now(), timezone.localdate()  # the service's audit rows are as of today
    if _pg():
        category, category_params = _category_case(policy, "t.grade", "e.risk_class")
        _, rows = _run(
            f"WITH fresh AS (SELECT e.id, e.status, e.risk_class, e.category AS old_category, t.grade, {category} AS category "
            f"FROM {enterprises} e LEFT JOIN ({top}) t ON t.enterprise_id = e.id), "
            f"changed AS (UPDATE {enterprises} e SET max_grade = f.grade, category = f.category FROM fresh f "
            "WHERE f.id = e.id AND (e.max_grade IS DISTINCT FROM f.grade OR e.category IS DISTINCT FROM f.category) "
            "RETURNING e.id, f.old_category, f.category, f.grade, f.risk_class), "
            f"audit AS ({audit} SELECT id, %s, 'category', old_category, category, %s, "
            "COALESCE(CAST(grade AS TEXT), '1') || ' × ' || risk_class FROM changed WHERE old_category IS DISTINCT FROM category) "
            "SELECT (SELECT COUNT(*) FROM changed WHERE old_category IS DISTINCT FROM category), "
            "(SELECT COUNT(*) FROM fresh WHERE category IN (%s, %s) AND status = %s)",
            [*category_params, now, today, *key, Status.ACTIVE.value],
        )
        changed, key_supervised = rows[0]
    else:
        _run(
            f"UPDATE {enterprises} AS e SET max_grade = t.grade FROM ({top}) t "
            "WHERE t.enterprise_id = e.id AND COALESCE(e.max_grade, 0) <> COALESCE(t.grade, 0)"
        )
        _run(f"UPDATE {enterprises} SET max_grade = NULL WHERE max_grade IS NOT NULL AND id NOT IN (SELECT enterprise_id FROM {MADE})")
        category, category_params = _category_case(policy, "max_grade", "risk_class")
        changing = f"FROM {enterprises} WHERE COALESCE(category, '') <> {category}"
        _run(
            f"{audit} SELECT id, %s, 'category', category, {category}, %s, COALESCE(CAST(max_grade AS TEXT), '1') || ' × ' || risk_class "
            f"{changing}",
            [now, *category_params, today, *category_params],
        )
        changed, _ = _run(f"UPDATE {enterprises} SET category = {category} WHERE COALESCE(category, '') <> {category}", category_params * 2)
        key_supervised = _run(
            f"SELECT COUNT(*) FROM {enterprises} WHERE category IN (%s, %s) AND status = %s", [*key, Status.ACTIVE.value]
        )[1][0][0]
    return {"message": f"{changed} enterprises changed supervision category ({key_supervised} key-supervised)"}


def place_towns(as_of: dt.date) -> dict:
    rounded = "ROUND(CAST(AVG(e.{0}) AS NUMERIC), 5)"
    changed, _ = _run(
        f"UPDATE {REGIONS} AS r SET label_lat = c.lat, label_lon = c.lon FROM (SELECT e.town_id, "
        f"CAST({rounded.format('lat')} AS DOUBLE PRECISION) AS lat, CAST({rounded.format('lon')} AS DOUBLE PRECISION) AS lon "
        f"FROM {ENTERPRISES} e JOIN {REGIONS} t ON t.id = e.town_id "
        "WHERE e.status = %s AND e.lat IS NOT NULL AND e.lon IS NOT NULL AND t.boundary IS NULL GROUP BY e.town_id) c "
        "WHERE c.town_id = r.id AND (r.label_lat IS NULL OR r.label_lon IS NULL OR r.label_lat <> c.lat OR r.label_lon <> c.lon)",
        [Status.ACTIVE.value],
    )
    return {"message": f"{changed} towns placed at the centre of their enterprises"}


# Each region with itself and every region above it, for rolling town counts up the division tree.
CHAIN = (
    f"chain(region_id, ancestor_id) AS (SELECT id, id FROM {REGIONS} UNION ALL "
    f"SELECT c.region_id, r.parent_id FROM chain c JOIN {REGIONS} r ON r.id = c.ancestor_id WHERE r.parent_id IS NOT NULL)"
)


def _fresh_colours(as_of: dt.date, enterprises: str = ENTERPRISES) -> tuple[str, str, list, ColourThresholds]:
    """The CTEs and the SELECT of every region's counts and colour (as the ORM's town_risk_counts + roll_up + colour_for)."""
    th = ColourThresholds.in_force_on(as_of)
    object_agg = "jsonb_object_agg" if _pg() else "json_group_object"
    ctes = (
        f"{CHAIN}, "
        f"town AS (SELECT town_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE risk_class = %s) AS risk, "
        f"COUNT(*) FILTER (WHERE category IN (%s, %s)) AS key FROM {enterprises} WHERE status = %s GROUP BY town_id), "
        f"town_reasons AS (SELECT e.town_id, r.kind, COUNT(*) AS n FROM {REASONS} r JOIN {enterprises} e ON e.id = r.enterprise_id "
        "WHERE e.status = %s GROUP BY e.town_id, r.kind), "
        "totals AS (SELECT c.ancestor_id AS region_id, SUM(t.n) AS n, SUM(t.risk) AS risk, SUM(t.key) AS key FROM town t "
        "JOIN chain c ON c.region_id = t.town_id GROUP BY c.ancestor_id), "
        f"reason_totals AS (SELECT region_id, {object_agg}(kind, n) AS counts FROM (SELECT c.ancestor_id AS region_id, tr.kind, "
        "SUM(tr.n) AS n FROM town_reasons tr JOIN chain c ON c.region_id = tr.town_id GROUP BY c.ancestor_id, tr.kind) k "
        "GROUP BY region_id)"
    )
    risky = "t.risk * 100 >= %s * t.n"
    select = (
        "SELECT r.id AS region_id, COALESCE(t.n, 0) AS n, COALESCE(t.risk, 0) AS risk, COALESCE(t.key, 0) AS key, "
        f"CASE WHEN COALESCE(t.n, 0) < %s THEN 'too_few' WHEN {risky} THEN 'red' WHEN {risky} THEN 'orange' "
        f"WHEN {risky} THEN 'yellow' ELSE 'green' END AS colour, "
        "CASE WHEN COALESCE(t.n, 0) = 0 THEN 0 ELSE ROUND(CAST(t.risk * 100.0 / t.n AS NUMERIC), 4) END AS share, "
        "COALESCE(rt.counts, '{}') AS counts "
        f"FROM {REGIONS} r LEFT JOIN totals t ON t.region_id = r.id LEFT JOIN reason_totals rt ON rt.region_id = r.id"
    )
    key = [category.value for category in KEY_SUPERVISED]
    params = [RiskClass.RISK.value, *key, Status.ACTIVE.value, Status.ACTIVE.value, max(th.min_enterprises, 1)]
    return ctes, select, [*params, th.red_from, th.orange_from, th.yellow_from], th


def colour_regions(as_of: dt.date, enterprises: str = ENTERPRISES) -> dict:
    period = period_of(as_of)
    ctes, select, params, thresholds = _fresh_colours(as_of, enterprises)
    previous = (
        f"SELECT region_id, colour FROM {SNAPSHOTS} WHERE period = COALESCE((SELECT MAX(period) FROM {SNAPSHOTS} WHERE period = %s), "
        f"(SELECT MAX(period) FROM {SNAPSHOTS} WHERE period < %s))"
    )
    insert = (
        f"INSERT INTO {SNAPSHOTS} (region_id, period, enterprise_count, risk_count, key_supervised_count, risk_share, colour, "
        "thresholds_id, reason_counts, index_inputs, computed_at) "
        "SELECT region_id, %s, n, risk, key, share, colour, %s, counts, '{}', %s FROM fresh WHERE true "
        "ON CONFLICT (region_id, period) DO UPDATE SET enterprise_count = excluded.enterprise_count, risk_count = excluded.risk_count, "
        "key_supervised_count = excluded.key_supervised_count, "
        "risk_share = excluded.risk_share, colour = excluded.colour, thresholds_id = excluded.thresholds_id, "
        "reason_counts = excluded.reason_counts, computed_at = excluded.computed_at"
    )
    insert_params = [period, thresholds.pk, timezone.now()]
    compare = (
        "SELECT COUNT(*), COUNT(p.colour) - COUNT(CASE WHEN p.colour = f.colour THEN 1 END) "
        "FROM fresh f LEFT JOIN previous p ON p.region_id = f.region_id"
    )
    if _pg():
        _, rows = _run(
            f"WITH RECURSIVE {ctes}, fresh AS ({select}), previous AS ({previous}), upserted AS ({insert}) {compare}",
            [*params, period, period, *insert_params],
        )
    else:
        _run(f"CREATE TEMP TABLE fresh AS WITH RECURSIVE {ctes} {select}", params)
        _, rows = _run(f"WITH previous AS ({previous}) {compare}", [period, period])
        _run(insert, insert_params)
        _run("DROP TABLE fresh")
    regions, changed = rows[0]
    return {"message": f"{changed} regions changed colour ({regions} coloured for {period:%Y-%m})"}


def compute_index(as_of: dt.date, enterprises: str = ENTERPRISES) -> dict:
    period = period_of(as_of)
    w = IndexWeights.in_force_on(as_of)
    start = months_before(as_of, w.window_months) + dt.timedelta(days=1)
    double = "DOUBLE PRECISION"
    incidents = ", ".join(f"'{kind.value}'" for kind in INCIDENT_KINDS)
    weights = [float(w.risk_share_weight), float(w.pass_rate_weight), float(w.rectification_weight), float(w.incident_weight)]
    scores = ("s_risk", "s_pass", "s_rect", "s_incident")
    numerator = " + ".join(f"%s * COALESCE({score}, 0)" for score in scores)
    denominator = " + ".join(f"CASE WHEN {score} IS NULL THEN 0 ELSE %s END" for score in scores)
    json_object = "jsonb_build_object" if _pg() else "json_object"
    inputs_json = (
        f"{json_object}('enterprises', n, 'risk_enterprises', risk, 'spot_checks', checks, 'spot_checks_passed', passed, "
        "'rectifications_due', checks - passed, 'rectifications_overdue', overdue, 'incidents', incidents, "
        f"'scores', {json_object}('non_risk_share', s_risk, 'pass_rate', s_pass, 'on_time_rectification', s_rect, "
        "'incident_score', s_incident))"
    )
    sql = (
        f"WITH RECURSIVE {CHAIN}, "
        f"checks AS (SELECT e.town_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE s.conforming) AS passed FROM {CHECKS} s "
        f"JOIN {enterprises} e ON e.id = s.enterprise_id WHERE s.checked_on >= %s AND s.checked_on <= %s GROUP BY e.town_id), "
        f"events AS (SELECT e.town_id, COUNT(*) FILTER (WHERE v.kind = %s) AS overdue, COUNT(*) FILTER (WHERE v.kind IN ({incidents})) "
        f"AS incidents FROM {EVENTS} v JOIN {enterprises} e ON e.id = v.enterprise_id WHERE v.occurred_on >= %s AND v.occurred_on <= %s "
        "GROUP BY e.town_id), "
        "town AS (SELECT town_id, n AS checks, passed, 0 AS overdue, 0 AS incidents FROM checks "
        "UNION ALL SELECT town_id, 0, 0, overdue, incidents FROM events), "
        "totals AS (SELECT c.ancestor_id AS region_id, SUM(t.checks) AS checks, SUM(t.passed) AS passed, SUM(t.overdue) AS overdue, "
        "SUM(t.incidents) AS incidents FROM town t JOIN chain c ON c.region_id = t.town_id GROUP BY c.ancestor_id), "
        "inputs AS (SELECT s.id, s.enterprise_count AS n, s.risk_count AS risk, COALESCE(t.checks, 0) AS checks, "
        "COALESCE(t.passed, 0) AS passed, COALESCE(t.overdue, 0) AS overdue, COALESCE(t.incidents, 0) AS incidents "
        f"FROM {SNAPSHOTS} s LEFT JOIN totals t ON t.region_id = s.region_id WHERE s.period = %s), "
        f"scored AS (SELECT i.*, CASE WHEN n = 0 THEN NULL ELSE 1 - CAST(risk AS {double}) / n END AS s_risk, "
        f"CASE WHEN checks > 0 THEN CAST(passed AS {double}) / checks END AS s_pass, "
        f"CASE WHEN checks - passed > 0 THEN 1 - (CASE WHEN overdue >= checks - passed THEN 1.0 ELSE CAST(overdue AS {double}) "
        "/ (checks - passed) END) END AS s_rect, "
        f"CASE WHEN n = 0 THEN NULL WHEN CAST(incidents * 100 AS {double}) / n / %s >= 1 THEN 0.0 "
        f"ELSE 1 - CAST(incidents * 100 AS {double}) / n / %s END AS s_incident FROM inputs i), "
        f"indexed AS (SELECT id, CASE WHEN ({denominator}) = 0 THEN NULL "
        f"ELSE ROUND(CAST(100 * ({numerator}) / ({denominator}) AS NUMERIC), 1) END AS idx, {inputs_json} AS inputs FROM scored)"
    )
    zero = float(w.incidents_per_100_for_zero)
    params = [start, as_of, RiskEventKind.OVERDUE_RECTIFICATION.value, start, as_of, period, zero, zero, *weights, *weights, *weights]
    index = connection.ops.quote_name("index")
    update = f"UPDATE {SNAPSHOTS} AS s SET {index} = x.idx, index_inputs = x.inputs, weights_id = %s FROM indexed x WHERE x.id = s.id"
    if _pg():
        _, rows = _run(f"{sql}, updated AS ({update} RETURNING s.{index}) SELECT COUNT(*), COUNT({index}) FROM updated", [*params, w.pk])
        regions, indexed = rows[0]
    else:
        _run(f"{sql} {update}", [*params, w.pk])
        regions, indexed = _run(f"SELECT COUNT(*), COUNT({index}) FROM {SNAPSHOTS} WHERE period = %s", [period])[1][0]
    return {"message": f"index computed for {indexed} of {regions} regions"}


STAGES = {
    "record_spot_check_events": record_spot_check_events,
    "refresh_failure_rates": refresh_failure_rates,
    "grade_products": grade_products,
    "classify_enterprises": classify_enterprises,
    "categorise_enterprises": categorise_enterprises,
    "place_towns": place_towns,
    "colour_regions": colour_regions,
    "compute_index": compute_index,
}


def run_stage(name: str, as_of: dt.date) -> dict:
    """One stage in one transaction, as the services run. The risk score's stages (fitting a model once a month,
    scoring with the adopted one) have no hand-written form: they run as the pipeline runs them (at the
    benchmark's past as-of date with no adopted model, both do nothing)."""
    if name not in STAGES:
        return pipeline_run_stage(name, as_of)
    with transaction.atomic():
        return {"stage": name, **STAGES[name](as_of)}


# --- The narrow-table floor ----------------------------------------------------------------------------------
# The same statements, but the derived state they read and rewrite (class, highest grade, category, when
# classified) lives in a table of its own that holds only that, the town and the status, with its primary key
# as its only index: what a stage costs when rewriting a derived value rewrites a narrow row, not the
# enterprise's wide one with its dozen indexes. Reasons, events, products made, audit rows and snapshots are
# the real tables, written exactly as above. place_towns reads positions, which stay on the enterprise.
NARROW = "bench_enterprise_state"
NARROW_COLUMNS = "id, town_id, status, risk_class, max_grade, category, classified_at"
ON_NARROW = {"classify_enterprises", "categorise_enterprises", "colour_regions", "compute_index"}


def narrow_prepare() -> None:
    """A fresh narrow table copied from the enterprises (not timed: a schema with such a table keeps it always)."""
    with transaction.atomic():
        _run(f"DROP TABLE IF EXISTS {NARROW}")
        _run(f"CREATE TABLE {NARROW} AS SELECT {NARROW_COLUMNS} FROM {ENTERPRISES}")
        if _pg():
            _run(f"ALTER TABLE {NARROW} ADD PRIMARY KEY (id)")
        else:  # SQLite cannot add a primary key to a table; a unique index serves the same lookups
            _run(f"CREATE UNIQUE INDEX {NARROW}_id ON {NARROW} (id)")
    if _pg():
        _run(f"VACUUM (ANALYZE) {NARROW}")


def narrow_drop() -> None:
    _run(f"DROP TABLE IF EXISTS {NARROW}")


def narrow_run_stage(name: str, as_of: dt.date) -> dict:
    """One stage of the floor in one transaction: the hand-written statement, on the narrow table where it
    touches derived enterprise state."""
    if name not in ON_NARROW:
        return run_stage(name, as_of)
    with transaction.atomic():
        return {"stage": name, **STAGES[name](as_of, enterprises=NARROW)}


def narrow_enterprise_state() -> list[dict]:
    """The floor's enterprise state in the shape of the benchmark's fingerprint."""
    _, rows = _run(
        f"SELECT risk_class, max_grade, category, COUNT(*), SUM(id) FROM {NARROW} GROUP BY risk_class, max_grade, category "
        "ORDER BY risk_class, max_grade, category"
    )
    return [{"risk_class": r, "max_grade": g, "category": c, "n": n, "ids": ids} for r, g, c, n, ids in rows]
