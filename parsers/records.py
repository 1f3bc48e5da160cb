"""Plain value records shared by the parsers and the workflow (no I/O, no ORM)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from parsers.parts import FileAttachment


@dataclass(frozen=True)
class Line:
    """One priced line of an order or a bill revision."""

    sku: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    tax_rate: Decimal  # percent, e.g. Decimal("19")

    @property
    def key(self) -> str:
        """How lines are paired across order and revisions: SKU, else description."""
        return (self.sku or self.description).strip().casefold()


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input, located precisely enough for a person to fix it."""

    message: str
    sheet: str = ""
    row: int | None = None
    column: str = ""

    def where(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class BillSheet:
    """What a bill spreadsheet says: the order it names and its lines."""

    order_ref: str | None
    lines: tuple[Line, ...]
    sheet_name: str


@dataclass(frozen=True)
class Attachment:
    """An attachment held in memory. parsers.parts.FileAttachment offers the same reading
    methods for one that stays on disk."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def head(self, n: int = 4096) -> bytes:
        return self.data[:n]

    def chunks(self) -> Iterator[bytes]:
        yield self.data


AnyAttachment = Attachment | FileAttachment  # in memory, or left on disk (a large message's files)


@dataclass(frozen=True)
class ParsedMessage:
    """An inbound email reduced to what the bot acts on."""

    message_id: str
    sender: str  # lower-cased address from From:
    sender_name: str
    recipients: tuple[str, ...]  # Delivered-To, X-Original-To, To, Cc (in that order)
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    date: datetime | None
    new_text: str  # the reply's own text: quotes, signatures, forwards removed
    attachments: tuple[AnyAttachment, ...]
    automatic: str = ""  # why this is a robot's mail ("" when a person wrote it)
    auth_results: tuple[str, ...] = ()  # Authentication-Results headers, topmost first
    header_problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this mail answers, nearest first."""
        return self.in_reply_to + tuple(reversed(self.references))
