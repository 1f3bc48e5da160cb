"""Seeded generator of realistic supplier bills, each with its ground truth.

A bill answers an order (`make_order`): most lines kept, some with another quantity or price,
some dropped, some added (freight, packaging, a substitute). It is then laid out the way a
supplier's own tool would: a workbook (.xlsx, .ods), a CSV, a text PDF from an ERP, a scan of
that PDF, or a phone photo of it. `make_bill(family, seed)` is deterministic from the seed;
`corpus()` yields `per_family` bills per family, covering every layout variant of a family
within 10 bills.

Only the standard library plus fpdf2, pypdfium2, Pillow, openpyxl and odfpy are used; nothing
here calls the engine it is meant to test.
"""
from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from parsers.records import Line

FAMILIES = ("xlsx", "ods", "csv", "pdf", "scan", "photo")
CENT = Decimal("0.01")
FIXED_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@dataclass(frozen=True)
class TruthLine:
    our_sku: str | None  # the order line's SKU it answers; None for a line the supplier added
    their_sku: str  # the supplier's own article number ("" if the document has none)
    description: str  # as printed in the document
    quantity: Decimal
    unit: str
    unit_price: Decimal  # per ONE unit, exact (even when the document prints a price per 100)
    tax_rate: Decimal

    @property
    def net(self) -> Decimal:
        return money(self.quantity * self.unit_price)


@dataclass(frozen=True)
class GeneratedBill:
    family: str  # xlsx, ods, csv, pdf, scan, photo
    variant: str  # the layout choices, e.g. "de letterhead merged cover-sheet per100"
    files: tuple[tuple[str, bytes], ...]  # (filename, bytes); a second PDF may be terms (not a bill)
    order_ref: str
    order_lines: tuple[Line, ...]  # the order this bill answers
    truth: tuple[TruthLine, ...]  # the bill's lines in document order
    removed: tuple[str, ...]  # our SKUs the supplier dropped
    net: Decimal
    tax: Decimal
    gross: Decimal
    bill_files: tuple[str, ...] = ()  # which of `files` carry the bill (the others are not bills)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------
# The order: realistic industrial goods
# --------------------------------------------------------------------------------------------

# code, (en, de, fr) with {s} for a size, sizes, unit per language, price class, quantity class
_CATALOG: tuple[tuple[str, tuple[str, str, str], tuple[str, ...], str, str, str], ...] = (
    ("HB", ("Hex bolt {s} DIN 933 zinc plated", "Sechskantschraube {s} DIN 933 verzinkt",
            "Vis tête hexagonale {s} DIN 933 zinguée"),
     ("M6x20", "M6x30", "M8x25", "M8x40", "M10x50", "M12x60", "M16x80"), "pcs", "tiny", "bulk"),
    ("HN", ("Hex nut {s} DIN 934 stainless A2", "Sechskantmutter {s} DIN 934 Edelstahl A2",
            "Écrou hexagonal {s} DIN 934 inox A2"), ("M6", "M8", "M10", "M12", "M16"), "pcs", "tiny", "bulk"),
    ("WA", ("Flat washer {s} DIN 125", "Unterlegscheibe {s} DIN 125", "Rondelle plate {s} DIN 125"),
     ("6.4", "8.4", "10.5", "13"), "pcs", "tiny", "bulk"),
    ("GL", ("Nitrile gloves size {s}, powder free", "Nitrilhandschuhe Gr. {s}, puderfrei",
            "Gants nitrile taille {s}, non poudrés"), ("S", "M", "L", "XL"), "box", "small", "few"),
    ("WG", ("Work gloves leather size {s}", "Arbeitshandschuhe Leder Gr. {s}", "Gants de travail cuir taille {s}"),
     ("9", "10", "11"), "pair", "small", "some"),
    ("CB", ("Cable NYM-J {s} mm² grey", "Mantelleitung NYM-J {s} mm² grau", "Câble NYM-J {s} mm² gris"),
     ("3x1.5", "3x2.5", "5x1.5", "5x2.5"), "m", "small", "length"),
    ("PT", ("Paint RAL {s} silk matt", "Lack RAL {s} seidenmatt", "Peinture RAL {s} satinée"),
     ("7035", "9010", "5015", "3000"), "kg", "medium", "weight"),
    ("SG", ("Safety glasses {s}, clear", "Schutzbrille {s}, klar", "Lunettes de protection {s}, incolores"),
     ("EN166", "EN166 anti-fog"), "pcs", "small", "some"),
    ("CT", ("Cable ties {s} black, 100 pcs", "Kabelbinder {s} schwarz, 100 Stk", "Colliers de serrage {s} noirs, 100 pces"),
     ("200x4.8", "300x4.8", "370x7.6"), "box", "small", "few"),
    ("TR", ("Threaded rod {s} DIN 976 zinc", "Gewindestange {s} DIN 976 verzinkt", "Tige filetée {s} DIN 976 zinguée"),
     ("M8x1000", "M10x1000", "M12x1000"), "pcs", "small", "some"),
    ("DB", ("Twist drill HSS-G {s} mm DIN 338", "Spiralbohrer HSS-G {s} mm DIN 338", "Foret hélicoïdal HSS-G {s} mm DIN 338"),
     ("3.0", "5.0", "6.5", "8.0", "10.0"), "pcs", "small", "some"),
    ("CD", ("Cutting disc {s} for steel", "Trennscheibe {s} für Stahl", "Disque à tronçonner {s} pour acier"),
     ("115x1.0", "125x1.0", "230x1.9"), "pcs", "small", "some"),
    ("WW", ("MIG welding wire G3Si1 {s} mm", "MAG-Schweißdraht G3Si1 {s} mm", "Fil de soudure MIG G3Si1 {s} mm"),
     ("0.8", "1.0", "1.2"), "kg", "small", "weight"),
    ("BR", ("Deep groove ball bearing {s}", "Rillenkugellager {s}", "Roulement à billes {s}"),
     ("6204-2RS", "6205-2RS", "6306-2Z"), "pcs", "small", "some"),
    ("HC", ("Hose clamp {s} mm W2", "Schlauchschelle {s} mm W2", "Collier de serrage {s} mm W2"),
     ("12-22", "20-32", "32-50"), "pcs", "tiny", "bulk"),
    ("EM", ("Ear defenders SNR {s} dB", "Kapselgehörschutz SNR {s} dB", "Casque antibruit SNR {s} dB"),
     ("28", "32", "35"), "pcs", "medium", "few"),
    ("SB", ("Safety boots S3 size {s}", "Sicherheitsschuhe S3 Gr. {s}", "Chaussures de sécurité S3 pointure {s}"),
     ("41", "42", "43", "44", "45"), "pair", "medium", "few"),
    ("WR", ("Wire rope {s} mm galvanised", "Drahtseil {s} mm verzinkt", "Câble acier {s} mm galvanisé"),
     ("6", "8", "10"), "m", "small", "length"),
    ("PL", ("Hand pallet truck {s} kg", "Hubwagen {s} kg", "Transpalette manuel {s} kg"),
     ("2000", "2500"), "pcs", "large", "one"),
    ("AC", ("Air compressor {s} l tank", "Kompressor {s} l Kessel", "Compresseur {s} l cuve"),
     ("50", "100", "270"), "pcs", "large", "one"),
    ("SS", ("Steel sheet DC01 {s} mm", "Stahlblech DC01 {s} mm", "Tôle acier DC01 {s} mm"),
     ("1.0", "2.0", "3.0"), "kg", "small", "weight"),
    ("MT", ("Masking tape {s} mm x 50 m", "Abdeckband {s} mm x 50 m", "Ruban de masquage {s} mm x 50 m"),
     ("19", "30", "50"), "pcs", "small", "some"),
    ("AN", ("Nylon wall plug {s} mm", "Nylondübel {s} mm", "Cheville nylon {s} mm"),
     ("6", "8", "10"), "pcs", "tiny", "bulk"),
)
_UNITS = {  # how each language prints a unit
    "pcs": {"en": ("pcs", "pc", "ea"), "de": ("Stk", "Stück", "St."), "fr": ("pce", "pcs", "u")},
    "pair": {"en": ("pair", "pr"), "de": ("Paar", "Pr"), "fr": ("paire",)},
    "m": {"en": ("m",), "de": ("m",), "fr": ("m",)},
    "kg": {"en": ("kg",), "de": ("kg",), "fr": ("kg",)},
    "box": {"en": ("box", "bx"), "de": ("Karton", "Pak"), "fr": ("boîte", "bte")},
}
_ORDER_UNIT = {"pcs": ("pcs", "Stk"), "pair": ("pair",), "m": ("m",), "kg": ("kg",), "box": ("box",)}
_LANG_INDEX = {"en": 0, "de": 1, "fr": 2}
_TAX = {"en": (Decimal("20"),), "de": (Decimal("19"), Decimal("7")), "fr": (Decimal("20"), Decimal("5.5"))}


def _price(rng: random.Random, klass: str) -> Decimal:
    if klass == "tiny":
        return Decimal(rng.randint(5, 140)) / 1000  # 0.005 .. 0.140, like 0.014
    if klass == "small":
        return (Decimal(rng.choice((rng.randint(10, 99), rng.randint(100, 999), rng.randint(100, 2990)))) / 100).quantize(CENT)
    if klass == "medium":
        return (Decimal(rng.randint(990, 19990)) / 100).quantize(CENT)
    return (Decimal(rng.randint(19900, 249990)) / 100).quantize(CENT) if rng.random() < 0.7 else Decimal("1234.50")


def _quantity(rng: random.Random, klass: str) -> Decimal:
    if klass == "bulk":
        return Decimal(rng.choice((100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)))
    if klass == "length":
        return Decimal(rng.choice((25, 50, 100, 150, 250, 500)))
    if klass == "weight":
        return Decimal(rng.choice(("1", "2", "5", "10", "12.5", "25", "40", "100", "250", "7.5")))
    if klass == "one":
        return Decimal(rng.choice((1, 1, 2, 3)))
    if klass == "few":
        return Decimal(rng.choice((1, 2, 5, 10, 12, 20, 50)))
    return Decimal(rng.choice((1, 2, 4, 5, 6, 10, 12, 20, 24, 25, 50, 100, 150)))


def make_order(rng: random.Random, n_lines: int | None = None, lang: str = "en") -> tuple[str, tuple[Line, ...]]:
    """An order of 3–12 lines (or `n_lines`), descriptions in `lang`; returns (reference, lines)."""
    ref = f"PO-2026-{rng.randint(1, 9999):04d}"
    n_lines = n_lines or rng.randint(3, 12)
    tax_rates = _TAX[lang]
    items = [(entry, size) for entry in _CATALOG for size in entry[2]]
    rng.shuffle(items)
    lines = []
    sku_style = rng.choice(("dash", "digits", "plain"))
    for number, (entry, size) in enumerate(items[:n_lines], start=1):
        code, names, _, unit, price_class, qty_class = entry
        if sku_style == "dash":
            sku = f"{code}-{re.sub(r'[^0-9A-Za-z]', '', size).upper()}"
        elif sku_style == "digits":
            sku = f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        else:
            sku = f"{code}{rng.randint(10000, 99999)}"
        description = names[_LANG_INDEX[lang]].format(s=size if lang == "en" else size.replace(".", ","))
        tax = tax_rates[0] if rng.random() < 0.85 or len(tax_rates) == 1 else tax_rates[1]
        lines.append(Line(sku, description, _quantity(rng, qty_class), rng.choice(_ORDER_UNIT[unit]),
                          _price(rng, price_class), tax))
    return ref, tuple(lines)


# --------------------------------------------------------------------------------------------
# The supplier's answer, before layout
# --------------------------------------------------------------------------------------------

_ADDED = {  # description per language, unit kind, price range (cents)
    "freight": (("Freight", "Fracht", "Frais de port"), ("Transport costs", "Frachtkosten", "Transport"), 800, 15000),
    "packaging": (("Packaging", "Verpackung", "Emballage"), ("Packing charge", "Verpackungskosten", "Frais d'emballage"), 300, 4500),
    "pallet": (("Euro pallet", "Europalette", "Palette Europe"), ("Pallet", "Palette", "Palette"), 1200, 2500),
    "surcharge": (("Small quantity surcharge", "Mindermengenzuschlag", "Supplément petite quantité"),
                  ("Minimum order surcharge", "Mindermengenzuschlag", "Majoration faible quantité"), 500, 2500),
}


@dataclass
class _Doc:
    """The bill as the supplier means it, plus the choices every renderer shares."""

    rng: random.Random
    family: str
    lang: str
    order_ref: str
    order: tuple[Line, ...]
    truth: list[TruthLine]
    removed: list[str]
    tags: list[str] = field(default_factory=list)
    supplier: dict[str, str] = field(default_factory=dict)
    doc_no: str = ""
    doc_date: date = date(2026, 3, 2)
    currency: str = "EUR"
    kind: str = "confirmation"
    percent: dict[str, str] = field(default_factory=dict)  # how this document prints a VAT rate / discount
    force: str = ""  # the variant this seed must show (so that 10 bills of a family cover them all)

    def want(self, feature: str, probability: float) -> bool:
        chance = self.rng.random() < probability
        return feature == self.force or chance

    @property
    def net(self) -> Decimal:
        return sum((t.net for t in self.truth), Decimal(0))

    @property
    def tax_by_rate(self) -> dict[Decimal, Decimal]:
        out: dict[Decimal, Decimal] = {}
        for t in self.truth:
            out[t.tax_rate] = out.get(t.tax_rate, Decimal(0)) + money(t.net * t.tax_rate / 100)
        return out

    @property
    def tax(self) -> Decimal:
        return sum(self.tax_by_rate.values(), Decimal(0))

    def tag(self, *words: str) -> None:
        for word in words:
            if word and word not in self.tags:
                self.tags.append(word)


_FORCE = {  # per family, the variant seed % 10 is sure to show
    "xlsx": ("cover-sheet", "sections", "per100-column", "per100-header", "discount", "currency-text",
             "columns-shuffled", "merged", "their-sku-only", "mixed"),
    "ods": ("merged", "cover-sheet", "sections", "per100-column", "per100-header", "discount", "currency-text",
            "columns-shuffled", "their-sku-only", "mixed"),
    "csv": ("semicolon", "comma", "tab", "cp1252", "utf8-bom", "utf8", "header-lines", "per100-column", "discount",
            "their-sku-only"),
    "pdf": ("long", "terms-pdf", "pos-10-20-30", "wrapped", "ruled", "unruled", "discount", "per100-column",
            "their-sku-only", "long"),
    "scan": ("png", "jpeg", "tiff", "pdf-fpdf", "pdf-pillow"),
    "photo": ("two-photos", "one-photo", "one-photo"),
}

_SUPPLIERS = {
    "en": (("Northwind Industrial Supply Ltd", "Unit 4, Riverside Park", "Leeds LS11 5DJ", "United Kingdom"),
           ("Acme Fasteners Inc.", "1200 Harbor Blvd", "Oakland, CA 94607", "USA")),
    "de": (("Schrauben Müller GmbH & Co. KG", "Industriestraße 12", "74653 Künzelsau", "Deutschland"),
           ("Weber Technischer Handel GmbH", "Am Güterbahnhof 7", "33602 Bielefeld", "Deutschland")),
    "fr": (("Quincaillerie Lefèvre SARL", "14 rue de l'Industrie", "69007 Lyon", "France"),
           ("Dubois Fournitures Industrielles SA", "ZI des Pêcheurs, 3 allée Ampère", "44300 Nantes", "France")),
}
_CUSTOMER = ("Contoso Manufacturing", "Purchasing department", "Hafenweg 3", "20457 Hamburg")


def _their_sku(rng: random.Random, style: str) -> str:
    if style == "dotted":
        return f"{rng.randint(100, 999)}.{rng.randint(100, 999)}.{rng.randint(10, 99)}"
    if style == "prefix":
        return f"A-{rng.randint(10000, 99999)}"
    return f"{rng.randint(1000000, 9999999)}"


def _answer(rng: random.Random, family: str, n_lines: int | None = None, seed: int = 0) -> _Doc:
    """The supplier's answer to a fresh order: kept, changed, dropped and added lines."""
    lang = ("de", "en", "fr")[seed % 3] if rng.random() < 0.8 else rng.choice(("en", "de", "fr"))
    order_ref, order = make_order(rng, n_lines, lang)
    sku_style = rng.choice(("dotted", "prefix", "digits"))
    truth: list[TruthLine] = []
    removed: list[str] = []
    doc = _Doc(rng, family, lang, order_ref, order, truth, removed, force=_FORCE[family][seed % len(_FORCE[family])])
    droppable = max(0, len(order) - 2)
    for line in order:
        their = _their_sku(rng, sku_style)
        roll = rng.random()
        unit = _print_unit(rng, line.unit, lang)
        if roll < 0.06 and len(removed) < droppable:
            removed.append(line.sku)
            doc.tag("dropped")
            if rng.random() < 0.4:  # offered a substitute instead
                desc = line.description + {"en": " (alternative)", "de": " (Alternativartikel)", "fr": " (article de remplacement)"}[lang]
                price = money(line.unit_price * Decimal(rng.choice(("1.05", "1.1", "0.95")))) if line.unit_price >= 1 else line.unit_price
                truth.append(TruthLine(None, _their_sku(rng, sku_style), desc, line.quantity, unit, price, line.tax_rate))
                doc.tag("substitute")
            continue
        quantity, price = line.quantity, line.unit_price
        if roll < 0.16:
            quantity = _changed_quantity(rng, quantity)
            doc.tag("qty-changed")
        elif roll < 0.26:
            step = Decimal("0.001") if price.as_tuple().exponent < -2 else CENT
            price = max(step, (price * Decimal(rng.choice(("0.9", "0.95", "1.04", "1.08", "1.15")))).quantize(step, ROUND_HALF_UP))
            doc.tag("price-changed")
        truth.append(TruthLine(line.sku, their, line.description, quantity, unit, price, line.tax_rate))
    if rng.random() < 0.15:
        rng.shuffle(truth)
        doc.tag("reordered")
    if rng.random() < 0.45:
        for kind in rng.sample(sorted(_ADDED), rng.choice((1, 1, 2))):
            names, alt, low, high = _ADDED[kind]
            desc = rng.choice((names, alt))[_LANG_INDEX[lang]]
            sku = rng.choice(("", _their_sku(rng, sku_style)))
            quantity = Decimal(rng.choice((1, 1, 2))) if kind == "pallet" else Decimal(1)
            unit = _print_unit(rng, "pcs", lang) if kind == "pallet" else rng.choice(("", _print_unit(rng, "pcs", lang)))
            truth.append(TruthLine(None, sku, desc, quantity, unit or {"en": "lot", "de": "psch", "fr": "forfait"}[lang],
                                   Decimal(rng.randint(low, high)) / 100, order[0].tax_rate))
            doc.tag("added")
    supplier = rng.choice(_SUPPLIERS[lang])
    doc.supplier = {"name": supplier[0], "street": supplier[1], "city": supplier[2], "country": supplier[3]}
    doc.doc_no = rng.choice(("AB", "RE", "AN", "")) + str(rng.randint(10000, 999999))
    doc.doc_date = date(2026, 1, 5) + timedelta(days=rng.randint(0, 300))
    doc.currency = {"en": rng.choice(("GBP", "EUR", "USD")), "de": "EUR", "fr": "EUR"}[lang]
    doc.kind = rng.choice(("quote", "confirmation", "invoice"))
    doc.percent = {"vat": rng.choice((" %", "%", "")), "disc": rng.choice(("", " %", "%")),
                   "money": rng.choice(("after", "before", "code"))}
    doc.tag(lang)
    return doc


def _print_unit(rng: random.Random, unit: str, lang: str) -> str:
    kind = {"Stk": "pcs"}.get(unit, unit)
    return rng.choice(_UNITS[kind][lang])


def _changed_quantity(rng: random.Random, quantity: Decimal) -> Decimal:
    if quantity >= 100:
        return (quantity * Decimal(rng.choice(("0.5", "0.8", "1.2", "2")))).to_integral_value()
    if quantity > 2:
        return quantity - rng.randint(1, int(min(quantity - 1, 5)))
    return quantity + rng.randint(1, 3)


# --------------------------------------------------------------------------------------------
# Words and numbers in the document's language
# --------------------------------------------------------------------------------------------

_HEAD: dict[str, dict[str, tuple[str, ...]]] = {
    "pos": {"en": ("Pos.", "Item", "No."), "de": ("Pos.", "Pos", "Position"), "fr": ("Pos.", "N°", "Ligne")},
    "our": {"en": ("Your SKU", "Your item no.", "SKU"), "de": ("Ihre Art.-Nr.", "Ihre Artikelnr."), "fr": ("Votre réf.", "Réf. client")},
    "their": {"en": ("Our item no.", "Item no.", "Part no."), "de": ("Unsere Art.-Nr.", "Art.-Nr.", "Artikel-Nr."),
              "fr": ("Notre réf.", "Réf.", "Référence")},
    "sku": {"en": ("SKU", "Item no."), "de": ("Art.-Nr.", "Artikelnummer"), "fr": ("Réf.", "Référence")},
    "desc": {"en": ("Description",), "de": ("Bezeichnung", "Artikelbezeichnung", "Beschreibung"), "fr": ("Désignation", "Description")},
    "qty": {"en": ("Qty", "Quantity", "Qty."), "de": ("Menge",), "fr": ("Qté", "Quantité")},
    "unit": {"en": ("Unit", "UoM"), "de": ("Einheit", "ME"), "fr": ("Unité", "U.")},
    "price": {"en": ("Unit price", "Price"), "de": ("Einzelpreis", "E-Preis", "Preis"), "fr": ("Prix unitaire", "P.U.")},
    "price100": {"en": ("Price/100", "Price per 100"), "de": ("Preis/100", "Preis je 100"), "fr": ("Prix/100", "Prix pour 100")},
    "per": {"en": ("per", "Price unit"), "de": ("PE", "Preiseinheit", "per"), "fr": ("par", "Unité de prix")},
    "list": {"en": ("List price",), "de": ("Listenpreis", "Bruttopreis"), "fr": ("Prix catalogue", "Prix brut")},
    "disc": {"en": ("Discount %", "Disc."), "de": ("Rabatt %", "Rabatt"), "fr": ("Remise %", "Remise")},
    "netp": {"en": ("Net price",), "de": ("Nettopreis", "Netto-EP"), "fr": ("Prix net",)},
    "amount": {"en": ("Amount", "Total", "Line total"), "de": ("Gesamt", "Gesamtpreis", "Betrag"), "fr": ("Montant", "Total HT", "Montant HT")},
    "vat": {"en": ("VAT", "VAT %", "Tax"), "de": ("MwSt", "MwSt.-%", "USt"), "fr": ("TVA", "TVA %")},
}
_WORDS = {
    "net": {"en": ("Net total", "Subtotal", "Net"), "de": ("Nettobetrag", "Zwischensumme", "Summe netto", "Warenwert"),
            "fr": ("Total HT", "Montant HT")},
    "vat": {"en": "VAT {r} %", "de": "MwSt {r} %", "fr": "TVA {r} %"},
    "vat2": {"en": "plus VAT {r}%", "de": "zzgl. {r} % MwSt.", "fr": "TVA {r}%"},
    "gross": {"en": ("Total", "Total due", "Grand total"), "de": ("Gesamtbetrag", "Endbetrag", "Rechnungsbetrag"),
              "fr": ("Total TTC", "Net à payer")},
    "subtotal": {"en": "Subtotal", "de": "Zwischensumme", "fr": "Sous-total"},
    "carried": {"en": ("Carried forward", "Balance brought forward"), "de": ("Übertrag", "Übertrag"), "fr": ("Report", "À reporter")},
    "your_order": {"en": "Your order {ref}", "de": "Ihre Bestellung {ref}", "fr": "Votre commande {ref}"},
    "your_order2": {"en": "Your purchase order: {ref}", "de": "Ihre Bestell-Nr.: {ref}", "fr": "Votre bon de commande : {ref}"},
    "date": {"en": "Date", "de": "Datum", "fr": "Date"},
    "page": {"en": "Page {p} of {n}", "de": "Seite {p} von {n}", "fr": "Page {p} / {n}"},
    "number": {"en": "No.", "de": "Nr.", "fr": "N°"},
    "customer": {"en": "Customer no.", "de": "Kunden-Nr.", "fr": "N° client"},
    "thanks": {"en": "Thank you for your order. Delivery ex works, payment 30 days net.",
               "de": "Vielen Dank für Ihren Auftrag. Lieferung ab Werk, Zahlung 30 Tage netto.",
               "fr": "Nous vous remercions de votre commande. Livraison départ usine, paiement à 30 jours net."},
}
_KIND = {"quote": {"en": "Quotation", "de": "Angebot", "fr": "Devis"},
         "confirmation": {"en": "Order confirmation", "de": "Auftragsbestätigung", "fr": "Confirmation de commande"},
         "invoice": {"en": "Invoice", "de": "Rechnung", "fr": "Facture"}}
_SECTIONS = {"en": ("Fasteners", "Safety equipment", "Electrical", "Tools and consumables"),
             "de": ("Befestigungstechnik", "Arbeitsschutz", "Elektro", "Werkzeuge und Verbrauchsmaterial"),
             "fr": ("Fixations", "Équipements de protection", "Électricité", "Outillage et consommables")}
_CURRENCY_SIGN = {"EUR": "€", "GBP": "£", "USD": "$"}


def word(doc: _Doc, key: str) -> str:
    value = _WORDS[key][doc.lang]
    return value if isinstance(value, str) else doc.rng.choice(value)


def head(doc: _Doc, key: str) -> str:
    return doc.rng.choice(_HEAD[key][doc.lang])


@dataclass(frozen=True)
class NumberStyle:
    decimal: str
    group: str  # "" for none

    def fmt(self, value: Decimal, places: int | None = 2, group: bool = True) -> str:
        """`places` None prints every significant decimal (at least 2 for money-like values)."""
        if places is None:
            exponent = -value.normalize().as_tuple().exponent
            places = max(2, exponent) if isinstance(exponent, int) else 2
        text = f"{abs(value):.{places}f}"
        whole, _, frac = text.partition(".")
        if group and self.group and len(whole) > 3:
            whole = f"{int(whole):,}".replace(",", self.group)
        sign = "-" if value < 0 else ""
        return sign + whole + (self.decimal + frac if frac else "")

    def qty(self, value: Decimal, group: bool = True) -> str:
        value = value.normalize()
        exponent = value.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return self.fmt(value, places, group)


def _number_style(rng: random.Random, lang: str) -> NumberStyle:
    if lang == "en":
        return NumberStyle(".", ",")
    if lang == "de":
        return NumberStyle(",", rng.choice((".", ".", "")))
    return NumberStyle(",", rng.choice((" ", "\u00a0", ".")))


def _money_text(doc: _Doc, style: NumberStyle, value: Decimal, places: int | None = 2, sign_ok: bool = True) -> str:
    text = style.fmt(value, places)
    if not sign_ok:
        return text
    sign = _CURRENCY_SIGN[doc.currency] if doc.family not in ("pdf", "scan", "photo") or doc.currency != "EUR" else "EUR"
    mode = doc.percent["money"]
    if mode == "code":
        return f"{text} {doc.currency}"
    return f"{sign} {text}" if mode == "before" or doc.lang == "en" else f"{text} {sign}"


# --------------------------------------------------------------------------------------------
# A table: the columns a supplier prints, one row of printed values per line
# --------------------------------------------------------------------------------------------

@dataclass
class _Table:
    columns: list[str]  # keys of _HEAD
    headers: list[str]
    rows: list[dict[str, object]]  # per truth line: key -> Decimal | str
    per100: str  # "", "column" or "header"
    price_decimals: dict[int, int] = field(default_factory=dict)


def _table(doc: _Doc, spreadsheet: bool, allow_discount: bool = True) -> _Table:
    """Choose the columns and what each line prints in them; adjust truth descriptions/SKUs to what is printed."""
    rng = doc.rng
    has_our = rng.random() < 0.65 and doc.force != "their-sku-only"
    has_their = rng.random() < 0.7 or not has_our
    if has_our and has_their:
        doc.tag("both-skus")
    elif has_our:
        doc.tag("our-sku-only")
    else:
        doc.tag("their-sku-only")
    columns = []
    if doc.want("pos-10-20-30", 0.6):
        columns.append("pos")
    if has_our and has_their:
        columns += ["our", "their"] if rng.random() < 0.5 else ["their", "our"]
    elif has_our:
        columns.append("sku")
    else:
        columns.append("their")
    columns.append("desc")
    tail = ["qty", "unit"]
    cheap = all(t.unit_price < 5 for t in doc.truth)
    per100 = ""
    if any(t.unit_price < Decimal("0.2") for t in doc.truth) and rng.random() < 0.45:
        per100 = "header" if cheap and rng.random() < 0.5 else "column"
    if doc.force in ("per100-column", "per100-header"):
        per100 = doc.force.split("-")[1]
    elif doc.force == "discount":
        per100 = ""
    discount = allow_discount and not per100 and doc.want("discount", 0.25)
    if discount:
        tail += ["list", "disc", "netp"]
        doc.tag("discount")
    elif per100 == "column":
        tail += ["price", "per"]
        doc.tag("per100-column")
    elif per100 == "header":
        tail += ["price100"]
        doc.tag("per100-header")
    else:
        tail.append("price")
    tail.append("amount")
    if rng.random() < 0.4 or len({t.tax_rate for t in doc.truth}) > 1:
        tail.insert(rng.randint(len(tail) - 1, len(tail)), "vat")
        doc.tag("vat-column")
    if spreadsheet and doc.want("columns-shuffled", 0.3):
        rng.shuffle(tail)
        doc.tag("columns-shuffled")
    elif rng.random() < 0.3:
        tail.remove("unit")
        tail.insert(0, "unit")  # unit before quantity
    columns += tail
    headers = []
    for key in columns:
        headers.append(head(doc, key))
    rows = []
    new_truth = []
    for number, line in enumerate(doc.truth, start=1):
        row: dict[str, object] = {}
        their = line.their_sku if ("their" in columns) else ""
        if line.our_sku is None and "their" not in columns:
            their = ""
        row["pos"] = number
        row["our"] = row["sku"] = line.our_sku or ""
        row["their"] = their
        row["desc"] = line.description
        row["qty"] = line.quantity
        row["unit"] = line.unit
        row["vat"] = line.tax_rate
        row["amount"] = line.net
        price = line.unit_price
        if per100 == "header" or (per100 == "column" and price < Decimal("0.2")):
            row["price"] = row["price100"] = price * 100
            row["per"] = 100
        else:
            row["price"] = price
            row["per"] = 1
        if discount:
            rate, list_price = _discount_for(rng, price)
            row["list"], row["disc"], row["netp"] = list_price, rate, price
        rows.append(row)
        new_truth.append(TruthLine(line.our_sku, their, line.description, line.quantity, line.unit, line.unit_price,
                                   line.tax_rate))
    doc.truth[:] = new_truth
    return _Table(columns, headers, rows, per100)


def _discount_for(rng: random.Random, price: Decimal) -> tuple[Decimal, Decimal]:
    """A list price and a discount that give exactly `price`, or 0 % when none does."""
    for rate in rng.sample((5, 10, 15, 20, 25, 30, 40, 50), 8):
        list_price = price * 100 / (100 - rate)
        if list_price == list_price.quantize(Decimal("0.001") if price < 1 else CENT):
            return Decimal(rate), list_price.normalize() if list_price.as_tuple().exponent < -2 else list_price.quantize(CENT)
    return Decimal(0), price


def _cell_text(doc: _Doc, style: NumberStyle, key: str, value: object, currency: bool = False) -> str:
    """How a value prints in a text cell, a CSV field or a PDF."""
    if isinstance(value, str):
        return value
    if key == "pos":
        return str(value)
    if key == "qty":
        return style.qty(value)  # type: ignore[arg-type]
    if key in ("vat", "disc"):
        return style.qty(value) + doc.percent[key]  # type: ignore[arg-type]
    if key == "per":
        return str(value)
    places = None if key in ("price", "price100", "list", "netp") else 2
    if currency:
        return _money_text(doc, style, value, places)  # type: ignore[arg-type]
    return style.fmt(value, places)  # type: ignore[arg-type]


def rng_choice(doc: _Doc, options: Sequence[str]) -> str:
    return doc.rng.choice(options)


def _totals_rows(doc: _Doc) -> list[tuple[str, Decimal]]:
    rows = [(word(doc, "net"), doc.net)]
    for rate, tax in sorted(doc.tax_by_rate.items(), reverse=True):
        rate_text = _number_style(doc.rng, doc.lang).qty(rate)
        rows.append((_WORDS["vat"][doc.lang].format(r=rate_text), tax))
    rows.append((word(doc, "gross"), doc.net + doc.tax))
    return rows


def _header_lines(doc: _Doc) -> list[str]:
    s = doc.supplier
    ref = _WORDS[doc.rng.choice(("your_order", "your_order2"))][doc.lang].format(ref=doc.order_ref)
    return [s["name"], f"{s['street']}, {s['city']}", "",
            f"{_KIND[doc.kind][doc.lang]} {_WORDS['number'][doc.lang]} {doc.doc_no}",
            f"{_WORDS['date'][doc.lang]}: {_date_text(doc)}", ref]


def _date_text(doc: _Doc) -> str:
    d = doc.doc_date
    return {"en": d.strftime("%d %b %Y"), "de": d.strftime("%d.%m.%Y"), "fr": d.strftime("%d/%m/%Y")}[doc.lang]


def _sections(doc: _Doc, n: int) -> list[tuple[int, int, str]]:
    """Split n lines into 2–3 sections: (start, end, title)."""
    count = min(3, max(2, n // 3))
    cuts = sorted(doc.rng.sample(range(1, n), count - 1)) if n > count else list(range(1, count))
    bounds = [0, *cuts, n]
    titles = doc.rng.sample(_SECTIONS[doc.lang], count)
    return [(bounds[i], bounds[i + 1], titles[i]) for i in range(count) if bounds[i] < bounds[i + 1]]


# --------------------------------------------------------------------------------------------
# Spreadsheets: one grid, written as .xlsx (openpyxl) or .ods (odfpy)
# --------------------------------------------------------------------------------------------

@dataclass
class _Grid:
    """A sheet as cells: value (str, int, float, or ("pct", float) / ("cur", float, fmt)), merges."""

    name: str
    cells: dict[tuple[int, int], object] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1 (1-based)
    bold_rows: set[int] = field(default_factory=set)

    def put(self, row: int, col: int, value: object) -> None:
        if value is not None and value != "":
            self.cells[(row, col)] = value


def _sheet_grids(doc: _Doc) -> list[_Grid]:
    rng = doc.rng
    table = _table(doc, spreadsheet=True)
    style = _number_style(rng, doc.lang)
    grid = _Grid(rng.choice({"en": ("Quotation", "Order confirmation", "Sheet1"),
                             "de": ("Angebot", "AB", "Tabelle1"), "fr": ("Devis", "Feuil1")}[doc.lang]))
    row = 1
    col0 = rng.choice((1, 1, 2))
    if col0 == 2:
        doc.tag("offset-column")
    merged = doc.want("merged", 0.5)
    if merged or rng.random() < 0.7:
        doc.tag("letterhead")
        for text in _header_lines(doc):
            if text:
                grid.put(row, col0, text)
                if merged:
                    grid.merges.append((row, col0, row, col0 + rng.choice((2, 3, 4))))
            row += 1
        grid.put(row, col0 + len(table.columns) - 2, f"{_WORDS['customer'][doc.lang]} 10{rng.randint(100, 999)}")
        row += 2
    elif rng.random() < 0.5:
        grid.put(row, col0, doc.order_ref)
        row += 2
    # how each numeric column is stored: numbers, text, text with currency, or a mix
    typing = rng.choice(("numbers", "numbers", "text", "mixed"))
    typing = {"currency-text": "text", "mixed": "mixed"}.get(doc.force, typing)
    modes = {}
    for key in ("qty", "price", "price100", "list", "netp", "amount", "vat", "disc"):
        if typing == "numbers":
            modes[key] = "number"
        elif typing == "text":
            modes[key] = "currency" if key in ("price", "amount") and doc.want("currency-text", 0.5) else "text"
        else:
            modes[key] = rng.choice(("number", "number", "text", "mixed")) if key != "amount" else \
                rng.choice(("number", "text", "currency", "mixed"))
    if "currency" in modes.values():
        doc.tag("currency-text")
    if "text" in modes.values() or "mixed" in modes.values():
        doc.tag("numbers-as-text")
    header_row = row
    desc_span = merged and rng.random() < 0.5
    col_of = {}
    col = col0
    for key, header in zip(table.columns, table.headers):
        col_of[key] = col
        grid.put(row, col, header)
        col += 2 if (key == "desc" and desc_span) else 1
    if desc_span:
        doc.tag("merged")
        grid.merges.append((header_row, col_of["desc"], header_row, col_of["desc"] + 1))
    elif merged:
        doc.tag("merged")
    grid.bold_rows.add(row)
    row += 1
    sections = _sections(doc, len(table.rows)) if len(table.rows) >= 2 and doc.want("sections", 0.3) else \
        [(0, len(table.rows), "")]
    if len(sections) > 1:
        doc.tag("sections")
    pct = "disc" in table.columns and modes["disc"] == "number" and rng.random() < 0.5
    for start, end, title in sections:
        if title:
            grid.put(row, col_of["desc"], title)
            grid.bold_rows.add(row)
            row += 1
        for line in table.rows[start:end]:
            for key in table.columns:
                value = line[key]
                c = col_of[key]
                if isinstance(value, Decimal):
                    mode = modes.get(key, "number")
                    if mode == "mixed":
                        mode = rng.choice(("number", "text"))
                    if key == "disc" and pct and mode == "number":
                        grid.put(row, c, ("pct", float(value / 100)))
                    elif mode == "number":
                        grid.put(row, c, int(value) if value == value.to_integral_value() and key in ("qty", "vat", "disc")
                                 else float(value))
                    else:
                        grid.put(row, c, _cell_text(doc, style, key, value, currency=mode == "currency"))
                elif key == "per":
                    grid.put(row, c, line[key] if modes["qty"] == "number" else str(line[key]))
                else:
                    grid.put(row, c, value)
            if desc_span:
                grid.merges.append((row, col_of["desc"], row, col_of["desc"] + 1))
            row += 1
        if title:
            subtotal = sum((t.net for t in doc.truth[start:end]), Decimal(0))
            grid.put(row, col_of["desc"], f"{word(doc, 'subtotal')} {title}")
            grid.put(row, col_of["amount"], float(subtotal) if modes["amount"] == "number"
                     else _cell_text(doc, style, "amount", subtotal, modes["amount"] == "currency"))
            row += 1
    row += rng.choice((0, 1, 1, 2))
    label_col = col_of["amount"] - 1 if col_of["amount"] > col0 else col_of["amount"] + 1
    if label_col == col_of["amount"] - 1 and rng.random() < 0.3:
        label_col = col0 + 1
    if rng.random() < 0.9:
        doc.tag("totals")
        for label, value in _totals_rows(doc):
            grid.put(row, label_col, label)
            grid.put(row, col_of["amount"], float(value) if modes["amount"] in ("number", "mixed")
                     else _cell_text(doc, style, "amount", value, modes["amount"] == "currency"))
            row += 1
    if rng.random() < 0.4:
        row += 1
        grid.put(row, col0, _WORDS["thanks"][doc.lang])
    grids = [grid]
    if doc.want("cover-sheet", 0.3):
        doc.tag("cover-sheet")
        cover = _Grid({"en": "Cover", "de": "Deckblatt", "fr": "Couverture"}[doc.lang])
        for r, text in enumerate(_header_lines(doc), start=1):
            cover.put(r, 1, text)
        cover.put(8, 1, {"en": "Please find our offer on the next sheet.",
                         "de": "Unser Angebot finden Sie auf dem nächsten Blatt.",
                         "fr": "Veuillez trouver notre offre sur la feuille suivante."}[doc.lang])
        cover.put(9, 1, {"en": "Valid until", "de": "Gültig bis", "fr": "Valable jusqu'au"}[doc.lang])
        cover.put(9, 2, (doc.doc_date + timedelta(days=30)).isoformat())
        cover.put(10, 1, {"en": "Positions", "de": "Positionen", "fr": "Lignes"}[doc.lang])
        cover.put(10, 2, len(doc.truth))
        grids.insert(0, cover)
    return grids


def _xlsx(grids: list[_Grid]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for grid in grids:
        sheet = book.create_sheet(grid.name)
        for (r, c), value in grid.cells.items():
            cell = sheet.cell(row=r, column=c)
            if isinstance(value, tuple) and value[0] == "pct":
                cell.value = value[1]
                cell.number_format = "0%"
            else:
                cell.value = value
                if isinstance(value, float):
                    cell.number_format = "#,##0.00" if abs(value) >= 1 and round(value, 2) == value else "General"
            if r in grid.bold_rows:
                cell.font = Font(bold=True)
        for r0, c0, r1, c1 in grid.merges:
            sheet.merge_cells(start_row=r0, start_column=c0, end_row=r1, end_column=c1)
    book.properties.created = book.properties.modified = FIXED_TIME.replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return _fixed_zip(out.getvalue())


def _ods(grids: list[_Grid]) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    for grid in grids:
        table = Table(name=grid.name)
        max_col = max((c for _, c in grid.cells), default=1)
        max_col = max([max_col] + [c1 for *_, c1 in grid.merges])
        table.addElement(TableColumn(numbercolumnsrepeated=max_col))
        spans = {(r0, c0): c1 - c0 + 1 for r0, c0, r1, c1 in grid.merges}
        covered = {(r0, c) for r0, c0, r1, c1 in grid.merges for c in range(c0 + 1, c1 + 1)}
        max_row = max((r for r, _ in grid.cells), default=1)
        for r in range(1, max_row + 1):
            tr = TableRow()
            for c in range(1, max_col + 1):
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                value = grid.cells.get((r, c))
                extra = {"numbercolumnsspanned": spans[(r, c)]} if (r, c) in spans else {}
                if value is None:
                    tc = TableCell(**extra)
                elif isinstance(value, tuple):
                    tc = TableCell(valuetype="percentage", value=value[1], **extra)
                    tc.addElement(P(text=f"{round(value[1] * 100)}%"))
                elif isinstance(value, (int, float)):
                    tc = TableCell(valuetype="float", value=value, **extra)
                    tc.addElement(P(text=str(value)))
                else:
                    tc = TableCell(valuetype="string", **extra)
                    tc.addElement(P(text=str(value)))
                tr.addElement(tc)
            table.addElement(tr)
        document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return _fixed_zip(out.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same archive with fixed timestamps (and meta dates), so a seed gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename in ("meta.xml", "docProps/core.xml"):
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", b"2026-01-02T03:04:05Z", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 2, 3, 4, 6))
            fixed.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            target.writestr(fixed, content)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

def _csv(doc: _Doc) -> tuple[bytes, str]:
    rng = doc.rng
    table = _table(doc, spreadsheet=True)
    delimiter = rng.choice((",", ";", "\t")) if doc.lang == "en" else rng.choice((";", ";", "\t", ","))
    delimiter = {"comma": ",", "semicolon": ";", "tab": "\t"}.get(doc.force, delimiter)
    style = _number_style(rng, doc.lang) if doc.lang == "en" else NumberStyle(",", rng.choice((".", "")))
    doc.tag({",": "comma", ";": "semicolon", "\t": "tab"}[delimiter])
    if style.decimal == ",":
        doc.tag("decimal-comma" + ("-dots" if style.group == "." else ""))
    encoding = rng.choice(("utf-8", "utf-8-sig", "cp1252"))
    encoding = {"utf8": "utf-8", "utf8-bom": "utf-8-sig", "cp1252": "cp1252"}.get(doc.force, encoding)
    doc.tag({"utf-8": "utf8", "utf-8-sig": "utf8-bom", "cp1252": "cp1252"}[encoding])
    rows: list[list[str]] = []
    if doc.want("header-lines", 0.5):
        doc.tag("header-lines")
        for text in _header_lines(doc)[:rng.randint(2, 6)]:
            rows.append([text])
        rows.append([])
    rows.append(table.headers)
    for line in table.rows:
        rows.append([_cell_text(doc, style, key, line[key]) for key in table.columns])
    if rng.random() < 0.6:
        doc.tag("totals")
        rows.append([])
        amount_at = table.columns.index("amount")
        for label, value in _totals_rows(doc):
            cells = [""] * len(table.columns)
            cells[max(0, amount_at - 1) if amount_at else 1] = label
            cells[amount_at] = style.fmt(value)
            rows.append(cells)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=rng.choice(("\r\n", "\n")),
                        quoting=rng.choice((csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_NONNUMERIC)))
    writer.writerows(rows)
    text = out.getvalue().replace("\u00a0", " ")
    return text.encode(encoding, errors="replace"), encoding


# --------------------------------------------------------------------------------------------
# Text PDF from an "ERP" (fpdf2), with where each line landed
# --------------------------------------------------------------------------------------------

_PDF_SAFE = str.maketrans({"\u202f": " ", "\u2019": "'", "²": "2"})


@dataclass
class _PdfLayout:
    data: bytes
    pages: int
    cuts: list[tuple[int, float]]  # (page index, y in mm) between table lines, for splitting photos
    table_pages: int


def _pdf(doc: _Doc, for_image: bool = False) -> _PdfLayout:
    from fpdf import FPDF

    rng = doc.rng
    table = _table(doc, spreadsheet=False, allow_discount=not for_image)
    style = _number_style(rng, doc.lang)
    if style.group == "\u00a0":
        style = NumberStyle(",", " ")
    ruled = rng.random() < 0.5 if doc.force not in ("ruled", "unruled") else doc.force == "ruled"
    doc.tag("ruled" if ruled else "unruled")
    step = 10 if doc.want("pos-10-20-30", 0.3) else 1
    if "pos" in table.columns and step == 10:
        doc.tag("pos-10-20-30")
        for i, line in enumerate(table.rows, start=1):
            line["pos"] = i * 10
    elif "pos" in table.columns:
        doc.tag("numbered")
    wrap = doc.want("wrapped", 0.4)
    font = rng.choice(("Helvetica", "Helvetica", "Times", "Courier")) if not for_image else rng.choice(("Helvetica", "Times"))
    size = 9 if font != "Courier" else 8
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 15, 15)
    widths = _widths(table.columns)
    scale = 180 / sum(widths[k] for k in table.columns)
    widths = {k: w * scale for k, w in widths.items()}
    totals = _totals_rows(doc)
    n_pages_guess = [1]
    cuts: list[tuple[int, float]] = []

    def text(x: float, y: float, w: float, s: str, align: str = "L", bold: bool = False, pt: float = size) -> None:
        pdf.set_font(font, "B" if bold else "", pt)
        pdf.set_xy(x, y)
        pdf.cell(w, 4.5, s.translate(_PDF_SAFE), align=align)

    def letterhead(first: bool) -> float:
        s = doc.supplier
        text(15, 12, 120, s["name"], bold=True, pt=14)
        text(15, 19, 120, f"{s['street']} · {s['city']} · {s['country']}".replace("·", "-"), pt=8)
        if not first:
            text(15, 28, 180, f"{_KIND[doc.kind][doc.lang]} {doc.doc_no} - {_WORDS['page'][doc.lang].format(p=pdf.page_no(), n='{nb}')}", pt=9)
            return 38
        y = 30
        for part in _CUSTOMER:
            text(15, y, 90, part, pt=10)
            y += 5
        text(125, 30, 70, f"{_WORDS['date'][doc.lang]}: {_date_text(doc)}", pt=10)
        text(125, 35, 70, f"{_WORDS['customer'][doc.lang]}: 10{rng.randint(100, 999)}", pt=10)
        text(125, 40, 70, f"{_WORDS['number'][doc.lang]}: {doc.doc_no}", pt=10)
        text(15, 58, 180, f"{_KIND[doc.kind][doc.lang]} {doc.doc_no}", bold=True, pt=13)
        ref = _WORDS[rng.choice(("your_order", "your_order2"))][doc.lang].format(ref=doc.order_ref)
        text(15, 65, 180, ref, pt=10)
        return 76

    def header_row(y: float) -> float:
        x = 15
        for key, label in zip(table.columns, table.headers):
            pt = size
            pdf.set_font(font, "B", pt)
            while pdf.get_string_width(label) > widths[key] - 1.5 and pt > 6:
                pt -= 0.5
                pdf.set_font(font, "B", pt)
            while pdf.get_string_width(label) > widths[key] - 1.5:
                label = min(_HEAD[key][doc.lang], key=len) if label != min(_HEAD[key][doc.lang], key=len) else label[:-1]
            text(x, y, widths[key], label, align="L" if key in ("desc", "our", "their", "sku", "unit") else "R",
                 bold=True, pt=pt)
            x += widths[key]
        if ruled:
            pdf.set_line_width(0.3)
            pdf.line(15, y + 5, 195, y + 5)
        else:
            pdf.set_line_width(0.2)
            pdf.line(15, y + 5.2, 195, y + 5.2)
        return y + 6.5

    def carried(y: float, value: Decimal) -> float:
        label = word(doc, "carried")
        text(15, y, 150, label, bold=True)
        text(195 - widths["amount"], y, widths["amount"], style.fmt(value), align="R", bold=True)
        return y + 6

    pdf.add_page()
    pdf.alias_nb_pages("{nb}")
    y = letterhead(True)
    if rng.random() < 0.5:
        text(15, y, 180, {"en": "We confirm your order as follows:", "de": "Wir bestätigen Ihren Auftrag wie folgt:",
                          "fr": "Nous confirmons votre commande comme suit :"}[doc.lang], pt=10)
        y += 8
    y = header_row(y)
    bottom = 270
    running = Decimal(0)
    page_break_done = False
    for index, line in enumerate(table.rows):
        desc = str(line["desc"]).translate(_PDF_SAFE)
        second = ""
        pdf.set_font(font, "", size)
        room = widths["desc"] - 1.5
        if wrap and index % rng.choice((1, 2, 3)) == 0:
            desc, second = _wrap(desc, rng)
        if pdf.get_string_width(desc) > room:  # fill the first line, the rest below
            words = f"{desc} {second}".split()
            cut = 1
            while cut < len(words) and pdf.get_string_width(" ".join(words[:cut + 1])) <= room:
                cut += 1
            if cut == len(words) and len(words) > 1:
                cut -= 1
            desc, second = " ".join(words[:cut]), " ".join(words[cut:])
        while pdf.get_string_width(desc) > room:
            desc = desc[:-1]
        while pdf.get_string_width(second) > room:
            second = second[:-1]
        if second:
            doc.tag("wrapped")
        height = 9.5 if second else 5.5
        if y + height > bottom - 8:
            y = carried(y + 1, running)
            text(15, 285, 180, _WORDS["page"][doc.lang].format(p=pdf.page_no(), n="{nb}"), align="C", pt=8)
            pdf.add_page()
            page_break_done = True
            y = letterhead(False)
            y = carried(y, running)
            y = header_row(y)
        cuts.append((pdf.page_no() - 1, y - 0.5))
        x = 15
        for key in table.columns:
            value = line[key]
            if key == "desc":
                text(x, y, widths[key], desc)
                if second:
                    text(x, y + 4, widths[key], second)
            elif key == "per":
                text(x, y, widths[key], str(value), align="R")
            else:
                printed = _cell_text(doc, style, key, value)
                text(x, y, widths[key], printed, align="L" if key in ("our", "their", "sku", "unit") else "R")
            x += widths[key]
        full = f"{desc} {second}".strip() if second else desc
        if full != line["desc"]:
            t = doc.truth[index]
            doc.truth[index] = TruthLine(t.our_sku, t.their_sku, full, t.quantity, t.unit, t.unit_price, t.tax_rate)
        running += doc.truth[index].net
        y += height
        if ruled:
            pdf.set_line_width(0.1)
            pdf.line(15, y - 0.5, 195, y - 0.5)
    if page_break_done:
        doc.tag("page-break", "carried-forward")
    table_pages = pdf.page_no()
    if y + 8 + 6 * len(totals) > 280:
        text(15, 285, 180, _WORDS["page"][doc.lang].format(p=pdf.page_no(), n="{nb}"), align="C", pt=8)
        pdf.add_page()
        y = letterhead(False)
    y += 4
    pdf.set_line_width(0.3)
    pdf.line(120, y, 195, y)
    y += 2
    for number, (label, value) in enumerate(totals):
        last = number == len(totals) - 1
        text(120, y, 45, label, bold=last, pt=10)
        text(150, y, 45, _money_text(doc, style, value, sign_ok=last and rng.random() < 0.5), align="R", bold=last, pt=10)
        y += 6
    doc.tag("totals")
    y += 6
    if y < 270:
        text(15, y, 180, _WORDS["thanks"][doc.lang], pt=9)
    text(15, 285, 180, _WORDS["page"][doc.lang].format(p=pdf.page_no(), n="{nb}"), align="C", pt=8)
    n_pages_guess[0] = pdf.page_no()
    data = bytes(pdf.output())
    return _PdfLayout(data, n_pages_guess[0], cuts, table_pages)


def _widths(columns: Sequence[str]) -> dict[str, float]:
    base = {"pos": 10, "our": 24, "their": 24, "sku": 24, "desc": 62, "qty": 16, "unit": 12, "price": 20,
            "price100": 20, "per": 11, "list": 18, "disc": 14, "netp": 18, "amount": 22, "vat": 13}
    if len(columns) >= 10:
        base["desc"] = 50
    return {k: base[k] for k in columns}


def _wrap(desc: str, rng: random.Random, force: bool = False) -> tuple[str, str]:
    """A description over two lines: split at a space near the middle (or add a detail line)."""
    words = desc.split()
    if len(words) < 3 and not force:
        return desc, rng.choice(("DIN EN ISO 9001", "lot 2026/04", "RoHS compliant", "cert. 3.1"))
    cut = max(1, len(words) // 2 + (1 if len(words) % 2 else 0))
    return " ".join(words[:cut]), " ".join(words[cut:])  # the caller refills by width


def _terms_pdf(doc: _Doc) -> bytes:
    from fpdf import FPDF

    title = {"en": "General Terms and Conditions of Sale", "de": "Allgemeine Geschäftsbedingungen",
             "fr": "Conditions générales de vente"}[doc.lang]
    paragraphs = {
        "en": ["1. Scope. These terms apply to all deliveries and services of the seller.",
               "2. Prices. Prices are ex works, excluding VAT and packaging, unless agreed otherwise in writing.",
               "3. Payment. Invoices are payable within 30 days net. A 2 % discount applies to payment within 10 days.",
               "4. Delivery. Delivery dates are approximate. Partial deliveries are permitted.",
               "5. Retention of title. Goods remain our property until paid in full.",
               "6. Warranty. Defects must be reported in writing within 8 days of receipt."],
        "de": ["§ 1 Geltungsbereich. Diese Bedingungen gelten für alle Lieferungen und Leistungen.",
               "§ 2 Preise. Die Preise verstehen sich ab Werk zuzüglich Mehrwertsteuer und Verpackung.",
               "§ 3 Zahlung. Rechnungen sind innerhalb von 30 Tagen netto zahlbar, bei Zahlung binnen 10 Tagen 2 % Skonto.",
               "§ 4 Lieferung. Liefertermine sind unverbindlich. Teillieferungen sind zulässig.",
               "§ 5 Eigentumsvorbehalt. Die Ware bleibt bis zur vollständigen Bezahlung unser Eigentum.",
               "§ 6 Gewährleistung. Mängel sind innerhalb von 8 Tagen nach Erhalt schriftlich anzuzeigen."],
        "fr": ["Article 1 - Champ d'application. Les présentes conditions s'appliquent à toutes nos ventes.",
               "Article 2 - Prix. Nos prix s'entendent départ usine, hors TVA et emballage.",
               "Article 3 - Paiement. Nos factures sont payables à 30 jours net. Escompte de 2 % pour paiement à 10 jours.",
               "Article 4 - Livraison. Les délais de livraison sont donnés à titre indicatif.",
               "Article 5 - Réserve de propriété. Les marchandises restent notre propriété jusqu'au paiement intégral.",
               "Article 6 - Garantie. Les défauts doivent être signalés par écrit sous 8 jours."],
    }[doc.lang]
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_TIME)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 6, doc.supplier["name"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for paragraph in paragraphs * 2:
        pdf.multi_cell(0, 5, paragraph + " " + paragraph.split(". ", 1)[-1], new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


# --------------------------------------------------------------------------------------------
# Scans and photos: the PDF rasterised and degraded (Pillow only, seeded)
# --------------------------------------------------------------------------------------------

def _render(pdf_data: bytes, dpi: int, pages: int | None = None):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf_data)
    try:
        count = len(document) if pages is None else min(pages, len(document))
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(count)]
    finally:
        document.close()


def _noise(rng: random.Random, size: tuple[int, int], amount: int):
    """Seeded noise: a small random tile scaled up a little, centred on 128, ±amount."""
    from PIL import Image

    w, h = size
    tile = Image.frombytes("L", (w // 2 + 1, h // 2 + 1), rng.randbytes((w // 2 + 1) * (h // 2 + 1)))
    lut = [128 + (v - 128) * amount // 128 for v in range(256)]
    return tile.point(lut).resize(size, Image.NEAREST)


def _degrade_scan(rng: random.Random, page, paper: int, noise: int, angle: float):
    from PIL import Image, ImageChops, ImageFilter

    # ink stays dark, white becomes grey paper
    page = page.point(lambda v: int(v * paper / 255) + rng.randint(0, 0) if v > 0 else 0)
    if noise:
        page = ImageChops.add(page, _noise(rng, page.size, noise), scale=1.0, offset=-128)
    page = page.filter(ImageFilter.GaussianBlur(0.5))
    return page.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=paper)


def _scan_files(doc: _Doc, pdf: _PdfLayout) -> list[tuple[str, bytes]]:
    from PIL import Image

    rng = doc.rng
    fmt = doc.force
    dpi = rng.choice((150, 200, 200, 300, 300)) if fmt != "png" else rng.choice((150, 200))
    if fmt == "tiff":
        dpi = rng.choice((200, 300))
    angle = round(rng.uniform(0.3, 1.5), 2) * rng.choice((-1, 1))
    paper = rng.randint(222, 245)
    noise = rng.choice((8, 12, 16)) if dpi < 300 else rng.choice((6, 8, 10))
    doc.tag(f"{fmt}", f"{dpi}dpi", f"skew{abs(angle):.1f}")
    pages = [_degrade_scan(rng, p, paper, noise, angle) for p in _render(pdf.data, dpi)]
    stem = f"scan_{doc.doc_no or doc.order_ref}"
    if fmt == "png":
        # a 16-level grey scanner image keeps PNG small
        pages = [p.point(lambda v: v // 16 * 17) for p in pages]
        return [(f"{stem}_{i + 1}.png" if len(pages) > 1 else f"{stem}.png", _save(p, "PNG", dpi=(dpi, dpi), optimize=True))
                for i, p in enumerate(pages)]
    if fmt == "jpeg":
        return [(f"{stem}_{i + 1}.jpg" if len(pages) > 1 else f"{stem}.jpg",
                 _save(p, "JPEG", quality=rng.randint(70, 88 if dpi < 300 else 78), dpi=(dpi, dpi)))
                for i, p in enumerate(pages)]
    if fmt == "tiff":
        bilevel = [p.point(lambda v: 255 if v > paper * 0.6 else 0).convert("1") for p in pages]
        out = io.BytesIO()
        bilevel[0].save(out, "TIFF", compression="group4", dpi=(dpi, dpi), save_all=True, append_images=bilevel[1:])
        return [(f"{stem}.tif", out.getvalue())]
    jpegs = [_save(p, "JPEG", quality=rng.randint(70, 85), dpi=(dpi, dpi)) for p in pages]
    if fmt == "pdf-pillow":
        out = io.BytesIO()
        images = [Image.open(io.BytesIO(j)) for j in jpegs]
        images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
        data = out.getvalue()
        data = re.sub(rb"/CreationDate \(D:[^)]*\)", b"/CreationDate (D:20260102030405Z)", data)
        data = re.sub(rb"/ModDate \(D:[^)]*\)", b"/ModDate (D:20260102030405Z)", data)
        return [(f"{stem}.pdf", data)]
    from fpdf import FPDF

    scanned = FPDF(format="A4")
    scanned.set_creation_date(FIXED_TIME)
    for jpeg in jpegs:
        scanned.add_page()
        scanned.image(io.BytesIO(jpeg), x=0, y=0, w=210, h=297)
    return [(f"{stem}.pdf", bytes(scanned.output()))]


def _save(image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _photo_files(doc: _Doc, pdf: _PdfLayout) -> list[tuple[str, bytes]]:

    rng = doc.rng
    dpi = rng.choice((150, 170, 200))
    pages = _render(pdf.data, dpi)
    split = len(pages) == 1 and len(pdf.cuts) >= 4 and doc.force == "two-photos"
    shots = []
    if split:
        doc.tag("two-photos")
        page_index, y_mm = pdf.cuts[len(pdf.cuts) // 2]
        y = int(y_mm / 25.4 * dpi)
        page = pages[0]
        shots = [page.crop((0, 0, page.width, y)), page.crop((0, y, page.width, page.height))]
    else:
        shots = pages
    files = []
    for number, shot in enumerate(shots, start=1):
        image = _photograph(rng, shot)
        quality = rng.randint(70, 85)
        files.append((f"IMG_{rng.randint(1000, 9999)}.jpg", _save(image, "JPEG", quality=quality)))
    doc.tag(f"{dpi}dpi")
    return files


def _photograph(rng: random.Random, page):
    """A phone photo of a printed page: on a desk, slightly in perspective, lit from one side, soft."""
    from PIL import Image, ImageChops, ImageFilter

    w, h = page.size
    margin = int(w * 0.06)
    desk = rng.choice(((120, 100, 80), (90, 90, 95), (160, 150, 130)))
    canvas = Image.new("RGB", (w + 2 * margin, h + 2 * margin), desk)
    paper = Image.merge("RGB", [page.point(lambda v, t=t: int(v * t / 255)) for t in (250, 246, 236)])
    canvas.paste(paper, (margin, margin))
    cw, ch = canvas.size
    jitter = [rng.uniform(-0.025, 0.025) * cw for _ in range(8)]
    quad = (jitter[0], jitter[1], jitter[2], ch + jitter[3], cw + jitter[4], ch + jitter[5], cw + jitter[6], jitter[7])
    canvas = canvas.transform((cw, ch), Image.QUAD, quad, resample=Image.BICUBIC, fillcolor=desk)
    # light falls off from one side: a horizontal or vertical gradient multiplied in
    strength = rng.randint(30, 70)
    gradient = Image.linear_gradient("L").resize((cw, ch))
    gradient = gradient.rotate(rng.choice((0, 90, 180, 270)), expand=False).resize((cw, ch))
    light = gradient.point(lambda v: 255 - strength + v * strength // 255)
    canvas = ImageChops.multiply(canvas, Image.merge("RGB", [light, light, light]))
    return canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 0.9)))


# --------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------

def make_bill(family: str, seed: int) -> GeneratedBill:
    """One bill of `family`, deterministic from `seed`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")
    rng = random.Random(f"{family}:{seed}")
    long_table = family == "pdf" and (rng.random() < 0.15 or _FORCE["pdf"][seed % 10] == "long")
    n_lines = rng.randint(25, 40) if long_table else (rng.randint(4, 9) if family in ("scan", "photo") else None)
    doc = _answer(rng, family, n_lines, seed)
    stem = {"quote": {"en": "Quotation", "de": "Angebot", "fr": "Devis"}, "confirmation": {"en": "Confirmation", "de": "AB", "fr": "Confirmation"},
            "invoice": {"en": "Invoice", "de": "Rechnung", "fr": "Facture"}}[doc.kind][doc.lang]
    stem = f"{stem}_{doc.doc_no or doc.order_ref}"
    files: list[tuple[str, bytes]]
    if family in ("xlsx", "ods"):
        grids = _sheet_grids(doc)
        files = [(f"{stem}.xlsx", _xlsx(grids))] if family == "xlsx" else [(f"{stem}.ods", _ods(grids))]
    elif family == "csv":
        data, _ = _csv(doc)
        files = [(f"{stem}.csv", data)]
    else:
        pdf = _pdf(doc, for_image=family != "pdf")
        if family == "pdf":
            files = [(f"{stem}.pdf", pdf.data)]
            if long_table:
                doc.tag("long")
        elif family == "scan":
            files = _scan_files(doc, pdf)
        else:
            files = _photo_files(doc, pdf)
    bill_names = tuple(name for name, _ in files)
    if family == "pdf" and doc.want("terms-pdf", 0.2):
        terms = {"en": "Terms_and_conditions.pdf", "de": "AGB.pdf", "fr": "CGV.pdf"}[doc.lang]
        files.insert(rng.randint(0, 1), (terms, _terms_pdf(doc)))
        doc.tag("terms-pdf")
    net, tax = doc.net, doc.tax
    return GeneratedBill(
        family=family,
        variant=" ".join(doc.tags),
        files=tuple(files),
        order_ref=doc.order_ref,
        order_lines=doc.order,
        truth=tuple(doc.truth),
        removed=tuple(doc.removed),
        net=net,
        tax=tax,
        gross=net + tax,
        bill_files=bill_names,
    )


def corpus(per_family: int = 10, seed: int = 0, families: Sequence[str] = FAMILIES) -> Iterator[GeneratedBill]:
    """`per_family` bills of each family, seeds seed*1000 + i."""
    for family in families:
        for index in range(per_family):
            yield make_bill(family, seed * 1000 + index)
