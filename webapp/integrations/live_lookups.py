"""Live Salesforce lookups run off the request threads, a bounded number at a time.

A request thread is the scarcest thing a server has: gunicorn runs eight. If a card miss held
one for as long as Salesforce takes, eight slow answers would stall every page. So a lookup runs
on a small pool of its own, the request waits for it only within a short budget, and only a few
requests may wait at once; the others answer straight away with what is known (the synced copy
or "unavailable") while the lookup finishes filling the cache for the next request.

One lookup per key at a time within the process: a second request for the same email joins the
lookup in flight instead of starting another (the Redis single flight covers other processes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

log = logging.getLogger(__name__)


class Saturated(Exception):
    """Every live slot and every queue place is taken: answer without Salesforce."""


class Late(Exception):
    """The lookup did not finish within the budget, or no request may wait for it now."""


class LiveLookups:
    def __init__(self, *, workers: int = 4, queued: int = 16, waiters: int = 4):
        if workers < 1 or queued < 0 or waiters < 0:
            raise ValueError("workers must be at least 1; queued and waiters at least 0")
        self.workers = workers
        self.capacity = workers + queued
        self._executor: ThreadPoolExecutor | None = None  # made on first use: no threads at start
        self._guard = threading.Lock()
        self._flights: dict[str, Future] = {}
        self._waiters = threading.BoundedSemaphore(waiters) if waiters else None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="salesforce-lookup")
        return self._executor

    def in_flight(self) -> int:
        with self._guard:
            return len(self._flights)

    def submit(self, key: str, work: Callable[[], Any]) -> Future:
        """The lookup in flight for this key, or a new one; Saturated when there is no room."""
        with self._guard:
            running = self._flights.get(key)
            if running is not None:
                return running
            if len(self._flights) >= self.capacity:
                raise Saturated(key)
            future = self._pool().submit(work)
            self._flights[key] = future
        future.add_done_callback(lambda done: self._finish(key, done))
        return future

    def _finish(self, key: str, future: Future) -> None:
        with self._guard:
            if self._flights.get(key) is future:
                del self._flights[key]
        if not future.cancelled() and future.exception() is not None:
            log.warning("salesforce lookup failed", extra={"error": repr(future.exception())})

    def wait(self, future: Future, budget: float):
        """The lookup's result within the budget; Late when it is late or no request may wait
        now (so that waiting requests never take most of the server's threads)."""
        if future.done():
            return future.result()
        if self._waiters is None or budget <= 0 or not self._waiters.acquire(blocking=False):
            raise Late()
        try:
            return future.result(timeout=budget)
        except FutureTimeout:
            raise Late() from None
        finally:
            self._waiters.release()

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop taking lookups; ``wait`` lets those running finish (they hold database
        connections only briefly, but an engine should not be disposed under them)."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=True)
            self._executor = None
