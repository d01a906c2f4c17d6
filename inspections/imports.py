"""Importing historic spot-check results from .xlsx or .csv (docs/imports.md), and the export columns of results.

The same rules as the enterprise imports (enterprises/imports.py): every row checked first, nothing written
if one is bad, one transaction, upsert by the natural key — here the test report number (报告编号) — so a
second import of the same file changes nothing. A result an inspector reported through the app is evidence:
an import may repeat it unchanged, never overwrite it. Given a ``jurisdiction``, a row of an enterprise outside
it, or overwriting a report of one, is a bad row.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.tabular import (
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
    choice_lookup,
    in_chunks,
    parse_bool,
)
from enterprises.imports import (
    CREDIT_CODE,
    PRODUCT_CODE,
    ProductCodes,
    choice_of,
    credit_code_of,
    date_of,
    enterprise_ids,
    finish,
    prefix_of,
    stored_enterprise,
    text_of,
)
from regions.models import Region

from .models import ResultSource, SpotCheckLevel, SpotCheckResult

SPOT_CHECK_COLUMNS = (
    CREDIT_CODE,
    Column(PRODUCT_CODE.key, PRODUCT_CODE.zh, PRODUCT_CODE.en, required=True, aliases=PRODUCT_CODE.aliases),
    Column("checked_on", "抽样日期", "sampling date", required=True, aliases=("抽查日期", "检验日期", "日期", "date", "checked on")),
    Column(
        "conforming",
        "检验结论",
        "conforming",
        required=True,
        aliases=("结论", "是否合格", "检验结果", "抽查结果", "result", "conclusion"),
    ),
    Column("batch_number", "批次号", "batch number", aliases=("批号", "生产批号", "生产日期/批号", "batch")),
    Column(
        "lab_report_number",
        "报告编号",
        "report number",
        required=True,
        aliases=("检验报告编号", "检测报告编号", "test report number", "lab report number"),
    ),
    Column("level", "抽查级别", "level", aliases=("抽查层级", "级别", "spot-check level")),
    Column("failed_items", "不合格项目", "failed items", aliases=("不合格项", "non-conforming items")),
)
LEVEL_SYNONYMS = {
    **dict.fromkeys(("国家", "国抽", "国家级", "国家抽查"), SpotCheckLevel.NATIONAL),
    **dict.fromkeys(("省", "省抽", "省级", "省级抽查"), SpotCheckLevel.PROVINCIAL),
    **dict.fromkeys(("市", "市抽", "市级", "市级抽查"), SpotCheckLevel.CITY),
    **dict.fromkeys(("县", "县抽", "县级", "区级", "县（区）级", "县级抽查"), SpotCheckLevel.COUNTY),
}

SPOT_CHECK_EXPORT = (
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("checked_on", "抽样日期"),
    ExportField("conforming", "检验结论", {True: "合格", False: "不合格"}),
    ExportField("batch_number", "批次号"),
    ExportField("lab_report_number", "报告编号"),
    ExportField("level", "抽查级别"),
    ExportField("failed_items", "不合格项目"),
    ExportField("source", "来源"),
    ExportField("created_at", "录入时间"),
    ExportField("is_demo", "演示数据", YES_NO),
)
TASK_EXPORT = (
    ExportField("plan__name", "抽查计划"),
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("enterprise__town__parent__name", "所属县（市、区）"),
    ExportField("enterprise__town__name", "所在镇街"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("kind", "任务类型"),
    ExportField("arm", "抽取方式"),
    ExportField("stratum", "分层"),
    ExportField("reason", "抽取原因"),
    ExportField("due_date", "截止日期"),
    ExportField("status", "任务状态"),
    ExportField("created_at", "创建时间"),
)
CHECK_RESULT_EXPORT = (
    ExportField("number", "结果编号"),
    ExportField("task__enterprise__credit_code", "统一社会信用代码"),
    ExportField("task__enterprise__name", "企业名称"),
    ExportField("task__product__code", "产品代码"),
    ExportField("task__product__name", "产品名称"),
    ExportField("conclusion", "检查结论"),
    ExportField("checked_on", "检查日期"),
    ExportField("submitted_by__username", "检查人员"),
    ExportField("co_inspector__username", "协查人员"),
    ExportField("note", "备注"),
    ExportField("submitted_at", "提交时间"),
)
ORDER_EXPORT = (
    ExportField("number", "整改通知编号"),
    ExportField("enterprise__credit_code", "统一社会信用代码"),
    ExportField("enterprise__name", "企业名称"),
    ExportField("product__code", "产品代码"),
    ExportField("product__name", "产品名称"),
    ExportField("status", "状态"),
    ExportField("ordered_on", "责令整改日期"),
    ExportField("rectify_by", "整改期限"),
    ExportField("reinspect_by", "复查期限"),
    ExportField("objection_by", "异议期限"),
    ExportField("objection_filed_on", "提出异议日期"),
    ExportField("announced_on", "报请公告日期"),
    ExportField("second_reinspect_by", "再次复查期限"),
    ExportField("escalated_on", "移送处理日期"),
    ExportField("closed_on", "结案日期"),
    ExportField("overdue_flagged_on", "逾期标记日期"),
)


def _conforming(rows: ImportRows, row: int, cells: dict) -> bool | None:
    try:
        conforming = parse_bool(cells.get("conforming"))
    except CellError as error:
        rows.add(row, "conforming", str(error))
        return None
    if conforming is None:
        rows.add(row, "conforming", _("the conclusion is empty (合格 or 不合格)"))
    return conforming


def _spot_check_values(rows: ImportRows, row: int, cells: dict, products: ProductCodes, levels: dict) -> dict[str, Any]:
    values: dict[str, Any] = {
        "product_id": products.find(rows, row, cells.get("product_code"), required=True),
        "checked_on": date_of(rows, row, "checked_on", cells.get("checked_on"), required=True, not_after=timezone.localdate()),
        "conforming": _conforming(rows, row, cells),
    }
    if rows.has("batch_number"):
        values["batch_number"] = text_of(rows, row, "batch_number", cells.get("batch_number"), 60)
    if rows.has("level"):
        level = cells.get("level")
        values["level"] = SpotCheckLevel.CITY if level in (None, "") else choice_of(rows, row, "level", level, levels, SpotCheckLevel)
    if rows.has("failed_items"):
        values["failed_items"] = text_of(rows, row, "failed_items", cells.get("failed_items"), 500)
        if values["failed_items"] and values["conforming"]:
            rows.add(row, "failed_items", _("non-conforming items are listed for a conforming result"))
    return values


def _spot_checks(rows: ImportRows, *, dry_run: bool, progress: Progress | None, jurisdiction: Region | None = None) -> ImportReport:
    products = ProductCodes()
    levels = choice_lookup(SpotCheckLevel, LEVEL_SYNONYMS)
    parsed = []
    for row, cells in rows:
        code = credit_code_of(rows, row, cells)
        report_number = text_of(rows, row, "lab_report_number", cells.get("lab_report_number"), 60, required=True)
        parsed.append((row, code, report_number, _spot_check_values(rows, row, cells, products, levels)))
    known = enterprise_ids({code for _row, code, *_rest in parsed if code}, jurisdiction)
    wanted: dict[str, dict] = {}
    first_rows = FirstRows()
    for row, code, report_number, values in parsed:
        enterprise_id = stored_enterprise(rows, row, code, known, jurisdiction)
        if report_number and not first_rows.seen(rows, row, report_number, "lab_report_number", report_number):
            wanted[report_number] = {"enterprise_id": enterprise_id, **values}
    if not rows.report.ok:
        return rows.report
    fields = list(next(iter(wanted.values())))
    existing, reported = {}, {}
    prefix = prefix_of(jurisdiction)
    for number, pk, source, town, *values in in_chunks(
        SpotCheckResult.objects, "lab_report_number", wanted, "lab_report_number", "id", "source", "enterprise__town__code", *fields
    ):
        existing[number] = (pk, dict(zip(fields, values)))
        if not town.startswith(prefix):
            rows.add(
                first_rows[number],
                "lab_report_number",
                _("report %(number)s is of an enterprise outside your jurisdiction") % {"number": number},
            )
        if source == ResultSource.INSPECTION:
            reported[number] = existing[number][1]
    for number, stored in reported.items():
        if stored != {**stored, **wanted[number]}:
            rows.add(
                first_rows[number],
                "lab_report_number",
                _("report %(number)s was reported by an inspector in the app; an import cannot change it") % {"number": number},
            )
    if not rows.report.ok:
        return rows.report
    upsert = Upsert(SpotCheckResult, fields)
    for number, values in wanted.items():
        upsert.plan(
            number,
            values,
            existing,
            lambda n=number, values=values: SpotCheckResult(lab_report_number=n, source=ResultSource.IMPORTED, **values),
        )
    return finish(rows, [upsert], dry_run=dry_run, progress=progress)


spot_checks_import = Importer("spot_checks", gettext_lazy("spot-check results"), SPOT_CHECK_COLUMNS, _spot_checks)
