"""Queueing Celery tasks by their name, once the current transaction commits, so that a service does not import
the tasks module that imports it (tasks call services; services queue tasks)."""

from collections.abc import Iterable

from celery import current_app
from django.db import transaction


def queue_on_commit(task_name: str, *args) -> None:
    """Queue ``task_name(*args)`` after commit (never on rolled-back data)."""
    queue_each_on_commit(task_name, [args])


def queue_each_on_commit(task_name: str, calls: Iterable[tuple]) -> None:
    """Queue ``task_name`` once per argument tuple of ``calls``, in one after-commit callback. The registered
    task's own ``apply_async`` runs each, so eager mode and the task's retry options hold as for ``task.delay``;
    an unregistered name fails here (its app's ``ready`` imports its tasks module) instead of being sent to no
    worker."""
    calls = [tuple(args) for args in calls]
    task = current_app.tasks[task_name]

    def queue() -> None:
        for args in calls:
            task.apply_async(args)

    if calls:
        transaction.on_commit(queue)
