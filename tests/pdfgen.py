"""A minimal text PDF for invoices in tests: lines one under another (no PDF library needed)."""
from __future__ import annotations

from bot.devmail.documents import escape, one_page_pdf


def text_pdf(lines: list[str]) -> bytes:
    stream = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    return one_page_pdf(stream, "Helvetica")
