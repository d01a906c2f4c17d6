"""Services queue Celery tasks by name after commit (common.queue): never before, once per call, and never a name
that no task answers to."""

import pytest

from common.queue import queue_each_on_commit, queue_on_commit

pytestmark = pytest.mark.django_db


def test_a_task_is_queued_by_name_only_when_the_transaction_commits(django_capture_on_commit_callbacks, monkeypatch):
    from inspections import tasks

    sent = []
    monkeypatch.setattr(tasks.send_notification, "apply_async", lambda args, **options: sent.append(args))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_each_on_commit("inspections.tasks.send_notification", [(1,), (2,)])
    assert sent == [] and len(callbacks) == 1
    callbacks[0]()
    assert sent == [(1,), (2,)]


def test_an_unknown_task_name_fails_at_once():
    with pytest.raises(KeyError):
        queue_on_commit("inspections.tasks.no_such_task", 1)
