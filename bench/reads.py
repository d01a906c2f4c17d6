"""Read paths at scale: the enterprise API and the admin's enterprise list, each request timed with its query count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jqs_bench python -m bench.reads [--repeat 7] [--json PATH]

Runs on the database bench.pipeline filled (it refuses one without its ``BENCH-…`` enterprises), after a pipeline
run there so that classes and categories are set. It logs a superuser in (``bench-reader``, made once) and sends
each request through Django's test client in this process: the time is Django's handling of the request, the
middleware, the session and the rendering included, without an HTTP server or network. One warm-up request, then
``--repeat`` timed ones; the median and the slowest are reported, the median CPU time of this process (Django's
share; on a shared machine the wall time also counts the waits for a core), the queries of the last one and the
size of the response. ``DEBUG`` is off, as in production. See bench/README.md ("Read paths").
"""

import argparse
import json
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.pipeline import MARK, QueryCounter, machine  # noqa: E402
from enterprises.models import Enterprise  # noqa: E402
from regions.models import Level, Region  # noqa: E402

READER = "bench-reader"


def requests_to_time() -> list[tuple[str, str, dict]]:
    county = Region.objects.filter(level=Level.COUNTY).order_by("code").only("pk", "code").first()
    return [
        ("API list, 500 a page", "/api/enterprises/", {"page_size": 500}),
        ("API list, 500 a page, page 3", "/api/enterprises/", {"page_size": 500, "page": 3}),
        ("API list, one county, 500 a page", "/api/enterprises/", {"page_size": 500, "county": county.code}),
        ("API list, key-supervised, 500 a page", "/api/enterprises/", {"page_size": 500, "key_supervised": "true"}),
        ("admin enterprise list", "/admin/enterprises/enterprise/", {}),
        ("admin enterprise list, page 50", "/admin/enterprises/enterprise/", {"p": 50}),
        ("admin enterprise list, one county", "/admin/enterprises/enterprise/", {"town__parent__id__exact": county.pk}),
        ("admin enterprise list, risk class", "/admin/enterprises/enterprise/", {"risk_class__exact": "risk"}),
        ("admin risk event list", "/admin/enterprises/riskevent/", {}),
    ]


def timed(client: Client, url: str, params: dict, repeat: int) -> dict:
    client.get(url, params)  # warm-up: caches, the session, the first plan
    samples, cpu, counter, response = [], [], None, None
    for _ in range(repeat):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, params)
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, (url, params, response.status_code)
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "cpu_ms": round(statistics.median(cpu) * 1000, 1),  # this process only (Django), not the database's
        "queries": counter.count,
        "bytes": len(response.content),
        "samples_ms": [round(sample * 1000, 1) for sample in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per URL (default 7)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    options = parser.parse_args(argv)
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    if not Enterprise.objects.filter(name__startswith=MARK).exists() or Enterprise.objects.exclude(name__startswith=MARK).exists():
        print("refused: run bench.pipeline on this database first (it must hold its benchmark enterprises only)", file=sys.stderr)
        return 2
    reader = get_user_model().objects.filter(username=READER).first()
    if reader is None:
        reader = get_user_model().objects.create_superuser(READER, password=os.urandom(16).hex())
    client = Client()
    client.force_login(reader)
    enterprises = Enterprise.objects.count()
    print(f"{enterprises:,} enterprises; {options.repeat} timed requests each (after one warm-up)")
    print(f"{'request':<40} {'median ms':>10} {'max ms':>8} {'CPU ms':>8} {'queries':>8} {'bytes':>10}")
    results = {}
    for label, url, params in requests_to_time():
        figures = timed(client, url, params, options.repeat)
        results[label] = {"url": url, "params": params, **figures}
        cells = f"{figures['median_ms']:10.1f} {figures['max_ms']:8.1f} {figures['cpu_ms']:8.1f} {figures['queries']:8d}"
        cells += f" {figures['bytes']:10,}"
        print(f"{label:<40} {cells}", flush=True)
    info = machine()
    print(f"load average when the requests ended (1, 5, 15 min): {', '.join(map(str, info['load_average']))}")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump({"enterprises": enterprises, "machine": info, "requests": results}, handle, indent=2, ensure_ascii=False, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
