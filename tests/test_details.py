"""What a reader found, said in the supplier's language: the findings the parsers really give
(a sheet's problems, why a document could not be read, a line's doubts) in German."""
from __future__ import annotations

import io
import re
import zipfile
from decimal import Decimal

import pytest

from bot.details import _FINDINGS, file_in_language, in_language, source_in_language
from parsers.bill_sheet import Limits, NotASpreadsheet, SheetInvalid, read_bill_sheet, write_bill_sheet
from parsers.intake import DocumentUnreadable, read_bill_document
from parsers.intake.pdf import PdfLimits
from tests.test_bill_sheet import HEADER, LINES, workbook_bytes

#: English words of the findings: none may be left in a finding said in German
ENGLISH = re.compile(r"\b(sheet|row|column|page|line|must|found|empty|cannot|negative|could|not|the|is|has|"
                     r"number|quantity|price|amount|rate|read|more|than|pages)\b")


def _problems(data: bytes, filename: str = "bill.xlsx", limits: Limits = Limits()) -> list[str]:
    with pytest.raises((SheetInvalid, NotASpreadsheet)) as caught:
        read_bill_sheet(data, filename, limits)
    return [str(p) for p in caught.value.problems]


def _german(finding: str) -> str:
    said = in_language(finding, "de")
    left = [w for w in ENGLISH.findall(said) if w not in _quoted(finding)]
    assert said != finding and not left, f"{finding!r} → {said!r} (English left: {left})"
    return said


def _quoted(finding: str) -> str:
    """The values in a finding (file names, what a cell held), which stay as they were."""
    return " ".join(re.findall(r"'[^']*'|“[^”]*”|\S+\.(?:xlsx|xls|ods|csv|pdf|png)", finding))


def test_the_problems_of_a_bad_sheet_are_said_in_german_with_their_places() -> None:
    data = workbook_bytes([["SKU", "Description", "Quantity", "Unit", "Unit price", "Tax rate"],
                           ["B", "text qty", "lots", "pcs", 1, 19],
                           ["C", "negative", 1, "pcs", -3, 19],
                           [None, None, 2, "pcs", 1, 19],
                           ["D", "empty price", 1, "pcs", None, 19],
                           ["E", "tax", 1, "pcs", 1, 119]], title="Bill")
    said = [_german(p) for p in _problems(data)]
    assert said == [
        "Blatt 'Bill', Zeile 2, Spalte C (Menge): Menge muss eine Zahl sein, gefunden: 'lots'",
        "Blatt 'Bill', Zeile 3, Spalte E (Einzelpreis): Einzelpreis darf nicht negativ sein, gefunden: '-3'",
        "Blatt 'Bill', Zeile 4, Spalte A: die Zeile hat weder eine Artikelnummer noch eine Bezeichnung",
        "Blatt 'Bill', Zeile 5, Spalte E (Einzelpreis): Einzelpreis ist leer",
        "Blatt 'Bill', Zeile 6, Spalte F (Steuersatz): Steuersatz muss ein Prozentsatz von 0 bis 100 sein, "
        "gefunden: '119'",
    ]


def test_a_sheet_that_cannot_be_read_at_all_is_said_in_german() -> None:
    macro = io.BytesIO(write_bill_sheet(HEADER, LINES))
    with zipfile.ZipFile(macro, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"macro")
    findings = [
        *_problems(workbook_bytes([])),
        *_problems(workbook_bytes([["SKU", "Quantity", "Price"]])),
        *_problems(workbook_bytes([["SKU", "Description", "Amount"], ["A", "x", 1]])),
        *_problems(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100),
        *_problems(macro.getvalue()),
        *_problems(b"not a workbook at all", "bill.xlsx"),
        *_problems(workbook_bytes([["SKU", "Quantity", "Unit price"]] + [["A", 1, 1]] * 30), limits=Limits(max_rows=10)),
    ]
    assert len(findings) == 7
    said = [_german(f) for f in findings]
    assert said[0] == "Blatt 'Sheet1': das Tabellenblatt ist leer"
    assert "eine alte Excel-Datei (.xls)" in said[3] and "enthält Makros" in said[4]


def test_why_a_document_could_not_be_read_is_said_in_german() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(3):
        pdf.add_page()
    pages = bytes(pdf.output())
    reasons = []
    for data, name, limits in ((pages, "bill.pdf", PdfLimits(max_pages=2)),
                               (b"%PDF-1.4 broken", "broken.pdf", PdfLimits()),
                               (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "photo.png", PdfLimits()),
                               (b"just words", "notes.txt", PdfLimits())):
        with pytest.raises(DocumentUnreadable) as caught:
            read_bill_document(data, name, pdf=limits)
        reasons.append(str(caught.value))
    said = [_german(r) for r in reasons]
    assert said[0] == "es hat 3 Seiten; eine Rechnung darf höchstens 2 haben"
    assert said[1] == "es ist beschädigt und ließ sich nicht öffnen"
    assert said[2].startswith("es ließ sich nicht als Bild öffnen (")
    assert said[3] == "notes.txt ist weder Tabelle noch CSV, PDF oder Bild"


def test_a_lines_doubts_and_where_it_was_read_are_said_in_german() -> None:
    assert _german("bill.pdf, page 1, line 7: this line could not be read (unit price '1,2x' is not a number; "
                   "no quantity could be read); it is not in the draft") == (
        "bill.pdf, Seite 1, Zeile 7: diese Zeile ließ sich nicht lesen (Einzelpreis '1,2x' ist keine Zahl; "
        "keine Menge lesbar); sie ist nicht im Entwurf")
    assert _german("5 × 1.20 = 6.00, but the line's amount is 6.50") == "5 × 1.20 = 6.00, aber der Betrag der Zeile ist 6.50"
    assert source_in_language("bill.pdf, page 2, line 4 (“Bolt, page 3”)", "de") == "bill.pdf, Seite 2, Zeile 4 (“Bolt, page 3”)"
    assert file_in_language("bill.pdf (scan, read by OCR, 2 pages)", "de") == "bill.pdf (Scan, per Texterkennung gelesen, 2 Seiten)"
    assert file_in_language("offer.pdf (text PDF, 1 page)", "de") == "offer.pdf (Text-PDF, 1 Seite)"


def test_every_finding_of_the_catalogue_is_said_without_english_left() -> None:
    for english, _ in _FINDINGS["de"]:
        example = re.sub(r"\{(\w+)\}", lambda m: {"role": "unit price", "title": "Unit price", "what": "price",
                                                   "inner": "no quantity could be read",
                                                   "file": "x.xlsx"}.get(m.group(1), "'7'"), english)
        _german(example)


def test_a_buyers_order_mail_and_delivered_quantities_are_said_in_german() -> None:
    from parsers.buyer_order import read_body_lines

    _, problems, _ = read_body_lines([(3, "500 Schrauben bitte"), (4, "10 pcs BLT-M8 Bolt at 1,250"),
                                      (5, "2 pcs NUT-M8 Nut at 3 USD"), (6, "1 pcs WSH Washer at 2 EUR")],
                                     Decimal(19))
    said = [_german(p) for p in problems]
    assert said[0].startswith("Zeile 3 “500 Schrauben bitte”: nicht als Bestellposition gelesen (erwartet z. B. “")
    assert said[1].startswith("Zeile 4 “10 pcs BLT-M8 Bolt at 1,250”: der Preis “1,250” ließe sich als 1250 oder als")
    assert len(said) == 3 and "bepreist, die Bestellung ist aber in" in said[2]
    assert _german("'BLT 5 6': expected one article number of this order and one quantity") == (
        "'BLT 5 6': erwartet: eine Artikelnummer dieser Bestellung und eine Menge")
    assert _german("offer.xlsx: sheet 'S', row 2, column C (Quantity): Quantity is empty") == (
        "offer.xlsx: Blatt 'S', Zeile 2, Spalte C (Menge): Menge ist leer")


def test_english_stays_english_and_what_nobody_knows_is_kept_as_it_was() -> None:
    finding = "sheet 'Bill', row 7, column E (Unit price): Unit price is empty"
    assert in_language(finding, "en") == finding
    assert in_language("something a new reader says", "de") == "something a new reader says"


def test_a_german_refusal_of_an_order_mail_says_its_problems_in_german() -> None:
    from bot import errors
    from bot.render import Renderer
    from tests import emailgallery

    context = dict(next(c for name, c in emailgallery.contexts("de") if name == "errors/order_unreadable"))
    context["error"] = errors.OrderUnreadable(("Delivery: expected a date like 2026-12-15, got “morgen”",
                                               "an order needs at least one line"))
    text = Renderer().render("errors/order_unreadable", context, "de").text
    assert "Lieferung: erwartet ein Datum wie 2026-12-15, gefunden: “morgen”" in text
    assert "eine Bestellung braucht mindestens eine Position" in text


def test_hostile_findings_are_kept_as_they_are_not_a_crash() -> None:
    # a file named with a colon after a colon, or a cell full of the patterns' separators: the
    # file-name step went on recursing (RecursionError), and the lazy values backtracked for seconds
    from bot.details import MAX_FINDING

    colons = "a: " * 700
    assert in_language(colons, "de") == colons
    separators = "5 × " + " × 1 = 2, " * 200 + " but the line's amount is 3"
    assert len(separators) > MAX_FINDING and in_language(separators, "de") == separators
    nested = "this line could not be read (" * 8 + "no quantity could be read" + "); it is not in the draft" * 8
    assert in_language(nested, "de").count("diese Zeile ließ sich nicht lesen") == 8
