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
import os
import resource
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
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


@dataclass(eq=False)
class Reading:
    """One job for the pool: documents read together (a bill over several photos), kept by hash when done."""

    kind: str  # bill | count | invoice
    function: Callable
    todo: list[AnyAttachment]
    future: Future | None = None
    pool: ProcessPoolExecutor | None = None
    deadline: float = 0.0
    results: list | None = None


class Readers:
    """Reads documents in a pool of processes; results kept by content hash until taken.

    Jobs wait in a queue of our own and go to the pool only when a process is free, so each
    job's time limit starts when its reading does. `start` returns at once (the caller looks
    at `done` later: quick messages pass a scan); `prepare` and `read` wait.
    """

    def __init__(self, settings: ReadingSettings = ReadingSettings()) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._done: dict[tuple[str, str], Read | InvoiceFacts] = {}
        self._waiting: deque[Reading] = deque()
        self._running: list[Reading] = []
        self._lock = threading.RLock()  # the workers, the poll and a scheduled retry may read at the same time

    def start(self, attachments: Sequence[AnyAttachment], priced: bool = True) -> Reading | None:
        """Begin reading these (in order, as one job: a bill over two photos needs the first
        photo's header to read the second); None when all were read already.
        `priced=False`: delivery notes (quantities, no prices)."""
        kind = "bill" if priced else "count"
        todo = [a for a in attachments if (kind, a.sha256) not in self._done]
        return self._queue(Reading(kind, _read_priced if priced else _read_counted, todo)) if todo else None

    def start_invoice(self, attachment: AnyAttachment) -> Reading | None:
        if ("invoice", attachment.sha256) in self._done:
            return None
        return self._queue(Reading("invoice", _read_invoices, [attachment]))

    def done(self, reading: Reading) -> bool:
        with self._lock:
            self._pump()
            return reading.results is not None

    def wait_any(self, readings: Sequence[Reading], timeout: float) -> None:
        """Until one of these readings finishes, runs out of time, or `timeout`."""
        running = [r for r in readings if r.future is not None and r.results is None]
        if not running:
            time.sleep(min(timeout, 0.02))
            return
        until = min([time.monotonic() + timeout] + [r.deadline for r in running])
        wait_for([r.future for r in running if r.future is not None], timeout=max(0.0, until - time.monotonic()),
                 return_when=FIRST_COMPLETED)

    def prepare(self, attachments: Sequence[AnyAttachment], priced: bool = True) -> None:
        """Read these now (outside any transaction); `read` answers from what was kept."""
        reading = self.start(attachments, priced)
        if reading is not None:
            self._wait(reading)

    def read(self, attachment: AnyAttachment, priced: bool = True) -> Read:
        key = ("bill" if priced else "count", attachment.sha256)
        if key not in self._done:
            self.prepare([attachment], priced)
        result = self._done.pop(key)
        assert not isinstance(result, InvoiceFacts)
        return result

    def prepare_invoice(self, attachment: AnyAttachment) -> None:
        reading = self.start_invoice(attachment)
        if reading is not None:
            self._wait(reading)

    def invoice(self, attachment: AnyAttachment) -> InvoiceFacts:
        """Number, date, net, VAT and total of the invoice, read in the pool (NOTHING if unreadable)."""
        self.prepare_invoice(attachment)
        result = self._done.pop(("invoice", attachment.sha256))
        assert isinstance(result, InvoiceFacts)
        return result

    def _run(self, job_function: Callable, todo: list[AnyAttachment]) -> list:
        return self._wait(self._queue(Reading("", job_function, list(todo))))

    def _queue(self, reading: Reading) -> Reading:
        with self._lock:
            self._waiting.append(reading)
            self._pump()
        return reading

    def _wait(self, reading: Reading) -> list:
        while not self.done(reading):
            future = reading.future
            if future is not None:
                wait_for([future], timeout=max(0.01, min(1.0, reading.deadline - time.monotonic())))
            else:
                time.sleep(0.02)
        assert reading.results is not None
        return reading.results

    def _pump(self) -> None:
        """Settle what finished or ran out of time, then give free processes the next jobs."""
        for reading in list(self._running):
            if reading.future is not None and (reading.future.done() or time.monotonic() > reading.deadline):
                self._settle(reading)
        while self._waiting and len(self._running) < self.settings.processes:
            reading = self._waiting.popleft()
            reading.pool = self._executor()
            reading.future = reading.pool.submit(reading.function, [(a.part if isinstance(a, FileAttachment) else a.data, a.filename)
                                                  for a in reading.todo],
                                                 self.settings.ocr, self.settings.pdf)
            reading.deadline = time.monotonic() + self.settings.seconds_per_document * len(reading.todo)
            self._running.append(reading)

    def _settle(self, reading: Reading) -> None:
        self._running.remove(reading)
        assert reading.future is not None
        count = len(reading.todo)
        if not reading.future.done():
            limit = self.settings.seconds_per_document * count
            log.warning("reader timed out", extra={"files": count})
            self._restart()
            return self._keep(reading, [DocumentUnreadable(f"reading it took longer than {limit:.0f} s")] * count)
        try:
            return self._keep(reading, reading.future.result())
        except (BrokenProcessPool, MemoryError):
            if reading.pool is not self._pool:  # the pool was killed for another job's sake: read it again
                self._waiting.appendleft(reading)
                return None
            log.warning("reader crashed", extra={"files": count})
            self._restart()
            return self._keep(reading, [DocumentUnreadable("it could not be read: the reader gave up on it")] * count)

    def _keep(self, reading: Reading, results: list) -> None:
        reading.results = results
        for attachment, result in zip(reading.todo, results):
            if reading.kind == "invoice":
                result = result if isinstance(result, InvoiceFacts) else NOTHING
            if reading.kind:
                self._done[reading.kind, attachment.sha256] = result

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            # the readers' modules imported once, by the fork server, not by each reader as it starts
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(self.settings.processes, mp_context=context, initializer=_reader_setup)
        return self._pool

    def warm(self) -> None:
        """Start the reader processes now (a long-running bot, at its start): the first scan of a
        burst otherwise pays for them, a second of CPU each taken from the quick messages beside it."""
        with self._lock:
            pool = self._executor()
        for future in [pool.submit(os.getpid) for _ in range(self.settings.processes)]:
            future.result(timeout=120)

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


#: the readers' (and their tesseracts') nice increment: reading scans is background work that
#: takes whatever CPU the bot leaves, so quick messages are applied and sent at full speed
READER_NICENESS = 10


def _reader_setup() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (READER_MEMORY, READER_MEMORY))
    try:
        os.nice(READER_NICENESS)
    except OSError:  # not permitted here: readers run at the bot's priority
        pass


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
