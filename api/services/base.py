"""What the services share: a blocking call (the store's, the bundler's) runs on a worker
thread, off the event loop (`off_loop`); most services hold the view and the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread

if TYPE_CHECKING:
    from catalog.store import Store

    from ..view import Views


async def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


class StoreService:
    """A service of the newest version's view (`views.snapshot()`) and the store."""

    def __init__(self, views: Views, store: Store) -> None:
        self.views = views
        self.store = store

    _run = staticmethod(off_loop)
