"""Results computed from the live index, kept by the state of everything they were computed from."""

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Memo"]

V = TypeVar("V")


class Memo(Generic[V]):
    """A bounded map from a result's inputs to the result; the least recently used goes first.

    A key must hold everything the result depends on (versions, not just ids): nothing is ever
    invalidated, a changed input is a new key and the old entry ages out. Safe to share between
    threads; two requests missing the same key at once both compute it, neither waits for the other.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
