"""Requests at the same moment, each on its own database connection, as a server's threads and workers make them.

PostgreSQL: the threads connect to the test database. SQLite: the suite's test database lives in memory with a
shared cache, whose table locks fail at once whatever the busy timeout (SQLITE_LOCKED), unlike the file a server
shares between its workers; the threads therefore work on a copy of the test database in a file, opened with the
settings' OPTIONS (transaction mode, timeout) as a server opens it. Use it in a ``transaction=True`` test, after
the records the threads need are committed; read the outcome with ``read`` (the copy, on SQLite); another
process reaches the same database at ``url``.
"""

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections

from .services import shared_database_url


@dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None


class SharedDatabase:
    def __init__(self, folder: Path):
        self.file: Path | None = None
        main = connections[DEFAULT_DB_ALIAS]
        if main.vendor == "sqlite":
            self.file = folder / "shared.sqlite3"
            main.ensure_connection()
            target = sqlite3.connect(self.file)
            main.connection.backup(target)
            target.close()
            self._wrapper = type(main)
            self._settings = {**main.settings_dict, "NAME": str(self.file)}

    @property
    def url(self) -> str:
        """DATABASE_URL for another process (a second app server) to share the database."""
        return f"sqlite:///{self.file}" if self.file is not None else shared_database_url()

    def _connect_this_thread(self) -> None:
        if self.file is not None:
            connections[DEFAULT_DB_ALIAS] = self._wrapper(dict(self._settings), DEFAULT_DB_ALIAS)

    def _in_thread(self, work: Callable, outcome: Outcome, start: threading.Barrier | None) -> None:
        self._connect_this_thread()
        try:
            if start is not None:
                start.wait()
            outcome.value = work()
        except BaseException as error:  # collected: the test asserts on every outcome
            outcome.error = error
        finally:
            connections[DEFAULT_DB_ALIAS].close()

    def run(self, works: Sequence[Callable]) -> list[Outcome]:
        """Each callable in its own thread and connection, released together; their outcomes in order."""
        start = threading.Barrier(len(works))
        outcomes = [Outcome() for _work in works]
        threads = [threading.Thread(target=self._in_thread, args=(work, outcome, start)) for work, outcome in zip(works, outcomes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a concurrent request never finished"
        return outcomes

    def read(self, work: Callable):
        """``work``'s answer from the database the threads wrote to."""
        outcome = Outcome()
        thread = threading.Thread(target=self._in_thread, args=(work, outcome, None))
        thread.start()
        thread.join(timeout=60)
        if outcome.error is not None:
            raise outcome.error
        return outcome.value
