"""Import benchmark: a generated file of N rows through each import, timed with its number of SQL queries.

    JQS_VAR_DIR=/tmp/bench_imports python -m bench.imports --rows 50000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jqs_bench_imports python -m bench.imports --rows 50000

Runs only on a database that holds nothing but benchmark data (every generated enterprise is named
``BENCH-…``); the Jiaxing divisions and the product catalogue are loaded when missing. Steps, each timed:
enterprises from CSV (all created), the same file again (all unchanged), a file with every name changed
(all updated), the same enterprises from .xlsx (unchanged), then N products made and N spot-check results
(created). The target in the issue: a good 50,000-row file in under a minute.

    JQS_VAR_DIR=/tmp/bench_imports python -m bench.imports --bomb [--bomb-rows 1350000] [--bad-rows 50000]

``--bomb`` measures the admin's upload → preview instead (issue #14): a small .xlsx that unpacks to a huge sheet
(by default 1,350,000 rows of one enterprise repeated, about 200 MB unzipped, under 1 MB zipped), then a file of
``--bad-rows`` rows every one of which is a bad row (the same credit code again). Each goes through the admin's
own views (Django's test client, logged in as a benchmark superuser): the upload, the preview page, the same
preview page again (a refresh); for each the time, the page's size and, for the bomb, the growth of the process's
peak memory (ru_maxrss). Run it in a fresh process: the peak is a high-water mark.
"""

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from common.tabular import write_xlsx  # noqa: E402
from enterprises.imports import enterprises_import, products_made_import  # noqa: E402
from enterprises.models import Enterprise  # noqa: E402
from enterprises.validators import uscc_check_character  # noqa: E402
from inspections.models import SpotCheckResult  # noqa: E402
from inspections.spotchecks.imports import spot_checks_import  # noqa: E402
from products.imports import load_catalogue  # noqa: E402
from products.models import Product  # noqa: E402
from regions.imports import load_jiaxing  # noqa: E402
from regions.models import Level, Region  # noqa: E402

MARK = "BENCH-"
ENTERPRISE_HEADERS = ["统一社会信用代码", "企业名称", "地址", "所在镇街代码", "纬度", "经度", "经营状态"]


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def prepare() -> None:
    foreign = Enterprise.objects.exclude(name__startswith=MARK).count()
    if foreign:
        sys.exit(f"refused: this database holds {foreign:,} enterprises that are not benchmark data; use a database of its own")
    SpotCheckResult.objects.filter(enterprise__name__startswith=MARK).delete()
    Enterprise.objects.filter(name__startswith=MARK).delete()
    if not Region.objects.filter(level=Level.TOWN).exists():
        load_jiaxing()
    if not Product.objects.exists():
        load_catalogue()


def credit_code(serial: int) -> str:
    first17 = f"913304{serial:011d}"
    return first17 + uscc_check_character(first17)


def enterprise_rows(rows: int, towns: list[str], *, suffix: str = "") -> list[list]:
    return [
        [
            credit_code(n),
            f"{MARK}嘉兴测试制造有限公司{n}{suffix}",
            f"浙江省嘉兴市测试路{n}号",
            towns[n % len(towns)],
            30.5 + n % 97 / 1000,
            120.7,
            "在营",
        ]
        for n in range(rows)
    ]


def write_csv(path: Path, headers: list[str], rows: list[list]) -> None:
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)


def timed(label: str, importer, path: Path) -> None:
    counter = QueryCounter()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(counter):
        report = importer(path, filename=path.name)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not report.ok:
        sys.exit(f"{label}: refused: {report.summary}\n" + "\n".join(report.problem_lines()[:10]))
    print(f"  {label:<46} {seconds:7.2f} s (CPU here {cpu:6.2f} s) {counter.count:6d} queries   {report.summary}", flush=True)


XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def _xml_row(number: int, cells: list) -> str:
    def cell(value) -> str:
        if isinstance(value, int | float):
            return f"<c><v>{value}</v></c>"
        return f'<c t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'

    return f'<row r="{number}">' + "".join(cell(value) for value in cells) + "</row>"


def write_repeated_xlsx(path: Path, headers: list[str], row: list, repeat: int) -> None:
    """An .xlsx whose one sheet repeats ``row`` ``repeat`` times, written as XML straight into the zip (streamed,
    little memory; openpyxl would take minutes for a million rows). It compresses about 250 to 1."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in XLSX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            sheet.write(_xml_row(1, headers).encode())
            batch = []
            for number in range(2, repeat + 2):
                batch.append(_xml_row(number, row))
                if len(batch) == 10000:
                    sheet.write("".join(batch).encode())
                    batch = []
            sheet.write(("".join(batch) + "</sheetData></worksheet>").encode())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def admin_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _created = get_user_model().objects.get_or_create(username="bench-importer", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    return client


def timed_get(client, label: str, url: str) -> None:
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    size = sum(len(chunk) for chunk in response) if response.streaming else len(response.content)
    print(f"  {label:<46} {seconds:7.2f} s  HTTP {response.status_code}  page {size / 1e6:9.3f} MB  peak {peak_mb():7.0f} MB", flush=True)


def admin_preview(client, label: str, path: Path) -> None:
    """Upload ``path`` through the enterprise admin's import and open its preview twice (a refresh)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    started = time.perf_counter()
    with open(path, "rb") as handle:
        response = client.post(
            reverse("admin:enterprises_enterprise_import"), {"kind": "enterprises", "file": SimpleUploadedFile(path.name, handle.read())}
        )
    seconds = time.perf_counter() - started
    print(f"  {label + ': upload':<46} {seconds:7.2f} s  HTTP {response.status_code}  peak {peak_mb():7.0f} MB", flush=True)
    if response.status_code != 302:
        sys.exit(f"{label}: the upload was not accepted")
    timed_get(client, f"{label}: preview", response.url)
    timed_get(client, f"{label}: preview again (refresh)", response.url)


def bomb(options) -> int:
    settings.MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="bench-imports-media-"))
    town = Region.objects.filter(level=Level.TOWN).values_list("code", flat=True).first()
    row = enterprise_rows(1, [town])[0]
    client = admin_client()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = folder / "bomb.xlsx"
        write_repeated_xlsx(path, ENTERPRISE_HEADERS, row, options.bomb_rows)
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        print(
            f"bomb.xlsx: {options.bomb_rows:,} rows, {path.stat().st_size / 1e6:.2f} MB, {unzipped / 1e6:.0f} MB unzipped; "
            f"peak before {peak_mb():.0f} MB",
            flush=True,
        )
        admin_preview(client, "bomb.xlsx", path)
        bad = folder / "bad_rows.csv"
        write_csv(bad, ENTERPRISE_HEADERS, [row] * options.bad_rows)
        print(f"bad_rows.csv: {options.bad_rows:,} rows, all but the first a repeated credit code", flush=True)
        admin_preview(client, "bad_rows.csv", bad)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50000, help="rows per file (default 50000)")
    parser.add_argument("--bomb", action="store_true", help="measure the admin's preview of a zip bomb and of many bad rows")
    parser.add_argument("--bomb-rows", type=int, default=1350000, help="rows of the bomb (default 1350000)")
    parser.add_argument("--bad-rows", type=int, default=50000, help="rows of the all-bad file (default 50000)")
    options = parser.parse_args(argv)
    settings.DEBUG = False  # no query log: time what production runs
    prepare()
    if options.bomb:
        return bomb(options)
    towns = list(Region.objects.filter(level=Level.TOWN).values_list("code", flat=True))
    products = list(Product.objects.values_list("code", flat=True))
    n = options.rows
    print(f"{n:,} rows per file on {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_csv(folder / "enterprises.csv", ENTERPRISE_HEADERS, enterprise_rows(n, towns))
        write_csv(folder / "renamed.csv", ENTERPRISE_HEADERS, enterprise_rows(n, towns, suffix="（更名）"))
        write_xlsx(folder / "enterprises.xlsx", ENTERPRISE_HEADERS, enterprise_rows(n, towns, suffix="（更名）"))
        write_csv(
            folder / "products_made.csv",
            ["统一社会信用代码", "产品代码", "许可证编号", "有效期至"],
            [[credit_code(i), products[i % len(products)], "", ""] for i in range(n)],
        )
        day = dt.date(2024, 1, 1)
        write_xlsx(
            folder / "spot_checks.xlsx",
            ["统一社会信用代码", "产品代码", "抽样日期", "检验结论", "批次号", "报告编号"],
            [
                [
                    credit_code(i),
                    products[i % len(products)],
                    day + dt.timedelta(days=i % 600),
                    "不合格" if i % 10 == 0 else "合格",
                    f"B{i}",
                    f"{MARK}{i:08d}",
                ]
                for i in range(n)
            ],
        )
        timed("enterprises.csv (all new)", enterprises_import, folder / "enterprises.csv")
        timed("enterprises.csv again (all unchanged)", enterprises_import, folder / "enterprises.csv")
        timed("renamed.csv (every name changed)", enterprises_import, folder / "renamed.csv")
        timed("enterprises.xlsx (as renamed.csv: unchanged)", enterprises_import, folder / "enterprises.xlsx")
        timed("products_made.csv (all new)", products_made_import, folder / "products_made.csv")
        timed("spot_checks.xlsx (all new)", spot_checks_import, folder / "spot_checks.xlsx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
