"""Attachments that become documents: type decided by content (never by name or MIME type), with limits."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from parsers.records import AnyAttachment

#: Leading bytes → (kind, content type). The declared name and type are never trusted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\xff\xd8\xff", "jpeg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"II*\x00", "tiff", "image/tiff"),
    (b"MM\x00*", "tiff", "image/tiff"),
)
ACCEPTED = "PDF, JPEG, PNG or TIFF (and the bill spreadsheet as .xlsx)"


@dataclass(frozen=True)
class DocumentLimits:
    max_attachment_bytes: int = 15 * 1024 * 1024
    max_message_bytes: int = 40 * 1024 * 1024
    max_count: int = 10


@dataclass(frozen=True)
class Document:
    """An accepted file: the attachment, its real type, and a name safe to show (metadata only)."""

    filename: str
    content_type: str
    kind: str  # pdf, jpeg, png, tiff
    file: AnyAttachment  # in memory, or left in the message's file

    @property
    def data(self) -> bytes:
        return self.file.data

    @property
    def size(self) -> int:
        return self.file.size


@dataclass(frozen=True)
class Refused:
    filename: str
    reason: str


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, kind, content_type in SIGNATURES:
        if data.startswith(magic):
            return kind, content_type
    return None


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """Last path component, printable characters only, no leading dots; never a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ").strip(". ")
    return cleaned[:150] or fallback


def sort_attachments(attachments: Sequence[AnyAttachment],
                     limits: DocumentLimits = DocumentLimits()) -> tuple[list[Document], list[Refused]]:
    """Split non-sheet attachments into accepted documents and refusals with a reason each."""
    documents: list[Document] = []
    refused: list[Refused] = []
    if len(attachments) > limits.max_count:
        return [], [Refused("", f"{len(attachments)} files attached; at most {limits.max_count} per message")]
    if sum(a.size for a in attachments) > limits.max_message_bytes:
        return [], [Refused("", f"the attachments exceed {limits.max_message_bytes // 1048576} MB in total")]
    for attachment in attachments:
        name = safe_filename(attachment.filename)
        found = sniff(attachment.head())
        if attachment.size > limits.max_attachment_bytes:
            refused.append(Refused(name, f"larger than {limits.max_attachment_bytes // 1048576} MB"))
        elif found is None:
            refused.append(Refused(name, f"not a {ACCEPTED} file (judged by its content)"))
        else:
            documents.append(Document(name, found[1], found[0], attachment))
    return documents, refused
