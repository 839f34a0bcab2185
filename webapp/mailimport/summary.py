"""What an import did, for the person who ran it: counts, skip reasons with examples, repairs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

EXAMPLES_PER_REASON = 5

DUPLICATE_STORED = "duplicate (already imported)"
DUPLICATE_IN_SOURCE = "duplicate (appears twice in this file)"

CONCURRENT_IMPORT = (
    "Another import into this workspace stored some of the same messages at the same time. "
    "Nothing was imported; run the import again."
)


@dataclass
class ImportSummary:
    source: str = ""
    seen: int = 0
    imported: int = 0
    inbound: int = 0
    outbound: int = 0
    conversations_created: int = 0
    conversations_extended: int = 0
    contacts_created: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: Counter = field(default_factory=Counter)
    addresses_dropped: int = 0  # beyond MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER, in all messages

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, label: str) -> None:
        self.skipped[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(label)

    def to_json(self) -> dict:
        return {
            "source": self.source, "seen": self.seen, "imported": self.imported,
            "inbound": self.inbound, "outbound": self.outbound,
            "conversations_created": self.conversations_created,
            "conversations_extended": self.conversations_extended,
            "contacts_created": self.contacts_created, "skipped": dict(self.skipped),
            "examples": self.examples, "notes": dict(self.notes),
            "addresses_dropped": self.addresses_dropped,
        }

    @classmethod
    def from_json(cls, data: dict) -> ImportSummary:
        data = dict(data)
        skipped, notes = Counter(data.pop("skipped", {})), Counter(data.pop("notes", {}))
        return cls(**data, skipped=skipped, notes=notes)


def summary_lines(summary: ImportSummary, *, dry_run: bool = False) -> list[str]:
    verb = "Would import" if dry_run else "Imported"
    lines = [
        f"{verb} {summary.imported} of {summary.seen} messages from {summary.source} "
        f"({summary.inbound} received, {summary.outbound} sent).",
        f"Conversations: {summary.conversations_created} new, {summary.conversations_extended} "
        f"existing continued. Contacts: {summary.contacts_created} new.",
    ]
    if summary.skipped:
        lines.append(f"Skipped {summary.skipped_total}:")
        for reason, count in summary.skipped.most_common():
            examples = "; ".join(summary.examples.get(reason, []))
            lines.append(f"  {count:>6}  {reason}" + (f"  (e.g. {examples})" if examples else ""))
    if summary.notes:
        lines.append("Repaired on the way in:")
        for note, count in summary.notes.most_common():
            lines.append(f"  {count:>6}  {note}")
    if summary.addresses_dropped:
        lines.append(f"Addresses left out of headers over the limit: {summary.addresses_dropped:,}.")
    return lines
