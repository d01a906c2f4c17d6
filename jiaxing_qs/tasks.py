"""Celery tasks of the pipeline: thin wrappers that take plain values and call the stage's service."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from celery import chain, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .pipeline import STAGES, enterprise_feedback, regions_recolour, run_stage


@shared_task(
    bind=True,
    time_limit=1800,
    soft_time_limit=1700,
    max_retries=2,
    default_retry_delay=30,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
)
def run_pipeline_stage(self, report: list, stage: str, as_of: str) -> list:
    """Run one pipeline stage and append its summary to the report handed down the chain."""
    summary = run_stage(stage, dt.date.fromisoformat(as_of))
    return [*report, {**summary, "ran_on": self.request.hostname or "in-process"}]


def pipeline_signature(as_of: dt.date):
    """The whole pipeline as one Celery chain; each link appends its summary to the report."""
    first, *rest = STAGES
    return chain(
        run_pipeline_stage.s([], first.name, as_of.isoformat()),
        *(run_pipeline_stage.s(stage.name, as_of.isoformat()) for stage in rest),
    )


def run_pipeline(as_of: dt.date | None = None, *, timeout: float = 3600) -> list[dict]:
    """Run every stage in order as of ``as_of`` (default today) and wait for the report."""
    as_of = as_of or timezone.localdate()
    return pipeline_signature(as_of).apply_async().get(timeout=timeout, disable_sync_subtasks=False)


def enqueue_pipeline(as_of: dt.date | None = None) -> None:
    """Queue the whole pipeline once the current transaction commits (never on rolled-back data)."""
    day = as_of or timezone.localdate()
    transaction.on_commit(lambda: pipeline_signature(day).apply_async())


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
