"""Import benchmark: a generated file of N rows through each import, timed with its number of SQL queries.

    JQS_VAR_DIR=/tmp/bench_imports python -m bench.imports --rows 50000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jqs_bench_imports python -m bench.imports --rows 50000

Runs only on a database that holds nothing but benchmark data (every generated enterprise is named
``BENCH-…``); the Jiaxing divisions and the product catalogue are loaded when missing. Steps, each timed:
enterprises from CSV (all created), the same file again (all unchanged), a file with every name changed
(all updated), the same enterprises from .xlsx (unchanged), then N products made and N spot-check results
(created). The target in the issue: a good 50,000-row file in under a minute.
"""

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50000, help="rows per file (default 50000)")
    options = parser.parse_args(argv)
    settings.DEBUG = False  # no query log: time what production runs
    prepare()
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
