"""Latency: from a supplier's SMTP send to the bot's answer in the supplier's mailbox, under IDLE.

    python -m bench.latency --replies 100

Runs `supplierbot run` as a process (scheduled poll every 10 minutes, so only
IMAP IDLE can explain a quick answer), then sends replies one at a time, each
with a filled bill sheet, and waits for the "draft received" answer to land
in the supplier's INBOX (watched with STATUS every 20 ms). Prints p50 and p99.
"""
from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

from bench.killtest import LINES, write_config
from bot.app import build_app
from bot.config import load_config
from bot.devmail import PASSWORD, LocalMailServer
from bot.devmail.clients import Party
from bot.orders import NewOrder, create_order
from bot.runner import poll_once
from parsers.bill_sheet import SheetHeader, write_bill_sheet

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=100)
    args = parser.parse_args()
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
