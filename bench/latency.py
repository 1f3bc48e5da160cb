"""Latency: from a supplier's SMTP send to the bot's answer in the supplier's mailbox, under IDLE.

    python -m bench.latency --replies 100

Runs `supplierbot run` as a process (scheduled poll every 10 minutes, so only
IMAP IDLE can explain a quick answer), then sends replies one at a time, each
with a filled bill sheet, and waits for the "draft received" answer to land
in the supplier's INBOX (watched with STATUS every 20 ms). Prints p50 and p99.

    python -m bench.latency --scans 20 --quick 50

Latency under slow work: 20 scanned bills (images read with OCR) and 50 quick
replies (each a filled bill sheet for its own order) are sent together, the
scans first; the time from each quick reply's SMTP send to its answer in the
supplier's INBOX is measured while the scans are still being read. Prints the
quick answers' p50/p99/max, when the scans' answers came, and the peak memory
of every process of the bot (the bot, its reader pool, tesseract).
"""
from __future__ import annotations

import argparse
import mimetypes
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import make_msgid
from pathlib import Path

from imapclient import IMAPClient
from sqlmodel import select, update

from bench.procs import TreePeaks

from bench.killtest import BOT, LINES, write_config
from bot.app import App, build_app
from bot.config import load_config
from bot.devmail import PASSWORD, LocalMailServer
from bot.devmail.clients import Party
from bot.orders import NewOrder, create_order
from bot.runner import poll_once
from bot.tokens import reply_address
from parsers.bill_sheet import SheetHeader, write_bill_sheet
from storage import queries
from storage.db import session
from storage.models import InboundMessage, OutboxMessage, OutboxStatus, ReplyToken

SUPPLIER = "sales@supplier.test"


def inbox_count(client: IMAPClient) -> int:
    return int(client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"])


def measure(server: LocalMailServer, config: Path, replies: int) -> list[float]:
    app = build_app(load_config(config))
    ref = create_order(app, NewOrder(SUPPLIER, ("buyer@example.test",), LINES))
    poll_once(app)
    supplier = Party(SUPPLIER, server.imap_port, server.smtp_port)
    order_mail = supplier.wait_for(f"[{ref}] New order")
    sheet = write_bill_sheet(SheetHeader(ref, "ACME GmbH", SUPPLIER, "EUR"), LINES)
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "run"])
    latencies = []
    try:
        time.sleep(2.0)  # start-up and the first poll
        with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as watch:
            watch.login(SUPPLIER, PASSWORD)
            for _ in range(replies):
                before = inbox_count(watch)
                message = supplier.reply_message(order_mail, "", attachments=((f"{ref}-bill.xlsx", sheet),))
                started = time.perf_counter()
                supplier.send(message)
                while inbox_count(watch) == before:
                    if time.perf_counter() - started > 30:
                        raise SystemExit("no answer within 30 s")
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - started)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=30)
    return latencies


def _reply_to(app: App, order_ref: str, text: str, attachments: tuple[tuple[str, bytes], ...]) -> EmailMessage:
    with session(app.engine) as s:
        order = queries.order_by_ref(s, order_ref)
        assert order is not None
        token = s.exec(select(ReplyToken).where(ReplyToken.order_id == order.id,
                                                ReplyToken.audience == "supplier")).first()
    assert token is not None
    message = EmailMessage()
    message["From"], message["To"] = SUPPLIER, reply_address(BOT, token.token)
    message["Subject"], message["Message-ID"] = f"Re: [{order_ref}] New order", make_msgid(domain="supplier.test")
    message.set_content(text)
    for filename, data in attachments:
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        message.add_attachment(data, maintype=kind.split("/")[0], subtype=kind.split("/")[1], filename=filename)
    return message


def _arrivals(watch: IMAPClient, seen: set[int]) -> dict[str, float]:
    """Order refs of the answers that arrived since the last look, with the time they were seen."""
    watch.noop()
    new = [uid for uid in watch.search(["ALL"]) if uid not in seen]
    now = time.time()
    found = {}
    for uid, data in watch.fetch(new, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).items():
        seen.add(uid)
        header = BytesHeaderParser(policy=policy.default).parsebytes(bytes(data.get(b"BODY[HEADER.FIELDS (SUBJECT)]", b"")))
        subject = str(header["Subject"] or "")
        ref = re.search(r"\[(PO-[^\]]+)\]", subject)
        if ref:
            found[ref.group(1)] = now
    return found


def under_slow_work(server: LocalMailServer, config: Path, scans: int, quick: int) -> None:
    from tests.billgen import make_bill

    app = build_app(load_config(config))
    bills = [make_bill("scan", seed) for seed in range(scans)]
    scan_refs = [create_order(app, NewOrder(SUPPLIER, ("buyer@example.test",), bill.order_lines, ref=bill.order_ref))
                 for bill in bills]
    quick_refs = [create_order(app, NewOrder(SUPPLIER, ("buyer@example.test",), LINES)) for _ in range(quick)]
    with session(app.engine) as s:  # the new-order emails are not what is measured
        s.exec(update(OutboxMessage).values(status=OutboxStatus.SENT))
        s.commit()
    scan_mail = [_reply_to(app, ref, "Our bill, scanned", bill.files) for ref, bill in zip(scan_refs, bills)]
    quick_mail = [_reply_to(app, ref, "Our bill", ((f"{ref}-bill.xlsx", write_bill_sheet(
        SheetHeader(ref, "ACME GmbH", SUPPLIER, "EUR"), LINES)),)) for ref in quick_refs]
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "run"])
    peaks = TreePeaks(bot.pid).start()
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    try:
        time.sleep(3.0)  # start-up and the first poll
        with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as watch, \
                smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
            watch.login(SUPPLIER, PASSWORD)
            watch.select_folder("INBOX", readonly=True)
            seen = set(watch.search(["ALL"]))
            for ref, message in [*zip(scan_refs, scan_mail), *zip(quick_refs, quick_mail)]:
                smtp.send_message(message)
                sent[ref] = time.time()
            deadline = time.time() + 300
            while len(answered) < scans + quick and time.time() < deadline:
                answered.update({ref: at for ref, at in _arrivals(watch, seen).items() if ref not in answered})
                time.sleep(0.02)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=60)
        peaks.stop()
    quick_latency = sorted(answered[ref] - sent[ref] for ref in quick_refs if ref in answered)
    scan_latency = sorted(answered[ref] - sent[ref] for ref in scan_refs if ref in answered)
    last_quick = max((answered[ref] for ref in quick_refs if ref in answered), default=0.0)
    reading = sum(1 for ref in scan_refs if answered.get(ref, float("inf")) > last_quick)
    print(f"quick replies answered {len(quick_latency)} of {quick}: p50 {statistics.median(quick_latency):.2f} s, "
          f"p99 {_p99(quick_latency):.2f} s, max {quick_latency[-1]:.2f} s (targets p50 ≤ 1 s, p99 ≤ 3 s)")
    print(f"scanned bills answered {len(scan_latency)} of {scans}: first {scan_latency[0]:.1f} s, "
          f"median {statistics.median(scan_latency):.1f} s, last {scan_latency[-1]:.1f} s; "
          f"{reading} of them still unanswered when the last quick reply was answered")
    print(peaks.summary())
    print("quick replies, median seconds: " + _stages(app, quick_refs, sent, answered))


def _stages(app: App, refs: list[str], sent: dict[str, float], answered: dict[str, float]) -> str:
    """Where a quick reply's time went: to the ledger (IDLE, fetch), to its answer (queue, apply),
    to the SMTP server's 250 (send), to the supplier's INBOX (relay, delivery, our IMAP look)."""
    stages: dict[str, list[float]] = {"fetched": [], "applied": [], "sent": [], "in INBOX": []}
    with session(app.engine) as s:
        for ref in refs:
            order = queries.order_by_ref(s, ref)
            assert order is not None
            inbound = s.exec(select(InboundMessage).where(InboundMessage.order_id == order.id)).first()
            answer = s.exec(select(OutboxMessage).where(OutboxMessage.order_id == order.id,
                                                        OutboxMessage.purpose != "new_order")).first()
            if inbound is None or answer is None or answer.sent_at is None or ref not in answered:
                continue
            times = [sent[ref], inbound.received_at.timestamp(), answer.created_at.timestamp(),
                     answer.sent_at.timestamp(), answered[ref]]
            for name, (a, b) in zip(stages, zip(times, times[1:])):
                stages[name].append(b - a)
    return ", ".join(f"{name} +{statistics.median(v):.2f}" for name, v in stages.items() if v)


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, round(0.99 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--scans", type=int, default=0, help="latency under slow work: scanned bills (OCR) …")
    parser.add_argument("--quick", type=int, default=50, help="… and quick replies sent with them")
    args = parser.parse_args()
    if args.scans:
        with LocalMailServer() as server, tempfile.TemporaryDirectory() as folder:
            config = write_config(Path(folder), server)
            config.write_text(config.read_text().replace('customer_name = "ACME GmbH"', 'customer_name = "ACME GmbH"\n'
                                                         'poll_interval_seconds = 600\n'
                                                         'error_replies_per_sender_per_day = 1000'))
            under_slow_work(server, config, args.scans, args.quick)
        return
    with LocalMailServer() as server, tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), server)
        config.write_text(config.read_text().replace('customer_name = "ACME GmbH"',
                                                     'customer_name = "ACME GmbH"\npoll_interval_seconds = 600'))
        latencies = sorted(measure(server, config, args.replies))
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
    print(f"replies {len(latencies)}: p50 {p50:.2f} s, p99 {p99:.2f} s, max {latencies[-1]:.2f} s "
          f"(targets p50 ≤ 1 s, p99 ≤ 3 s)")


if __name__ == "__main__":
    main()
