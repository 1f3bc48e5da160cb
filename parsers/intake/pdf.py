"""PDF → words with positions: the text layer where there is one (pdfplumber), else the page
rasterised (pypdfium2) and read by OCR. Bounded: pages, characters, and time through the caller."""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from parsers.intake.words import Word

log = logging.getLogger("supplierbot.intake")


class PdfUnreadable(Exception):
    """The PDF cannot be opened: broken, encrypted with a password, or over the limits."""


@dataclass(frozen=True)
class PdfLimits:
    max_pages: int = 20
    max_chars: int = 400_000
    ocr_dpi: int = 300


def pdf_words(data: bytes, limits: PdfLimits = PdfLimits()) -> tuple[list[Word], int]:
    """The text layer's words and the page count; an empty list means an image-only PDF."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            count = len(pdf.pages)
            if count > limits.max_pages:
                raise PdfUnreadable(f"it has {count} pages; a bill may have at most {limits.max_pages}")
            return _words(pdf, limits), count
    except PdfminerException as wrapped:  # pdfplumber wraps what pdfminer raised on opening
        raise _unreadable(wrapped.args[0] if wrapped.args else wrapped) from None
    except (PDFPasswordIncorrect, PDFEncryptionError, PDFSyntaxError, PSException, ValueError, KeyError, TypeError,
            AttributeError, IndexError, RecursionError, AssertionError, EOFError) as exc:
        raise _unreadable(exc) from None


def _unreadable(cause: object) -> PdfUnreadable:
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    log.info("pdf unreadable", extra={"error": type(cause).__name__})
    if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
        return PdfUnreadable("it is protected by a password")
    return PdfUnreadable("it is damaged and could not be opened")


def _words(pdf, limits: PdfLimits) -> list[Word]:
    words: list[Word] = []
    chars = 0
    for number, page in enumerate(pdf.pages, start=1):
        for found in page.extract_words(keep_blank_chars=False, use_text_flow=False, x_tolerance=1.5):
            words.append(Word(found["text"], found["x0"], found["x1"], found["top"], found["bottom"], number))
            chars += len(found["text"])
        if chars > limits.max_chars:
            raise PdfUnreadable("it holds more text than a bill")
    return words


def pdf_page_images(data: bytes, limits: PdfLimits = PdfLimits()) -> list[bytes]:
    """Each page as a greyscale PNG at the OCR resolution (an image-only PDF: a scan)."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise PdfUnreadable("it is damaged and could not be opened") from None
    try:
        if len(pdf) > limits.max_pages:
            raise PdfUnreadable(f"it has {len(pdf)} pages; a bill may have at most {limits.max_pages}")
        return [_render(pdf[index], limits.ocr_dpi) for index in range(len(pdf))]
    finally:
        pdf.close()


def _render(page, dpi: int) -> bytes:
    width, height = page.get_size()
    scale = dpi / 72
    if width * height * scale * scale > 60_000_000:  # an absurd page size: render it smaller
        scale = (60_000_000 / (width * height)) ** 0.5
    image = page.render(scale=scale, grayscale=True).to_pil()
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
