"""Throughput: the bot against the raw limit (IMAP fetch + mail-parser) on the same mailbox.

    python -m bench.throughput --orders 2000

Fills the bot's INBOX (Dovecot, as in the tests) with one supplier reply per
order, each carrying a filled xlsx bill. Times, in one run:
  raw  — fetching every message with imapclient (BODY.PEEK[], batches of 100)
         and parsing it with mail-parser (attachments decoded);
  bot  — `supplierbot poll --once` as a separate process: fetch, ledger,
         sheet parsing, draft revisions, queued answers, and sending every
         answer over SMTP; its peak RSS is read from the kernel (wait4).
  send — the bot's own answers (the same bytes) delivered again over SMTP with
         the same number of parallel connections and nothing else: what the
         local mail system (aiosmtpd relay → Dovecot LMTP) can take, which
         bounds any rate that includes sending.
Prints the rates, the ratios, and the bot's peak memory.

    python -m bench.throughput --orders 1000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --workers 1 2

also runs `supplierbot run --workers N` against a fresh PostgreSQL database (made and
dropped on that server) and a fresh mailbox per N, and prints the rate from the first
message fetched to the last answer accepted by SMTP, the ratio to one worker, and the
peak memory of every process (bot processes, reader pools).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import mailparser
from imapclient import IMAPClient
from sqlmodel import func, select, update

from bench.killtest import BOT, write_config
from bench.procs import CpuAccount, TreePeaks
from bot.app import App, build_app
from bot.config import load_config
from bot.devmail import PASSWORD, LocalMailServer
from bot.orders import NewOrder, create_order
from bot.tokens import reply_address
from parsers.bill_sheet import SheetHeader, write_bill_sheet
from parsers.records import Line
from storage.db import session
from storage.models import InboundMessage, OutboxMessage, OutboxStatus, ReplyToken

LINES = tuple(Line(f"SKU-{n:03d}", f"Part number {n}", Decimal(10 + n), "pcs", Decimal("1.25") + n, Decimal(19))
              for n in range(20))


def create_orders(app: App, count: int) -> list[tuple[int, str, str]]:
    """(order id, supplier, token) per order; their new-order emails are marked sent (not measured)."""
    for n in range(count):
        create_order(app, NewOrder(f"sales{n % 50}@supplier.test", (f"buyer{n % 10}@example.test",), LINES))
    with session(app.engine) as s:
        s.exec(update(OutboxMessage).values(status=OutboxStatus.SENT))
        s.commit()
        tokens = s.exec(select(ReplyToken).where(ReplyToken.audience == "supplier").order_by(ReplyToken.order_id))
        return [(t.order_id, f"sales{(t.order_id - 1) % 50}@supplier.test", t.token) for t in tokens]


def replies(orders: list[tuple[int, str, str]]) -> list[bytes]:
    """A supplier's reply per order: ~20 KB with a 20-row sheet (prices changed on every line)."""
    priced = [Line(l.sku, l.description, l.quantity, l.unit, l.unit_price + Decimal("0.10"), l.tax_rate) for l in LINES]
    sheet = write_bill_sheet(SheetHeader("", "ACME GmbH", "", "EUR"), priced)
    messages = []
    for order_id, supplier, token in orders:
        message = EmailMessage()
        message["From"], message["To"] = supplier, reply_address(BOT, token)
        message["Subject"], message["Message-ID"] = f"Re: order {order_id}", make_msgid(domain="supplier.test")
        message.set_content("Here is our bill.\n\nBest regards\nSales\n\n" + "> quoted order text\n" * 80)
        message.add_attachment(sheet, maintype="application",
                               subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename="bill.xlsx")
        messages.append(message.as_bytes())
    return messages


def fill(server: LocalMailServer, messages: list[bytes]) -> None:
    with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
        client.login(BOT, PASSWORD)
        for start in range(0, len(messages), 100):
            client.multiappend("INBOX", messages[start:start + 100])


def raw_limit(server: LocalMailServer) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
        client.login(BOT, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search()
        for start in range(0, len(uids), 100):
            for data in client.fetch(uids[start:start + 100], ["BODY.PEEK[]"]).values():
                mail = mailparser.parse_from_bytes(data[b"BODY[]"])
                for attachment in mail.attachments:
                    base64.b64decode(attachment["payload"])
                count += 1
    return count, time.perf_counter() - started


def bot_run(config: Path) -> tuple[float, int, str, CpuAccount]:
    """Seconds, peak RSS (KiB), the printed summary and the machine's CPU of one `poll --once` process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "poll", "--once"],
                               stdout=subprocess.PIPE, text=True)
    cpu = CpuAccount(process.pid).start()
    assert process.stdout is not None
    summary = process.stdout.read().strip()
    cpu.stop()  # before the wait: the bot's CPU is read while its /proc entry is there
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the bot's poll failed: {summary}")
    return elapsed, usage.ru_maxrss, summary, cpu


def send_limit(app: App, answers: list[tuple[list[str], bytes]]) -> tuple[float, CpuAccount]:
    """Seconds to deliver the answers again, and the machine's CPU meanwhile: SMTP alone, over the
    bot's number of connections (the client runs in the bench's process, beside the relay)."""
    async def lane(batch: list[tuple[list[str], bytes]]) -> None:
        async with aiosmtplib.SMTP(hostname=app.config.smtp.host, port=app.config.smtp.port) as smtp:
            for recipients, raw in batch:
                await smtp.sendmail(BOT, recipients, raw)

    async def all_lanes() -> None:
        lanes = app.config.smtp.connections
        await asyncio.gather(*(lane(answers[n::lanes]) for n in range(lanes)))

    cpu = CpuAccount(-1).start()
    started = time.perf_counter()
    asyncio.run(all_lanes())
    seconds = time.perf_counter() - started
    return seconds, cpu.stop()


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"supplierbot_bench_{uuid.uuid4().hex[:12]}"
    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def answers_sent(app: App) -> int:
    with session(app.engine) as s:
        return int(s.exec(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.purpose != "new_order")).one())


def workers_run(config: Path, app: App, workers: int, expected: int) -> tuple[float, TreePeaks]:
    """`run --workers N` until every answer is sent: seconds from the first fetch to the last answer accepted."""
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "run", "--workers",
                                str(workers)], stdout=subprocess.DEVNULL)
    peaks, cpu = TreePeaks(process.pid).start(), CpuAccount(process.pid).start()
    deadline = time.monotonic() + 1800
    try:
        while answers_sent(app) < expected:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"run --workers {workers}: {answers_sent(app)} of {expected} answers sent")
            time.sleep(0.2)
    finally:
        cpu.stop()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        peaks.stop()
    with session(app.engine) as s:
        first = s.exec(select(func.min(InboundMessage.received_at))).one()
        last = s.exec(select(func.max(OutboxMessage.sent_at)).where(OutboxMessage.purpose != "new_order")).one()
    return (last - first).total_seconds(), peaks, cpu


@contextmanager
def _sqlite() -> Iterator[str]:
    yield "sqlite:///bot.db"


@contextmanager
def filled(orders: int, postgres: str = "") -> Iterator[tuple[Path, App]]:
    """A mail server, and a bot (its config file, and the bot; SQLite, or a fresh database on the
    PostgreSQL server at `postgres`) with `orders` orders whose sheet replies wait in its INBOX."""
    with LocalMailServer() as server, tempfile.TemporaryDirectory() as folder, \
            (scratch_database(postgres) if postgres else _sqlite()) as url:
        config = write_config(Path(folder), server)
        config.write_text(config.read_text().replace('"sqlite:///bot.db"', f'"{url}"'))
        app = build_app(load_config(config))
        print(f"setting up {orders} orders and replies …", file=sys.stderr)
        fill(server, replies(create_orders(app, orders)))
        try:
            yield config, app
        finally:
            app.engine.dispose()


def run_rates(admin_url: str, orders: int, worker_counts: list[int]) -> None:
    """`run --workers N` on PostgreSQL (a database per N on the server at `admin_url`), or, with
    no URL, `run` on SQLite: the worker and the sender of one process side by side."""
    rates: dict[int, float] = {}
    store = "PostgreSQL" if admin_url else "SQLite"
    for workers in worker_counts:
        print(f"{store}, {workers} worker(s):", file=sys.stderr)
        with filled(orders, admin_url) as (config, app):
            seconds, peaks, cpu = workers_run(config, app, workers, orders)
        rates[workers] = orders / seconds
        print(f"{store}, run --workers {workers}: {rates[workers]:,.1f} msg/s ({orders} sheet replies in "
              f"{seconds:.1f} s, first fetch to last answer sent); {peaks.summary()}")
        print(f"  {cpu.summary(orders)}")
    if len(rates) > 1:
        one = rates[min(rates)]
        print("ratio to one worker: " + ", ".join(f"{n} workers {rate / one:.2f}×" for n, rate in rates.items()
                                                   if n != min(rates)) + "  (target for 2: ≥ 1.5×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server's URL (a database is made on it per run)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--sqlite-run", action="store_true", help="also `run` on SQLite (sender alongside the worker)")
    args = parser.parse_args()
    if not args.skip_sqlite:
        sqlite_rates(args.orders)
    if args.sqlite_run:
        run_rates("", args.orders, [1])
    if args.postgres:
        run_rates(args.postgres, args.orders, args.workers)


def sqlite_rates(orders_count: int) -> None:
    with LocalMailServer() as server, tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), server)
        app = build_app(load_config(config))
        print(f"setting up {orders_count} orders and replies …", file=sys.stderr)
        orders = create_orders(app, orders_count)
        messages = replies(orders)
        fill(server, messages)
        size = sum(map(len, messages)) // len(messages)
        count, raw_seconds = raw_limit(server)
        bot_seconds, peak_kib, summary, bot_cpu = bot_run(config)
        with session(app.engine) as s:
            applied = len(s.exec(select(InboundMessage.id)).all())
            sent = len(s.exec(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENT)).all())
            answers = [(row.recipients.split(","), row.raw) for row in
                       s.exec(select(OutboxMessage).where(OutboxMessage.purpose != "new_order"))]
        send_seconds, send_cpu = send_limit(app, answers)
    raw_rate, bot_rate, send_rate = count / raw_seconds, applied / bot_seconds, len(answers) / send_seconds
    timing = re.search(r"processing ([\d.]+) s, sending ([\d.]+) s", summary)
    processing, sending = (float(timing.group(1)), float(timing.group(2))) if timing else (0.0, 0.0)
    print(f"SQLite, one process: {count} sheet replies of ~{size // 1024} KB with a 20-row xlsx; bot applied "
          f"{applied}, sent {sent - orders_count} answers")
    print(f"raw limit (imapclient fetch + mail-parser): {raw_rate:,.0f} msg/s ({raw_seconds:.1f} s)")
    print(f"SMTP delivery alone, same answers, {app.config.smtp.connections} connections: {send_rate:,.0f} msg/s")
    print(f"  {send_cpu.summary(len(answers))}")
    print(f"bot (poll --once, including sending answers): {bot_rate:,.0f} msg/s ({bot_seconds:.1f} s, "
          f"start-up included)")
    print(f"  the bot's own account: {summary}")
    print(f"  processing (fetch, queue, apply; answers sent meanwhile) {processing * 1000 / applied:.1f} ms a message "
          f"(target ≤ 5); sending left after it {sending * 1000 / applied:.1f} ms a message")
    print(f"  {bot_cpu.summary(applied)}")
    print(f"ratio bot/SMTP alone: {bot_rate / send_rate:.2f}  (target ≥ 0.5); bot/raw {bot_rate / raw_rate:.2f}")
    print(f"bot peak RSS: {peak_kib / 1024:.0f} MB")


if __name__ == "__main__":
    main()
