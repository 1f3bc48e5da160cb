"""A large reply through the whole bot process: fetch, parse, store, answer, send.

    python -m bench.large_mail [--cases scan_25mb scans_35mb]

Starts the dev mail system (Dovecot + the SMTP relay), creates an order, and has
the supplier reply with the bill sheet and large scans (the same messages as
bench/hostile.py). Then one `supplierbot poll --once` runs as a process of its
own: it fetches the reply over IMAP, processes it, and sends the buyer the
approval request with the scans attached (and the supplier the answer). Its
peak RSS (wait4) is the bot's process; no reader pool process is started (a
sheet came with the scans, so the PDFs are documents, not read as the bill).
It is started by a small launcher process that was started before anything
else: Linux keeps a parent's peak RSS in a forked and exec'd child's figure,
and the parent here holds the SMTP relay and the test mail.
The buyer's copy of each scan is checked byte for byte.
"""
from __future__ import annotations

import argparse
import email
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from email import policy
from pathlib import Path

CASES = {"scan_25mb": (25 * 1024 * 1024 - 9,), "scans_35mb": (13_450_000, 13_450_000)}


def launcher() -> None:
    """Run each command read from stdin; answer with its exit code, peak RSS (kB) and seconds."""
    for line in sys.stdin:
        started = time.perf_counter()
        process = subprocess.Popen(json.loads(line), stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, time.perf_counter() - started, flush=True)


def run_case(server, launch: subprocess.Popen, case: str, n: int) -> str:
    from bot.app import build_app
    from bot.config import load_config
    from bot.devmail.clients import Party
    from bot.orders import NewOrder, create_order
    from bot.runner import poll_once
    from parsers.records import Line
    from tests.conftest import write_config

    folder = Path(tempfile.mkdtemp(prefix="large-mail-"))
    bot, supplier, buyer = f"bot{n}@example.test", f"sales{n}@supplier.test", f"buyer{n}@example.test"
    config = write_config(folder, bot, server)
    app = build_app(load_config(config))
    line = Line("BLT-M8", "Hex bolt", Decimal(500), "pcs", Decimal("0.12"), Decimal(19))
    ref = create_order(app, NewOrder(supplier, (buyer,), (line,)))
    poll_once(app)
    app.readers.close()
    seller = Party(supplier, server.imap_port, server.smtp_port)
    new_order = seller.wait_for(f"[{ref}] New order")
    sheet = new_order.attachment(".xlsx")
    assert sheet is not None
    scans = [b"%PDF-1.4\n" + os.urandom(size) for size in CASES[case]]
    seller.reply(new_order, "SEND", attachments=(sheet, *((f"scan{i}.pdf", s) for i, s in enumerate(scans))))
    del new_order
    assert launch.stdin is not None and launch.stdout is not None
    launch.stdin.write(json.dumps([sys.executable, "-c", "from bot.cli import main; main()", "--config", str(config),
                                   "poll", "--once"]) + "\n")
    launch.stdin.flush()
    code, peak_kb, elapsed = launch.stdout.readline().split()
    if code != "0":
        return f"{case:<11} FAILED"
    request = Party(buyer, server.imap_port, server.smtp_port).wait_for("for approval", timeout=60)
    sent = email.message_from_bytes(request.raw, policy=policy.default)
    received = [part.get_content() for part in sent.iter_attachments() if part.get_filename().endswith(".pdf")]
    intact = "scans intact" if received == scans else "SCANS DIFFER"
    return (f"{case:<11} {len(request.raw) / 1048576:>7.1f}MB {int(peak_kb) / 1024:>7.0f}MB "
            f"{float(elapsed):>6.1f}s  {intact}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--launcher", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.launcher:
        launcher()
        return
    from bot.devmail import PASSWORD, LocalMailServer

    os.environ["TEST_IMAP_PASSWORD"] = PASSWORD  # the bot's IMAP password, for the launcher's children
    launch = subprocess.Popen([sys.executable, "-m", "bench.large_mail", "--launcher"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    print(f"{'case':<11} {'to buyer':>9} {'bot RSS':>9} {'poll':>7}")
    with LocalMailServer() as server:
        for n, case in enumerate(args.cases, 1):
            print(run_case(server, launch, case, n), flush=True)
    launch.stdin.close()
    launch.wait()


if __name__ == "__main__":
    main()
