"""A large message read from its file without holding it: where each MIME part's body lies,
and a skeleton of the message with the large file bodies cut out.

The skeleton is the message as sent (headers, structure, text and HTML parts) with each
large non-text body replaced by a short marker in the same transfer encoding, so an
ordinary parser reads it as before; each marker is then mapped back to a FilePart of the
raw file. Only lines and header blocks are ever in memory, never a body.
"""
from __future__ import annotations

import base64
import io
import os
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import BinaryIO

from parsers.parts import CHUNK, STREAMABLE, FilePart

LINE_LIMIT = 64 * 1024  # a longer line is read in pieces; only a piece at a line's start can be a boundary
CUT_BYTES = 256 * 1024  # bodies larger than this stay in the file
MAX_DEPTH = 20
#: a line the stdlib feedparser reads as a header or its continuation; the first line that is
#: not one ends the header block (a blank line is dropped, any other starts the body)
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")


class Unsure(ValueError):
    """The message is built in a way the skeleton might read otherwise than the parser (a lone
    CR where a line would end): it is read whole instead."""


@dataclass(frozen=True)
class Skeleton:
    text: bytes  # the message with large bodies replaced by markers
    parts: dict[bytes, FilePart]  # marker (decoded) → where its body lies in the file


@dataclass(frozen=True)
class _Leaf:
    start: int
    end: int
    maintype: str
    encoding: str | None  # None: one that cannot be decoded a chunk at a time


def skeleton(path: str) -> Skeleton:
    with open(path, "rb") as source:
        leaves: list[_Leaf] = []
        _entity(_Lines(source), [], leaves, 0)
        cut = [leaf for leaf in leaves if _cut(leaf)]
        nonce = os.urandom(8).hex()
        markers = {f"supplierbot-part-{i}-{nonce}".encode(): leaf for i, leaf in enumerate(cut)}
        text = _without(source, markers)
    return Skeleton(text, {m: FilePart(path, leaf.start, leaf.end, leaf.encoding or "")
                           for m, leaf in markers.items()})


def _cut(leaf: _Leaf) -> bool:
    """Files, not text: a text part's charset and a message's own text are the parser's to read."""
    return (leaf.end - leaf.start > CUT_BYTES and leaf.encoding is not None
            and leaf.maintype not in ("text", "multipart", "message"))


def _without(source: BinaryIO, markers: dict[bytes, _Leaf]) -> bytes:
    out = io.BytesIO()
    at = 0
    for marker, leaf in sorted(markers.items(), key=lambda item: item[1].start):
        out.write(_copy(source, at, leaf.start))
        out.write(base64.b64encode(marker) if leaf.encoding == "base64" else marker)
        at = leaf.end
    source.seek(0, os.SEEK_END)
    out.write(_copy(source, at, source.tell()))
    return out.getvalue()


def _copy(source: BinaryIO, start: int, end: int) -> bytes:
    source.seek(start)
    return source.read(end - start)


class _Lines:
    """The file's lines with their offsets, read a megabyte at a time; one can be pushed back.
    A line longer than LINE_LIMIT comes in pieces. `next_dashed` skips to the next line that
    starts with "--" without looking at the others (a body is skipped at the speed of find)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.buffer, self.at, self.base = source, b"", 0, 0
        self.at_start, self.eof = True, False
        self.pushed: tuple[int, bytes, bool] | None = None

    @property
    def offset(self) -> int:
        return self.pushed[0] if self.pushed is not None else self.base + self.at

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.source.read(CHUNK)
        self.eof = not chunk
        self.base += self.at
        self.buffer, self.at = self.buffer[self.at:] + chunk, 0
        return bool(chunk)

    def next(self) -> tuple[int, bytes, bool] | None:
        """(offset, line or piece, whether it starts a line); None at the end."""
        if self.pushed is not None:
            item, self.pushed = self.pushed, None
            return item
        while (cut := self.buffer.find(b"\n", self.at, self.at + LINE_LIMIT)) < 0:
            if len(self.buffer) - self.at >= LINE_LIMIT or not self._fill():
                break
        stop = cut + 1 if cut >= 0 else min(len(self.buffer), self.at + LINE_LIMIT)
        if stop <= self.at:
            return None
        item = (self.base + self.at, self.buffer[self.at:stop], self.at_start)
        self.at, self.at_start = stop, cut >= 0
        return item

    def next_dashed(self) -> tuple[int, bytes, bool] | None:
        """The next line that starts with "--" (a delimiter is one); None at the end."""
        if self.pushed is not None:
            return self.next()
        while True:
            if len(self.buffer) - self.at < 2 and self._fill():
                continue
            if self.at_start and self.buffer.startswith(b"--", self.at):
                return self.next()
            found = self.buffer.find(b"\n--", self.at)
            if found >= 0:
                self.at, self.at_start = found + 1, True
                continue
            skip = max(self.at, len(self.buffer) - 2)  # "\n-" may go on in the next chunk
            if skip > self.at:
                self.at, self.at_start = skip, self.buffer[skip - 1:skip] == b"\n"
            if not self._fill():
                self.at = len(self.buffer)
                return None

    def push(self, item: tuple[int, bytes, bool]) -> None:
        self.pushed = item


def _boundary(item: tuple[int, bytes, bool], stack: list[bytes]) -> tuple[bytes, bool] | None:
    """(boundary, closing) when this line is a delimiter of an open multipart, innermost first."""
    _, line, at_start = item
    if not at_start or not line.startswith(b"--"):
        return None
    bare = line.rstrip(b"\r\n")
    for boundary in reversed(stack):
        if bare.startswith(b"--" + boundary):
            rest, cr, _ = bare[2 + len(boundary):].partition(b"\r")
            rest = rest.rstrip(b" \t")
            if rest in (b"", b"--") and cr:
                raise Unsure("a delimiter ended by a lone CR")
            if rest in (b"", b"--"):
                return boundary, rest == b"--"
    return None


def _entity(lines: _Lines, stack: list[bytes], leaves: list[_Leaf], depth: int) -> None:
    """One header block and its body; returns at a delimiter of an enclosing part (pushed back)."""
    headers = _header_block(lines, stack)
    kind = headers.get_content_type()
    boundary = headers.get_boundary() if headers.get_content_maintype() == "multipart" else None
    if boundary and depth < MAX_DEPTH:
        _multipart(lines, [*stack, boundary.encode("latin-1", "replace")], leaves, depth)
    elif kind == "message/rfc822" and depth < MAX_DEPTH:
        _entity(lines, stack, leaves, depth + 1)
    else:
        encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
        _leaf(lines, stack, leaves, headers.get_content_maintype(), STREAMABLE.get(encoding))


def _header_block(lines: _Lines, stack: list[bytes]) -> Message:
    """Ends where the stdlib feedparser ends it, so the body the parser reads is the one cut."""
    block = io.BytesIO()
    while (item := lines.next()) is not None:
        if _boundary(item, stack):
            lines.push(item)
            break
        _, line, at_start = item
        if at_start and not _HEADER_LINE.match(line):
            if line not in (b"\r\n", b"\n"):
                if line.startswith(b"\r"):
                    raise Unsure("a line break of a lone CR after a header block")
                lines.push(item)  # no blank line: this line is the body's first
            break
        if b"\r" in line.rstrip(b"\r\n"):
            raise Unsure("a lone CR in a header block")
        block.write(line)
    return BytesHeaderParser(policy=policy.compat32).parsebytes(block.getvalue())


def _multipart(lines: _Lines, stack: list[bytes], leaves: list[_Leaf], depth: int) -> None:
    own = stack[-1]
    closed = False
    while not closed and (item := lines.next()) is not None:
        found = _boundary(item, stack)
        if found is None:
            continue  # the preamble, or what follows a part that ended early
        if found[0] != own:
            lines.push(item)  # an enclosing part's delimiter: this one was never closed
            return
        closed = found[1]
        if not closed:
            _entity(lines, stack, leaves, depth + 1)
    _until_boundary(lines, stack[:-1])  # the epilogue


def _until_boundary(lines: _Lines, stack: list[bytes]) -> int:
    """Skip to the next delimiter of an open part (pushed back); its offset, or the end's."""
    while (item := lines.next_dashed()) is not None:
        if _boundary(item, stack):
            lines.push(item)
            return item[0]
    return lines.offset


def _leaf(lines: _Lines, stack: list[bytes], leaves: list[_Leaf], maintype: str, encoding: str | None) -> None:
    start = lines.offset
    end = _until_boundary(lines, stack)
    if lines.pushed is not None and end > start:  # the line break before a delimiter belongs to the delimiter
        before = os.pread(lines.source.fileno(), 2, max(end - 2, 0))
        end -= 2 if before == b"\r\n" else 1 if before.endswith(b"\n") else 0
    leaves.append(_Leaf(start, max(start, end), maintype, encoding))
