"""Attachments that stay on disk: a stretch of a stored file, decoded a chunk at a time.

A large message's attachments are never held decoded in memory: each is the range of
the raw message file its body occupies, with its transfer encoding, and is decoded
when it is read, hashed, stored or sent (a megabyte at a time).
"""
from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

CHUNK = 1 << 20
HEAD = 64 * 1024  # enough to tell a file's type (sniffing reads 4 KB at most)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
#: transfer encodings whose body can be decoded a chunk at a time ("" = as it stands)
STREAMABLE = {"base64": "base64", "quoted-printable": "quoted-printable",
              "7bit": "", "8bit": "", "binary": "", "": ""}


@dataclass(frozen=True)
class FilePart:
    """Bytes start..end of a file, in a transfer encoding; picklable, so a reader process can
    decode it itself instead of being sent the bytes."""

    path: str
    start: int
    end: int
    encoding: str = ""  # "base64", "quoted-printable" or "" (the bytes as they are)

    def chunks(self) -> Iterator[bytes]:
        """The decoded bytes, about a megabyte at a time."""
        raw = self._raw_chunks()
        if self.encoding == "base64":
            return _base64(raw)
        if self.encoding == "quoted-printable":
            return _quoted_printable(raw)
        return raw

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def _raw_chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as source:
            source.seek(self.start)
            left = self.end - self.start
            while left > 0:
                chunk = source.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk


def decode_base64(data: bytes) -> bytes:
    """Base64 held in memory, decoded as a FilePart decodes it."""
    return b"".join(_base64(iter([data])))


def _base64(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lenient like mail clients: characters outside the alphabet are skipped, padding is supplied.
    Whole lines of 4n characters (what every mailer writes) are decoded as they stand."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        lines, pending = pending[:cut], pending[cut:]
        if (len(lines) - lines.count(b"\n") - lines.count(b"\r")) % 4 == 0 and lines.isascii():
            try:
                yield binascii.a2b_base64(lines)
                continue
            except binascii.Error:
                pass
        clean = _NOT_BASE64.sub(b"", lines)
        whole = len(clean) // 4 * 4
        yield binascii.a2b_base64(clean[:whole])
        pending = clean[whole:] + pending
    clean = _NOT_BASE64.sub(b"", pending)
    whole = len(clean) // 4 * 4
    yield binascii.a2b_base64(clean[:whole])
    if len(clean) - whole > 1:
        yield binascii.a2b_base64(clean[whole:] + b"=" * (4 - len(clean) + whole))


def _quoted_printable(chunks: Iterator[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        cut = pending.rfind(b"\n") + 1  # whole lines only: a soft break "=" ends its line
        if cut:
            yield binascii.a2b_qp(pending[:cut])
            pending = pending[cut:]
    if pending:
        yield binascii.a2b_qp(pending)


@dataclass(frozen=True)
class FileAttachment:
    """An attachment whose bytes stay in a file; `data` reads them all (only small files need it).
    Its size and hash take one pass over the file, made when first asked for; its head only
    the first piece."""

    filename: str
    content_type: str
    part: FilePart
    known: tuple[int, str] | None = None  # (size, sha256) when the file store already knows them

    @classmethod
    def stored(cls, filename: str, content_type: str, path: Path, sha256: str) -> FileAttachment:
        """A whole file kept by the file store (its name is its hash)."""
        size = path.stat().st_size
        return cls(filename, content_type, FilePart(str(path), 0, size), (size, sha256))

    @cached_property
    def _measured(self) -> tuple[int, str]:
        if self.known is not None:
            return self.known
        digest, size = hashlib.sha256(), 0
        for chunk in self.part.chunks():
            digest.update(chunk)
            size += len(chunk)
        return size, digest.hexdigest()

    @property
    def size(self) -> int:
        return self._measured[0]

    @property
    def sha256(self) -> str:
        return self._measured[1]

    @cached_property
    def _first(self) -> bytes:
        first = b""
        for chunk in self.part.chunks():
            first += chunk
            if len(first) >= HEAD:
                break
        return first[:HEAD]

    @property
    def data(self) -> bytes:
        return self.part.read()

    def head(self, n: int = 4096) -> bytes:
        return self._first[:n] if n <= HEAD else self.data[:n]

    def chunks(self) -> Iterator[bytes]:
        return self.part.chunks()
