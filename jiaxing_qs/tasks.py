"""Celery tasks of the pipeline: thin wrappers that take plain values and call the stage's service."""

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from celery import chain, group, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .models import Trigger
from .pipeline import (
    IN_PROCESS,
    STAGES,
    enterprise_feedback,
    host_label,
    join_stage,
    parts_done,
    pipeline_run_begin,
    pipeline_run_finished,
    regions_recolour,
    run_stage,
    run_stage_part,
    stage_parts,
    step_failed,
    step_finished,
    step_started,
)

STAGE_TASK = {
    "time_limit": 1800,
    "soft_time_limit": 1700,
    "max_retries": 2,
    "default_retry_delay": 30,
    "autoretry_for": (ConnectionError,),
    "retry_backoff": True,
    # A part is acknowledged only when done, and given back to the queue if its worker dies: another worker
    # runs it again (the parts are idempotent).
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def _host(task) -> str:
    return IN_PROCESS if task.request.is_eager else task.request.hostname or "?"


@contextmanager
def _step(run_id: int | None, stage: str, county_id: int | None, host: str) -> Iterator[list]:
    step_started(run_id, stage, county_id, host=host)
    outcome: list = []
    try:
        yield outcome
    except BaseException as error:
        step_failed(run_id, stage, county_id, error)
        raise
    step_finished(run_id, stage, county_id, outcome[0] if outcome else {})


@shared_task(bind=True, **STAGE_TASK)
def run_pipeline_stage(self, report: list, stage: str, as_of: str, run_id: int | None = None) -> list:
    """Run one whole pipeline stage and append its summary to the report handed down the chain."""
    with _step(run_id, stage, None, _host(self)) as outcome:
        summary = run_stage(stage, dt.date.fromisoformat(as_of))
        outcome.append(summary)
    return [*report, {**summary, "ran_on": host_label(_host(self))}]


@shared_task(bind=True, **STAGE_TASK)
def run_pipeline_part(self, report: list, stage: str, as_of: str, county_id: int, run_id: int | None = None) -> dict:
    """One county's part of a split stage; hands the report on to the stage's join."""
    with _step(run_id, stage, county_id, _host(self)) as outcome:
        summary = run_stage_part(stage, dt.date.fromisoformat(as_of), county_id)
        outcome.append(summary)
    return {"report": report, "part": summary, "county": county_id, "ran_on": _host(self)}


@shared_task(bind=True, max_retries=60, default_retry_delay=5, acks_late=True, reject_on_worker_lost=True)
def join_pipeline_stage(self, parts: list, stage: str, as_of: str, counties: list[int], run_id: int | None = None) -> list:
    """A split stage's join: once every county's part is done, the stage's summary (totals over all).

    With a run, the parts' own records decide, not the chord's count: a part that ran twice (redelivered after
    its result was stored) cannot make the join run before another part has finished.
    """
    report = parts[0]["report"] if parts else []
    if run_id is None:
        summaries = [part["part"] for part in parts]
    else:
        done = parts_done(run_id, stage)
        missing = [county for county in counties if county not in done]
        if missing:
            raise self.retry(exc=RuntimeError(f"{stage}: {len(missing)} county parts not done yet"))
        summaries = [done[county] for county in counties]
    with _step(run_id, stage, None, _host(self)) as outcome:
        summary = join_stage(stage, dt.date.fromisoformat(as_of), summaries)
        outcome.append(summary)
    hosts = Counter(part["ran_on"] for part in parts)
    ran_on = ", ".join(f"{host_label(host)} ×{count}" for host, count in sorted(hosts.items()))
    return [*report, {**summary, "parts": len(counties), "ran_on": ran_on}]


@shared_task(bind=True, acks_late=True)
def finish_pipeline_run(self, report: list, run_id: int | None = None) -> list:
    pipeline_run_finished(run_id)
    return report


def pipeline_signature(as_of: dt.date, run_id: int | None = None):
    """The whole pipeline as one Celery chain; each link appends its summary to the report. A split stage is a
    group of county parts joined by a chord before the next stage (in-process without a broker, in turn)."""
    day = as_of.isoformat()
    counties = stage_parts()
    links = []
    for stage in STAGES:
        if stage.split and counties:
            parts = group([run_pipeline_part.s(stage.name, day, county, run_id) for county in counties])
            links += [parts, join_pipeline_stage.s(stage.name, day, counties, run_id)]
        else:
            links.append(run_pipeline_stage.s(stage.name, day, run_id))
    links[0] = links[0].clone(args=([],))  # the first stage (never split) starts the report
    return chain(*links, finish_pipeline_run.s(run_id))


def run_pipeline(as_of: dt.date | None = None, *, timeout: float = 3600, trigger: str = "") -> list[dict]:
    """Run every stage in order as of ``as_of`` (default today) and wait for the report."""
    _run, result = pipeline_start(as_of, trigger=trigger)
    return result.get(timeout=timeout, disable_sync_subtasks=False)


def pipeline_start(as_of: dt.date | None = None, *, trigger: str = ""):
    """Start a recorded run (PipelineRun): the run and the AsyncResult of its chain."""
    as_of = as_of or timezone.localdate()
    run = pipeline_run_begin(as_of, trigger=trigger, parts=len(stage_parts()))
    return run, pipeline_signature(as_of, run.pk).apply_async()


def enqueue_pipeline(as_of: dt.date | None = None) -> None:
    """Queue the whole pipeline once the current transaction commits (never on rolled-back data)."""
    day = as_of or timezone.localdate()
    transaction.on_commit(lambda: pipeline_start(day, trigger=Trigger.RULES_CHANGED))


@shared_task(name="jiaxing_qs.tasks.nightly_pipeline", acks_late=True)
def nightly_pipeline() -> int:
    """The scheduled nightly run (django-celery-beat): starts the pipeline as of today and returns its run."""
    run, _result = pipeline_start(timezone.localdate(), trigger=Trigger.NIGHTLY)
    return run.pk


@shared_task(time_limit=600, soft_time_limit=540, max_retries=2, autoretry_for=(ConnectionError,), retry_backoff=True)
def feedback_enterprise(enterprise_id: int) -> dict:
    as_of = timezone.localdate()
    report = enterprise_feedback(enterprise_id, as_of, recolour=False)
    enqueue_recolour(as_of)
    return report


def _recolour_pending_key(as_of: dt.date) -> str:
    return f"jqs:recolour-pending:{as_of.isoformat()}"


@shared_task(time_limit=1800, soft_time_limit=1700, max_retries=2, autoretry_for=(ConnectionError,), retry_backoff=True)
def recolour_regions(as_of: str) -> dict:
    return regions_recolour(dt.date.fromisoformat(as_of))


_deferred_recolours: ContextVar[set | None] = ContextVar("deferred_recolours", default=None)


@contextmanager
def recolours_deferred() -> Iterator[None]:
    """Inside the block, recolourings asked for are collected and run once each at its end: a batch of results
    entered in one go (an import, the demo) recolours once, not once per result."""
    token = _deferred_recolours.set(set())
    try:
        yield
        days = _deferred_recolours.get()
    finally:
        _deferred_recolours.reset(token)
    for day in sorted(days):
        enqueue_recolour(day)


def enqueue_recolour(as_of: dt.date) -> None:
    """Queue one recolouring of ``as_of``'s period, coalescing the requests of a busy moment.

    Recolouring counts every enterprise (seconds at a province's million), so a stream of check results must
    not each pay for it: the first result queues a run FEEDBACK_RECOLOUR_DELAY seconds later and sets a gate
    that expires when the run is due; the results arriving meanwhile (already committed: the run starts after
    them) ride on it, and the first one after it queues the next. Without a broker it runs at once, in-process.
    """
    deferred = _deferred_recolours.get()
    if deferred is not None:
        deferred.add(as_of)
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        recolour_regions.delay(as_of.isoformat())
        return
    delay = settings.FEEDBACK_RECOLOUR_DELAY
    if cache.add(_recolour_pending_key(as_of), True, timeout=delay):
        recolour_regions.apply_async((as_of.isoformat(),), countdown=delay)


def enqueue_feedback(enterprise_id: int) -> None:
    """Re-class an enterprise and re-colour its regions once the current transaction commits."""
    # robust: a failing feedback run (eager, without a broker) must not turn a stored result into an error page.
    transaction.on_commit(lambda: feedback_enterprise.delay(enterprise_id), robust=True)
