"""Spreadsheets in and out: reading .xlsx and .csv into rows, checking their cells, writing .xlsx.

Reading accepts what Chinese office software writes: .xlsx (Excel, WPS) and .csv in UTF-8 with or without a
BOM, or GBK (detected by trying UTF-8 first, then GB18030, a superset of GBK), and UTF-16 "Unicode text".
Row numbers are the ones Excel shows (the header is row 1), so a report can point at the cell to fix.

The import services (``enterprises.imports``, ``inspections.spotchecks.imports``) share the pieces below: columns that
accept Chinese and English headers, problems named by row, column and reason in the active language, cell
parsers (dates as 2025-03-01, 2025/3/1 or Excel date cells; yes/no in either language), and one upsert that
compares with what is stored, so importing the same file twice changes nothing.

Writing keeps numbers numbers, dates dates and text text: a text that office software would take for a
formula is marked as text (``xlsx_cell``), so an export is safe to open and imports back unchanged.
"""

import csv
import dataclasses
import datetime as dt
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from xml.etree.ElementTree import ParseError

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles import Font
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
MAX_UNZIPPED_BYTES = 400 * 1024 * 1024  # an .xlsx is a zip: refuse a "zip bomb" before parsing it
# An .xlsx's shared texts are loaded whole before its first row: at most this much per row an import may take
# (a 100,000-row enterprise file of all-different names and addresses holds about 25 MB of them).
TEXT_BYTES_PER_ROW = 1000
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common in bureau templates
PROGRESS_EVERY = 5000
WRITE_BATCH = 5000  # objects handed to one bulk_create / bulk_update call (the backend splits further)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class TableError(Exception):
    """The file as a whole cannot be read (format, encoding, no header); its message is for the user."""


class NoHeader(TableError):
    pass


class TooManyRows(TableError):
    """The file holds more rows than one import takes (``max_rows``): refused as soon as the reading passes it."""


# --- Reading -----------------------------------------------------------------------------------------------


@dataclass
class Table:
    """A sheet's header and its data rows, each with the row number Excel shows for it."""

    headers: list[str]
    rows: list[tuple[int, tuple]]
    header_row: int = 1
    filename: str = ""


def read_table(
    source: str | Path | bytes | BinaryIO,
    *,
    filename: str = "",
    is_header: Callable[[list[str]], bool] | None = None,
    max_rows: int | None = None,
) -> Table:
    """Read the first sheet of an .xlsx, or a .csv, into a :class:`Table`.

    The header is the first non-empty row, or, given ``is_header``, the first of the top rows it accepts (so
    a title row above the header is skipped). Text cells are trimmed; empty rows are dropped but counted.

    Given ``max_rows``, a file with more data rows is refused (:class:`TooManyRows`) as soon as the reading
    passes that many, before the rest is parsed: rows are read one at a time (openpyxl's read-only mode, the
    csv reader), so the time and memory spent on a huge file are those of ``max_rows`` rows. Empty rows count
    too, at most as many again (a sheet of a million formatted empty rows is refused as well), and an .xlsx's
    shared texts may take at most ``TEXT_BYTES_PER_ROW`` per allowed row (they are loaded before the first row).
    """
    if isinstance(source, str | Path):
        filename = filename or str(source)
        data = Path(source).read_bytes()
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    suffix = Path(filename).suffix.lower()
    if suffix == ".xls" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise TableError(_("This is an old Excel 97–2003 (.xls) file: save it as .xlsx or .csv and upload that."))
    is_xlsx = suffix in XLSX_SUFFIXES or (suffix not in CSV_SUFFIXES and data[:4] == b"PK\x03\x04")
    raw_rows = _xlsx_rows(data, max_rows) if is_xlsx else _csv_rows(data)
    table = _header_and_rows(raw_rows, is_header, max_rows)
    table.filename = Path(filename).name
    return table


def too_many_rows(limit: int) -> TooManyRows:
    return TooManyRows(
        _(
            "The file has more than %(limit)s rows; one import takes at most %(limit)s (setting IMPORT_MAX_ROWS): "
            "split it into smaller files."
        )
        % {"limit": f"{limit:,}"}
    )


def _xlsx_rows(data: bytes, max_rows: int | None = None) -> Iterator[tuple]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise TableError(_("This spreadsheet unpacks to more than %(mb)d MB: split it into smaller files.") % {"mb": 400})
            texts = sum(info.file_size for info in archive.infolist() if info.filename.lower().endswith("sharedstrings.xml"))
            if max_rows is not None and texts > max(max_rows, 1000) * TEXT_BYTES_PER_ROW:
                raise too_many_rows(max_rows)
        reader, sheet = _first_sheet(data)
    except (zipfile.BadZipFile, InvalidFileException, ParseError, KeyError, OSError, ValueError) as error:
        raise TableError(_("This file is not a readable .xlsx spreadsheet (%(error)s).") % {"error": error}) from None
    try:
        yield from sheet.iter_rows(values_only=True)
    except (ParseError, KeyError, ValueError, TypeError) as error:
        raise TableError(_("This file is not a readable .xlsx spreadsheet (%(error)s).") % {"error": error}) from None
    finally:
        reader.archive.close()


class _StreamedSheet(ReadOnlyWorksheet):
    """openpyxl's read-only sheet without its size lookup. A sheet that does not state its size (no <dimension>,
    which Excel writes but nothing requires) would be parsed whole to find it when the workbook is opened, before
    the first row could be read: minutes for a small .xlsx unpacking to a million rows (bench/imports.py --bomb).
    The size is not needed, and a stated one may be wrong (some writers record one that would cut rows off): rows
    are read until the sheet ends, as after ``reset_dimensions``."""

    def _get_size(self):
        pass


def _first_sheet(data: bytes) -> tuple[ExcelReader, ReadOnlyWorksheet]:
    """The first worksheet of an .xlsx, opened read-only with cached values: what ``load_workbook(read_only=True,
    data_only=True).worksheets[0]`` gives, without opening every sheet (``ExcelReader.read`` minus its worksheets,
    properties and theme, which a table does not need; the styles tell dates from numbers)."""
    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
    reader.read_manifest()
    reader.read_strings()
    reader.read_workbook()
    apply_stylesheet(reader.archive, reader.wb)
    for sheet, rel in reader.parser.find_sheets():
        if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
            return reader, _StreamedSheet(reader.wb, sheet.name, rel.target, reader.shared_strings)
    reader.archive.close()
    raise KeyError("no worksheet")


def decode_text(data: bytes) -> str:
    """Text of a CSV in UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableError(_("The file's text is neither UTF-8 nor GBK/GB18030: save it again as “CSV UTF-8” or as .xlsx.")) from None


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise TableError(_("The CSV file is malformed: %(error)s.") % {"error": error}) from None


def _header_and_rows(raw_rows: Iterable[Sequence], is_header: Callable[[list[str]], bool] | None, max_rows: int | None = None) -> Table:
    header: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, tuple]] = []
    for number, raw in enumerate(raw_rows, start=1):
        if max_rows is not None and number > 2 * max_rows + HEADER_SEARCH_ROWS:
            raise too_many_rows(max_rows)  # mostly empty rows: as many again as data rows are allowed
        cells = tuple(trim(cell) for cell in raw)
        if not any(cell not in (None, "") for cell in cells):
            continue
        if header is not None and max_rows is not None and len(rows) >= max_rows:
            raise too_many_rows(max_rows)
        if header is None:
            texts = [cell_text(cell) for cell in cells]
            if is_header is None or is_header(texts):
                header, header_row = texts, number
            elif number >= HEADER_SEARCH_ROWS:
                break
            continue
        rows.append((number, cells))
    if header is None:
        raise NoHeader(_("No header row found: the first row must name the columns."))
    while header and not header[-1]:
        header.pop()
    return Table(headers=header, rows=rows, header_row=header_row)


def trim(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ".0" (Excel stores 330481101 as a float), dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


# --- Columns, problems and reports -------------------------------------------------------------------------


def normalise_header(text: str) -> str:
    """Headers match whatever their case, spacing, required-field stars or underscores."""
    return re.sub(r"[\s_\-*＊]+", "", text).lower()


@dataclass(frozen=True)
class Column:
    """One column of an import: its key, Chinese and English headers and other accepted spellings."""

    key: str
    zh: str
    en: str
    required: bool = False
    aliases: tuple[str, ...] = ()

    def accepts(self) -> set[str]:
        return {normalise_header(name) for name in (self.key, self.zh, self.en, *self.aliases)}


def header_matcher(columns: Sequence[Column]) -> Callable[[list[str]], bool]:
    """Accepts a row as the header when it names at least one required column."""
    required = set().union(*(column.accepts() for column in columns if column.required))
    return lambda texts: any(normalise_header(text) in required for text in texts)


@dataclass
class Problem:
    row: int | None  # as Excel shows it (header = row 1); None for a problem with the whole file
    column: str  # as the file names it, e.g. "C 所在镇街代码"; empty for the whole row or file
    message: str


@dataclass
class ImportReport:
    kind: str
    filename: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    preview: list[tuple[int, list[str]]] = field(default_factory=list)
    # Set when ``problems`` lists only the first of them (``listing``): how many there are, in how many rows.
    problems_found: int | None = None
    bad_rows_found: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem_count(self) -> int:
        return len(self.problems) if self.problems_found is None else self.problems_found

    @property
    def bad_rows(self) -> int:
        if self.bad_rows_found is not None:
            return self.bad_rows_found
        return len({problem.row for problem in self.problems if problem.row is not None})

    @property
    def problems_unlisted(self) -> int:
        return self.problem_count - len(self.problems)

    def listing(self, limit: int) -> "ImportReport":
        """The report with only its first ``limit`` problems listed and their totals kept (a page shows a few
        hundred problems, not a million)."""
        return dataclasses.replace(self, problems=self.problems[:limit], problems_found=self.problem_count, bad_rows_found=self.bad_rows)

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "problems": [dataclasses.asdict(problem) for problem in self.problems]}

    @classmethod
    def from_json(cls, values: dict) -> "ImportReport":
        problems = [Problem(**problem) for problem in values.get("problems", [])]
        preview = [(row, cells) for row, cells in values.get("preview", [])]
        return cls(**{**values, "problems": problems, "preview": preview})

    @property
    def summary(self) -> str:
        if self.problems:
            if not self.bad_rows:
                return _("The file cannot be imported; nothing was changed.")
            return ngettext(
                "%(bad)d bad row out of %(rows)d: nothing was changed.",
                "%(bad)d bad rows out of %(rows)d: nothing was changed.",
                self.bad_rows,
            ) % {"bad": self.bad_rows, "rows": self.rows}
        counts = _("%(created)d created, %(updated)d updated, %(unchanged)d unchanged") % {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }
        return counts if self.written else _("Nothing written yet; importing would give: %(counts)s") % {"counts": counts}

    def problem_lines(self) -> list[str]:
        return [format_problem(problem) for problem in self.problems]


def format_problem(problem: Problem) -> str:
    if problem.row is None:
        return problem.message
    if not problem.column:
        return _("row %(row)d: %(message)s") % {"row": problem.row, "message": problem.message}
    return _("row %(row)d, column %(column)s: %(message)s") % {"row": problem.row, "column": problem.column, "message": problem.message}


class ImportRows:
    """A table's data rows keyed by column key, with the problems found in them.

    Problems are recorded against the file's own header ("C 所在镇街代码"), so the user finds the cell;
    unknown columns are listed as ignored, missing required columns make the file unusable.
    """

    PREVIEW_ROWS = 10

    def __init__(self, table: Table, columns: Sequence[Column], *, kind: str, progress: Progress | None = None):
        self.table, self.columns, self.progress = table, columns, progress
        self.report = ImportReport(kind=kind, filename=table.filename, rows=len(table.rows), headers=table.headers)
        self.report.preview = [(row, [cell_text(cell) for cell in cells]) for row, cells in table.rows[: self.PREVIEW_ROWS]]
        self.index: dict[str, int] = {}
        self.labels: dict[str, str] = {}
        self._map_headers()

    def _map_headers(self) -> None:
        by_name = {name: column for column in self.columns for name in column.accepts()}
        for position, header in enumerate(self.table.headers):
            column = by_name.get(normalise_header(header))
            label = f"{get_column_letter(position + 1)} {header}".strip()
            if column is None:
                if header:
                    self.report.ignored_columns.append(label)
            elif column.key in self.index:
                values = {"first": self.labels[column.key], "second": label, "name": column.zh}
                self.file_problem(_("Columns %(first)s and %(second)s both give %(name)s.") % values)
            else:
                self.index[column.key], self.labels[column.key] = position, label
        for column in self.columns:
            if column.required and column.key not in self.index:
                self.file_problem(_("Column %(zh)s (%(en)s) is missing: the header row must name it.") % {"zh": column.zh, "en": column.en})
        if not self.table.rows:
            self.file_problem(_("The file has a header but no data rows."))

    @property
    def usable(self) -> bool:
        return self.report.ok

    def has(self, key: str) -> bool:
        return key in self.index

    def file_problem(self, message: str) -> None:
        self.report.problems.append(Problem(None, "", message))

    def add(self, row: int, key: str | None, message: str) -> None:
        self.report.problems.append(Problem(row, self.labels.get(key, "") if key else "", message))

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        total = len(self.table.rows)
        for done, (row, cells) in enumerate(self.table.rows, start=1):
            yield row, {key: cells[position] if position < len(cells) else None for key, position in self.index.items()}
            if self.progress and (done % PROGRESS_EVERY == 0 or done == total):
                self.progress("checked", done, total)


def choice_lookup(choices: type, synonyms: dict[str, str] | None = None) -> dict[str, str]:
    """Normalised spelling → stored value of a TextChoices: its values, its English and Chinese labels, synonyms."""
    lookup = {}
    for value, label in choices.choices:
        lookup[normalise_header(str(value))] = value
        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup[normalise_header(str(label))] = value
    lookup.update({normalise_header(name): value for name, value in (synonyms or {}).items()})
    return lookup


def choice_names(choices: type) -> str:
    return ", ".join(f"{label} ({value})" for value, label in choices.choices)


class CellError(ValueError):
    """A cell that cannot be read as the column's type; its message is for the user."""


DATE_PATTERN = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


def parse_date(value: Any) -> dt.date | None:
    """A date from an Excel date cell or text such as 2025-03-01, 2025/3/1, 2025.3.1, 2025年3月1日, 20250301."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 19000101 <= value <= 21001231:  # 20250301 typed as a number
            value = str(int(value))
        elif 1 <= value < 2958466:  # an Excel date serial whose cell lost its date format
            return from_excel(value).date()
        else:
            raise CellError(_("%(value)s is not a date (write it as 2025-03-01)") % {"value": cell_text(value)})
    text = str(value)
    match = DATE_PATTERN.match(text) or re.match(r"^(\d{4})(\d{2})(\d{2})$", text)
    if not match:
        raise CellError(_("“%(value)s” is not a date (write it as 2025-03-01 or 2025/3/1)") % {"value": text})
    year, month, day = (int(part) for part in match.groups())
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise CellError(_("“%(value)s” is not a day of the calendar") % {"value": text}) from None
    if not 1900 <= year <= 2100:
        raise CellError(_("“%(value)s” is not a plausible date") % {"value": text})
    return date


TRUE_WORDS = {"1", "true", "yes", "y", "是", "合格", "conforming", "pass", "passed", "√", "✓", "✔", "对"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "不合格", "nonconforming", "non-conforming", "fail", "failed", "×", "✗", "✘", "错"}


def parse_bool(value: Any) -> bool | None:
    """Yes or no from 合格/不合格, 是/否, yes/no, true/false, 1/0 or a TRUE/FALSE cell."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    text = cell_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS or text.replace(" ", "") in FALSE_WORDS:
        return False
    raise CellError(_("“%(value)s” is neither yes nor no (use 合格/不合格, yes/no, true/false or 1/0)") % {"value": cell_text(value)})


def parse_float(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        raise CellError(_("“%(value)s” is not a number") % {"value": cell_text(value)}) from None


SCIENTIFIC = re.compile(r"^\d(\.\d+)?e\+?\d+$", re.IGNORECASE)


def parse_code(value: Any) -> str:
    """A code cell as text. A code Excel turned into a number loses its digits: say so rather than guess."""
    text = cell_text(value)
    if (isinstance(value, float) and abs(value) >= 1e15) or SCIENTIFIC.match(text):
        raise CellError(
            _("%(value)s: Excel turned this code into a number and lost digits; format the column as text and type it again")
            % {"value": text}
        )
    return text


def check_length(rows: ImportRows, row: int, key: str, text: str, limit: int) -> None:
    if len(text) > limit:
        rows.add(row, key, _("longer than %(limit)d characters (%(n)d)") % {"limit": limit, "n": len(text)})


class FirstRows(dict):
    """Natural key → the row it was first seen on, to name duplicates within a file."""

    def seen(self, rows: ImportRows, row: int, key: Hashable, column: str, label: str) -> bool:
        first = self.setdefault(key, row)
        if first != row:
            rows.add(row, column, _("%(key)s already appears on row %(first)d") % {"key": label, "first": first})
            return True
        return False


# --- Set-based lookups and upserts -------------------------------------------------------------------------


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def lookup_chunks(values: Sequence) -> Iterator[Sequence]:
    """``values`` in chunks short enough for one ``IN (…)``: under SQLite's limit of bound parameters;
    PostgreSQL takes the same chunks."""
    return chunks(values, min(connection.features.max_query_params or 10000, 10000))


def in_chunks(queryset: QuerySet, field_name: str, values: Iterable, *fields: str) -> Iterator[tuple]:
    """``values_list(*fields)`` of the rows whose ``field_name`` is among ``values``, a few queries for any number."""
    for chunk in lookup_chunks(sorted(set(values))):
        yield from queryset.filter(**{f"{field_name}__in": chunk}).values_list(*fields)


@dataclass
class Upsert:
    """What an import does: rows to create, rows to update (only the changed ones), rows left as they are."""

    model: type[Model]
    fields: list[str]
    create: list[Model] = field(default_factory=list)
    update: list[Model] = field(default_factory=list)
    unchanged: int = 0

    def plan(self, key: Hashable, values: dict, existing: dict[Hashable, tuple[int, dict]], build: Callable[[], Model]) -> None:
        found = existing.get(key)
        if found is None:
            self.create.append(build())
        elif any(found[1][name] != value for name, value in values.items()):
            self.update.append(self.model(pk=found[0], **values))
        else:
            self.unchanged += 1

    def write(self, progress: Progress | None = None) -> None:
        """bulk_create new rows and update changed ones, in batches, reporting progress after each batch."""
        total, done = len(self.create) + len(self.update), 0
        manager = self.model._default_manager
        for batch in chunks(self.create, WRITE_BATCH):
            manager.bulk_create(batch, batch_size=WRITE_BATCH)  # the backend splits further as it must
            done += len(batch)
            if progress:
                progress("written", done, total)
        for batch in chunks(self.update, WRITE_BATCH):
            self._update(batch)
            done += len(batch)
            if progress:
                progress("written", done, total)

    def _update(self, objects: Sequence[Model]) -> None:
        """One prepared ``UPDATE … WHERE id = %s`` run for every object (``executemany``).

        Not bulk_update: its CASE WHEN per row and field, built as ORM expressions, took 150 s for 50,000
        enterprises on SQLite; this takes a few seconds on SQLite and PostgreSQL alike. Values go through
        each field's own conversion (get_db_prep_save), as the ORM's would.
        """
        meta, quote = self.model._meta, connection.ops.quote_name
        fields = [meta.get_field(name) for name in self.fields]
        assignments = ", ".join(f"{quote(model_field.column)} = %s" for model_field in fields)
        sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
        params = [
            [model_field.get_db_prep_save(getattr(obj, model_field.attname), connection) for model_field in fields] + [obj.pk]
            for obj in objects
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def count_into(self, report: ImportReport) -> None:
        report.created += len(self.create)
        report.updated += len(self.update)
        report.unchanged += self.unchanged


# --- Writing -----------------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a text takes in Excel: Chinese characters are about twice as wide as Latin ones."""
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def excel_value(value: Any) -> Any:
    """A value Excel can hold: numbers stay numbers, dates stay dates (local time, as Excel has no zones)."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, bool | int | float | Decimal | dt.date | str) or value is None:
        return value
    return str(value)


# What office software reads as the start of a formula, or of a formula's argument when a cell is edited or saved
# as CSV (OWASP's list for CSV injection): a text beginning with one of these is marked as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def xlsx_cell(sheet, value: Any) -> WriteOnlyCell:
    """A cell holding ``value`` as it is: a text stays text whatever it begins with.

    openpyxl stores any text beginning with "=" as a formula (Cell._bind_value), which Excel, WPS and LibreOffice
    then evaluate: ``=HYPERLINK(…)`` in an enterprise's name would become a live link, ``=1+1`` in an address a 2
    (and an empty cell for the importer, which reads cached values). Such a text is written as a string (data
    type "s", an inline string) with the quote-prefix style, Excel's mark for "typed with a leading apostrophe",
    so the cell shows and stays the text when edited; the value itself is unchanged and re-imports as it was.
    """
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    elif isinstance(value, dt.datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    return cell


@dataclass
class Sheet:
    """One sheet of a workbook: its title, header row and rows (any iterable: streamed)."""

    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence]
    widths: Sequence[int] | None = None


def write_xlsx_sheets(target: str | Path | BinaryIO, sheets: Iterable[Sheet]) -> list[int]:
    """Write sheets, each with a bold, frozen header row; streamed, so large lists take little memory.

    Column widths default to the widest of the header and the first 200 rows (8 to 50 characters).
    Returns the number of data rows of each sheet.
    """
    workbook = Workbook(write_only=True)
    counts = [_sheet_write(workbook, sheet) for sheet in sheets]
    workbook.save(target)
    return counts


def write_xlsx(
    target: str | Path | BinaryIO,
    headers: Sequence[str],
    rows: Iterable[Sequence],
    *,
    title: str = "Sheet1",
    widths: Sequence[int] | None = None,
) -> int:
    """One sheet (``write_xlsx_sheets``); returns the number of data rows."""
    return write_xlsx_sheets(target, [Sheet(title, headers, rows, widths)])[0]


def _sheet_write(workbook: Workbook, spec: Sheet) -> int:
    sheet = workbook.create_sheet(title=spec.title[:31])
    headers, widths = spec.headers, spec.widths
    rows = iter(spec.rows)
    first = list(itertools.islice(rows, 200))
    rows = itertools.chain(first, rows)
    if widths is None:
        widths = [
            min(50, max(8, display_width(header) + 2, *(display_width(cell_text(excel_value(row[i]))) + 2 for row in first)))
            for i, header in enumerate(headers)
        ]
    for position, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = xlsx_cell(sheet, header)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in rows:
        sheet.append([xlsx_cell(sheet, excel_value(value)) for value in row])
        count += 1
    return count


YES_NO = {True: "是", False: "否"}


@dataclass(frozen=True)
class ExportField:
    """A column of an export: a field path (``town__parent__name``), its Chinese header, optional value labels.

    Choice fields show their Chinese labels without being told; ``labels`` names other values (yes/no).
    """

    path: str
    header: str
    labels: dict | None = None


def _field_at(model: type[Model], path: str):
    field_obj = None
    for part in path.split("__"):
        field_obj = model._meta.get_field(part)
        if field_obj.is_relation and field_obj.related_model is not None:
            model = field_obj.related_model
    return field_obj


def queryset_rows(queryset: QuerySet, fields: Sequence[ExportField]) -> Iterator[list]:
    """The values of ``fields`` for every row of ``queryset`` in one streamed query; choices as their Chinese labels."""
    with translation.override("zh-hans"):
        labels = {}
        for position, export_field in enumerate(fields):
            model_field = _field_at(queryset.model, export_field.path)
            if export_field.labels is not None:
                labels[position] = export_field.labels
            elif getattr(model_field, "choices", None):
                labels[position] = {value: str(label) for value, label in model_field.flatchoices}
    for values in queryset.values_list(*(export_field.path for export_field in fields)).iterator(chunk_size=2000):
        yield [labels[position].get(value, value) if position in labels else value for position, value in enumerate(values)]


def export_xlsx(target: str | Path | BinaryIO, queryset: QuerySet, fields: Sequence[ExportField], *, title: str = "Sheet1") -> int:
    """Write ``queryset`` (already filtered) to an .xlsx with Chinese headers; returns the number of rows."""
    return write_xlsx(target, [export_field.header for export_field in fields], queryset_rows(queryset, fields), title=title)


# --- One import kind ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Importer:
    """An import kind: its columns and the function that checks and writes the rows.

    Calling it reads the file, maps its headers and hands the rows over; any problem with the file as a
    whole (format, encoding, missing column) comes back in the report like a bad row does.
    """

    do_not_call_in_templates: ClassVar[bool] = True  # templates read its label and columns

    kind: str
    label: Any  # lazy translated name, e.g. _("enterprises")
    columns: tuple[Column, ...]
    run: Callable[..., ImportReport]

    def __call__(
        self,
        source: str | Path | bytes | BinaryIO,
        *,
        filename: str = "",
        dry_run: bool = False,
        progress: Progress | None = None,
        max_rows: int | None = None,
    ) -> ImportReport:
        try:
            table = read_table(source, filename=filename, is_header=header_matcher(self.columns), max_rows=max_rows)
        except TableError as error:
            message = str(error)
            if isinstance(error, NoHeader):
                required = ", ".join(f"{column.zh} ({column.en})" for column in self.columns if column.required)
                message = _("No header row found: the first row must name the columns, at least %(columns)s.") % {"columns": required}
            return ImportReport(kind=self.kind, filename=Path(filename).name, problems=[Problem(None, "", message)])
        rows = ImportRows(table, self.columns, kind=self.kind, progress=progress)
        if not rows.usable:
            return rows.report
        # Checked and written in one transaction: what was checked is what gets written, or nothing is.
        with transaction.atomic():
            return self.run(rows, dry_run=dry_run, progress=progress)
