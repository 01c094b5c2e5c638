"""The one least-recently-used map of the house: at most `size` entries, the least recently used
evicted first, each entry optionally forgotten `ttl` seconds after it was put. Thread-safe.

Every in-process cache and bounded table (tokens already checked, sign-in failures per client,
the services' small caches) is one of these rather than its own `OrderedDict` loop."""

from __future__ import annotations

import enum
import threading
import time
from collections import OrderedDict
from typing import Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class _Missing(enum.Enum):
    MISSING = enum.auto()


MISSING: Final = _Missing.MISSING
"""What `get` answers for a key it does not hold (None may be a cached value)."""


class BoundedLRU(Generic[K, V]):
    """key → value, at most `size` entries; with a `ttl`, an entry older than `ttl` seconds is
    gone. A size or ttl of 0 (or less) keeps nothing: a cache switched off."""

    MISSING: Final = MISSING

    def __init__(self, size: int, ttl: float | None = None) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | _Missing:
        """The value, now the most recently used; `MISSING` when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return MISSING
            if self.ttl is not None and entry[1] <= time.monotonic():
                del self._entries[key]
                return MISSING
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V) -> None:
        if self.size <= 0 or (self.ttl is not None and self.ttl <= 0):
            return
        expires = time.monotonic() + self.ttl if self.ttl is not None else 0.0
        with self._lock:
            self._entries[key] = (value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
