"""What a reader reports (a sheet's problems, why a document could not be read), in the
supplier's language.

The parsers word their findings in English, with the place and the values in them
("sheet 'Bill', row 7, column C (Quantity): Quantity must be a number, found 'ten'"). An
email in another language says the same in that language: the place word by word, the
finding by a pattern per message the parsers can give, the values as they were found. A
finding no pattern knows stays as it was, in English, rather than being lost.
"""
from __future__ import annotations

import re

from parsers.records import Problem

#: the words a finding's values may be, by kind, as the parsers write them (English) and as each
#: language says them: column titles of our sheet, the parts of a line a reader names, what an
#: ORDER mail's ambiguous number is, how a document was read; the place words and "page(s)"
WORDS: dict[str, dict[str, dict[str, str]]] = {"de": {
    "title": {"Quantity": "Menge", "Unit price": "Einzelpreis", "Tax rate": "Steuersatz"},
    "role": {"quantity": "Menge", "unit price": "Einzelpreis", "list price": "Listenpreis", "amount": "Betrag",
             "tax rate": "Steuersatz", "discount": "Rabatt", "delivered": "Liefermenge", "per": "Preiseinheit",
             "unit": "Einheit"},
    "what": {"price": "der Preis", "quantity": "die Menge"},
    "kind": {"spreadsheet": "Tabelle", "CSV file": "CSV-Datei", "text PDF": "Text-PDF",
             "scan, read by OCR": "Scan, per Texterkennung gelesen"},
    "place": {"sheet": "Blatt", "page": "Seite", "row": "Zeile", "column": "Spalte", "pages": "Seiten"},
}}

_ANY = r"(?P<{}>(?:(?!; ).)+?)"  # a value: never across "; ", which joins several findings


def _pattern(english: str) -> re.Pattern[str]:
    """`english` with {name} for the values: a pattern matching the whole finding. {inner} is
    findings within a finding (said in the language too); {title} and {role} are one of the
    names the parsers use (WORDS)."""
    parts = re.split(r"\{(\w+)\}", english)
    return re.compile("".join(re.escape(part) if n % 2 == 0 else _value_pattern(part)
                              for n, part in enumerate(parts)) + r"\Z", re.S)


def _value_pattern(name: str) -> str:
    if name == "inner":
        return f"(?P<{name}>.+?)"
    if name in ("role", "title"):  # the longest first: "unit price" before "unit"
        names = sorted({english for words in WORDS.values() for english in words[name]}, key=len, reverse=True)
        return f"(?P<{name}>{'|'.join(map(re.escape, names))})"
    return _ANY.format(name)


_FINDINGS: dict[str, tuple[tuple[str, str], ...]] = {"de": (
    # a bill sheet, ours or the supplier's own (parsers/bill_sheet.py, parsers/intake/sheets.py)
    ("{file} could not be read: its XML is malformed or uses features a bill sheet does not need ({kind})",
     "{file} konnte nicht gelesen werden: ihr XML ist fehlerhaft oder nutzt Funktionen, die eine "
     "Rechnungstabelle nicht braucht ({kind})"),
    ("{file} is an old Excel (.xls) file; please save it as .xlsx and send it again",
     "{file} ist eine alte Excel-Datei (.xls); bitte speichern Sie sie als .xlsx und senden Sie sie erneut"),
    ("{file} is larger than {mb} MB", "{file} ist größer als {mb} MB"),
    ("{file} is not an .xlsx or .ods workbook", "{file} ist keine .xlsx- oder .ods-Arbeitsmappe"),
    ("{file} expands to more than a bill sheet can hold; it was not opened",
     "{file} wird beim Entpacken größer, als eine Rechnungstabelle sein kann; sie wurde nicht geöffnet"),
    ("{file} contains macros; please save it as a plain .xlsx and send it again",
     "{file} enthält Makros; bitte speichern Sie sie als einfache .xlsx und senden Sie sie erneut"),
    ("{file} is not a text (CSV) file", "{file} ist keine Textdatei (CSV)"),
    ("{file} is not a spreadsheet, CSV, PDF or image", "{file} ist weder Tabelle noch CSV, PDF oder Bild"),
    ("the workbook has no sheets", "die Arbeitsmappe hat keine Tabellenblätter"),
    ("the sheet has more than {n} rows", "das Tabellenblatt hat mehr als {n} Zeilen"),
    ("the file has more than {n} rows", "die Datei hat mehr als {n} Zeilen"),
    ("the table has no lines under its header row", "unter der Kopfzeile der Tabelle stehen keine Positionen"),
    ("the sheet is empty", "das Tabellenblatt ist leer"),
    ("no header row with the columns SKU (or Description), Quantity and Unit price was found in the first 30 rows",
     "in den ersten 30 Zeilen steht keine Kopfzeile mit den Spalten Artikelnummer (oder Bezeichnung), Menge "
     "und Einzelpreis"),
    ("Tax rate must be a percent from 0 to 100, found {value}",
     "Steuersatz muss ein Prozentsatz von 0 bis 100 sein, gefunden: {value}"),
    ("{title} must be a number, found {value}", "{title} muss eine Zahl sein, gefunden: {value}"),
    ("{title} cannot be negative, found {value}", "{title} darf nicht negativ sein, gefunden: {value}"),
    ("{title} is empty", "{title} ist leer"),
    ("the line has neither a SKU nor a description", "die Zeile hat weder eine Artikelnummer noch eine Bezeichnung"),
    ("no table of bill lines was found: no row names a quantity, a unit price or amount, and a description or "
     "article number",
     "keine Tabelle mit Rechnungspositionen gefunden: keine Zeile nennt eine Menge, einen Einzelpreis oder "
     "Betrag und eine Bezeichnung oder Artikelnummer"),
    # a PDF or an image (parsers/intake/pdf.py, ocr.py) and the reader pool (bot/reading.py)
    ("it has {n} pages; a bill may have at most {most}", "es hat {n} Seiten; eine Rechnung darf höchstens {most} haben"),
    ("it has {n} pages; at most {most} are read", "es hat {n} Seiten; höchstens {most} werden gelesen"),
    ("it has {size} pixels, more than a bill needs", "es hat {size} Pixel, mehr als eine Rechnung braucht"),
    ("it is protected by a password", "es ist mit einem Passwort geschützt"),
    ("it is damaged and could not be opened", "es ist beschädigt und ließ sich nicht öffnen"),
    ("it holds more text than a bill", "es enthält mehr Text als eine Rechnung"),
    ("it could not be opened as an image (not a readable image)",
     "es ließ sich nicht als Bild öffnen (kein lesbares Bild)"),
    ("it could not be opened as an image (a decompression bomb)",
     "es ließ sich nicht als Bild öffnen (eine Dekompressionsbombe)"),
    ("it is too large to read once enlarged", "es ist zu groß, um vergrößert gelesen zu werden"),
    ("OCR (tesseract) is not installed on the bot's server",
     "die Texterkennung (tesseract) ist auf dem Server des Bots nicht installiert"),
    ("reading it took longer than {seconds} s a page", "das Lesen dauerte länger als {seconds} s je Seite"),
    ("reading it took longer than {seconds} s", "das Lesen dauerte länger als {seconds} s"),
    ("OCR could not read it", "die Texterkennung konnte es nicht lesen"),
    ("it could not be read: the reader gave up on it", "es ließ sich nicht lesen: das Lesen wurde abgebrochen"),
    ("it needs more memory to read than a bill may", "es braucht zum Lesen mehr Speicher, als eine Rechnung darf"),
    ("it could not be read", "es ließ sich nicht lesen"),
    # a line of the supplier's own document, and its totals (parsers/intake/lines.py, match.py)
    ("this line could not be read ({inner}); it is not in the draft",
     "diese Zeile ließ sich nicht lesen ({inner}); sie ist nicht im Entwurf"),
    ("no quantity or unit price: read as 1 × the amount", "keine Menge und kein Einzelpreis: als 1 × Betrag gelesen"),
    ("the VAT rate {rate} % is not between 0 and 100: the order's rate is used",
     "der Steuersatz {rate} % liegt nicht zwischen 0 und 100: der Satz der Bestellung gilt"),
    ("the price is per {n}", "der Preis gilt je {n}"),
    ("no quantity could be read", "keine Menge lesbar"),
    ("no unit price could be read", "kein Einzelpreis lesbar"),
    ("{quantity} × {price} = {computed}, but the line's amount is {amount}",
     "{quantity} × {price} = {computed}, aber der Betrag der Zeile ist {amount}"),
    ("the scan is unclear here and the line has no amount to check it against",
     "der Scan ist hier undeutlich, und die Zeile hat keinen Betrag, an dem sich das prüfen ließe"),
    ("the scan is unclear here", "der Scan ist hier undeutlich"),
    ("read as a new line, but it may be the order's {item}, which the bill drops",
     "als neue Position gelesen, aber es kann die Position {item} der Bestellung sein, die in der Rechnung fehlt"),
    ("no VAT rate on the line: {rate} % assumed", "kein Steuersatz in der Zeile: {rate} % angenommen"),
    ("the {role} {value} shows no decimal mark, unlike the others: it may have lost one",
     "{role} {value} hat anders als die übrigen kein Dezimalzeichen: vielleicht ging eines verloren"),
    ("{role} {value} is not a number", "{role} {value} ist keine Zahl"),
    ("the document's net total is {stated}, but its lines add up to {added}",
     "die Nettosumme des Dokuments ist {stated}, seine Positionen ergeben aber {added}"),
    ("the document's total is {stated}, but its lines with VAT add up to {added}",
     "die Gesamtsumme des Dokuments ist {stated}, seine Positionen mit Steuer ergeben aber {added}"),
    ("no total was found in the document to check the lines against",
     "im Dokument wurde keine Summe gefunden, an der sich die Positionen prüfen ließen"),
    # a buyer's ORDER mail (parsers/buyer_order.py, bot/orders.py check_order)
    ("line {n} “{text}”: {inner}", "Zeile {n} “{text}”: {inner}"),
    ("not read as an order line (expected e.g. “{example}”)",
     "nicht als Bestellposition gelesen (erwartet z. B. “{example}”)"),
    ("the {what} “{number}” could be read as {one} or as {other}: write it so it reads one way only "
     "(e.g. {first} or {second})",
     "{what} “{number}” ließe sich als {one} oder als {other} lesen: bitte so schreiben, dass es nur eine "
     "Lesart gibt (z. B. {first} oder {second})"),
    ("priced in {written}, but the order is in {currency}",
     "in {written} bepreist, die Bestellung ist aber in {currency}"),
    ("Delivery: expected a date like 2026-12-15, got “{text}”",
     "Lieferung: erwartet ein Datum wie 2026-12-15, gefunden: “{text}”"),
    ("Currency: expected a 3-letter code like EUR, got “{text}”",
     "Währung: erwartet ein Kürzel aus 3 Buchstaben wie EUR, gefunden: “{text}”"),
    ("no quantity or unit price could be read", "weder Menge noch Einzelpreis lesbar"),
    ("not an email address: {address}", "keine E-Mail-Adresse: {address}"),
    ("an order needs at least one buyer", "eine Bestellung braucht mindestens einen Einkäufer"),
    ("an order needs at least one line", "eine Bestellung braucht mindestens eine Position"),
    ("currency must be a 3-letter code like EUR, got {text}",
     "die Währung muss ein Kürzel aus 3 Buchstaben wie EUR sein, gefunden: {text}"),
    ("the supplier cannot also be a buyer of the order",
     "der Lieferant kann nicht zugleich Einkäufer der Bestellung sein"),
    ("a reference looks like PO-2026-0042, got {text}", "eine Referenz sieht aus wie PO-2026-0042, gefunden: {text}"),
    ("order {ref} already exists", "die Bestellung {ref} gibt es schon"),
    # quantities delivered or received (bot/receiving.py, bot/apply.py)
    ("{row}: expected one article number of this order and one quantity",
     "{row}: erwartet: eine Artikelnummer dieser Bestellung und eine Menge"),
    ("the attached document names no article of this order",
     "das angehängte Dokument nennt keinen Artikel dieser Bestellung"),
    ("no article of this order was named", "es wurde kein Artikel dieser Bestellung genannt"),
    ("everything delivered is already received", "alles Gelieferte ist bereits als erhalten bestätigt"),
)}
_COMPILED = {language: tuple((_pattern(english), said) for english, said in findings)
             for language, findings in _FINDINGS.items()}

_PLACE_WORD = re.compile(r"sheet '(?P<sheet>[^']*)'|page (?P<page>\d+)|(?:row|line) (?P<row>\d+)|"
                         r"column (?P<column>[^,:]+)")


#: a finding longer than this is kept as it is: the patterns' values are matched lazily, and a
#: long text full of their separators (a hostile cell, say) would take them quadratic time
MAX_FINDING = 600


def in_language(detail: Problem | str, language: str, nested: bool = False) -> str:
    """A reader's finding (a Problem, or its text; several may be joined by "; ") said in `language`."""
    text = str(detail)
    if language not in _COMPILED:
        return text
    whole = _one(text, language, nested)
    if whole is not None:
        return whole
    return "; ".join(_one(part, language, nested) or part for part in text.split("; "))


def _one(text: str, language: str, nested: bool = False) -> str | None:
    """One finding, with its place if it has one; None if no pattern knows it. `nested`: within
    a finding already, where no file's name comes first."""
    if len(text) > MAX_FINDING:
        return None
    place, finding = "", text
    head, colon, rest = text.partition(": ")
    if colon and any(_PLACE_WORD.fullmatch(part) for part in head.split(", ")):
        place, finding = place_in_language(head, language), rest
    said = _finding(finding, language)
    if said is None and colon and not place and not nested:  # "bill.xlsx: <a finding>": the name kept
        rest_said = in_language(rest, language, nested=True)
        return f"{head}: {rest_said}" if rest_said != rest else None
    if said is None:
        return None
    return f"{place}: {said}" if place else said


def place_in_language(place: str, language: str) -> str:
    """"bill.pdf, page 2, line 7" and the like, the place words in `language` (file names kept)."""
    if language not in WORDS:
        return place
    return ", ".join(_place_part(part, language) for part in place.split(", "))


def _place_part(part: str, language: str) -> str:
    said = WORDS[language]["place"]
    found = _PLACE_WORD.fullmatch(part)
    if found is None:
        return part
    if found.group("sheet") is not None:
        return f"{said['sheet']} '{found.group('sheet')}'"
    if found.group("page") is not None:
        return f"{said['page']} {found.group('page')}"
    if found.group("row") is not None:
        return f"{said['row']} {found.group('row')}"
    return f"{said['column']} {_titles(found.group('column'), language)}"


def source_in_language(source: str, language: str) -> str:
    """Where a line was read: a place, then what was printed there (“…”), kept as it was."""
    place, mark, printed = source.partition(" (“")
    return place_in_language(place, language) + mark + printed


def file_in_language(described: str, language: str) -> str:
    """"bill.pdf (scan, read by OCR, 2 pages)": how the file was read, in `language`."""
    if language not in WORDS:
        return described
    found = re.fullmatch(r"(?P<file>.*) \((?P<kind>[^()]*?)(?:, (?P<pages>\d+) pages?)?\)", described, re.S)
    kinds, place = WORDS[language]["kind"], WORDS[language]["place"]
    if found is None or found.group("kind") not in kinds:
        return described
    pages = found.group("pages")
    said = f", {pages} {place['page'] if pages == '1' else place['pages']}" if pages else ""
    return f"{found.group('file')} ({kinds[found.group('kind')]}{said})"


def _finding(finding: str, language: str) -> str | None:
    for pattern, said in _COMPILED[language]:
        match = pattern.match(finding)
        if match:
            return said.format(**{name: _value(name, value, language) for name, value in match.groupdict().items()})
    return None


def _value(name: str, value: str, language: str) -> str:
    if name in ("what", "title", "role"):
        return WORDS[language][name].get(value, value)
    if name == "inner":
        return in_language(value, language, nested=True)
    return value


def _titles(text: str, language: str) -> str:
    for english, said in WORDS[language]["title"].items():
        text = text.replace(english, said)
    return text
