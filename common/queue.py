"""Queueing Celery tasks by their name, once the current transaction commits, so that a service does not import
the tasks module that imports it (tasks call services; services queue tasks)."""

import logging
from collections.abc import Iterable

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def queue_on_commit(task_name: str, *args) -> None:
    """Queue ``task_name(*args)`` after commit (never on rolled-back data)."""
    queue_each_on_commit(task_name, [args])


def queue_each_on_commit(task_name: str, calls: Iterable[tuple]) -> None:
    """Queue ``task_name`` once per argument tuple of ``calls``, in one after-commit callback. The registered
    task's own ``apply_async`` runs each, so eager mode and the task's retry options hold as for ``task.delay``;
    an unregistered name fails here (its app's ``ready`` imports its tasks module) instead of being sent to no
    worker.

    A broker that cannot be reached (Redis down or restarting) does not turn the committed write into an error
    page: the call is logged and left for the owning app's periodic sweep, which finds such work by its state
    (a plan approved but not dispatched, a notification still pending) and queues it again."""
    calls = [tuple(args) for args in calls]
    task = current_app.tasks[task_name]

    def queue() -> None:
        for args in calls:
            try:
                # Nobody waits for these results: without ignore_result, Celery's Redis result backend subscribes
                # first, and an unreachable Redis raises from there (a RuntimeError), not as a broker error.
                task.apply_async(args, ignore_result=True)
            except OperationalError as error:
                logger.warning("broker unreachable, %s%s left for the sweep: %s", task_name, args, error)

    if calls:
        transaction.on_commit(queue)
