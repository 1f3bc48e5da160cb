"""Words with positions (from a text PDF or from OCR) → rows of cells, as a person reads a page.

Words on one baseline make a row (the OCR engine's own lines where it has them, since it
knows about skew); each word stays a cell of its own, placed, so that the header decides which
column it belongs to.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

from parsers.intake.records import Cell, Row, Where

_GROUP_HEAD = re.compile(r"^[-+(]?(\d{1,3}|\d{1,3}([ .,']\d{3})+)$")  # "1" or "1 234" before "234,50"
_GROUP_TAIL = re.compile(r"^\d{3}([.,]\d+)?[)%-]?$")


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    page: int
    confidence: float = 100.0
    line: tuple[int, ...] = ()  # the OCR engine's own line id, when it has one (it knows skew)

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 0.1)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def rows_from_words(words: Sequence[Word], filename: str) -> list[Row]:
    """Rows in reading order, page by page; row numbers count the lines of each page from 1."""
    rows: list[Row] = []
    for page in sorted({w.page for w in words}):
        on_page = [w for w in words if w.page == page and w.text.strip()]
        for number, group in enumerate(_lines(on_page), start=1):
            rows.append(Row(tuple(_cells(group)), Where(filename, page=page, row=number)))
    return rows


def _lines(words: list[Word]) -> list[list[Word]]:
    if words and all(w.line for w in words):
        return _engine_lines(words)
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.middle, w.x0)):
        if lines and abs(word.middle - _middle(lines[-1])) <= 0.45 * _height(lines[-1]):
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def _engine_lines(words: list[Word]) -> list[list[Word]]:
    by_line: dict[tuple[int, ...], list[Word]] = {}
    for word in words:
        by_line.setdefault(word.line, []).append(word)
    lines = [sorted(group, key=lambda w: w.x0) for group in by_line.values()]
    return sorted(lines, key=_middle)


def _middle(line: Iterable[Word]) -> float:
    return median(w.middle for w in line)


def _height(line: Iterable[Word]) -> float:
    return median(w.height for w in line)


def _cells(line: list[Word]) -> list[Cell]:
    """One cell a word: which words make one column's value is decided against the header. Digit
    groups a space apart ("1 234,50", French and Swiss style) are one number again."""
    cells: list[Cell] = []
    for word in line:
        last = cells[-1] if cells else None
        if last is not None and _continues_number(last, word):
            cells[-1] = Cell(f"{last.value}{word.text}", last.x0, word.x1, min(last.confidence, word.confidence),
                             last.height)
        else:
            cells.append(Cell(word.text, word.x0, word.x1, word.confidence, word.height))
    return cells


def _continues_number(last: Cell, word: Word) -> bool:
    """One space apart, however wide a space is in this font (a typewriter font's is a whole character)."""
    gap = word.x0 - last.x1
    return (gap < 1.2 * char_width(word.text, word.x0, word.x1) and _GROUP_HEAD.match(str(last.value)) is not None
            and _GROUP_TAIL.match(word.text) is not None)


def char_width(text: str, x0: float, x1: float) -> float:
    return (x1 - x0) / max(len(text), 1)

