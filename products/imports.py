"""Loading the product catalogue and checklists, and importing grade overrides: every row checked first, then
all or nothing.

The catalogue file carries the grade factors of each product; the grade itself is the grading rule's
(products_grade), run right after the import so a changed factor is reflected at once. Every class, product and
checklist item the import creates, changes or removes gets a history row whose reason names the import.

Grade overrides (人工调整等级) come from an .xlsx or .csv uploaded in the admin, read and reported like the other
imports (common/tabular.py, docs/imports.md): product code, grade (高/中/低, high/medium/low; empty clears the
override) and the reason a grade needs. The overrides are set by the one override rule (products_override_grade).
"""

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models.deletion import Collector
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

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
    cell_text,
    choice_lookup,
    normalise_header,
    parse_code,
)
from regions.models import Region

from .models import ChecklistItem, Grade, HarmSeverity, LicenceType, Product, ProductClass
from .services import GradeOverride, grade_overrides_changing, products_grade, products_override_grade

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE_CSV = DATA_DIR / "catalogue.csv"
CHECKLISTS_CSV = DATA_DIR / "checklists.csv"

CATALOGUE_COLUMNS = (
    "class_code",
    "class_name",
    "class_name_en",
    "code",
    "name",
    "name_en",
    "harm_severity",
    "licence_type",
    "vulnerable_users",
    "spot_check_cost",
    "industry_tags",
)
CHECKLIST_COLUMNS = ("product_code", "order", "text", "legal_basis")
HARM_SEVERITIES = {"severe": HarmSeverity.SEVERE, "moderate": HarmSeverity.MODERATE, "minor": HarmSeverity.MINOR}
INDUSTRY_TAGS = frozenset(
    (
        *("knitting", "sweater", "leather", "garment", "luggage", "wood", "appliance", "electronics", "lighting", "auto_parts"),
        *("machinery", "chemical", "building", "food_contact", "children", "stationery", "daily", "farm", "electrical"),
    )
)
PRODUCT_FIELDS = ("product_class", "name", "name_en", "harm_severity", "licence_type", "vulnerable_users", "spot_check_cost")
MAX_COST = Decimal("9999999.99")  # Product.spot_check_cost: 9 digits, 2 decimals


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _cell(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


class _Problems(list):
    """Messages that name the file, line and column of each bad value."""

    def add(self, file: str, line: int, column: str, message: str, **values) -> None:
        where = _("%(file)s line %(line)d, column %(column)s") % {"file": file, "line": line, "column": column}
        self.append(f"{where}: {message % values if values else message}")


def _missing_columns(rows: list[dict], columns: tuple[str, ...], file: str, problems: _Problems) -> bool:
    present = set(rows[0]) if rows else set(columns)
    missing = [column for column in columns if column not in present]
    for column in missing:
        problems.append(_("%(file)s: column %(column)s is missing") % {"file": file, "column": column})
    return bool(missing)


@dataclass(frozen=True)
class _Length:
    column: str
    limit: int
    required: bool = True


CATALOGUE_LENGTHS = (
    _Length("class_code", 10),
    _Length("class_name", 100),
    _Length("class_name_en", 100, required=False),
    _Length("code", 20),
    _Length("name", 100),
    _Length("name_en", 150, required=False),
)
CHECKLIST_LENGTHS = (_Length("product_code", 20), _Length("text", 300), _Length("legal_basis", 200, required=False))


def _check_lengths(row: dict, lengths: tuple[_Length, ...], file: str, line: int, problems: _Problems) -> None:
    for spec in lengths:
        value = _cell(row, spec.column)
        if spec.required and not value:
            problems.add(file, line, spec.column, _("the value is empty"))
        elif len(value) > spec.limit:
            problems.add(file, line, spec.column, _("longer than %(limit)d characters"), limit=spec.limit)


def _check_catalogue_row(row: dict, line: int, problems: _Problems) -> None:
    file = "catalogue"
    _check_lengths(row, CATALOGUE_LENGTHS, file, line, problems)
    harm = _cell(row, "harm_severity")
    if harm not in HARM_SEVERITIES:
        problems.add(
            file, line, "harm_severity", _("unknown value %(value)r (use %(choices)s)"), value=harm, choices=", ".join(HARM_SEVERITIES)
        )
    licence = _cell(row, "licence_type")
    if licence not in LicenceType.values:
        problems.add(
            file, line, "licence_type", _("unknown value %(value)r (use %(choices)s)"), value=licence, choices=", ".join(LicenceType.values)
        )
    if _cell(row, "vulnerable_users") not in ("0", "1"):
        problems.add(file, line, "vulnerable_users", _("%(value)r is not 0 or 1"), value=_cell(row, "vulnerable_users"))
    cost = _cell(row, "spot_check_cost")
    try:
        amount = Decimal(cost)
        if not amount.is_finite() or amount < 0 or amount > MAX_COST or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except InvalidOperation:
        problems.add(file, line, "spot_check_cost", _("%(value)r is not an amount in yuan (0 to 9999999.99)"), value=cost)
    unknown = sorted(set(_tags(row)) - INDUSTRY_TAGS)
    if unknown:
        problems.add(file, line, "industry_tags", _("unknown tag(s) %(tags)s"), tags=", ".join(unknown))


def _tags(row: dict) -> list[str]:
    return [tag.strip() for tag in _cell(row, "industry_tags").split(";") if tag.strip()]


def _validate_catalogue(rows: list[dict], problems: _Problems) -> None:
    if _missing_columns(rows, CATALOGUE_COLUMNS, "catalogue", problems):
        return
    first_line_of: dict[str, int] = {}
    class_names: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(rows, start=2):
        _check_catalogue_row(row, line, problems)
        code, class_code, class_name = _cell(row, "code"), _cell(row, "class_code"), _cell(row, "class_name")
        if code in first_line_of:
            problems.add(
                "catalogue", line, "code", _("product code %(code)s already on line %(first)d"), code=code, first=first_line_of[code]
            )
        first_line_of.setdefault(code, line)
        known_name, known_line = class_names.setdefault(class_code, (class_name, line))
        if known_name != class_name:
            problems.add(
                "catalogue",
                line,
                "class_name",
                _("class %(code)s is called %(name)r on line %(first)d"),
                code=class_code,
                name=known_name,
                first=known_line,
            )


def _validate_checklists(rows: list[dict], product_codes: set[str], problems: _Problems) -> None:
    if _missing_columns(rows, CHECKLIST_COLUMNS, "checklists", problems):
        return
    seen: dict[tuple[str, int], int] = {}
    for line, row in enumerate(rows, start=2):
        _check_lengths(row, CHECKLIST_LENGTHS, "checklists", line, problems)
        code, order = _cell(row, "product_code"), _cell(row, "order")
        if code and code not in product_codes:
            problems.add("checklists", line, "product_code", _("unknown product %(code)r"), code=code)
        if not order.isdigit() or not 0 < int(order) < 32768:
            problems.add("checklists", line, "order", _("%(value)r is not a whole number from 1"), value=order)
            continue
        if (code, int(order)) in seen:
            problems.add(
                "checklists",
                line,
                "order",
                _("item %(order)s of %(code)s already on line %(first)d"),
                order=order,
                code=code,
                first=seen[(code, int(order))],
            )
        seen.setdefault((code, int(order)), line)


def _product_values(row: dict) -> dict:
    return {
        "name": _cell(row, "name"),
        "name_en": _cell(row, "name_en"),
        "harm_severity": HARM_SEVERITIES[_cell(row, "harm_severity")],
        "licence_type": _cell(row, "licence_type"),
        "vulnerable_users": _cell(row, "vulnerable_users") == "1",
        "spot_check_cost": Decimal(_cell(row, "spot_check_cost")),
    }


def _upsert_classes(rows: list[dict], reason: str) -> tuple[dict[str, ProductClass], int, int]:
    existing = {product_class.code: product_class for product_class in ProductClass.objects.all()}
    to_create: dict[str, ProductClass] = {}
    to_update: dict[str, ProductClass] = {}
    for row in rows:
        code = _cell(row, "class_code")
        values = {"name": _cell(row, "class_name"), "name_en": _cell(row, "class_name_en")}
        product_class = existing.get(code) or to_create.setdefault(code, ProductClass(code=code))
        if any(getattr(product_class, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(product_class, key, value)
            if code not in to_create:
                to_update[code] = product_class
    created = bulk_create_with_history(list(to_create.values()), ProductClass, default_change_reason=reason)
    bulk_update_with_history(list(to_update.values()), ProductClass, ["name", "name_en"], default_change_reason=reason)
    return {**existing, **{product_class.code: product_class for product_class in created}}, len(created), len(to_update)


def _upsert_products(rows: list[dict], classes: dict[str, ProductClass], reason: str) -> tuple[dict[str, Product], int, int]:
    existing = {product.code: product for product in Product.objects.all()}
    to_create, to_update = [], []
    for row in rows:
        values = {"product_class_id": classes[_cell(row, "class_code")].pk, **_product_values(row)}
        product = existing.get(_cell(row, "code"))
        if product is None:
            to_create.append(Product(code=_cell(row, "code"), **values))
        elif any(getattr(product, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(product, key, value)
            to_update.append(product)
    bulk_create_with_history(to_create, Product, batch_size=500, default_change_reason=reason)
    bulk_update_with_history(to_update, Product, PRODUCT_FIELDS, batch_size=500, default_change_reason=reason)
    return {product.code: product for product in Product.objects.all()}, len(to_create), len(to_update)


def _delete_with_reason(items: list, reason: str) -> None:
    """Delete these rows in one statement, each history row ("-") carrying ``reason``: the deletion is given the
    loaded objects, which carry it, rather than a queryset whose rows it would load without."""
    if not items:
        return
    for item in items:
        item._change_reason = reason
    collector = Collector(using=router.db_for_write(ChecklistItem))
    collector.collect(items)
    collector.delete()


def _replace_checklists(rows: list[dict], products: dict[str, Product], reason: str) -> tuple[int, int]:
    """Replace a product's checklist only when the file's differs from the stored one."""
    wanted: dict[str, list[tuple[int, str, str]]] = {}
    for row in rows:
        wanted.setdefault(_cell(row, "product_code"), []).append((int(_cell(row, "order")), _cell(row, "text"), _cell(row, "legal_basis")))
    stored: dict[int, list[tuple[int, str, str]]] = {}
    for product_id, order, text, basis in ChecklistItem.objects.order_by("product_id", "order").values_list(
        "product_id", "order", "text", "legal_basis"
    ):
        stored.setdefault(product_id, []).append((order, text, basis))
    changed = [products[code] for code, items in wanted.items() if sorted(items) != stored.get(products[code].pk, [])]
    _delete_with_reason(list(ChecklistItem.objects.filter(product__in=changed)), reason)
    bulk_create_with_history(
        [
            ChecklistItem(product=product, order=order, text=text, legal_basis=basis)
            for product in changed
            for order, text, basis in sorted(wanted[product.code])
        ],
        ChecklistItem,
        batch_size=1000,
        default_change_reason=reason,
    )
    return len(changed), sum(len(items) for items in wanted.values())


def _import_reason(source: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):  # stored text is in the site language
        return _("import of %(file)s") % {"file": source} if source else _("catalogue import")


@transaction.atomic
def catalogue_import(catalogue_rows: list[dict], checklist_rows: list[dict], *, source: str = "") -> dict:
    """Create or update product classes and products by code, and their checklists; then grade products.

    Every row of both files is checked first (unknown choices, duplicate codes, checklist items of unknown
    products, bad numbers); any problem and nothing is written. A checklist is replaced only when it
    differs, so importing the same files again changes nothing. The history rows give "import of <source>"
    (the files' names) as the reason, and the request's user if there is one.
    """
    problems = _Problems()
    _validate_catalogue(catalogue_rows, problems)
    known_codes = {_cell(row, "code") for row in catalogue_rows} | set(Product.objects.values_list("code", flat=True))
    _validate_checklists(checklist_rows, known_codes, problems)
    if problems:
        raise ValidationError(list(problems))
    reason = _import_reason(source)
    classes, classes_created, classes_updated = _upsert_classes(catalogue_rows, reason)
    products, created, updated = _upsert_products(catalogue_rows, classes, reason)
    checklists_replaced, items = _replace_checklists(checklist_rows, products, reason)
    graded = products_grade()
    class_count = len({_cell(row, "class_code") for row in catalogue_rows})
    changes = classes_created + classes_updated + created + updated + checklists_replaced
    return {
        "classes": class_count,
        "classes_created": classes_created,
        "classes_updated": classes_updated,
        "products": len(catalogue_rows),
        "created": created,
        "updated": updated,
        "checklist_items": items,
        "checklists_replaced": checklists_replaced,
        "grades_changed": graded["changed"],
        "changes": changes,
        "message": (
            f"{class_count} classes, {len(catalogue_rows)} products ({created} created, {updated} updated), "
            f"{items} checklist items ({checklists_replaced} checklists replaced)"
        ),
    }


def industry_tags(catalogue_rows: list[dict]) -> dict[str, list[str]]:
    """Product code → industry tags (which local industries make it), as written in the catalogue file."""
    return {_cell(row, "code"): _tags(row) for row in catalogue_rows}


def load_catalogue(catalogue: Path = CATALOGUE_CSV, checklists: Path = CHECKLISTS_CSV) -> dict:
    """The catalogue and checklists shipped with the app (the 2021 national key products catalogue)."""
    return catalogue_import(read_csv(catalogue), read_csv(checklists), source=f"{catalogue.name}, {checklists.name}")


# --- Grade overrides from a file -----------------------------------------------------------------------------

GRADE_OVERRIDE_COLUMNS = (
    Column("product_code", "产品代码", "product code", required=True, aliases=("产品编码", "目录代码", "product")),
    Column(
        "grade",
        "人工调整等级",
        "override grade",
        required=True,
        aliases=("调整等级", "调整后等级", "风险等级", "等级", "grade", "risk grade", "grade override"),
    ),
    Column(
        "reason",
        "人工调整理由",
        "reason",
        aliases=("调整理由", "理由", "原因", "调整原因", "override reason", "reason for the override"),
    ),
)
GRADE_SYNONYMS = {
    **dict.fromkeys(("高", "high"), Grade.HIGH),
    **dict.fromkeys(("中", "medium"), Grade.MEDIUM),
    **dict.fromkeys(("低", "low"), Grade.LOW),
}
PRODUCT_EXPORT = (
    ExportField("code", "产品代码"),
    ExportField("name", "产品名称"),
    ExportField("product_class__name", "产品类别"),
    ExportField("grade", "产品风险等级"),
    ExportField("computed_grade", "计算等级"),
    ExportField("override_grade", "人工调整等级"),
    ExportField("override_reason", "人工调整理由"),
    ExportField("harm_severity", "危害程度"),
    ExportField("licence_type", "许可或认证要求"),
    ExportField("vulnerable_users", "弱势群体使用", YES_NO),
    ExportField("failure_rate", "近期抽查不合格率（%）"),
    ExportField("failure_sample", "抽查批次数"),
    ExportField("is_active", "在目录中", YES_NO),
)
UNREADABLE = object()  # a grade cell that names no grade


def grade_lookup() -> dict[str, int]:
    """Normalised spelling → grade: 高/中/低, high/medium/low and the grades' labels in either language."""
    lookup = choice_lookup(Grade, GRADE_SYNONYMS)
    for value in Grade.values:  # "1" is the lowest grade here, the highest in other schemes: refuse, don't guess
        lookup.pop(str(value), None)
    return lookup


class CatalogueCodes:
    """Product code → id, loaded once; a code Excel stored as a number gets its leading zeros back (8004 → 08004)."""

    def __init__(self):
        self.ids = dict(Product.objects.values_list("code", "id"))
        self.lengths = sorted({len(code) for code in self.ids})

    def find(self, rows: ImportRows, row: int, value: Any) -> tuple[str, int | None]:
        """The code as written and the product's id, or None after recording why there is none."""
        try:
            code = parse_code(value)
        except CellError as error:
            rows.add(row, "product_code", str(error))
            return cell_text(value), None
        if not code:
            rows.add(row, "product_code", _("the product code is empty"))
            return code, None
        for candidate in [code] + ([code.zfill(length) for length in self.lengths] if code.isdigit() else []):
            if candidate in self.ids:
                return code, self.ids[candidate]
        rows.add(row, "product_code", _("unknown product code %(code)s (see the product catalogue)") % {"code": code})
        return code, None


def _grade_of(rows: ImportRows, row: int, value: Any, lookup: dict[str, int]) -> Any:
    """The grade a cell names, None for an empty cell (clear the override), UNREADABLE after recording why."""
    text = cell_text(value)
    if not text:
        return None
    grade = lookup.get(normalise_header(text))
    if grade is None:
        message = _("unknown grade “%(value)s” (use 高, 中 or 低, or high, medium or low; leave it empty to clear the override)")
        rows.add(row, "grade", message % {"value": text})
        return UNREADABLE
    return grade


def _grade_overrides(
    rows: ImportRows, *, dry_run: bool, progress: Progress | None, jurisdiction: Region | None = None, by=None
) -> ImportReport:
    if jurisdiction is not None:  # the admin lets only city-level administrators import (regions/admin_scoping.py)
        rows.file_problem(_("The product catalogue is the city's: only a city-level administrator can import grade overrides."))
        return rows.report
    codes, grades = CatalogueCodes(), grade_lookup()
    wanted: dict[int, GradeOverride] = {}
    first_rows = FirstRows()
    for row, cells in rows:
        code, product_id = codes.find(rows, row, cells.get("product_code"))
        repeated = product_id is not None and first_rows.seen(rows, row, product_id, "product_code", code)
        grade = _grade_of(rows, row, cells.get("grade"), grades)
        if grade is UNREADABLE:
            continue
        override = GradeOverride(grade, cell_text(cells.get("reason")))
        problem = override.problem()
        if problem:
            rows.add(row, "reason", problem)
        if product_id is not None and not repeated:
            wanted[product_id] = override
    report = rows.report
    if not report.ok:
        return report
    if dry_run:
        changed = len(grade_overrides_changing(wanted))
    else:
        with translation.override(settings.LANGUAGE_CODE):  # stored text is in the site language
            note = _("import of %(file)s") % {"file": report.filename or report.kind}
        changed = products_override_grade(overrides=wanted, note=note, by=by)["changed"]
        report.written = True
    report.updated, report.unchanged = changed, len(wanted) - changed
    return report


grade_overrides_import = Importer("grade_overrides", gettext_lazy("product grade overrides"), GRADE_OVERRIDE_COLUMNS, _grade_overrides)
