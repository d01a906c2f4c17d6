"""Enterprise rules: classing (企业分类) with kept reasons, and supervision categories (监管类别判定)."""

import datetime as dt

from django.db import connection, transaction
from django.db.models import Avg, Case, Count, Exists, Max, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from products.models import Grade
from regions.models import Region
from regions.periods import years_before
from regions.selectors import counties_with_towns

from .models import (
    NO_RISK_EVENT,
    Category,
    Enterprise,
    EnterpriseProduct,
    ReasonKind,
    RiskClass,
    RiskEvent,
    RiskReason,
    StateAsOf,
    StateChange,
    StateField,
    Status,
    SupervisionPolicy,
)
from .selectors import licence_problem_q


def risk_window(as_of: dt.date, policy: SupervisionPolicy) -> tuple[dt.date, dt.date]:
    """The dates (inclusive) whose risk events count: the ``risk_window_years`` years ending on ``as_of``."""
    return years_before(as_of, policy.risk_window_years), as_of


def _rebuild_risk_reasons(
    as_of: dt.date, policy: SupervisionPolicy, enterprise_ids: list[int] | None = None, county_id: int | None = None
) -> None:
    """Bring the reasons to those in force on ``as_of`` (of every enterprise, or of the given ones): the wanted
    rows are computed once into a temporary table, then stale rows are deleted, changed ones updated and
    missing ones inserted, so a run that changes nothing writes nothing."""
    start, end = risk_window(as_of, policy)
    reasons = RiskReason._meta.db_table
    events = RiskEvent._meta.db_table
    # The licence reasons: the products made with a licence problem (licence_problem_q), per enterprise and kind.
    licence_problems = EnterpriseProduct.objects.filter(licence_problem_q(as_of))
    if enterprise_ids is not None:
        licence_problems = licence_problems.filter(enterprise_id__in=enterprise_ids)
    if county_id is not None:
        licence_problems = licence_problems.filter(enterprise__town__parent_id=county_id)
    licence_reasons = (
        licence_problems.annotate(
            reason_kind=Case(
                When(licence_number="", then=Value(ReasonKind.LICENCE_MISSING.value)), default=Value(ReasonKind.LICENCE_EXPIRED.value)
            )
        )
        .order_by()
        .values("enterprise_id", "reason_kind")
        .annotate(n=Count("id"), last=Max("licence_expiry"))
        .values_list("enterprise_id", "reason_kind", "n", "last")
    )
    licence_sql, licence_params = licence_reasons.query.sql_with_params()
    only_events, only_params = _scope_sql("e.enterprise_id", enterprise_ids, county_id)
    # Deleting every reason and inserting them again rewrote a quarter of a million rows (and their indexes) on
    # each run at a million enterprises, even when nothing had changed.
    wanted, same_reason = "jqs_wanted_reasons", f"w.enterprise_id = {reasons}.enterprise_id AND w.kind = {reasons}.kind"
    only_reasons, reason_params = _scope_sql(f"{reasons}.enterprise_id", enterprise_ids, county_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {wanted} AS "
            f"SELECT e.enterprise_id, e.kind, COUNT(*) AS count, MAX(e.occurred_on) AS last_on FROM {events} e "
            f"WHERE e.occurred_on >= %s AND e.occurred_on <= %s{only_events} GROUP BY e.enterprise_id, e.kind "
            f"UNION ALL SELECT * FROM ({licence_sql}) licence_reasons",
            [start, end, *only_params, *licence_params],
        )
        # SQLite builds no index of its own for the correlated NOT EXISTS below: without this one it is quadratic.
        cursor.execute(f"CREATE INDEX {wanted}_key ON {wanted} (enterprise_id, kind)")
        cursor.execute(
            f"DELETE FROM {reasons} WHERE NOT EXISTS (SELECT 1 FROM {wanted} w WHERE {same_reason}){only_reasons}", reason_params
        )
        cursor.execute(
            f"UPDATE {reasons} SET count = w.count, last_on = w.last_on FROM {wanted} w WHERE {same_reason} "
            f"AND ({reasons}.count <> w.count OR COALESCE({reasons}.last_on, %s) <> COALESCE(w.last_on, %s))",
            [dt.date.min, dt.date.min],
        )
        # ON CONFLICT, not NOT EXISTS: an INSERT whose NOT EXISTS reads its own target table, planned while that
        # table is empty, can re-scan the rows it is adding (quadratic: minutes at a million enterprises).
        cursor.execute(
            f"INSERT INTO {reasons} (enterprise_id, kind, count, last_on) SELECT w.enterprise_id, w.kind, w.count, w.last_on "
            f"FROM {wanted} w WHERE true ON CONFLICT (enterprise_id, kind) DO NOTHING"
        )
        cursor.execute(f"DROP TABLE {wanted}")


def _scope_sql(column: str, enterprise_ids: list[int] | None, county_id: int | None) -> tuple[str, list]:
    """ " AND <column> IN …" limiting a statement to the given enterprises and/or one county's (a pipeline part)."""
    sql, params = "", []
    if enterprise_ids is not None:
        sql += f" AND {column} IN ({', '.join(['%s'] * len(enterprise_ids)) or 'NULL'})"
        params += list(enterprise_ids)
    if county_id is not None:
        enterprises, towns = Enterprise._meta.db_table, Region._meta.db_table
        sql += f" AND {column} IN (SELECT s.id FROM {enterprises} s JOIN {towns} t ON t.id = s.town_id WHERE t.parent_id = %s)"
        params.append(county_id)
    return sql, params


# --- Audit (STYLE 7): the set-based UPDATEs below bypass model signals, so the rules record their changes
# themselves, one INSERT … SELECT per kind of change for any number of enterprises, in the UPDATE's transaction.
# Their reasons are stored in codes, shown in the reader's language (enterprises.models.state_change_reason_text).


def _reasons_text(enterprise_column: str) -> tuple[str, list]:
    """An enterprise's kept risk reasons as one text ("nonconforming × 2; recall × 1"): a subquery per changed row only."""
    params = []
    item = "r.kind || ' × ' || CAST(r.count AS TEXT)"
    joined = f"string_agg({item}, '; ' ORDER BY r.kind)" if connection.vendor == "postgresql" else f"group_concat({item}, '; ')"
    return f"(SELECT {joined} FROM {RiskReason._meta.db_table} r WHERE r.enterprise_id = {enterprise_column})", params


def _state_changes_record(cursor, source: str, source_params: list, *, field: StateField, old, new, as_of, at, reason) -> None:
    """A StateChange of ``field`` for each row ``c`` of ``source``; ``old``, ``new`` and ``reason`` are (SQL, params) over c."""
    (old_sql, old_params), (new_sql, new_params), (reason_sql, reason_params) = old, new, reason
    cursor.execute(
        f"INSERT INTO {StateChange._meta.db_table} (enterprise_id, changed_at, field, old_value, new_value, as_of, reason) "
        f"SELECT c.id, %s, %s, {old_sql}, {new_sql}, %s, {reason_sql} FROM {source}",
        [
            connection.ops.adapt_datetimefield_value(at),
            field.value,
            *old_params,
            *new_params,
            connection.ops.adapt_datefield_value(as_of),
            *reason_params,
            *source_params,
        ],
    )


def _class_changes_record(*, at, as_of: dt.date, policy: SupervisionPolicy, county_id: int | None = None) -> None:
    """A StateChange for each enterprise the classing UPDATEs have just stamped ``classified_at = at`` (exactly those
    whose class changed). Written after them rather than before: finding the rows about to change would repeat
    the UPDATEs' own search, doubling the cost of a run, while the stamp finds them through its index. A class
    has two values, so the old one is the other; the why is the kept reasons, or the empty risk window."""
    start, end = risk_window(as_of, policy)
    no_reason = f"{NO_RISK_EVENT} {start.isoformat()} {end.isoformat()}"
    reasons_sql, reasons_params = _reasons_text("c.id")
    risk, non_risk = RiskClass.RISK.value, RiskClass.NON_RISK.value
    # Another county's part may run at the same moment on another worker: its own rows only.
    in_county, county_params = _scope_sql("c.id", None, county_id)
    with connection.cursor() as cursor:
        _state_changes_record(
            cursor,
            f"{Enterprise._meta.db_table} c WHERE c.classified_at = %s{in_county}",
            [connection.ops.adapt_datetimefield_value(at), *county_params],
            field=StateField.RISK_CLASS,
            old=("CASE WHEN c.risk_class = %s THEN %s ELSE %s END", [risk, non_risk, risk]),
            new=("c.risk_class", []),
            as_of=as_of,
            at=at,
            reason=(f"CASE WHEN c.risk_class = %s THEN {reasons_sql} ELSE %s END", [risk, *reasons_params, no_reason]),
        )


def _enterprises(enterprise_ids: list[int] | None, county_id: int | None = None):
    enterprises = Enterprise.objects.all() if enterprise_ids is None else Enterprise.objects.filter(id__in=enterprise_ids)
    return enterprises if county_id is None else enterprises.filter(town__parent_id=county_id)


@transaction.atomic
def enterprises_classify(
    *, as_of: dt.date, policy: SupervisionPolicy | None = None, enterprise_ids: list[int] | None = None, county_id: int | None = None
) -> dict:
    """企业分类: an enterprise is a risk enterprise when, within the risk window ending on ``as_of``, it had
    any risk event (non-conforming spot check, overdue rectification or failed re-inspection, verified
    complaint, incident, recall, penalty, licence problem), or it makes a product needing a production
    licence / CCC certificate whose number is missing or whose validity has expired. Otherwise non-risk.

    The reasons are kept per enterprise (RiskReason), and each change of class is recorded (StateChange, with
    the reasons or the empty window as its why). A fixed handful of statements for any number of enterprises;
    running it again changes nothing. ``enterprise_ids`` limits it to those enterprises (the feedback of a new
    result), ``county_id`` to one county's (the pipeline's part of a stage run on a worker), with the same rule:
    the parts together leave the same state as one run over all.
    """
    policy = policy or SupervisionPolicy.in_force()
    _rebuild_risk_reasons(as_of, policy, enterprise_ids, county_id)
    enterprises = _enterprises(enterprise_ids, county_id)
    has_reason = Exists(RiskReason.objects.filter(enterprise=OuterRef("pk")))
    now = timezone.now()
    became_risk = enterprises.filter(has_reason).exclude(risk_class=RiskClass.RISK).update(risk_class=RiskClass.RISK, classified_at=now)
    became_non_risk = enterprises.filter(~has_reason, risk_class=RiskClass.RISK).update(risk_class=RiskClass.NON_RISK, classified_at=now)
    if became_risk or became_non_risk:
        _class_changes_record(at=now, as_of=as_of, policy=policy, county_id=county_id)
    if county_id is not None:  # a pipeline part: its own changes; the stage's join reports the totals
        return {"county": county_id, "became_risk": became_risk, "became_non_risk": became_non_risk}
    return classify_report(as_of, became_risk=became_risk, became_non_risk=became_non_risk)


def classify_report(as_of: dt.date, *, became_risk: int, became_non_risk: int) -> dict:
    """What a classing run (or the sum of its county parts) reports, with the risk enterprises now in all."""
    risk_total = Enterprise.objects.filter(status=Status.ACTIVE, risk_class=RiskClass.RISK).count()
    return {
        "as_of": as_of.isoformat(),
        "became_risk": became_risk,
        "became_non_risk": became_non_risk,
        "risk_enterprises": risk_total,
        "message": _("%(risk)d enterprises became risk, %(non_risk)d became non-risk (%(total)d risk in all)")
        % {"risk": became_risk, "non_risk": became_non_risk, "total": risk_total},
    }


def category_expression(policy: SupervisionPolicy, grade_field: str = "max_grade"):
    """The grade × class table as one SQL CASE over ``max_grade`` (or another grade, e.g. an annotation) and ``risk_class``."""
    cells = []
    for grade in (Grade.HIGH, Grade.MEDIUM, Grade.LOW):
        for risk_class in (RiskClass.RISK, RiskClass.NON_RISK):
            grade_match = Q(**{grade_field: grade})
            if grade == Grade.LOW:
                grade_match |= Q(**{f"{grade_field}__isnull": True})
            cells.append(When(grade_match & Q(risk_class=risk_class), then=Value(policy.category_for(grade, risk_class))))
    return Case(*cells, default=Value(Category.CREDIT))


def _category_changes_record(cursor, changes: str, *, as_of: dt.date) -> None:
    """A StateChange for each enterprise of the ``changes`` table whose category is about to change, why: grade × class."""
    grade_code = "CASE WHEN c.top = %s THEN %s WHEN c.top = %s THEN %s ELSE %s END"
    grade_params = [Grade.HIGH.value, "high", Grade.MEDIUM.value, "medium", "low"]  # GRADE_CODES
    _state_changes_record(
        cursor,
        f"{changes} c JOIN {Enterprise._meta.db_table} e ON e.id = c.id WHERE c.category IS NULL OR c.category <> c.new_category",
        [],
        field=StateField.CATEGORY,
        old=("c.category", []),
        new=("c.new_category", []),
        as_of=as_of,
        at=timezone.now(),
        reason=(f"{grade_code} || ' × ' || e.risk_class", grade_params),
    )


@transaction.atomic
def enterprises_categorise(
    *,
    policy: SupervisionPolicy | None = None,
    enterprise_ids: list[int] | None = None,
    as_of: dt.date | None = None,
    county_id: int | None = None,
) -> dict:
    """监管类别判定: the highest grade among the products an enterprise makes × its risk class decides its
    supervision category (high×risk tightened, high×non-risk and medium×risk routine, medium×non-risk and
    low×risk responsibility, low×non-risk credit, by default). An enterprise making no graded product
    counts as low grade. A fixed handful of statements (one UPDATE) for any number of enterprises; each change
    of category is recorded (StateChange "grade × class", as of ``as_of``, default today). ``enterprise_ids`` and
    ``county_id`` limit it as in ``enterprises_classify``.
    """
    policy = policy or SupervisionPolicy.in_force()
    as_of = as_of or timezone.localdate()
    # Highest grade and category of every enterprise from one grouped join, kept in a temporary table for the
    # enterprises that change, then written by one UPDATE … FROM. A subquery per enterprise, and writing the
    # grade and then the category in two passes, took minutes at a million enterprises.
    fresh = (
        _enterprises(enterprise_ids, county_id)
        .order_by()
        .values("id", "max_grade", "category", "risk_class")
        .annotate(top=Max("made__product__grade"))
        .annotate(new_category=category_expression(policy, grade_field="top"))
    )
    fresh_sql, params = fresh.query.sql_with_params()
    table, changes = Enterprise._meta.db_table, "jqs_category_changes"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {changes} AS SELECT id, top, new_category, category FROM ({fresh_sql}) f "
            "WHERE COALESCE(f.top, 0) <> COALESCE(f.max_grade, 0) OR f.category IS NULL OR f.category <> f.new_category",
            params,
        )
        cursor.execute(f"SELECT COUNT(*) FROM {changes} WHERE category IS NULL OR category <> new_category")
        changed = cursor.fetchone()[0]
        if changed:
            _category_changes_record(cursor, changes, as_of=as_of)
        cursor.execute(f"UPDATE {table} SET max_grade = c.top, category = c.new_category FROM {changes} c WHERE c.id = {table}.id")
        cursor.execute(f"DROP TABLE {changes}")
    if enterprise_ids is None:
        _state_as_of_record(as_of, county_id)
    if county_id is not None:  # a pipeline part: its own changes; the stage's join reports the totals
        return {"county": county_id, "changed": changed}
    return categorise_report(changed=changed)


def _state_as_of_record(as_of: dt.date, county_id: int | None) -> None:
    """The county (or every county with towns) has had its enterprises classed and categorised as of ``as_of``."""
    county_ids = [county_id] if county_id is not None else counties_with_towns()
    now = timezone.now()
    rows = [StateAsOf(county_id=pk, as_of=as_of, computed_at=now) for pk in county_ids]
    StateAsOf.objects.bulk_create(rows, update_conflicts=True, unique_fields=["county"], update_fields=["as_of", "computed_at"])


def categorise_report(*, changed: int) -> dict:
    """What a categorising run (or the sum of its county parts) reports, with the key-supervised enterprises now."""
    key = Enterprise.objects.filter(status=Status.ACTIVE, category__in=[Category.TIGHTENED, Category.ROUTINE]).count()
    return {
        "changed": changed,
        "key_supervised": key,
        "message": _("%(n)d enterprises changed supervision category (%(key)d key-supervised)") % {"n": changed, "key": key},
    }


@transaction.atomic
def towns_place_at_enterprise_centres() -> dict:
    """Towns without a boundary are drawn as a marker: put it at the mean position of their active
    enterprises (towns with an imported boundary keep the label point computed from it)."""
    centres = list(
        Enterprise.objects.filter(status=Status.ACTIVE, lat__isnull=False, lon__isnull=False, town__boundary__isnull=True)
        .values("town_id")
        .annotate(lat=Avg("lat"), lon=Avg("lon"))
    )
    towns = {town.id: town for town in Region.objects.filter(id__in=[row["town_id"] for row in centres])}
    changed = []
    for row in centres:
        town = towns[row["town_id"]]
        lat, lon = round(row["lat"], 5), round(row["lon"], 5)
        if (town.label_lat, town.label_lon) != (lat, lon):
            town.label_lat, town.label_lon = lat, lon
            changed.append(town)
    # An upsert of the rows just read (one statement per batch): bulk_update's CASE per row and field costs
    # a province's 1,300 towns a quarter of a second of Python on a first run.
    Region.objects.bulk_create(
        changed, batch_size=500, update_conflicts=True, unique_fields=["code"], update_fields=["label_lat", "label_lon"]
    )
    return {"changed": len(changed), "message": _("%(n)d towns placed at the centre of their enterprises") % {"n": len(changed)}}
