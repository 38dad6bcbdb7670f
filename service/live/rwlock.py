"""A readers–writer lock that neither side can starve: what the live index's readers and writers share.

Python's locks are not fair: a thread that releases a lock and asks again at once usually gets it
back before the threads already waiting. With one lock for suggestion requests and profile
writes, a stream of edits kept requests waiting behind it for seconds (issue 17).

Here readers share the lock and a writer has it alone, and it is phase-fair (Brandenburg and
Anderson, 2009): once a writer waits, readers arriving later wait for it, but every reader
already waiting when a writer finishes goes in before the next writer. A reader waits at most
for the writer ahead of it and a writer for the readers ahead of it, however many of each come.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers or one writer at a time; not reentrant (a writer must not read or write inside)."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._readers = 0  # readers in, or let in by the last writer and on their way
        self._readers_waiting = 0
        self._writing = False
        self._writers_waiting = 0
        self._admissions = 0  # counts the times waiting readers were let in, all at once

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._changed:
            if self._writing or self._writers_waiting:
                self._readers_waiting += 1
                admission = self._admissions
                while self._admissions == admission:
                    self._changed.wait()
            else:
                self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                if not self._readers:
                    self._changed.notify_all()

    def acquire_write(self, timeout: float | None = None) -> bool:
        """Wait until no one else reads or writes and take the lock alone; False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            self._writers_waiting += 1
            while self._writing or self._readers:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self._writers_waiting -= 1
                    if not self._writing and not self._writers_waiting:
                        self._admit_readers()  # they waited for this writer only
                    return False
                self._changed.wait(left)
            self._writers_waiting -= 1
            self._writing = True
            return True

    def release_write(self) -> None:
        with self._changed:
            self._writing = False
            self._admit_readers()

    def _admit_readers(self) -> None:
        """Let every waiting reader in, counted in before the next writer can take the lock."""
        self._readers += self._readers_waiting
        self._readers_waiting = 0
        self._admissions += 1
        self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()
