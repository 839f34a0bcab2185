"""CSV files the app writes, safe to open in a spreadsheet.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula, so an account named ``=HYPERLINK(…)`` would
become a live link in an analyst's sheet. As OWASP's CSV-injection guidance says, such cells get
a leading single quote, and every text cell is quoted. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value):
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render(rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([neutralize(cell) for cell in row])
    return out.getvalue()
