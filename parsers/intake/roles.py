"""Column roles from header words in English, German and French, and the header row of a table.

A header cell names a role ("Einzelpreis" → unit price, "Ihre Art.-Nr." → our SKU); the header
row is the row naming the most roles, with at least a quantity, a price or amount, and a
description or article number. Prices "per 100" are read from the header ("Preis/100") or from
a price-unit column ("PE").
"""
from __future__ import annotations

import re
import unicodedata
from difflib import get_close_matches
from collections.abc import Sequence
from dataclasses import dataclass

from parsers.intake.records import Cell, Row

#: role → full-match patterns over the normalised header (lower case, no accents, letters and digits)
ROLE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("our_sku", r"(ihre|ihr|kunden|your|customer|cust|votre|vos|client|buyer)(art|artikel|artikelnr|artnr|material|"
                r"matnr|materialnr|sku|partno|part|itemno|item|ref|reference|code|no|nr|number)\w*|"
                r"(art|artnr|artikelnr|ref|reference|code|sku|partno|itemno|no|nr|material|matnr)"
                r"(client|kunde|kunden|customer|cust|buyer)"),
    ("their_sku", r"(unsere|unser|our|notre|nos|supplier|vendor|lieferant|lief)(art|artikel|artikelnr|artnr|"
                  r"material|matnr|sku|partno|part|itemno|item|ref|reference|code|no|nr|number)\w*"),
    ("pos", r"pos|posnr|position|pos\w{0,3}|lfdnr|lfd|nr|no|n|line|lineno|ligne|zeile|#"),
    ("sku", r"sku|art|artnr|artikelnr|artikelnummer|artno|articleno|articlenr|articlenumber|itemno|itemnr|"
            r"itemnumber|itemcode|item|partno|partnumber|part|productcode|productno|prodno|code|ref|reference|"
            r"refart|referencearticle|materialnr|materialnummer|matnr|material|codearticle|codeart|catno|sachnr|"
            r"sachnummer|identnr"),
    ("description", r"description|desc|beschreibung|bezeichnung|artikelbezeichnung|artikel|designation|libelle|"
                    r"produkt|product|productname|productdescription|itemdescription|text|leistung|benennung|"
                    r"articledescription|article|descriptif|name|denomination|produit|description\w+|"
                    r"bezeichnung\w+|designation\w+|goods|details"),
    ("delivered", r"delivered|qtydelivered|deliveredqty|quantitydelivered|geliefert|liefermenge|geliefertemenge|"
                  r"livre|livree|qtelivree|quantitelivree|shipped|qtyshipped|versandt|versandmenge"),
    ("quantity", r"qty|qte|qt|quantity|quantite|quantites|menge|anzahl|anz|stuckzahl|stueckzahl|bestellmenge|"
                 r"qtyordered|quantityordered|quantitycommandee|units|nombre|nb|qty\w+|menge\w+"),
    ("unit", r"unit|uom|einheit|me|mengeneinheit|unite|u|um|ue|vpe|uom\w*"),
    ("per", r"per|pe|preiseinheit|priceunit|pricingunit|par|pour|je|peinheit"),
    ("list_price", r"listprice|listpreis|listenpreis|bruttopreis|grossprice|prixcatalogue|prixbrut|prixdebase|"
                   r"prixtarif|tarif|catalogprice|rrp|msrp"),
    ("discount", r"discount|disc|rabatt|rab|remise|nachlass|abzug|discountpercent|rabattsatz|rem"),
    ("unit_price", r"netprice|nettopreis|nettoeinzelpreis|prixnet|prixunitairenet|netunitprice|nettoep|netep|"
                   r"unitprice|price|preis|einzelpreis|stuckpreis|stueckpreis|stkpreis|ep|epreis|prixunitaire|"
                   r"prixunit|pu|puht|prix|prixht|prixunitaireht|unitcost|cost|rate|priceeach|each|priceperunit|"
                   r"preisproeinheit|preisjeeinheit|einzelpreisnetto|unitpricenet|unitpriceexvat|prixunitht"),
    ("amount", r"amount|total|linetotal|totalprice|extendedprice|extprice|ext|extended|gesamt|gesamtpreis|"
               r"gesamtbetrag|betrag|summe|wert|netamount|nettobetrag|nettowert|nettogesamt|montant|montantht|"
               r"totalht|prixtotal|prixtotalht|totalnet|nettotal|net|netto|lineamount|value|positionswert|"
               r"totalexvat|amountexvat|amountnet|gesamtnetto|totalligne|montantligne"),
    ("tax_rate", r"vat|vatrate|vatpercent|tax|taxrate|mwst|mwstsatz|ust|ustsatz|steuer|steuersatz|tva|tauxtva|"
                 r"taux|gst|iva|vatcode|taxcode"),
)
_COMPILED = tuple((role, re.compile(f"(?:{pattern})")) for role, pattern in ROLE_PATTERNS)
_CURRENCY_TAIL = re.compile(r"(eur|usd|chf|gbp|sek|nok|dkk|pln|inr|ht|excl\w*|netto|net)$")
_PER = re.compile(r"^(.*?)(?:per|pro|je|par|pour|jeweils)?(100|1000)$")
NUMERIC_ROLES = ("quantity", "delivered", "unit_price", "list_price", "discount", "amount", "tax_rate", "per")
PRICE_ROLES = ("unit_price", "list_price", "amount")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "#" if text.strip() in ("#", "n°", "no.") else re.sub(r"[^a-z0-9]", "", text.replace("ß", "ss"))


@dataclass(frozen=True)
class Header:
    """The table's columns: role → (index of the cell in the header row, x0, x1), and price factors."""

    row_index: int
    roles: dict[str, tuple[int, float, float]]
    spans: tuple[tuple[str | None, float, float], ...]  # every header cell left to right, role or None
    price_per: int = 1  # a header like "Preis/100": the printed price is for 100 units

    def has(self, role: str) -> bool:
        return role in self.roles


def role_of(text: str) -> tuple[str | None, int]:
    """The role a header cell names, and the price unit it states (100 for "Preis/100")."""
    norm = normalise(text)
    if not norm:
        return None, 1
    for candidate in (norm, _CURRENCY_TAIL.sub("", norm)):
        role = _match(candidate)
        if role:
            return role, 1
    per = _PER.match(norm)
    if per and per.group(1):
        role = _match(_CURRENCY_TAIL.sub("", per.group(1)))
        if role in ("unit_price", "list_price"):
            return role, int(per.group(2))
    return None, 1


def _match(norm: str) -> str | None:
    found = next((role for role, pattern in _COMPILED if norm and pattern.fullmatch(norm)), None)
    if found is None and len(norm) >= 5:  # OCR drops or swaps a letter: "Quantit", "Bezeichnunq"
        close = get_close_matches(norm, list(_VOCABULARY), n=1, cutoff=0.86)
        found = _VOCABULARY[close[0]] if close else None
    return found


#: every plain header word of the patterns → its role (for near misses only)
_VOCABULARY: dict[str, str] = {word: role for role, pattern in reversed(ROLE_PATTERNS)
                               for word in re.split(r"[|()]", pattern) if word.isalnum() and len(word) >= 5}


def clusters(row: Row, by_position: bool) -> list[Cell]:
    """Header cells: in a sheet, each cell; on a page, words a space apart (a space as wide as
    this font makes it), with a phrase that names no role split where its parts do ("Qty Unit")."""
    if not by_position:
        return list(row.cells)
    groups: list[list[Cell]] = []
    for cell in row.cells:
        if groups and cell.x0 - groups[-1][-1].x1 < _space(groups[-1][-1], cell):
            groups[-1].append(cell)
        else:
            groups.append([cell])
    return [merged for group in groups for merged in _named_parts(group)]


def _space(left: Cell, right: Cell) -> float:
    widths = [(c.x1 - c.x0) / max(len(str(c.value)), 1) for c in (left, right)]
    heights = [c.height or 10.0 for c in (left, right)]
    return max(0.5 * min(heights), 1.15 * min(widths))


def _join(cells: Sequence[Cell]) -> Cell:
    return Cell(" ".join(str(c.value) for c in cells), cells[0].x0, cells[-1].x1,
                min(c.confidence for c in cells), cells[-1].height)


def _named_parts(group: list[Cell]) -> list[Cell]:
    """The phrase as one cell if it names a role, else the split whose named parts cover the most
    words, in the fewest parts ("Prix net | Montant", not "Prix | net | Montant")."""
    if len(group) == 1 or role_of(str(_join(group).value))[0] or len(group) > 8:
        return [_join(group)]
    best: list[tuple[int, int, list[Cell]]] = [(0, 0, [])]  # per prefix length: (words named, -parts, cells)
    for end in range(1, len(group) + 1):
        options = []
        for start in range(end):
            named, parts, cells = best[start]
            part = _join(group[start:end])
            covered = end - start if role_of(str(part.value))[0] is not None else 0
            options.append((named + covered, parts - 1, cells + [part]))
        best.append(max(options, key=lambda option: option[:2]))
    return best[-1][2]


def find_header(rows: Sequence[Row], by_position: bool, start: int = 0, priced: bool = True) -> Header | None:
    """The first row from `start` that names the most roles (at least three, with the essentials;
    `priced=False` for a delivery note: quantities and names, no prices needed)."""
    best: Header | None = None
    for index in range(start, len(rows)):
        header = header_of(rows[index], index, by_position, priced)
        if header is not None and (best is None or len(header.roles) > len(best.roles)):
            best = header
        if best is not None and index > best.row_index + 3:
            break
    return best


def header_of(row: Row, index: int, by_position: bool, priced: bool = True) -> Header | None:
    cells = clusters(row, by_position)
    roles, spans, per = _roles(cells)
    if by_position and not _essential(roles, priced):  # "Qty Unit" merged into one cell: try word by word
        roles, spans, per = _roles(list(row.cells))
    if not _essential(roles, priced):
        return None
    return Header(index, roles, tuple(spans), per)


def _roles(cells: list[Cell]) -> tuple[dict[str, tuple[int, float, float]], list, int]:
    roles: dict[str, tuple[int, float, float]] = {}
    spans: list[tuple[str | None, float, float]] = []
    per = 1
    for position, cell in enumerate(cells):
        role, factor = role_of(str(cell.value or ""))
        if role in roles:
            role = _second(role, roles)
        if role is not None:
            roles[role] = (position, cell.x0, cell.x1)
            per = factor if factor != 1 and role == "unit_price" else per
        spans.append((role, cell.x0, cell.x1))
    return roles, spans, per


def _second(role: str | None, roles: dict) -> str | None:
    """A second price column is the net price after a list price; a second SKU is theirs."""
    if role == "unit_price" and "list_price" not in roles:
        roles["list_price"] = roles.pop("unit_price")
        return "unit_price"
    if role == "sku" and "their_sku" not in roles:
        return "their_sku"
    return None


def _essential(roles: dict, priced: bool = True) -> bool:
    named = any(r in roles for r in ("description", "sku", "our_sku", "their_sku"))
    counted = "quantity" in roles or "delivered" in roles
    if not priced:
        return len(roles) >= 2 and counted and named
    return len(roles) >= 3 and counted and any(r in roles for r in PRICE_ROLES) and named
