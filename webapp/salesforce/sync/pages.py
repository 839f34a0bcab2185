"""Pages of a query, fetched one ahead on a thread while the caller writes the last one, and
never past the API budget.

The budget is checked before every call from the usage Salesforce reports on each response
(``Sforce-Limit-Info``), so a run stops before the org's usage passes its share.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from webapp.salesforce.client import SalesforceClient


class BudgetSpent(Exception):
    """The next call would take the org past the share of its daily allowance we may use."""


@dataclass
class Budget:
    percent: int
    known_used: int | None = None  # from the last run, until this one hears from Salesforce
    known_limit: int | None = None

    def check(self, client: SalesforceClient) -> None:
        usage = client.usage
        used, limit = (usage.used, usage.limit) if usage else (self.known_used, self.known_limit)
        if used is None or not limit:
            return
        allowed = limit * self.percent // 100
        if used + 1 > allowed:
            raise BudgetSpent(
                f"API budget: {used:,} of {limit:,} daily calls used; this sync stops at "
                f"{self.percent}% ({allowed:,})."
            )


_DONE = object()


class Prefetch:
    """Iterate pages; the next one is requested on a worker thread meanwhile (one page waits
    in the queue, one is on its way: memory holds a couple of pages, whatever the query's size).

    ``then``: the query to fetch once this one's last page has arrived, so a run's next object
    is already on its way while this one's last page is written. ``soql`` may be a function
    that builds the query when it goes out (building it may describe the object: a call, made
    in turn and inside the budget)."""

    def __init__(self, client: SalesforceClient, soql: str | Callable[[], str], *, include_deleted: bool, budget: Budget,
                 batch_size: int | None = None, then: Prefetch | None = None):
        self.client, self.soql, self.include_deleted = client, soql, include_deleted
        self.budget, self.batch_size, self.then = budget, batch_size, then
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds the caller spent waiting for Salesforce
        self._thread = threading.Thread(target=self._produce, name="sync-prefetch", daemon=True)

    def start(self) -> None:
        with self._lock:
            if not self._started and not self._stop.is_set():
                self._started = True
                self._thread.start()

    def close(self) -> None:
        """Stop fetching (the pages not taken are dropped) and wait for the worker."""
        with self._lock:
            self._stop.set()
            started = self._started
        if started:
            self._thread.join(timeout=70)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            soql = self.soql() if callable(self.soql) else self.soql
            pages = self.client.query_pages(soql, include_deleted=self.include_deleted, batch_size=self.batch_size)
            while not self._stop.is_set():
                self.budget.check(self.client)
                page = next(pages, _DONE)
                if page is _DONE and self.then is not None:
                    self.then.start()  # every page of this query is here: the next one may go
                if not self._put(page) or page is _DONE:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def __iter__(self) -> Iterator[dict]:
        self.start()
        try:
            while True:
                started = time.perf_counter()
                item = self._queue.get()
                self.waited += time.perf_counter() - started
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()
