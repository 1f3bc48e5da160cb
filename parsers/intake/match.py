"""Lines read from a document set against the order's lines: by our SKU where the document
carries it, else by the supplier's article number or description; what is left over is a line
they added, and order lines nobody answered are removed.

A matched line takes the order line's SKU, description and unit, so the bill compares with the
order on what the supplier actually changed (quantity, price, tax); where the line came from,
and how the document itself named it, is kept beside it.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from difflib import SequenceMatcher

from parsers.intake.records import DocumentReading, DocumentTotals, ReadLine
from parsers.records import Line

MIN_SIMILARITY = 0.6
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineSource:
    """Where one bill line came from and what to tell about it."""

    where: str  # "quote.pdf, page 1, line 14"
    printed_as: str  # the document's own article number and description
    matched_by: str  # sku, article number, description, or "" for an added line
    remarks: tuple[str, ...] = ()
    uncertain: bool = False


@dataclass(frozen=True)
class BillFromDocuments:
    """A draft bill read from the supplier's documents."""

    lines: tuple[Line, ...]
    sources: tuple[LineSource, ...]  # one per line
    removed: tuple[Line, ...]
    remarks: tuple[str, ...]  # document-level: unreadable rows, totals that do not add up
    reconciled: bool  # every line adds up and the document's totals equal ours
    read_from: str  # "quote.pdf (text PDF, 2 pages)"
    order_ref: str | None = None


def key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in text if not unicodedata.combining(ch)))


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(re.findall(r"[a-z0-9]+", "".join(ch for ch in text if not unicodedata.combining(ch))))


def pair_lines(read: Sequence[ReadLine], order: Sequence[Line]) -> list[tuple[int | None, str]]:
    """For each read line, the index of the order line it answers (or None) and how it was found."""
    pairs: list[tuple[int | None, str]] = [(None, "")] * len(read)
    taken: set[int] = set()
    by_sku = {key(line.sku): index for index, line in enumerate(order) if key(line.sku)}
    for position, line in enumerate(read):  # our SKU anywhere on the line: certain
        for code in (*line.skus, *_codes_in(line.description)):
            index = by_sku.get(key(code))
            if index is not None and index not in taken:
                pairs[position] = (index, "sku")
                taken.add(index)
                break
    _pair_by_description(read, order, pairs, taken)
    return pairs


def _codes_in(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,;()]+", text) if any(ch.isdigit() for ch in word)]


def _pair_by_description(read: Sequence[ReadLine], order: Sequence[Line],
                         pairs: list[tuple[int | None, str]], taken: set[int]) -> None:
    """Best description matches first, each order line used once, never below MIN_SIMILARITY."""
    scored = []
    for position, line in enumerate(read):
        if pairs[position][0] is not None or not line.description:
            continue
        for index, wanted in enumerate(order):
            if index not in taken:
                scored.append((_similarity(line.description, wanted.description), position, index))
    for score, position, index in sorted(scored, reverse=True):
        if score < MIN_SIMILARITY:
            break
        if pairs[position][0] is None and index not in taken:
            pairs[position] = (index, "description")
            taken.add(index)


_SUBSTITUTE = re.compile(r"\b(alternativ\w*|substitut\w*|ersatz\w*|remplacement|equivalent|instead|statt|anstelle)\b")


def _similarity(printed: str, ordered: str) -> float:
    """How alike two descriptions are. Sizes and norms (M8x40, 10 mm, DIN 934) decide first, in any
    language: "Wire rope 8 mm" is never "Wire rope 10 mm". A line offered as a substitute is new."""
    a, b = _words(printed), _words(ordered)
    if not a or not b or _SUBSTITUTE.search(a):
        return 0.0
    text = 0.9 if a in b or b in a else max(SequenceMatcher(None, a, b).ratio(), _overlap(a, b))
    sizes_a, sizes_b = _sizes(a), _sizes(b)
    if sizes_a and sizes_b:
        if sizes_a == sizes_b:
            return 0.7 + 0.3 * text
        if sizes_a < sizes_b or sizes_b < sizes_a:  # a size lost in a wrapped line, or not printed
            return 0.45 + 0.3 * text
        return 0.3 * text
    return text


def _sizes(words: str) -> frozenset[str]:
    """The digit runs of a description ("M8x40", "EN 166" and "10 mm" survive OCR's spacing as
    8, 40, 166, 10) and clothing sizes (S, M, L, XL): what tells one variant from another."""
    return frozenset(re.findall(r"\d+", words)) | frozenset(re.findall(r"\b(x{0,3}[sml]|x{1,3}l|xs)\b", words))


def _overlap(a: str, b: str) -> float:
    tokens_a, tokens_b = set(a.split()), set(b.split())
    return len(tokens_a & tokens_b) / max(len(tokens_a | tokens_b), 1)


def build_bill(readings: Sequence[DocumentReading], order: Sequence[Line]) -> BillFromDocuments:
    """One draft from the bill documents of a message (a bill over two photos is one bill)."""
    read = [line for reading in readings for line in reading.lines]
    scanned = [reading.method == "ocr" for reading in readings for _ in reading.lines]
    pairs = pair_lines(read, order)
    default_rate = _default_rate(readings, order)
    answered = {index for index, _ in pairs if index is not None}
    removed = [line for index, line in enumerate(order) if index not in answered]
    lines, sources = [], []
    for line, (index, how), by_ocr in zip(read, pairs, scanned):
        if not line.readable:
            continue
        base = order[index] if index is not None else None
        lines.append(_bill_line(line, base, default_rate))
        source = _source(line, how, base, default_rate)
        sources.append(_lookalike(lines[-1], source, removed) if by_ocr else source)
    remarks = _remarks(readings, read, lines)
    return BillFromDocuments(
        lines=tuple(lines), sources=tuple(sources),
        removed=tuple(removed),
        remarks=tuple(remarks), reconciled=not remarks and not any(s.uncertain for s in sources),
        read_from="; ".join(_described(r) for r in readings),
        order_ref=next((r.order_ref for r in readings if r.order_ref), None),
    )


def _lookalike(line: Line, source: LineSource, removed: Sequence[Line]) -> LineSource:
    """A new line on a scan that looks like an order line the bill drops may be that line misread
    ("50 1 cuve" for "50 l cuve"): it is marked for the supplier to confirm, never silently both.
    (In a file from a program, such a line is what it says: a substitute.)"""
    if source.matched_by or not removed:
        return source
    same = [old for old in removed if old.quantity == line.quantity and old.unit_price == line.unit_price]
    similar = max(same or removed, key=lambda old: _similarity(line.description, old.description))
    if not same and _similarity(line.description, similar.description) < 0.35:
        return source
    doubt = f"read as a new line, but it may be the order's {similar.sku or similar.description}, which the bill drops"
    return LineSource(source.where, source.printed_as, "", (*source.remarks, doubt), True)


def _default_rate(readings: Sequence[DocumentReading], order: Sequence[Line]) -> Decimal:
    stated = next((r.totals.tax_rate for r in readings if r.totals.tax_rate is not None), None)
    if stated is not None:
        return stated
    rates = [line.tax_rate for line in order]
    return max(set(rates), key=rates.count) if rates else Decimal(0)


def _bill_line(line: ReadLine, base: Line | None, default_rate: Decimal) -> Line:
    assert line.quantity is not None and line.unit_price is not None
    rate = line.tax_rate if line.tax_rate is not None else (base.tax_rate if base else default_rate)
    if base is not None:
        return Line(base.sku, base.description, line.quantity, base.unit, line.unit_price, rate)
    sku = line.their_sku if line.their_sku != line.description else ""
    return Line(sku[:100], (line.description or sku)[:500], line.quantity, line.unit[:20], line.unit_price, rate)


def _source(line: ReadLine, how: str, base: Line | None, default_rate: Decimal) -> LineSource:
    remarks = list(line.remarks)
    if line.tax_rate is None and base is None:
        remarks.append(f"no VAT rate on the line: {default_rate} % assumed")
    printed = " ".join(part for part in (line.their_sku, line.description) if part and part != line.their_sku
                       or part == line.their_sku and part)
    return LineSource(str(line.where), " ".join(dict.fromkeys(printed.split()))[:200], how if base else "",
                      tuple(remarks), line.uncertain)


def _remarks(readings: Sequence[DocumentReading], read: Sequence[ReadLine], lines: Sequence[Line]) -> list[str]:
    remarks: list[str] = []
    for line in read:
        if not line.readable:
            remarks.append(f"{line.where}: this line could not be read ({'; '.join(line.remarks)}); "
                           f"it is not in the draft")
    remarks.extend(_totals_remarks(readings, lines))
    return remarks


def _totals_remarks(readings: Sequence[DocumentReading], lines: Sequence[Line]) -> list[str]:
    """The document's own totals against the lines as read (tax may differ by rounding per line)."""
    stated = _stated_totals(readings)
    net = sum((_cents(line.quantity * line.unit_price) for line in lines), Decimal(0))
    tax = sum((_cents(_cents(line.quantity * line.unit_price) * line.tax_rate / 100) for line in lines), Decimal(0))
    slack = CENT * max(1, len(lines))
    remarks = []
    sections = len(stated.subtotals) > 1 and abs(sum(stated.subtotals) - net) <= CENT  # subtotals, no net row
    if stated.net is not None and abs(stated.net - net) > CENT and not sections:
        remarks.append(f"the document's net total is {stated.net}, but its lines add up to {net}")
    if stated.gross is not None and abs(stated.gross - (net + tax)) > slack:
        remarks.append(f"the document's total is {stated.gross}, but its lines with VAT add up to {net + tax}")
    needs_total = any(r.method in ("pdf", "ocr") for r in readings)
    if needs_total and stated.net is None and stated.gross is None:
        remarks.append("no total was found in the document to check the lines against")
    return remarks


def _stated_totals(readings: Sequence[DocumentReading]) -> DocumentTotals:
    net = next((r.totals.net for r in reversed(readings) if r.totals.net is not None), None)
    gross = next((r.totals.gross for r in reversed(readings) if r.totals.gross is not None), None)
    return DocumentTotals(net=net, gross=gross, subtotals=tuple(s for r in readings for s in r.totals.subtotals))


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _described(reading: DocumentReading) -> str:
    kinds = {"sheet": "spreadsheet", "csv": "CSV file", "pdf": "text PDF", "ocr": "scan, read by OCR"}
    pages = f", {reading.pages} page{'s' if reading.pages != 1 else ''}" if reading.pages else ""
    return f"{reading.file} ({kinds.get(reading.method, reading.method)}{pages})"
