"""Query cursors: the result list of a query and where the next page starts.

A page is rendered from the held list, so queryMore never re-runs the query. As in Salesforce,
a user has a bounded number of open cursors (the oldest is released first) and a cursor
lapses after 15 idle minutes.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from .errors import ApiError
from .query import Node, renderer

IDLE_SECONDS = 15 * 60
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class Cursor:
    rows: list[dict]
    root: Node
    resource: str  # "query" or "queryAll": the resource nextRecordsUrl points at
    page_size: int
    touched: float


def invalid_locator() -> ApiError:
    return ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


class Cursors:
    def __init__(self, max_open: int):
        self.max_open = max_open
        self.open: OrderedDict[str, Cursor] = OrderedDict()

    def first_page(self, rows: list[dict], root: Node, version: str, resource: str,
                   page_size: int) -> dict:
        locator = "0r8" + "".join(secrets.choice(_ALPHABET) for _ in range(15))
        cursor = Cursor(rows, root, resource, page_size, time.monotonic())
        if len(rows) > page_size:
            self.open[locator] = cursor
            while len(self.open) > self.max_open:
                self.open.popitem(last=False)
        return self._page(locator, cursor, 0, version)

    def next_page(self, locator_and_offset: str, version: str) -> dict:
        locator, _, offset = locator_and_offset.rpartition("-")
        cursor = self.open.get(locator)
        if cursor is None or not offset.isdigit():
            raise invalid_locator()
        if time.monotonic() - cursor.touched > IDLE_SECONDS:
            del self.open[locator]
            raise invalid_locator()
        cursor.touched = time.monotonic()
        start = int(offset)
        if start >= len(cursor.rows):
            raise invalid_locator()
        return self._page(locator, cursor, start, version)

    def _page(self, locator: str, cursor: Cursor, start: int, version: str) -> dict:
        end = min(start + cursor.page_size, len(cursor.rows))
        body = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if end < len(cursor.rows):
            body["nextRecordsUrl"] = f"/services/data/v{version}/{cursor.resource}/{locator}-{end}"
        render = renderer(cursor.root, version)
        body["records"] = [render(r) for r in cursor.rows[start:end]]
        return body

    def clear(self) -> None:
        self.open.clear()
