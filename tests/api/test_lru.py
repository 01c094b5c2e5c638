"""The one LRU: bounded, least recently used out first, entries forgotten after their ttl."""

from __future__ import annotations

import time

from api.lru import MISSING, BoundedLRU


def test_the_least_recently_used_entry_goes_first() -> None:
    lru: BoundedLRU[str, int | None] = BoundedLRU(2)
    lru.put("a", 1)
    lru.put("b", None)
    assert lru.get("a") == 1  # "a" is now the most recently used
    lru.put("c", 3)
    assert lru.get("b") is MISSING and lru.get("a") == 1 and lru.get("c") == 3
    assert len(lru) == 2


def test_an_entry_expires_and_a_cache_of_nothing_keeps_nothing() -> None:
    lru: BoundedLRU[str, int] = BoundedLRU(10, ttl=0.05)
    lru.put("a", 1)
    assert lru.get("a") == 1
    time.sleep(0.1)
    assert lru.get("a") is MISSING
    off: BoundedLRU[str, int] = BoundedLRU(10, ttl=0)
    off.put("a", 1)
    assert off.get("a") is MISSING and len(off) == 0
