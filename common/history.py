"""Pausing simple-history for one thread or task (a demo reset deletes tens of thousands of rows whose deletion
nobody needs in the audit trail).

simple-history 3.13 has only the global setting SIMPLE_HISTORY_ENABLED, read by each of its signal handlers and
bulk writes (a disable_history() context manager is still a proposal upstream). Settings set it to a
``HistorySwitch``: true, except inside ``history_paused()`` in the current thread or task. This module imports
nothing from Django: settings import it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_paused: ContextVar[bool] = ContextVar("history_paused", default=False)


class HistorySwitch:
    """SIMPLE_HISTORY_ENABLED as a value that is false only inside ``history_paused()`` of the current context."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __bool__(self) -> bool:
        return self.enabled and not _paused.get()

    def __repr__(self) -> str:
        return f"HistorySwitch(enabled={self.enabled})"


@contextmanager
def history_paused() -> Iterator[None]:
    """Write no history rows from this thread (or task) inside the block; other threads keep writing theirs."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)
