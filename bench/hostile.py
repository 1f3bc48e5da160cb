"""Hostile input through the pipeline: peak memory (RSS) and time per case.

    python -m bench.hostile

Each case is one supplier email, streamed to disk as the IMAP fetch does, then
processed by `bot.pipeline.process` (ledger, parse, sheet reading, answers
composed into the outbox) in a fresh process, so its peak RSS is its own (read
from the kernel with wait4): the bot's process, not the reader pool's (no case
here reaches the pool: a sheet came with the scans). Targets: under 150 MB and 2 s.
`--tracemalloc` adds the peak of Python's own allocations during `process`.
  baseline   an ordinary reply with a 20-row bill sheet
  zip_bomb   an .xlsx whose sheet expands to 1 GB of zeros
  xml_bomb   an .xlsx whose sheet declares "billion laughs" entities
  big_50mb   a 50 MB attachment
  scan_25mb  a 25 MB scan (PDF) with the bill sheet: ~34 MB as sent, accepted by the defaults
  scans_35mb two 13.4 MB scans with the bill sheet: 35 MB as sent, accepted by the defaults
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

CASES = ("baseline", "zip_bomb", "xml_bomb", "big_50mb", "scan_25mb", "scans_35mb")
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _sheet() -> bytes:
    from parsers.bill_sheet import SheetHeader, write_bill_sheet
    from parsers.records import Line

    lines = [Line(f"S{n}", "part", Decimal(n + 1), "pcs", Decimal("1.5"), Decimal(19)) for n in range(20)]
    return write_bill_sheet(SheetHeader("PO-2026-0001", "ACME", "s@supplier.test", "EUR"), lines)


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(1024):
                sheet.write(b"\0" * (1024 * 1024))
    return out.getvalue()


def _xml_bomb() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "' + ("&lol;" if i == 1 else f"&lol{i - 1};") * 10 + '">' for i in range(1, 10))
    source = zipfile.ZipFile(io.BytesIO(_sheet()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            body = source.read(item.filename)
            if b"<t>Bill for order</t>" in body:  # the sheet itself, or its shared strings
                text = body.decode()
                root = text[text.index("?>") + 2:].lstrip()
                name = root[1:].split(" ", 1)[0].split(">", 1)[0]
                text = root.replace("<t>Bill for order</t>", "<t>&lol9;</t>", 1)
                body = f'<?xml version="1.0"?><!DOCTYPE {name} [{entities}]>{text}'.encode()
            archive.writestr(item, body)
    return out.getvalue()


def message(case: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"] = "sales@supplier.test", "bot@example.test"
    mail["Subject"], mail["Message-ID"] = f"Re: [PO-2026-0001] {case}", f"<{case}@supplier.test>"
    mail.set_content("SEND")
    if case == "big_50mb":
        mail.add_attachment(os.urandom(50 * 1024 * 1024), maintype="application", subtype="pdf", filename="big.pdf")
    elif case == "scan_25mb":
        scan = b"%PDF-1.4\n" + os.urandom(25 * 1024 * 1024 - 9)
        mail.add_attachment(scan, maintype="application", subtype="pdf", filename="scan.pdf")
        mail.add_attachment(_sheet(), maintype=XLSX[0], subtype=XLSX[1], filename="PO-2026-0001-bill.xlsx")
    elif case == "scans_35mb":
        for n in (1, 2):
            scan = b"%PDF-1.4\n" + os.urandom(13_450_000)
            mail.add_attachment(scan, maintype="application", subtype="pdf", filename=f"scan{n}.pdf")
        mail.add_attachment(_sheet(), maintype=XLSX[0], subtype=XLSX[1], filename="PO-2026-0001-bill.xlsx")
    else:
        data = {"baseline": _sheet, "zip_bomb": _zip_bomb, "xml_bomb": _xml_bomb}[case]()
        mail.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename="bill.xlsx")
    return mail.as_bytes()


def child(case: str, folder: Path, trace: bool) -> None:
    """Process the message the parent wrote (building it here would count towards our RSS)."""
    from bot.app import build_app
    from bot.config import parse_config
    from bot.orders import NewOrder, create_order
    from bot.pipeline import Source, process
    from parsers.records import Line
    from storage.files import RawMessage

    config = parse_config({"bot": {"address": "bot@example.test", "customer_name": "ACME"},
                           "imap": {"host": "127.0.0.1"}, "smtp": {"host": "127.0.0.1"}}, folder)
    app = build_app(config)
    line = Line("S1", "part", Decimal(1), "pcs", Decimal(1), Decimal(19))
    create_order(app, NewOrder("sales@supplier.test", ("buyer@example.test",), (line,), ref="PO-2026-0001"))
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with open(folder / "message.eml", "rb") as source:  # to disk a megabyte at a time, as the fetch does
        digest, path, size = app.files.save_chunks(iter(lambda: source.read(1 << 20), b""), "raw", sync=False)
    outcome = process(app, Source("bench", "INBOX", 1, 1), RawMessage(digest, path, size))
    elapsed = time.perf_counter() - started
    heap = tracemalloc.get_traced_memory()[1] >> 20 if trace else -1
    assert outcome is not None
    print(f"{elapsed:.3f}\t{size >> 10}\t{heap}\t{outcome.disposition}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--write", action="store_true", help="only write the case's message into --dir")
    parser.add_argument("--tracemalloc", action="store_true", help="also print the peak of Python's allocations")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    args = parser.parse_args()
    if args.case and args.write:
        (args.dir / "message.eml").write_bytes(message(args.case))
        return
    if args.case:
        child(args.case, args.dir, args.tracemalloc)
        return
    print(f"{'case':<10} {'message':>10} {'peak RSS':>9} {'py heap':>8} {'time':>8}  outcome")
    for case in args.cases:
        with tempfile.TemporaryDirectory() as folder:
            # built in a process of its own: a forked child's peak RSS would include ours
            subprocess.run([sys.executable, "-m", "bench.hostile", "--case", case, "--dir", folder, "--write"],
                           check=True)
            process = subprocess.Popen([sys.executable, "-m", "bench.hostile", "--case", case, "--dir", folder,
                                        *(["--tracemalloc"] if args.tracemalloc else [])],
                                       stdout=subprocess.PIPE, text=True)
            output = process.stdout.read() if process.stdout else ""
            _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            print(f"{case:<10} FAILED")
            continue
        seconds, size_kb, heap, outcome = output.strip().split("\t")
        heap = f"{heap}MB" if int(heap) >= 0 else "-"
        print(f"{case:<10} {int(size_kb) / 1024:>8.1f}MB {usage.ru_maxrss / 1024:>7.0f}MB {heap:>8} "
              f"{float(seconds):>7.2f}s  {outcome}")


if __name__ == "__main__":
    main()
