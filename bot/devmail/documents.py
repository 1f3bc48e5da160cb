"""A supplier's own order confirmation as a PDF their program would print, written by hand
(no PDF library at run time): the demo's supplier answers one order with it."""
from __future__ import annotations

from collections.abc import Sequence

SIZE = 9  # Courier: every character is 0.6 × SIZE wide, so numbers can be right-aligned exactly
CHAR = 0.6 * SIZE


def order_confirmation_pdf(ref: str, rows: Sequence[Sequence[str]], totals: Sequence[tuple[str, str]]) -> bytes:
    """rows: (pos, article, description, quantity, unit, unit price, amount); German number format."""
    left = (50, 80, 150, 330, 380, 420, 490)  # where each column starts; numbers end at the next start - 6
    numeric = {3, 5, 6}
    texts = [(50, 790, "Schrauben Mueller GmbH - Auftragsbestaetigung AB-4711"),
             (50, 775, f"Ihre Bestellung {ref} vom 03.11.2026"),
             *[(x, 740, title) for x, title in zip(left, ("Pos.", "Art.-Nr.", "Bezeichnung", "Menge", "ME",
                                                           "Einzelpreis", "Gesamt"))]]
    y = 722
    for row in rows:
        for column, text in enumerate(row):
            end = (left[column + 1] if column + 1 < len(left) else 560) - 6
            texts.append((end - CHAR * len(text) if column in numeric else left[column], y, text))
        y -= 14
    for label, value in totals:
        y -= 4
        texts += [(420, y, label), (554 - CHAR * len(value), y, value)]
        y -= 10
    return _pdf(texts)


def invoice_pdf(ref: str, number: str, day: str, net: str, tax: str, total: str) -> bytes:
    """The supplier's final invoice, as their program prints it (German labels, as above)."""
    return _pdf([(50, 790, "Schrauben Mueller GmbH"), (50, 760, f"Rechnung Nr. {number}"),
                 (50, 745, f"Rechnungsdatum: {day}"), (50, 730, f"Ihre Bestellung {ref}"),
                 (300, 690, "Nettobetrag"), (554 - CHAR * len(net), 690, net),
                 (300, 676, "MwSt 19 %"), (554 - CHAR * len(tax), 676, tax),
                 (300, 662, "Gesamtbetrag EUR"), (554 - CHAR * len(total), 662, total)])


def _pdf(texts: Sequence[tuple[float, float, str]]) -> bytes:
    stream = "BT /F1 %d Tf " % SIZE + " ".join(
        f"1 0 0 1 {x:.1f} {y:.1f} Tm ({escape(text)}) Tj" for x, y, text in texts) + " ET"
    return one_page_pdf(stream, "Courier")


def one_page_pdf(stream: str, font: str) -> bytes:
    """A one-page A4 PDF of a content stream drawn with one standard font (/F1)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               "/Resources << /Font << /F1 5 0 R >> >> >>",
               f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
               f"<< /Type /Font /Subtype /Type1 /BaseFont /{font} /Encoding /WinAnsiEncoding >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
