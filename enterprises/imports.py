"""Importing enterprises, the products they make and their risk events from .xlsx or .csv (docs/imports.md).

Every row is checked first, against lookups loaded once (towns, products, the enterprises already stored);
a file with any bad row changes nothing and the report names each bad row, column and reason. A good file
is written in one transaction with bulk inserts and updates, keyed by each record's natural key, and only
changed rows are rewritten: importing the same file again reports "0 created, 0 updated, N unchanged".

A column present in the file is authoritative (an empty cell clears an optional value); a column absent
from the file leaves the stored values alone.

Given a ``jurisdiction`` (a county administrator's import through the admin), a row naming a town or an
enterprise outside it is a bad row: one county cannot create, move or change another county's records. A row
of products made, risk events or spot checks naming another county's enterprise is refused in the words used
for a credit code nobody has (``enterprise_unknown_message``), so these imports tell nothing about which
enterprises other counties have.

Every row written gets a history row (who, when, what, why: "import of <file>"), written in bulk as the rows are.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import get_history_manager_for_model

from common.tabular import (
    WRITE_BATCH,
    YES_NO,
    CellError,
    Column,
    ExportField,
    FirstRows,
    Importer,
    ImportReport,
    ImportRows,
    Progress,
    Upsert,
    check_length,
    choice_lookup,
    choice_names,
    chunks,
    in_chunks,
    normalise_header,
    parse_code,
    parse_date,
    parse_float,
)
from products.models import Product
from regions.models import Level, Region, code_prefix

from .models import Enterprise, EnterpriseProduct, RiskEvent, RiskEventKind, Status
from .validators import uscc_problem

CREDIT_CODE = Column(
    "credit_code",
    "统一社会信用代码",
    "credit code",
    required=True,
    aliases=("信用代码", "社会信用代码", "unified social credit code", "USCC"),
)
PRODUCT_CODE = Column("product_code", "产品代码", "product code", aliases=("产品编码", "目录代码", "product"))

ENTERPRISE_COLUMNS = (
    CREDIT_CODE,
    Column("name", "企业名称", "name", required=True, aliases=("名称", "单位名称", "enterprise name", "enterprise")),
    Column("address", "地址", "address", aliases=("企业地址", "生产地址", "住所", "注册地址")),
    Column("town_code", "所在镇街代码", "town code", required=True, aliases=("镇街代码", "镇（街道）代码", "乡镇街道代码", "town")),
    Column("lat", "纬度", "latitude"),
    Column("lon", "经度", "longitude", aliases=("lng",)),
    Column("status", "经营状态", "status", aliases=("状态", "登记状态")),
)
PRODUCTS_MADE_COLUMNS = (
    CREDIT_CODE,
    Column(PRODUCT_CODE.key, PRODUCT_CODE.zh, PRODUCT_CODE.en, required=True, aliases=PRODUCT_CODE.aliases),
    Column(
        "licence_number",
        "许可证编号",
        "licence number",
        aliases=("生产许可证编号", "证书编号", "CCC证书编号", "许可证或证书编号", "certificate number", "license number"),
    ),
    Column(
        "licence_expiry", "有效期至", "licence expiry", aliases=("有效期", "许可证有效期", "证书有效期", "valid until", "license expiry")
    ),
)
RISK_EVENT_COLUMNS = (
    CREDIT_CODE,
    Column("kind", "事件类型", "kind", required=True, aliases=("类型", "风险类型", "event kind")),
    Column("occurred_on", "发生日期", "date", required=True, aliases=("日期", "发生时间", "event date", "occurred on")),
    Column("source_ref", "来源编号", "source reference", required=True, aliases=("案件编号", "文书编号", "来源", "reference")),
    PRODUCT_CODE,
    Column("description", "描述", "description", aliases=("事件描述", "情况说明", "说明")),
)

STATUS_SYNONYMS = {
    **dict.fromkeys(("在营", "存续", "开业", "在业", "正常", "营业"), Status.ACTIVE),
    **dict.fromkeys(("关闭", "已关闭", "注销", "吊销", "停业", "歇业", "迁出"), Status.CLOSED),
}
RISK_EVENT_SYNONYMS = {
    **dict.fromkeys(("抽查不合格", "监督抽查不合格", "不合格"), RiskEventKind.NONCONFORMING_SPOT_CHECK),
    **dict.fromkeys(("逾期未整改", "整改逾期"), RiskEventKind.OVERDUE_RECTIFICATION),
    **dict.fromkeys(("复查不合格",), RiskEventKind.FAILED_REINSPECTION),
    **dict.fromkeys(("投诉", "投诉举报", "投诉举报查实", "complaint"), RiskEventKind.VERIFIED_COMPLAINT),
    **dict.fromkeys(("质量安全事故", "事故", "incident"), RiskEventKind.INCIDENT),
    **dict.fromkeys(("召回", "缺陷召回", "recall"), RiskEventKind.RECALL),
    **dict.fromkeys(("行政处罚", "处罚", "产品质量行政处罚", "penalty"), RiskEventKind.PENALTY),
    **dict.fromkeys(("许可证问题", "证照问题", "生产许可证或CCC证书问题", "licence", "license"), RiskEventKind.LICENCE_PROBLEM),
}

ENTERPRISE_EXPORT = (
    ExportField("credit_code", "统一社会信用代码"),
    ExportField("name", "企业名称"),
    ExportField("address", "地址"),
    ExportField("town__code", "所在镇街代码"),
    ExportField("town__name", "所在镇街"),
    ExportField("town__parent__name", "所属县（市、区）"),
    ExportField("lat", "纬度"),
    ExportField("lon", "经度"),
    ExportField("status", "经营状态"),
    ExportField("risk_class", "企业分类"),
    ExportField("max_grade", "最高产品风险等级"),
    ExportField("category", "监管类别"),
    ExportField("town__parent__state_as_of__as_of", "分类截至日期"),  # the day the class and category are as of
    # Kept by the inspections app (the adopted model's score), read through the reverse relation; empty when unscored.
    ExportField("risk_score__probability", "风险评分"),
    ExportField("risk_score__model", "风险评分模型版本"),
    ExportField("is_demo", "演示数据", YES_NO),
)
PRODUCTS_MADE_EXPORT = (
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("product__grade", "产品风险等级"),
    ExportField("licence_number", "许可证编号"),
    ExportField("licence_expiry", "有效期至"),
)
RISK_EVENT_EXPORT = (
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("kind", "事件类型"),
    ExportField("occurred_on", "发生日期"),
    ExportField("source_ref", "来源编号"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("description", "描述"),
    ExportField("is_demo", "演示数据", YES_NO),
)


# --- Shared checks (also used by inspections.spotchecks.imports) --------------------------------------------------------


def credit_code_of(rows: ImportRows, row: int, cells: dict[str, Any]) -> str | None:
    """The row's credit code, upper-cased, or None after recording why it is not a valid one."""
    try:
        code = parse_code(cells.get("credit_code")).upper()
    except CellError as error:
        rows.add(row, "credit_code", str(error))
        return None
    if not code:
        rows.add(row, "credit_code", _("the credit code is empty"))
        return None
    problem = uscc_problem(code)
    if problem:
        rows.add(row, "credit_code", str(problem))
        return None
    return code


OUTSIDE = -1  # the id enterprise_ids gives an enterprise outside the importing user's jurisdiction


def prefix_of(jurisdiction: Region | None) -> str:
    """The division-code prefix of everything inside ``jurisdiction``; "" (everything) when there is none."""
    return code_prefix(jurisdiction.code) if jurisdiction is not None else ""


def outside_message(code: str) -> str:
    return _("the enterprise with credit code %(code)s is outside your jurisdiction") % {"code": code}


def enterprise_ids(codes: set[str], jurisdiction: Region | None = None) -> dict[str, int]:
    """Credit code → id of the stored enterprises among ``codes`` (a few queries for any number); an enterprise
    outside ``jurisdiction`` maps to OUTSIDE."""
    prefix = prefix_of(jurisdiction)
    return {
        code: pk if town.startswith(prefix) else OUTSIDE
        for code, pk, town in in_chunks(Enterprise.objects, "credit_code", codes, "credit_code", "id", "town__code")
    }


def enterprise_unknown_message(code: str, jurisdiction: Region | None) -> str:
    """The refusal of a credit code that no enterprise within reach has: the same words whether nobody has it or
    another county's enterprise does, so an import cannot be used to find out what exists elsewhere."""
    if jurisdiction is None:
        return _("no enterprise has credit code %(code)s: import it with the enterprises first") % {"code": code}
    return _("no enterprise in your jurisdiction has credit code %(code)s: import it with the enterprises first") % {"code": code}


def stored_enterprise(rows: ImportRows, row: int, code: str | None, known: dict[str, int], jurisdiction: Region | None) -> int | None:
    """The id of the enterprise a row names by its credit code (``known``: ``enterprise_ids``), or None with the row refused."""
    if code is None:
        return None
    if known.get(code, OUTSIDE) == OUTSIDE:
        rows.add(row, "credit_code", enterprise_unknown_message(code, jurisdiction))
        return None
    return known[code]


class ProductCodes:
    """Product code → id, loaded once; a code Excel stored as a number gets its leading zeros back."""

    def __init__(self):
        self.ids = dict(Product.objects.values_list("code", "id"))
        self.lengths = sorted({len(code) for code in self.ids})

    def find(self, rows: ImportRows, row: int, value: Any, *, required: bool) -> int | None:
        try:
            code = parse_code(value)
        except CellError as error:
            rows.add(row, "product_code", str(error))
            return None
        if not code:
            if required:
                rows.add(row, "product_code", _("the product code is empty"))
            return None
        candidates = [code] + ([code.zfill(length) for length in self.lengths] if code.isdigit() else [])
        for candidate in candidates:
            if candidate in self.ids:
                return self.ids[candidate]
        rows.add(row, "product_code", _("unknown product code %(code)s (see the product catalogue)") % {"code": code})
        return None


def choice_of(rows: ImportRows, row: int, key: str, value: Any, lookup: dict[str, str], choices: type) -> str | None:
    text = "" if value is None else str(value)
    found = lookup.get(normalise_header(text))
    if found is None:
        rows.add(row, key, _("unknown value “%(value)s” (use one of: %(names)s)") % {"value": text, "names": choice_names(choices)})
    return found


def date_of(rows: ImportRows, row: int, key: str, value: Any, *, required: bool, not_after: dt.date | None = None) -> dt.date | None:
    try:
        date = parse_date(value)
    except CellError as error:
        rows.add(row, key, str(error))
        return None
    if date is None and required:
        rows.add(row, key, _("the date is empty"))
    elif date and not_after and date > not_after:
        rows.add(row, key, _("%(date)s is in the future") % {"date": date.isoformat()})
        return None
    return date


def text_of(rows: ImportRows, row: int, key: str, value: Any, limit: int, *, required: bool = False) -> str:
    text = parse_code(value) if isinstance(value, float) else ("" if value is None else str(value).strip())
    if required and not text:
        rows.add(row, key, _("the value is empty"))
    check_length(rows, row, key, text, limit)
    return text


def finish(rows: ImportRows, upserts: list[Upsert], *, dry_run: bool, progress: Progress | None) -> ImportReport:
    """Count what the upserts would do; write them unless this is a dry run or a row was bad."""
    report = rows.report
    if not report.ok:
        return report
    for upsert in upserts:
        upsert.count_into(report)
    if not dry_run:
        with translation.override(settings.LANGUAGE_CODE):  # stored text is in the site language
            reason = _("import of %(file)s") % {"file": report.filename or report.kind}
        for upsert in upserts:
            upsert.write(progress)
            history_write(upsert, reason=reason)
        report.written = True
    return report


def history_write(upsert: Upsert, *, reason: str) -> None:
    """The history rows of what ``upsert`` just wrote, which simple-history's signals never see (bulk writes):
    new rows as created, changed rows as they now are — reloaded, as the upsert set only the file's columns.
    Two statements per batch; the user is the request's (the admin's import), none from the command line."""
    history = get_history_manager_for_model(upsert.model)
    for batch in chunks(upsert.create, WRITE_BATCH):
        history.bulk_history_create(batch, batch_size=WRITE_BATCH, default_change_reason=reason)
    for batch in chunks(upsert.update, WRITE_BATCH):
        stored = upsert.model._default_manager.filter(pk__in=[obj.pk for obj in batch])
        history.bulk_history_create(list(stored), update=True, batch_size=WRITE_BATCH, default_change_reason=reason)


# --- Enterprises ---------------------------------------------------------------------------------------------


def _coordinates(rows: ImportRows, row: int, cells: dict) -> tuple[float | None, float | None]:
    values, readable = [], True
    for key, limit in (("lat", 90), ("lon", 180)):
        try:
            value = parse_float(cells.get(key))
        except CellError as error:
            rows.add(row, key, str(error))
            value, readable = None, False
        if value is not None and not -limit <= value <= limit:
            hint = _(" (latitude and longitude swapped?)") if key == "lat" and abs(value) <= 180 else ""
            rows.add(row, key, _("%(value)s is outside −%(limit)d…%(limit)d%(hint)s") % {"value": value, "limit": limit, "hint": hint})
            value, readable = None, False
        values.append(value)
    lat, lon = values
    if readable and (lat is None) != (lon is None) and rows.has("lat") and rows.has("lon"):
        rows.add(row, "lat" if lat is None else "lon", _("give both latitude and longitude, or neither"))
    return lat, lon


def _enterprise_values(rows: ImportRows, row: int, cells: dict, towns: dict[str, tuple[int, str]], statuses: dict, prefix: str) -> dict:
    values: dict[str, Any] = {"name": text_of(rows, row, "name", cells.get("name"), 200, required=True)}
    if rows.has("address"):
        values["address"] = text_of(rows, row, "address", cells.get("address"), 300)
    try:
        town_code = parse_code(cells.get("town_code"))
    except CellError as error:
        rows.add(row, "town_code", str(error))
        town_code = None
    if town_code is not None:
        town = towns.get(town_code)
        if not town_code:
            rows.add(row, "town_code", _("the town code is empty"))
        elif town is None:
            rows.add(row, "town_code", _("unknown division code %(code)s") % {"code": town_code})
        elif town[1] != Level.TOWN:
            rows.add(
                row, "town_code", _("%(code)s is a %(level)s, not a town or street") % {"code": town_code, "level": Level(town[1]).label}
            )
        elif not town_code.startswith(prefix):
            rows.add(row, "town_code", _("%(code)s is outside your jurisdiction") % {"code": town_code})
        else:
            values["town_id"] = town[0]
    if rows.has("lat") or rows.has("lon"):
        lat, lon = _coordinates(rows, row, cells)
        if rows.has("lat"):
            values["lat"] = lat
        if rows.has("lon"):
            values["lon"] = lon
    if rows.has("status"):
        status = cells.get("status")
        values["status"] = Status.ACTIVE if status in (None, "") else choice_of(rows, row, "status", status, statuses, Status)
    return values


def _enterprises(rows: ImportRows, *, dry_run: bool, progress: Progress | None, jurisdiction: Region | None = None) -> ImportReport:
    towns = {code: (pk, level) for code, pk, level in Region.objects.values_list("code", "id", "level")}
    statuses = choice_lookup(Status, STATUS_SYNONYMS)
    wanted: dict[str, dict] = {}
    first_rows = FirstRows()
    for row, cells in rows:
        code = credit_code_of(rows, row, cells)
        values = _enterprise_values(rows, row, cells, towns, statuses, prefix_of(jurisdiction))
        if code and not first_rows.seen(rows, row, code, "credit_code", code):
            wanted[code] = values
    if jurisdiction is not None:  # an enterprise registered elsewhere is not this county's to change or move
        for code, pk in enterprise_ids(set(wanted), jurisdiction).items():
            if pk == OUTSIDE:
                rows.add(first_rows[code], "credit_code", outside_message(code))
    if not rows.report.ok:
        return rows.report
    fields = list(next(iter(wanted.values())))
    existing = {
        code: (pk, dict(zip(fields, values)))
        for code, pk, *values in in_chunks(Enterprise.objects, "credit_code", wanted, "credit_code", "id", *fields)
    }
    upsert = Upsert(Enterprise, fields)
    for code, values in wanted.items():
        upsert.plan(code, values, existing, lambda code=code, values=values: Enterprise(credit_code=code, **values))
    return finish(rows, [upsert], dry_run=dry_run, progress=progress)


# --- Products made -------------------------------------------------------------------------------------------


def _products_made(rows: ImportRows, *, dry_run: bool, progress: Progress | None, jurisdiction: Region | None = None) -> ImportReport:
    products = ProductCodes()
    parsed = []
    for row, cells in rows:
        code = credit_code_of(rows, row, cells)
        product_id = products.find(rows, row, cells.get("product_code"), required=True)
        values: dict[str, Any] = {}
        if rows.has("licence_number"):
            values["licence_number"] = text_of(rows, row, "licence_number", cells.get("licence_number"), 60)
        if rows.has("licence_expiry"):
            values["licence_expiry"] = date_of(rows, row, "licence_expiry", cells.get("licence_expiry"), required=False)
            if values["licence_expiry"] and not values.get("licence_number"):
                rows.add(row, "licence_expiry", _("an expiry date needs the licence or certificate number"))
        parsed.append((row, code, product_id, values, cells))
    known = enterprise_ids({code for _row, code, *_rest in parsed if code}, jurisdiction)
    wanted: dict[tuple[int, int], dict] = {}
    first_rows = FirstRows()
    for row, code, product_id, values, cells in parsed:
        enterprise_id = stored_enterprise(rows, row, code, known, jurisdiction)
        if enterprise_id and product_id:
            label = f"{code} + {cells.get('product_code')}"
            if not first_rows.seen(rows, row, (enterprise_id, product_id), "product_code", label):
                wanted[(enterprise_id, product_id)] = values
    if not rows.report.ok:
        return rows.report
    fields = list(next(iter(wanted.values())))
    existing = {
        (enterprise_id, product_id): (pk, dict(zip(fields, values)))
        for enterprise_id, product_id, pk, *values in in_chunks(
            EnterpriseProduct.objects, "enterprise_id", {key[0] for key in wanted}, "enterprise_id", "product_id", "id", *fields
        )
    }
    upsert = Upsert(EnterpriseProduct, fields)
    for (enterprise_id, product_id), values in wanted.items():
        upsert.plan(
            (enterprise_id, product_id),
            values,
            existing,
            lambda e=enterprise_id, p=product_id, values=values: EnterpriseProduct(enterprise_id=e, product_id=p, **values),
        )
    return finish(rows, [upsert], dry_run=dry_run, progress=progress)


# --- Risk events ---------------------------------------------------------------------------------------------


def _risk_events(rows: ImportRows, *, dry_run: bool, progress: Progress | None, jurisdiction: Region | None = None) -> ImportReport:
    products = ProductCodes()
    kinds = choice_lookup(RiskEventKind, RISK_EVENT_SYNONYMS)
    today = timezone.localdate()
    parsed = []
    for row, cells in rows:
        code = credit_code_of(rows, row, cells)
        kind = choice_of(rows, row, "kind", cells.get("kind"), kinds, RiskEventKind)
        source_ref = text_of(rows, row, "source_ref", cells.get("source_ref"), 100, required=True)
        values: dict[str, Any] = {
            "occurred_on": date_of(rows, row, "occurred_on", cells.get("occurred_on"), required=True, not_after=today)
        }
        if rows.has("product_code"):
            values["product_id"] = products.find(rows, row, cells.get("product_code"), required=False)
        if rows.has("description"):
            values["description"] = text_of(rows, row, "description", cells.get("description"), 500)
        parsed.append((row, code, kind, source_ref, values))
    known = enterprise_ids({code for _row, code, *_rest in parsed if code}, jurisdiction)
    wanted: dict[tuple[int, str, str], dict] = {}
    first_rows = FirstRows()
    for row, code, kind, source_ref, values in parsed:
        enterprise_id = stored_enterprise(rows, row, code, known, jurisdiction)
        if enterprise_id and kind and source_ref:
            label = f"{code} + {RiskEventKind(kind).label} + {source_ref}"
            if not first_rows.seen(rows, row, (enterprise_id, kind, source_ref), "source_ref", label):
                wanted[(enterprise_id, kind, source_ref)] = values
    if not rows.report.ok:
        return rows.report
    fields = list(next(iter(wanted.values())))
    existing = {
        (enterprise_id, kind, source_ref): (pk, dict(zip(fields, values)))
        for enterprise_id, kind, source_ref, pk, *values in in_chunks(
            RiskEvent.objects, "enterprise_id", {key[0] for key in wanted}, "enterprise_id", "kind", "source_ref", "id", *fields
        )
    }
    upsert = Upsert(RiskEvent, fields)
    for (enterprise_id, kind, source_ref), values in wanted.items():
        upsert.plan(
            (enterprise_id, kind, source_ref),
            values,
            existing,
            lambda e=enterprise_id, k=kind, s=source_ref, values=values: RiskEvent(enterprise_id=e, kind=k, source_ref=s, **values),
        )
    return finish(rows, [upsert], dry_run=dry_run, progress=progress)


enterprises_import = Importer("enterprises", gettext_lazy("enterprises"), ENTERPRISE_COLUMNS, _enterprises)
products_made_import = Importer("products_made", gettext_lazy("products made"), PRODUCTS_MADE_COLUMNS, _products_made)
risk_events_import = Importer("risk_events", gettext_lazy("risk events"), RISK_EVENT_COLUMNS, _risk_events)
