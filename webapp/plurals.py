"""Counted nouns in plain English: "1 record", "3 records", "1,204 opportunities". The app
speaks English only; Babel's catalogs would add nothing until it speaks more."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` with the noun that fits it; the plural is ``singular + 's'`` unless given."""
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {noun}"
