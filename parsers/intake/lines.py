"""A table with a header → the lines it states and the totals it prints, each number read in
its column's convention, each line checked against its own amount.

Rows are told apart as a person would: a line has a description or article number and a
quantity or an amount; a totals row has a label (Net, MwSt 19 %, Gesamtbetrag, Total TTC, …)
and no quantity; a carried-forward row at a page break is neither; a text-only row right
under a line continues its description (PDF and scans). A line that cannot be read fully is
kept with the numbers it has and a remark: it is never completed by guessing.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from parsers import numbers
from parsers.numbers import Convention
from parsers.intake.records import Cell, DocumentTotals, ReadLine, Row, Table, Where
from parsers.intake.roles import NUMERIC_ROLES, Header, find_header, header_of

CENT = Decimal("0.01")
LOW_CONFIDENCE = 70.0
_TOTAL_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern)) for kind, pattern in (
    ("carried", r"(ubertrag|uebertrag|carried forward|brought forward|carry forward|a reporter|report|transfert|"
                r"vortrag|transfer)\b"),
    ("gross", r"(total ttc|montant ttc|net a payer|total a payer|gesamtbetrag|gesamtsumme|endbetrag|rechnungsbetrag|"
              r"bruttobetrag|summe brutto|gesamt brutto|grand total|total due|amount due|balance due|invoice total|"
              r"zu zahlen|zahlbetrag|total amount due|total incl\w*|total gross)\b"),
    ("tax", r"(zzgl\.? |plus |\+ ?)?(mwst|ust|umsatzsteuer|mehrwertsteuer|vat|tax|tva|sales tax|gst|iva|steuer)\b"),
    ("net", r"(net|netto|nettobetrag|summe netto|nettosumme|warenwert|subtotal|sub total|sub-total|zwischensumme|"
            r"total ht|total net|net total|montant ht|sous total|sous-total|total hors tax\w*|gesamt netto|"
            r"total excl\w*|total before tax|goods total|total net amount)\b"),
    ("gross", r"(total|brutto|total amount)\b"),
    ("any", r"(summe|gesamt|montant total|somme)\b"),
))
_CARRIED = re.compile(r"\b(ubertrag|uebertrag|carried forward|brought forward|carry forward|a reporter|report)\b")
_PAGE_FOOTER = re.compile(r"^(seite|page|pagina|blatt|bl\.)\s*\d", re.I)
_QTY_UNIT = re.compile(r"^([+-]?[\d.,'\s]*\d)\s*([^\d\s.,].{0,11})$")
_RATE = re.compile(r"(\d{1,2}(?:[.,]\d{1,2})?)\s*%")
_CODE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9./_-]{2,}$")


@dataclass
class TableReading:
    lines: list[ReadLine]
    totals: DocumentTotals
    header: Header | None = None


@dataclass
class _Row:
    """One table row's values by role: text for text roles, the cells for numeric ones."""

    where: Where
    texts: dict[str, str]
    cells: dict[str, list[Cell]]
    label: str
    every: tuple[Cell, ...] = ()  # all the row's cells, left to right (a totals block has its own columns)

    def raw(self, role: str) -> str:
        return " ".join(str(c.value) for c in self.cells.get(role, []) if c.value is not None).strip()

    def value(self, role: str) -> object:
        cells = self.cells.get(role, [])
        if len(cells) == 1 and isinstance(cells[0].value, int | float):
            return cells[0].value
        return self.raw(role) or None

    def confidence(self, role: str) -> float:
        return min((c.confidence for c in self.cells.get(role, [])), default=100.0)


def read_table(table: Table, carried: Header | None = None, priced: bool = True) -> TableReading | None:
    """The table's lines and totals, or None when no header row (and no carried-over one) is found.
    `priced=False` reads a delivery note: lines with a quantity need no price."""
    by_position = table.method in ("pdf", "ocr")
    header = find_header(table.rows, by_position, priced=priced)
    start = header.row_index + 1 if header else 0
    header = header or carried
    if header is None:
        return None
    aligned = _alignment(table.rows[start:], header) if table.method == "pdf" and header else {}
    rows, totals_rows = _classify(table.rows[start:], header, table.method, aligned, priced)
    conventions = _conventions(rows + totals_rows)
    with_cents = _with_cents(rows) if table.method == "ocr" else set()
    usual = _usual_count(rows) if table.method == "ocr" else 0
    lines = [_line(row, header, conventions, with_cents, _filled(row) < usual) for row in rows]
    totals = _totals(totals_rows, conventions[None])
    return TableReading([line for line in lines if line is not None], totals, header)


# --- rows ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Edge:
    """Where a numeric column's numbers line up: their right edges (or left, if left-aligned)."""

    right: bool
    at: float

    def holds(self, cell: Cell) -> bool:
        return abs((cell.x1 if self.right else cell.x0) - self.at) <= EDGE_SLACK


EDGE_SLACK = 2.0


def _alignment(rows: Sequence[Row], header: Header) -> dict[str, _Edge]:
    """Numbers of one column share an edge: a short "1" right-aligned under a left-aligned "Menge"
    may sit nearer the next header, and "45" at the end of a long description may reach into the
    quantity's zone; the edge tells them apart. Role → the edge most of its numbers share."""
    placed: dict[str, list[Cell]] = {}
    for row in rows:
        for cell in row.cells:
            role = _zone_role(cell, header)
            if role in NUMERIC_ROLES and numbers.looks_numeric(cell.value):
                placed.setdefault(role, []).append(cell)
    edges = {}
    for role, cells in placed.items():
        right, left = _mode([c.x1 for c in cells]), _mode([c.x0 for c in cells])
        best = (True, right) if right[1] >= left[1] else (False, left)
        if best[1][1] >= 2:
            edges[role] = _Edge(best[0], best[1][0])
    return edges


def _mode(values: list[float]) -> tuple[float, int]:
    """The value most others lie within EDGE_SLACK of, and how many do."""
    best = (0.0, 0)
    for value in values:
        count = sum(1 for other in values if abs(other - value) <= EDGE_SLACK)
        if count > best[1]:
            best = (value, count)
    return best


def _zone_role(cell: Cell, header: Header) -> str | None:
    spans = sorted(header.spans, key=lambda s: s[1])
    bounds = [(spans[i][2] + spans[i + 1][1]) / 2 for i in range(len(spans) - 1)]
    middle = (cell.x0 + cell.x1) / 2
    role = spans[sum(1 for bound in bounds if middle > bound)][0]
    if role == "unit" and "quantity" in header.roles and numbers.looks_numeric(cell.value):
        return "quantity"  # a unit is a word: a number there is the quantity, right-aligned up to it
    return role


def _text_role_left_of(cell: Cell, header: Header) -> str | None:
    """The column a description's last words spill from: the nearest text column to the left."""
    spans = sorted((s for s in header.spans if s[0] and s[0] not in NUMERIC_ROLES and s[1] < cell.x0),
                   key=lambda s: s[1])
    roles = [s[0] for s in spans]
    return "description" if "description" in roles else (roles[-1] if roles else None)


def _classify(rows: Sequence[Row], header: Header, method: str,
              aligned: dict[str, _Edge], priced: bool = True) -> tuple[list[_Row], list[_Row]]:
    by_position = method in ("pdf", "ocr")
    lines: list[_Row] = []
    totals: list[_Row] = []
    previous_was_line = False
    for row in rows:
        if not any(c.value not in (None, "") for c in row.cells):
            previous_was_line = False
            continue
        again = header_of(row, 0, by_position, priced)
        if again is not None:  # the header repeated on the next page: its columns may have moved
            header, previous_was_line = replace(again, row_index=header.row_index), False
            continue
        values = _assign(row, header, method, aligned)
        kind = _total_kind(values)
        if kind == "gross":
            totals.append(values)
            break  # the grand total closes the table: what follows is bank details and terms
        if kind:
            totals.append(values)
            previous_was_line = False
        elif _is_line(values, method, priced):
            lines.append(values)
            previous_was_line = True
        elif by_position and previous_was_line and _continues(values):
            more = " ".join(str(c.value) for c in row.cells if c.value is not None)
            lines[-1].texts["description"] = f"{lines[-1].texts.get('description', '')} {more}".strip()
        else:
            previous_was_line = False
    return lines, totals


def _assign(row: Row, header: Header, method: str, aligned: dict[str, _Edge]) -> _Row:
    if method == "ocr":
        cells = _by_sequence(row, header)
    elif method == "pdf":
        cells = _by_zone(row, header, aligned)
    else:
        cells = {role: [row.cells[index]] for role, (index, _, _) in header.roles.items() if index < len(row.cells)}
    texts = {role: " ".join(str(c.value) for c in found if c.value is not None).strip()
             for role, found in cells.items() if role not in NUMERIC_ROLES}
    label = " ".join(str(c.value) for c in row.cells if isinstance(c.value, str) and not numbers.looks_numeric(c.value))
    return _Row(row.where, texts, cells, " ".join(label.split()), row.cells)


def _by_zone(row: Row, header: Header, edges: dict[str, _Edge]) -> dict[str, list[Cell]]:
    """Each word goes to the header column whose zone holds its middle (zones meet half-way);
    a number to the column whose numbers share its edge; words that only reach into a numeric
    column from the left belong to the description."""
    cells: dict[str, list[Cell]] = {}
    for cell in row.cells:
        role = _zone_role(cell, header)
        if role in NUMERIC_ROLES or numbers.looks_numeric(cell.value):
            role = _numeric_place(cell, role, header, edges, bool(cells.get(role or "")))
        if role is not None:
            cells.setdefault(role, []).append(cell)
    return _split_qty_unit(cells)


def _numeric_place(cell: Cell, role: str | None, header: Header, edges: dict[str, _Edge],
                   role_has_cells: bool) -> str | None:
    if numbers.looks_numeric(cell.value):
        lined_up = [r for r, edge in edges.items() if edge.holds(cell)]
        if lined_up:
            return role if role in lined_up else lined_up[0]
        if role in edges and cell.x1 < edges[role].at - EDGE_SLACK and edges[role].right:
            return _text_role_left_of(cell, header)  # "… pointure 45": the size, not the quantity
        return role
    if role_has_cells:
        return role  # "500 Stk": the unit after the quantity, in its column
    if role in edges and edges[role].right and cell.x1 < edges[role].at - EDGE_SLACK:
        return _text_role_left_of(cell, header)
    return role


def _by_sequence(row: Row, header: Header) -> dict[str, list[Cell]]:
    """OCR rows of a photo are not straight enough for zones: the values are taken from the right
    in the header's order (amount, VAT, price, price unit, discount, unit, quantity); the words
    left before them are the position, the article numbers and the description."""
    spans = [role for role, _, _ in sorted(header.spans, key=lambda s: s[1])]
    order = [role for role in spans if role]
    # a header word among the numbers that names nothing we know ("pr" for a clipped "par") is
    # still a column: its value is taken and set aside, so the others stay in their places
    tail = spans[max((i for i, r in enumerate(spans) if r and r not in NUMERIC_ROLES and r != "unit"),
                     default=-1) + 1:]
    words = [w for w in row.cells if str(w.value) not in _NOISE]
    cells: dict[str, list[Cell]] = {}
    for role in reversed(tail):
        taken = _take(words, role or "unnamed")
        if taken is None:
            if role in ("unit", "discount", "per", None):
                continue  # often left blank on a line
            break
        if role is not None:
            cells[role] = taken
    _leading_texts(words, order, cells)
    return cells


_NOISE = ("€", "EUR", "|", "[", "]", "_", "—", "-")


def _take(words: list[Cell], role: str) -> list[Cell] | None:
    """The value of one column from the end of the row's words, or None when it is not there."""
    if not words:
        return None
    words[-1] = _ocr_digits(words[-1])
    last = str(words[-1].value)
    if role == "unit":
        return [words.pop()] if _unit_word(words[-1]) else None
    if last == "%" and len(words) > 1 and numbers.looks_numeric(words[-2].value):
        percent = words.pop()
        return [words.pop(), percent]
    if not numbers.looks_numeric(last.rstrip("%")):
        return None
    if role in ("discount", "tax_rate") and not last.endswith("%") and not _small(last):
        return None
    return [words.pop()]


_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"})


def _ocr_digits(cell: Cell) -> Cell:
    """OCR's l, I and O among digits ("l", "1O,50") are 1 and 0; the value is marked less sure,
    so only the line's own arithmetic can vouch for it."""
    text = str(cell.value)
    if numbers.looks_numeric(text) or not (len(text) == 1 or any(ch.isdigit() for ch in text)):
        return cell
    fixed = text.translate(_LOOKALIKES)
    if fixed == text or not numbers.looks_numeric(fixed.rstrip("%")):
        return cell
    return replace(cell, value=fixed, confidence=min(cell.confidence, LOW_CONFIDENCE - 1))


def _small(text: str) -> bool:
    return bool(re.fullmatch(r"\d{1,2}([.,]\d{1,2})?", text))


def _unit_word(cell: Cell) -> bool:
    text = str(cell.value).rstrip(".")
    return text.isalpha() and len(text) <= 8


def _leading_texts(words: list[Cell], order: list[str], cells: dict[str, list[Cell]]) -> None:
    if words and "pos" in order and re.fullmatch(r"\d{1,4}\.?", str(words[0].value)):
        cells["pos"] = [words.pop(0)]
    for role in ("our_sku", "sku", "their_sku"):
        if role in order and words and _CODE.match(str(words[0].value)):
            cells[role] = [words.pop(0)]
    if words:
        cells["description"] = words


def _split_qty_unit(cells: dict[str, list[Cell]]) -> dict[str, list[Cell]]:
    """"500 Stk" under the quantity: the number is the quantity, the word is the unit."""
    found = cells.get("quantity", [])
    text = " ".join(str(c.value) for c in found)
    match = _QTY_UNIT.match(text)
    if found and match and not numbers.looks_numeric(text):
        cells["quantity"] = [Cell(match.group(1), found[0].x0, found[0].x1, min(c.confidence for c in found))]
        cells.setdefault("unit", [Cell(match.group(2).strip(), found[-1].x0, found[-1].x1)])
    return cells


def _norm_label(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).replace(":", " ").split())


def _total_kind(row: _Row) -> str | None:
    """A totals row: a label such as Net, MwSt 19 %, Gesamtbetrag, and no quantity (a rate such
    as the 19 of "VAT 19 %" may stand where a quantity would)."""
    if not row.label:
        return None
    label = _norm_label(row.label)
    kind = "carried" if _CARRIED.search(label) else next(
        (kind for kind, pattern in _TOTAL_KINDS if pattern.match(label)), None)
    if kind is None or (numbers.looks_numeric(row.value("quantity")) and not _is_rate(row, kind)):
        return None
    return kind


def _is_rate(row: _Row, kind: str) -> bool:
    texts = [str(c.value) for c in row.every]
    return kind == "tax" and any(text.endswith("%") for text in texts)


def _is_line(row: _Row, method: str, priced: bool = True) -> bool:
    """A description or article number, and a quantity or amount; from OCR, a quantity and a
    price or amount (one number alone is the end of a wrapped description: "… DIN 338")."""
    if _PAGE_FOOTER.match(row.label):
        return False
    named = any(row.texts.get(role) for role in ("description", "sku", "our_sku", "their_sku"))
    quantity = numbers.looks_numeric(row.value("quantity")) or numbers.looks_numeric(row.value("delivered"))
    has_price = numbers.looks_numeric(row.value("amount")) or numbers.looks_numeric(row.value("unit_price"))
    if not priced:
        return named and quantity
    if method == "ocr":
        return named and quantity and has_price
    return named and (quantity or has_price)


def _continues(row: _Row) -> bool:
    numeric = sum(numbers.looks_numeric(row.value(role)) for role in ("quantity", "unit_price", "amount"))
    return numeric <= 1 and bool(row.label) and not _PAGE_FOOTER.match(row.label)


# --- numbers -------------------------------------------------------------------------------

def _conventions(rows: Sequence[_Row]) -> dict[str | None, Convention]:
    """Each numeric column's decimal separator, from all its values; None → the document's."""
    texts = {role: [row.raw(role) for row in rows if isinstance(row.value(role), str)] for role in NUMERIC_ROLES}
    document = numbers.decide(text for column in texts.values() for text in column)
    conventions: dict[str | None, Convention] = {None: document}
    for role, column in texts.items():
        conventions[role] = numbers.decide(column, document)
    return conventions


def _number(row: _Row, role: str, conventions: dict[str | None, Convention]) -> tuple[Decimal | None, str]:
    """The number in a role's column, or (None, why) when it is not there or not readable."""
    value = row.value(role)
    if isinstance(value, str):
        value = value.rstrip("%").strip()
    try:
        return numbers.to_decimal(value, conventions.get(role, conventions[None])), ""
    except ValueError:
        return None, f"{role.replace('_', ' ')} {str(value)[:30]!r} is not a number"


@dataclass(frozen=True)
class _Price:
    unit_price: Decimal | None
    note: str = ""


def _with_cents(rows: Sequence[_Row]) -> set[str]:
    """Price and amount columns whose values nearly all print a decimal mark: a scanned value
    without one there ("41" among "0.41", "12.80") may have lost it, and its line's own
    arithmetic cannot tell when quantity is 1."""
    found = set()
    for role in ("unit_price", "list_price", "amount"):
        texts = [row.raw(role) for row in rows if row.raw(role)]
        if len(texts) >= 3 and sum(1 for t in texts if re.search(r"[.,]\d{1,3}$", t)) >= 0.75 * len(texts):
            found.add(role)
    return found


def _filled(row: _Row) -> int:
    return sum(1 for role in row.cells if role in NUMERIC_ROLES)


def _usual_count(rows: Sequence[_Row]) -> int:
    """How many numbers a scanned line usually has: a line with fewer lost one, and the others
    moved along its row (a quantity read where the price was), whatever its arithmetic says."""
    counts = [_filled(row) for row in rows]
    return max(set(counts), key=counts.count) if len(counts) >= 3 else 0


def _line(row: _Row, header: Header, conventions: dict[str | None, Convention],
          with_cents: set[str] = frozenset(), fewer: bool = False) -> ReadLine | None:
    problems = [f"the {role.replace('_', ' ')} {row.raw(role)!r} shows no decimal mark, unlike the others: "
                f"it may have lost one" for role in sorted(with_cents)
                if row.raw(role) and not re.search(r"[.,]\d{1,3}$", row.raw(role))]
    if fewer:
        problems.append("this line shows fewer numbers than the others: one may be missing or misplaced")

    def number(role: str) -> Decimal | None:
        found, why = _number(row, role, conventions)
        if why:
            problems.append(why)
        return found

    # a column of what was delivered (a delivery note, or our sheet with one added) is the quantity
    quantity = number("delivered") if "delivered" in header.roles else number("quantity")
    amount = number("amount")
    tax_rate = numbers.percent_cell(row.value("tax_rate"), number("tax_rate"))  # a sheet's 19% cell is 0.19
    price = _price(row, header, quantity, amount, number)
    notes = [price.note] if price.note else []
    unit_price = price.unit_price
    if quantity is None and unit_price is None and amount is not None and not problems:
        quantity, unit_price = Decimal(1), amount  # a lump sum (freight, packaging): one of it
        notes.append("no quantity or unit price: read as 1 × the amount")
    doubts = _doubts(row, quantity, unit_price, amount, problems)
    if tax_rate is not None and not 0 <= tax_rate <= 100:
        doubts.append(f"the VAT rate {numbers.tidy(tax_rate)} % is not between 0 and 100: the order's rate is used")
        tax_rate = None
    return ReadLine(
        where=row.where, their_sku=_their_sku(row), description=row.texts.get("description", ""),
        quantity=quantity, unit=row.texts.get("unit", ""), unit_price=unit_price, amount=amount,
        tax_rate=tax_rate,
        skus=_codes(row),
        remarks=tuple(notes + doubts), uncertain=bool(doubts),
    )


def _their_sku(row: _Row) -> str:
    codes = _codes(row)
    return next((c for c in (row.texts.get("their_sku"), row.texts.get("sku")) if c in codes), codes[0] if codes else "")


def _codes(row: _Row) -> tuple[str, ...]:
    """Article numbers on the line; a bare 1, 2, 3 under "Item" is a position, not an article."""
    found = [row.texts.get(role, "") for role in ("our_sku", "sku", "their_sku")]
    return tuple(code for code in found if code and not re.fullmatch(r"\d{1,3}\.?", code))


def _price(row: _Row, header: Header, quantity: Decimal | None, amount: Decimal | None, number) -> _Price:
    """The price of ONE unit: net price, else list price less discount; divided by its price unit."""
    net = number("unit_price") if "unit_price" in row.cells else None
    listed = number("list_price") if "list_price" in row.cells else None
    discount = number("discount") if "discount" in row.cells else None
    per = _per(row, header, number)
    if net is None and listed is not None:
        net = listed * (1 - (discount or 0) / 100) if discount else listed
    if net is None:
        return _from_amount(quantity, amount)
    price = numbers.tidy(net / per) if per != 1 else net
    if quantity is not None and amount is not None and _money(quantity * price) != amount:
        for factor in (100, 1000):  # a price per 100 nobody labelled: only if it then adds up exactly
            if per == 1 and _money(quantity * net / factor) == amount:
                return _Price(numbers.tidy(net / factor), f"the price is per {factor}")
    note = f"the price is per {per}" if per != 1 else ""
    return _Price(price, note)


def _per(row: _Row, header: Header, number) -> Decimal:
    if "per" in row.cells:
        value = _QTY_UNIT.match(row.raw("per"))
        per = numbers.to_decimal(value.group(1), Convention.POINT) if value else number("per")
        if per and per > 0:
            return per
    return Decimal(header.price_per)


def _from_amount(quantity: Decimal | None, amount: Decimal | None) -> _Price:
    """No price printed: only an exact quotient is taken, and it is marked for the supplier to check."""
    if quantity is None or amount is None or quantity == 0:
        return _Price(None)
    price = (amount / quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if _money(quantity * price) != amount:
        return _Price(None)
    return _Price(numbers.tidy(price), "no unit price printed: computed from the line's amount")


def _doubts(row: _Row, quantity: Decimal | None, unit_price: Decimal | None, amount: Decimal | None,
            problems: list[str]) -> list[str]:
    doubts = list(problems)
    if quantity is None and not problems:
        doubts.append("no quantity could be read")
    if unit_price is None and not problems:
        doubts.append("no unit price could be read")
    if quantity is not None and unit_price is not None and amount is not None:
        computed = _money(quantity * unit_price)
        if abs(computed - amount) > CENT:
            doubts.append(f"{quantity} × {unit_price} = {computed}, but the line's amount is {amount}")
    elif amount is None and min(row.confidence(r) for r in ("quantity", "unit_price")) < LOW_CONFIDENCE:
        doubts.append("the scan is unclear here and the line has no amount to check it against")
    if amount is not None and quantity is not None and unit_price is not None and not doubts:
        return []  # it adds up: the arithmetic vouches for the OCR
    if min(row.confidence(r) for r in ("quantity", "unit_price", "amount")) < LOW_CONFIDENCE and not doubts:
        doubts.append("the scan is unclear here")
    return doubts


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- totals --------------------------------------------------------------------------------

def _totals(rows: Sequence[_Row], convention: Convention) -> DocumentTotals:
    found: dict[str, Decimal] = {}
    tax_sum = Decimal(0)
    rate: Decimal | None = None
    subtotals: list[Decimal] = []
    for row in rows:
        kind = _total_kind(row) or ""
        amount = _row_amount(row, convention)
        if amount is None or kind == "carried":
            continue
        if kind == "tax":
            tax_sum += amount
            rate = rate or _rate(row.label, row)
            found["tax"] = tax_sum
        elif kind in ("net", "gross"):
            found[kind] = amount
            subtotals += [amount] if kind == "net" else []
        elif kind == "any":
            found.setdefault("any", amount)
    gross = found.get("gross")
    if gross is None and "any" in found and "tax" in found:
        gross = found["any"]
    net = found.get("net", found.get("any") if "tax" not in found and gross is None else None)
    return DocumentTotals(net=net, tax=found.get("tax"), gross=gross, tax_rate=rate, subtotals=tuple(subtotals))


def _row_amount(row: _Row, convention: Convention) -> Decimal | None:
    """The rightmost number of a totals row that is not a percentage."""
    values = [c.value for c in row.every if c.value not in (None, "")]
    for index in range(len(values) - 1, -1, -1):
        text = str(values[index])
        if "%" in text or (index + 1 < len(values) and str(values[index + 1]).strip() == "%"):
            continue
        if numbers.looks_numeric(values[index]):
            try:
                return numbers.to_decimal(values[index], convention)
            except ValueError:
                return None
    return None


def _rate(label: str, row: _Row) -> Decimal | None:
    text = label + " " + " ".join(str(c.value) for found in row.cells.values() for c in found)
    match = _RATE.search(text)
    return numbers.to_decimal(match.group(1), Convention.UNKNOWN) if match else None
