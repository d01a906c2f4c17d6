"""The split stages (classing and categorising, one task per county) on 1 … N Celery workers against one process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jqs_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/12 \\
        python -m bench.pipeline_workers --enterprises 200000 --workers 1 2

Uses bench.pipeline's synthetic data (generated there on first use, reused after) and its reset of the derived
state. For each configuration, in turn and in the same run: reset the derived state, run the stages before the
split ones in this process, then time the split stages — in this process (``run_stage``: each stage as one
statement set over every enterprise), and through the broker with N worker processes (``--pool=solo``, started
for the measurement on a private queue) — and check that each left the same state. Reports wall times and the
speed-up over one worker.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from celery import chain, group
from django.conf import settings
from django.db import connection

from bench import pipeline as data  # sets Django up
from jiaxing_qs.pipeline import STAGES, run_stage, stage_parts
from jiaxing_qs.tasks import join_pipeline_stage, run_pipeline_part
from regions.periods import period_of

ROOT = Path(__file__).resolve().parent.parent
SPLIT = [stage.name for stage in STAGES if stage.split]
BEFORE = [stage.name for stage in STAGES[: [stage.name for stage in STAGES].index(SPLIT[0])]]


def start_workers(count: int, queue: str) -> list[subprocess.Popen]:
    from jiaxing_qs.celery import app

    env = {**os.environ, "CELERY_TASK_DEFAULT_QUEUE": queue}
    command = [sys.executable, "-m", "celery", "-A", "jiaxing_qs", "worker", "--pool=solo", "--loglevel=WARNING"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    workers = [
        subprocess.Popen(
            [*command, "-n", f"bench{index}-{queue}@%h"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for index in range(count)
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if sum(1 for reply in replies for name in reply if queue in name) >= count:
            return workers
    raise SystemExit("the workers did not start")


def split_on_workers(as_of, queue: str) -> float:
    day, counties = as_of.isoformat(), stage_parts()
    links = []
    for name in SPLIT:
        links += [group([run_pipeline_part.s(name, day, county) for county in counties]), join_pipeline_stage.s(name, day, counties)]
    links[0] = group([signature.clone(args=([],)) for signature in links[0].tasks])  # the first parts start the report
    started = time.perf_counter()
    chain(*links).apply_async(queue=queue).get(timeout=3600, disable_sync_subtasks=False)
    return time.perf_counter() - started


def split_in_process(as_of) -> float:
    started = time.perf_counter()
    for name in SPLIT:
        run_stage(name, as_of)
    return time.perf_counter() - started


def prepare(as_of) -> None:
    data.reset_derived(period_of(as_of))
    for name in BEFORE:
        run_stage(name, as_of)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=200000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="measure each configuration N times (they alternate)")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql" or settings.CELERY_TASK_ALWAYS_EAGER:
        raise SystemExit("needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")
    as_of = data.DEFAULT_AS_OF
    data.ensure_rules()
    if data.check_database(args.enterprises, fresh=False):  # True: nothing there yet
        data.generate(args.enterprises, as_of)
        data.analyze()
    print(f"{args.enterprises:,} enterprises, {len(stage_parts())} county parts per split stage, load {os.getloadavg()[0]:.1f}")
    results: dict[str, list[float]] = {}
    for _round in range(args.repeat):
        prepare(as_of)
        results.setdefault("in-process", []).append(split_in_process(as_of))
        reference = data.fingerprint(period_of(as_of))
        for count in args.workers:
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            workers = start_workers(count, queue)
            try:
                prepare(as_of)
                results.setdefault(f"{count} workers", []).append(split_on_workers(as_of, queue))
            finally:
                for worker in workers:
                    worker.terminate()
                    worker.wait(timeout=60)
            differences = data.fingerprint_differences(reference, data.fingerprint(period_of(as_of)))
            assert not differences, differences
    one = min(results["1 workers"]) if "1 workers" in results else None
    for label, times in results.items():
        speed = f"  {one / min(times):.2f}× one worker's speed" if one and label.endswith("workers") else ""
        print(f"{label:>12}: {min(times):7.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}){speed}, load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
