"""Reading the supplier's own documents, away from the database: which attachments are the bill,
and a small process pool that reads PDFs and scans with a time and memory limit.

A reader that crashes, hangs or runs out of memory takes down only its pool process: the
document is answered as unreadable and the message goes on. The pipeline reads a message's
slow documents before it opens the transaction, so OCR never holds the database.
"""
from __future__ import annotations

import io
import logging
import multiprocessing
import resource
import threading
import zipfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from bot import errors
from bot.config import ReadingSettings
from parsers.bill_sheet import REF_SHEET, SheetInvalid, read_bill_sheet
from parsers.intake import DocumentReading, DocumentUnreadable, document_family, read_bill_document
from parsers.intake.ocr import OcrLimits
from parsers.intake.ocr import available as ocr_available
from parsers.intake.pdf import PdfLimits
from parsers.documents import sniff
from parsers.invoice import NOTHING, InvoiceFacts, read_invoice
from parsers.parts import FileAttachment, FilePart
from parsers.records import AnyAttachment, BillSheet, Problem
from parsers.reply import CommandKind

log = logging.getLogger("supplierbot.reading")
SHEET_TYPES = ("spreadsheetml", "ms-excel", "officedocument.spreadsheet", "opendocument.spreadsheet")
SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
READER_MEMORY = 2 << 30  # address space of a reader process (pdfium and tesseract included)


def invoice_file(attachments: Sequence[AnyAttachment]) -> AnyAttachment | None:
    """The document INVOICE is read from: the first PDF, else the first image."""
    found = [(sniff(a.head()) or ("", ""))[0] for a in attachments]
    pdfs = [a for a, kind in zip(attachments, found) if kind == "pdf"]
    images = [a for a, kind in zip(attachments, found) if kind in ("jpeg", "png", "tiff")]
    return (pdfs + images)[0] if pdfs or images else None


@dataclass(frozen=True)
class BillFiles:
    """The attachments that may be the bill, sorted by how they are read."""

    sheets: tuple[AnyAttachment, ...]  # workbooks and CSV: read at once, in the bot's process
    documents: tuple[AnyAttachment, ...]  # PDFs and images: read in the pool, only when no sheet came

    @property
    def slow(self) -> tuple[AnyAttachment, ...]:
        return () if self.sheets else self.documents


def bill_files(attachments: Sequence[AnyAttachment], command: CommandKind) -> BillFiles:
    """Sheets and CSVs are always bills; PDFs and images only without a sheet and not as INVOICE."""
    sheets = tuple(a for a in attachments if looks_like_sheet(a) or document_family(a.head(), a.filename) == "csv")
    readable = ("pdf", "image") if ocr_available() else ("pdf",)  # without OCR, images stay scans
    documents = () if command is CommandKind.INVOICE else tuple(
        a for a in attachments if document_family(a.head(), a.filename) in readable)
    return BillFiles(sheets, documents)


def looks_like_sheet(attachment: AnyAttachment) -> bool:
    name = attachment.filename.lower()
    return name.endswith(SHEET_SUFFIXES) or any(t in attachment.content_type for t in SHEET_TYPES)


def read_own_sheet(attachment: AnyAttachment) -> BillSheet | None:
    """The bot's own sheet (it carries the hidden order reference) read strictly; None for others.
    SheetInvalid when it is ours and has problems: the supplier is told exactly where."""
    if not _is_ours(attachment):
        return None
    return read_bill_sheet(attachment.data, attachment.filename)


def _is_ours(attachment: AnyAttachment) -> bool:
    return f'"{REF_SHEET}"'.encode() in _sheet_list(attachment.data)


def _sheet_list(data: bytes) -> bytes:
    """The workbook's list of sheets (xlsx) or its content (ods), if small enough to be a bill."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in ("xl/workbook.xml", "content.xml"):
                if name in archive.namelist() and archive.getinfo(name).file_size < 5 << 20:
                    return archive.read(name)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, NotImplementedError, RuntimeError):
        pass
    return b""


Read = DocumentReading | DocumentUnreadable


class Readers:
    """Reads documents in a pool of processes; results kept by content hash until taken."""

    def __init__(self, settings: ReadingSettings = ReadingSettings()) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._done: dict[tuple[str, str], Read | InvoiceFacts] = {}
        self._lock = threading.Lock()  # the poll and a scheduled retry may read at the same time

    def prepare(self, attachments: Sequence[AnyAttachment], priced: bool = True) -> None:
        """Read these now (outside any transaction), in order, as one job: a bill over two
        photos needs the first photo's header to read the second. `read` answers from what was kept.
        `priced=False`: delivery notes (quantities, no prices)."""
        kind = "bill" if priced else "count"
        todo = [a for a in attachments if (kind, a.sha256) not in self._done]
        if todo:
            for attachment, result in zip(todo, self._run(_read_priced if priced else _read_counted, todo)):
                self._done[kind, attachment.sha256] = result

    def read(self, attachment: AnyAttachment, priced: bool = True) -> Read:
        key = ("bill" if priced else "count", attachment.sha256)
        if key not in self._done:
            self.prepare([attachment], priced)
        result = self._done.pop(key)
        assert not isinstance(result, InvoiceFacts)
        return result

    def prepare_invoice(self, attachment: AnyAttachment) -> None:
        key = ("invoice", attachment.sha256)
        if key not in self._done:
            result = self._run(_read_invoices, [attachment])[0]
            self._done[key] = result if isinstance(result, InvoiceFacts) else NOTHING

    def invoice(self, attachment: AnyAttachment) -> InvoiceFacts:
        """Number, date, net, VAT and total of the invoice, read in the pool (NOTHING if unreadable)."""
        self.prepare_invoice(attachment)
        result = self._done.pop(("invoice", attachment.sha256))
        assert isinstance(result, InvoiceFacts)
        return result

    def _run(self, job_function, todo: list[AnyAttachment]) -> list:
        with self._lock:
            return self._run_locked(job_function, todo)

    def _run_locked(self, job_function, todo: list[AnyAttachment]) -> list:
        # a file left on disk goes as its place: the reader decodes it, the bot never holds it
        job = [(a.part if isinstance(a, FileAttachment) else a.data, a.filename) for a in todo]
        limit = self.settings.seconds_per_document * len(todo)
        try:
            future = self._executor().submit(job_function, job, self.settings.ocr, self.settings.pdf)
            return future.result(timeout=limit)
        except FutureTimeout:
            log.warning("reader timed out", extra={"files": len(todo)})
            self._restart()
            return [DocumentUnreadable(f"reading it took longer than {limit:.0f} s")] * len(todo)
        except (BrokenProcessPool, MemoryError):
            log.warning("reader crashed", extra={"files": len(todo)})
            self._restart()
            return [DocumentUnreadable("it could not be read: the reader gave up on it")] * len(todo)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(self.settings.processes, mp_context=context, initializer=_limit_memory)
        return self._pool

    def _restart(self) -> None:
        """A hung or dead reader: kill the pool's processes and start afresh at the next read."""
        pool, self._pool = self._pool, None
        if pool is not None:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (READER_MEMORY, READER_MEMORY))


Job = list[tuple[bytes | FilePart, str]]


def _read_priced(job: Job, ocr: OcrLimits, pdf: PdfLimits) -> list[Read]:
    return _read_all(job, ocr, pdf, True)


def _read_counted(job: Job, ocr: OcrLimits, pdf: PdfLimits) -> list[Read]:
    return _read_all(job, ocr, pdf, False)


def _read_all(job: Job, ocr: OcrLimits, pdf: PdfLimits, priced: bool) -> list[Read]:
    """In the pool process: each document in turn, the header carried from one photo to the next."""
    results: list[Read] = []
    carried = None
    for source, filename in job:
        result = _read_one(_bytes(source), filename, carried, ocr, pdf, priced)
        if isinstance(result, DocumentReading) and result.method == "ocr":
            carried = result.header or carried
        results.append(result)
    return results


def _read_invoices(job: Job, ocr: OcrLimits, pdf: PdfLimits) -> list[InvoiceFacts]:
    """In the pool process: each invoice's header facts; NOTHING where it cannot be read."""
    results = []
    for source, _ in job:
        data = _bytes(source)
        kind = sniff(data)
        try:
            results.append(read_invoice(data, kind[0], ocr, pdf) if kind else NOTHING)
        except Exception:  # a reader's bug on a strange file: the invoice is kept, its facts unread
            log.exception("invoice reader failed")
            results.append(NOTHING)
    return results


def _bytes(source: bytes | FilePart) -> bytes:
    """In the pool process: the document's bytes (decoded here when the bot sent its place)."""
    return source.read() if isinstance(source, FilePart) else source


def _read_one(data: bytes, filename: str, carried, ocr: OcrLimits, pdf: PdfLimits, priced: bool = True) -> Read:
    """Every failure becomes a value, so nothing but a crash crosses back to the bot."""
    try:
        return read_bill_document(data, filename, carried, ocr=ocr, pdf=pdf, priced=priced)
    except DocumentUnreadable as exc:
        return exc
    except MemoryError:
        return DocumentUnreadable("it needs more memory to read than a bill may")
    except Exception:  # a reader's bug on a strange file: this file is unreadable, the bot goes on
        log.exception("reader failed")
        return DocumentUnreadable("it could not be read")


@dataclass(frozen=True)
class BillInput:
    """What a message brings as a bill, before the order is known."""

    sheet: BillSheet | None = None  # the bot's own sheet, read strictly
    filename: str = ""  # the sheet's, or the first bill document's, name
    readings: tuple[DocumentReading, ...] = ()  # the supplier's own documents that hold lines
    originals: tuple[AnyAttachment, ...] = ()  # the files those readings came from
    error: errors.UserError | None = None
    not_documents: frozenset[str] = frozenset()  # sheets and CSVs: never kept as scans

    @property
    def order_ref(self) -> str | None:
        if self.sheet is not None:
            return self.sheet.order_ref
        return next((r.order_ref for r in self.readings if r.order_ref), None)


COUNTING = (CommandKind.DELIVERED, CommandKind.RECEIVED)  # their documents are delivery notes: no prices


def bill_input(readers: Readers, attachments: Sequence[AnyAttachment], command: CommandKind) -> BillInput:
    files = bill_files(attachments, command)
    priced = command not in COUNTING
    if len(files.sheets) > 1:
        return BillInput(error=errors.TooManySheets(filenames=tuple(a.filename for a in files.sheets)),
                         not_documents=frozenset(a.filename for a in files.sheets))
    if files.sheets:
        return _sheet_input(files.sheets[0], priced)
    return _documents_input(readers, files.slow, priced)


def _sheet_input(attachment: AnyAttachment, priced: bool = True) -> BillInput:
    """Our own sheet strictly, as a bill; any other sheet or CSV, and any sheet as a delivery note
    (a "Delivered" column added to ours counts), by the intake."""
    name, kept = attachment.filename, frozenset([attachment.filename])
    try:
        own = read_own_sheet(attachment) if looks_like_sheet(attachment) and priced else None
    except SheetInvalid as invalid:
        return BillInput(filename=name, error=errors.SheetProblems(filename=name, problems=invalid.problems),
                         not_documents=kept)
    if own is not None:
        return BillInput(sheet=own, filename=name, not_documents=kept)
    result = _read_one(attachment.data, name, None, OcrLimits(), PdfLimits(), priced)  # sheets and CSV: quick
    if isinstance(result, DocumentUnreadable):
        return BillInput(filename=name, error=errors.SheetProblems(filename=name, problems=(Problem(str(result)),)),
                         not_documents=kept)
    if not result.is_bill:
        return BillInput(filename=name, error=errors.SheetProblems(filename=name, problems=(Problem(NO_TABLE),)),
                         not_documents=kept)
    return BillInput(filename=name, readings=(result,), originals=(attachment,), not_documents=kept)


NO_TABLE = ("no table of bill lines was found: no row names a quantity, a unit price or amount, "
            "and a description or article number")


def _documents_input(readers: Readers, documents: Sequence[AnyAttachment], priced: bool = True) -> BillInput:
    """PDFs and images: the ones with a table of lines are the bill; the others stay scans."""
    results = [(a, readers.read(a, priced)) for a in documents]
    unreadable = tuple((a.filename, str(r)) for a, r in results if isinstance(r, DocumentUnreadable))
    if unreadable:
        return BillInput(error=errors.DocumentsUnreadable(unreadable=unreadable))
    bills = [(a, r) for a, r in results if isinstance(r, DocumentReading) and r.is_bill]
    if not bills:
        return BillInput()
    return BillInput(filename=bills[0][0].filename, readings=tuple(r for _, r in bills),
                     originals=tuple(a for a, _ in bills))
