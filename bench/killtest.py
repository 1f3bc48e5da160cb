"""Kill the bot with SIGKILL at random points while it works through a full mailbox; check the result.

    python -m bench.killtest --orders 100 --seed 1      # 200 inbound messages, 400 emails out

Each order gets two inbound messages: the supplier's filled sheet with SEND,
and a buyer's question. They arrive in the bot's INBOX in `--waves` parts, one
before each of the first rounds, so every run has work when it is killed.
`supplierbot poll --once` runs as a real process and is SIGKILLed after a
random delay, again and again, until one run after the last wave finishes on
its own. Afterwards
the database and the recipients' mailboxes (read over IMAP) must show every
message applied exactly once and every expected email delivered once. An
email re-sent after a kill that fell between the SMTP server's "250 OK" and
the mark that records it keeps its Message-ID; one composed twice would have
a new one: both are counted as delivered twice. The bot looks for its own
copy of such an email before sending it again; the report says how many
unsure emails it found that way and how many it sent again.
"""
from __future__ import annotations

import argparse
import sqlite3
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from decimal import Decimal
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from imapclient import IMAPClient
from sqlmodel import func, select

from bot.app import App, build_app
from bot.config import load_config
from bot.devmail import PASSWORD, LocalMailServer
from bot.orders import NewOrder, create_order
from bot.runner import poll_once
from bot.sendlog import FILENAME
from bot.tokens import reply_address
from parsers.bill_sheet import SheetHeader, write_bill_sheet
from parsers.records import Line
from storage.db import session
from storage.models import Comment, InboundMessage, InboundStatus, OutboxMessage, OutboxStatus, ReplyToken, Revision

BOT = "bot@example.test"
LINES = (Line("BLT-M8", "Hex bolt", Decimal(500), "pcs", Decimal("0.12"), Decimal(19)),
         Line("NUT-M8", "Hex nut", Decimal(500), "pcs", Decimal("0.04"), Decimal(19)))


@dataclass
class KillReport:
    orders: int
    inbound: int = 0
    rounds: int = 0
    kills: int = 0
    kills_mid_send: int = 0  # killed with an email on the wire
    applied_once: int = 0
    lost_inbound: int = 0
    double_effects: int = 0
    expected_emails: int = 0
    delivered_distinct: int = 0
    lost_emails: int = 0
    repeats_same_message_id: int = 0
    repeats_other_message_id: int = 0
    unsure_found: int = 0  # outcome unknown after a kill; the bot's copy was found: not sent again
    unsure_resent: int = 0  # outcome unknown; no copy within the wait: sent again
    seconds: float = 0.0
    drain_seconds: float = 0.0  # after the last run: unsure emails waiting for their copy
    problems: list[str] = field(default_factory=list)

    @property
    def delivered_twice(self) -> int:
        return self.repeats_same_message_id + self.repeats_other_message_id

    def lines(self) -> list[str]:
        return [f"orders {self.orders}, inbound messages {self.inbound}",
                f"rounds {self.rounds} (SIGKILLed {self.kills}, {self.kills_mid_send} with an email on the wire), "
                f"{self.seconds:.1f} s "
                f"(of which {self.drain_seconds:.1f} s draining the outbox after the last run)",
                f"inbound applied exactly once: {self.applied_once}/{self.inbound}; lost {self.lost_inbound}; "
                f"applied twice {self.double_effects}",
                f"emails expected {self.expected_emails}; delivered (distinct Message-ID) {self.delivered_distinct}; "
                f"lost {self.lost_emails}",
                f"delivered twice: {self.delivered_twice} (same Message-ID {self.repeats_same_message_id}, "
                f"another Message-ID {self.repeats_other_message_id})",
                f"unsure after a kill: {self.unsure_found + self.unsure_resent} (copy found, not re-sent "
                f"{self.unsure_found}; no copy, sent again {self.unsure_resent})",
                *[f"PROBLEM: {p}" for p in self.problems]]


def write_config(folder: Path, server: LocalMailServer, copy_wait: int = 60) -> Path:
    path = folder / "supplierbot.toml"
    path.write_text(f"""[bot]
address = "{BOT}"
customer_name = "ACME GmbH"
sent_copy_wait_seconds = {copy_wait}
[imap]
host = "127.0.0.1"
port = {server.imap_port}
security = "none"
username = "{BOT}"
password = "{PASSWORD}"
[smtp]
host = "127.0.0.1"
port = {server.smtp_port}
security = "none"
[storage]
database_url = "sqlite:///bot.db"
data_dir = "data"
""")
    return path


def prepare(app: App, orders: int) -> list[tuple[str, str, str]]:
    """Create the orders, send their emails, and return (ref, supplier, buyer) per order."""
    made = []
    for n in range(orders):
        supplier, buyer = f"sales{n % 10}@supplier.test", f"buyer{n % 5}@example.test"
        made.append((create_order(app, NewOrder(supplier, (buyer,), LINES)), supplier, buyer))
    poll_once(app)
    return made


def inbound_messages(app: App, made: list[tuple[str, str, str]]) -> list[bytes]:
    messages = []
    with session(app.engine) as s:
        tokens = {t.order_id: t.token for t in s.exec(select(ReplyToken).where(ReplyToken.audience == "supplier"))}
    for order_id, (ref, supplier, buyer) in enumerate(made, start=1):
        to = reply_address(BOT, tokens[order_id])
        sheet = write_bill_sheet(SheetHeader(ref, "ACME GmbH", supplier, "EUR"),
                                 (LINES[0], Line("NUT-M8", "Hex nut", Decimal(450), "pcs", Decimal("0.05"), Decimal(19))))
        messages.append(_mail(supplier, to, f"Re: [{ref}] New order", "SEND", (f"{ref}-bill.xlsx", sheet)))
        messages.append(_mail(buyer, to, f"[{ref}] question", f"Question about {ref}: can you deliver earlier?"))
    return messages


def _mail(sender: str, to: str, subject: str, text: str, attachment: tuple[str, bytes] | None = None) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    message.set_content(text)
    if attachment:
        message.add_attachment(attachment[1], maintype="application",
                               subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=attachment[0])
    return message.as_bytes()


def fill_inbox(server: LocalMailServer, messages: list[bytes]) -> None:
    with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
        client.login(BOT, PASSWORD)
        for start in range(0, len(messages), 100):
            client.multiappend("INBOX", messages[start:start + 100])


def startup_seconds(config: Path) -> float:
    """How long the bot takes to start (imports, config, database) before it touches any mail."""
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "orders", "--limit", "1"]
    timings = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        timings.append(time.monotonic() - started)
    return sorted(timings)[1]


def kill_loop(config: Path, seed: int, max_rounds: int, window: tuple[float, float], report: KillReport,
              arrivals: list[Callable[[], None]] = ()) -> None:
    """Kill each run at a random point of its work: start-up time plus a random delay in `window`.

    Before each of the first rounds one of `arrivals` delivers more mail, so every run has
    messages to process and answers to send when it is killed (mail keeps coming).
    """
    chance = random.Random(seed)
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "poll", "--once"]
    startup = startup_seconds(config)
    waiting = list(arrivals)
    stretch = 1.0  # after the last wave, each kill gives the next run longer: a loaded machine still finishes
    while report.rounds < max_rounds:
        report.rounds += 1
        if waiting:
            waiting.pop(0)()
        else:
            stretch *= 1.3
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=(startup + chance.uniform(*window)) * stretch)
            if process.returncode == 0 and not waiting:
                return
            if process.returncode:
                report.problems.append(f"round {report.rounds}: poll exited {process.returncode}")
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            report.kills += 1
            report.kills_mid_send += _was_sending(config, process.pid)
    report.problems.append(f"no run finished within {max_rounds} rounds")


def _was_sending(config: Path, pid: int) -> bool:
    """The killed run had an email on the wire (its mark in the send log says "sending")."""
    path = config.parent / "data" / FILENAME
    if not path.exists():
        return False
    with sqlite3.connect(path) as db:
        owners = [row[0] for row in db.execute("SELECT owner FROM mark WHERE state = 'sending'")]
    return any(owner.split(":")[1] == str(pid) for owner in owners)


def drain(app: App, report: KillReport) -> None:
    """Poll until the outbox is empty: an email whose sending a kill cut short, with no copy in the
    bot's mailbox, waits out `sent_copy_wait_seconds` before it is sent again."""
    deadline = time.monotonic() + app.config.bot.sent_copy_wait_seconds + 30
    started = time.monotonic()
    while time.monotonic() < deadline:
        poll_once(app)
        with session(app.engine) as s:
            if not s.exec(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.status == OutboxStatus.QUEUED)).one():
                break
        time.sleep(0.5)
    report.drain_seconds = time.monotonic() - started


def verify(app: App, server: LocalMailServer, made: list[tuple[str, str, str]], report: KillReport) -> None:
    drain(app, report)
    final = poll_once(app)  # one more, in-process: must find nothing left to do
    if final.outcomes or final.send.sent:
        report.problems.append(f"a final poll still had work: {final.summary()}")
    with session(app.engine) as s:
        ledger = s.exec(select(InboundMessage)).all()
        report.applied_once = sum(r.status is InboundStatus.APPLIED for r in ledger)
        report.lost_inbound = report.inbound - len(ledger)
        revisions = s.exec(select(func.count()).select_from(Revision)).one()
        comments = s.exec(select(func.count()).select_from(Comment)).one()
        report.double_effects = max(0, revisions - len(made)) + max(0, comments - len(made))
        sent = s.exec(select(OutboxMessage)).all()
    report.expected_emails = len(sent)
    if any(row.status is not OutboxStatus.SENT for row in sent) or len(sent) != 4 * len(made):
        report.problems.append(f"outbox: {Counter(r.status.value for r in sent)}, expected {4 * len(made)} sent")
    delivered = _delivered_ids(server, made)
    expected_ids = {row.message_id for row in sent}
    report.delivered_distinct = len(set(delivered) & expected_ids)
    report.lost_emails = len(expected_ids - set(delivered))
    report.repeats_same_message_id = sum(count - 1 for count in delivered.values())
    report.repeats_other_message_id = sum(delivered[i] for i in set(delivered) - expected_ids)
    report.unsure_found = sum("copy was found" in row.last_error for row in sent)
    report.unsure_resent = sum("sent again" in row.last_error for row in sent)


def _delivered_ids(server: LocalMailServer, made: list[tuple[str, str, str]]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for address in sorted({p for _, supplier, buyer in made for p in (supplier, buyer)}):
        with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
            client.login(address, PASSWORD)
            client.select_folder("INBOX", readonly=True)
            uids = client.search(["FROM", BOT])  # other tests may share these mailboxes
            for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
                header = next(v for k, v in data.items() if k.startswith(b"BODY"))
                seen[header.decode().partition(":")[2].strip()] += 1
    return seen


def run_kill_test(server: LocalMailServer, orders: int, seed: int, max_rounds: int, folder: Path,
                  window: tuple[float, float] = (0.0, 1.5), copy_wait: int = 10, waves: int = 20) -> KillReport:
    report = KillReport(orders)
    started = time.monotonic()
    config = write_config(folder, server, copy_wait)
    app = build_app(load_config(config))
    made = prepare(app, orders)
    messages = inbound_messages(app, made)
    report.inbound = len(messages)
    size = -(-len(messages) // waves)
    arrivals = [partial(fill_inbox, server, messages[start:start + size]) for start in range(0, len(messages), size)]
    kill_loop(config, seed, max_rounds, window, report, arrivals)
    verify(app, server, made, report)
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100, help="two inbound messages per order")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-rounds", type=int, default=500)
    parser.add_argument("--window", type=float, nargs=2, default=(0.0, 1.5), metavar=("MIN", "MAX"),
                        help="seconds of work (after start-up) a poll may do before it is killed")
    parser.add_argument("--waves", type=int, default=20, help="the inbound mail arrives in this many parts, "
                        "one before each of the first rounds")
    parser.add_argument("--copy-wait", type=int, default=10,
                        help="bot.sent_copy_wait_seconds (on loopback the copy is filed before the server's 250)")
    args = parser.parse_args()
    with LocalMailServer() as server, tempfile.TemporaryDirectory() as folder:
        report = run_kill_test(server, args.orders, args.seed, args.max_rounds, Path(folder), tuple(args.window),
                               args.copy_wait, args.waves)
    print("\n".join(report.lines()))
    failed = report.problems or report.lost_inbound or report.lost_emails or report.double_effects
    sys.exit(1 if failed or report.delivered_twice else 0)


if __name__ == "__main__":
    main()
