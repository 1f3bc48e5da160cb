"""Nothing lost, nothing twice: failures, retries, drops, robots and kills, on the real servers."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from imapclient import IMAPClient
from sqlmodel import select

from bench.killtest import run_kill_test
from bot import mailbox
from bot.cli import main
from bot.config import ServerSettings
from bot.login import Login
from bot.mailbox import server_folder_name
from bot.matching import match_order
from bot.devmail import PASSWORD, LocalMailServer
from bot.devmail.clients import Party
from storage.db import session
from storage.models import InboundMessage, InboundStatus, MailboxCursor, OutboxMessage, OutboxStatus
from tests.conftest import World
from tests.tcpproxy import CuttingProxy


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def folder_uids(world: World, folder: str, criteria: list[str] | None = None) -> list[int]:
    with IMAPClient("127.0.0.1", port=world.supplier.imap_port, ssl=False) as client:
        client.login(world.bot, PASSWORD)
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        return sorted(client.search(criteria or "ALL"))


def people_uids(world: World, folder: str) -> list[int]:
    """The folder's messages but the bot's own copies of what it sent."""
    return folder_uids(world, folder, ["NOT", "FROM", world.bot])


def ask(world: World, ref: str, text: str) -> None:
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] New order"), text)


def ledger(world: World) -> list[InboundMessage]:
    with session(world.app.engine) as s:
        return list(s.exec(select(InboundMessage).order_by(InboundMessage.id)).all())


def test_processed_mail_is_moved_after_the_commit(world: World) -> None:
    world.reconfigure(imap={"processed_folder": "SupplierbotDone"})
    ref = world.order()
    world.poll()
    ask(world, ref, "A question")
    world.poll()
    assert people_uids(world, "INBOX") == [] and len(people_uids(world, "SupplierbotDone")) == 1
    assert [row.location for row in ledger(world)] == ["processed"]
    world.poll()  # the copy of the relayed question came after the fetch; it is filed by the next poll
    assert folder_uids(world, "INBOX") == [] and len(folder_uids(world, "SupplierbotDone")) == 3


def test_the_bots_own_copies_are_passed_by_their_from_header_never_fetched_whole(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.mailbox import ImapMailbox

    fetched: list[int] = []
    real = ImapMailbox.fetch_batches
    monkeypatch.setattr(ImapMailbox, "fetch_batches",
                        lambda box, uids, files: (fetched.extend(uids), real(box, uids, files))[1])
    ref = world.order()
    world.poll()  # sends the new order, with the bot's copy to its own INBOX
    ask(world, ref, "A question")
    world.poll()
    world.poll()  # the copy of the relayed question, too
    copies = folder_uids(world, "INBOX", ["FROM", world.bot])
    assert len(copies) == 2 and fetched == people_uids(world, "INBOX")  # only the question was fetched
    assert len(ledger(world)) == 1  # the question; the copies are never part of the ledger
    with session(world.app.engine) as s:  # the cursor is past the copies all the same
        assert s.exec(select(MailboxCursor)).one().last_uid == max(folder_uids(world, "INBOX"))


def test_a_nested_folder_is_written_with_slashes_whatever_the_server_uses(world: World) -> None:
    world.reconfigure(imap={"processed_folder": "Archive/Supplierbot"})  # Dovecot's maildir refuses "/"
    ref = world.order()
    world.poll()
    ask(world, ref, "A question")
    world.poll()
    assert people_uids(world, "INBOX") == [] and len(people_uids(world, "Archive.Supplierbot")) == 1


@pytest.mark.parametrize(("name", "prefix", "delimiter", "expected"), [
    ("Archive/Supplierbot", "", ".", "Archive.Supplierbot"),          # Dovecot (maildir)
    ("Archive/Supplierbot", "", "/", "Archive/Supplierbot"),          # Gmail, Dovecot (mdbox with /)
    ("Processed", "INBOX.", ".", "INBOX.Processed"),                  # Courier, Cyrus
    ("INBOX/Processed", "INBOX.", ".", "INBOX.Processed"),            # already under INBOX
    ("inbox", "INBOX.", ".", "INBOX"),
    ("Processed", "", None, "Processed"),                             # a flat server
])
def test_folder_names_follow_the_servers_namespace(name: str, prefix: str, delimiter: str | None,
                                                   expected: str) -> None:
    assert server_folder_name(name, prefix, delimiter) == expected


def test_without_move_support_mail_is_copied_then_expunged(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = IMAPClient.capabilities
    monkeypatch.setattr(IMAPClient, "capabilities", lambda self: tuple(c for c in real(self) if c != b"MOVE"))
    test_processed_mail_is_moved_after_the_commit(world)


def test_a_failing_message_is_retried_with_backoff_then_set_aside(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    world.reconfigure(clock, bot={"max_attempts": 3, "operator_address": "ops@example.test"},
                      imap={"failed_folder": "SupplierbotFailed"})
    ref = world.order()
    world.poll()
    attempts = []

    def broken(*args: object) -> None:
        attempts.append(clock.now)
        raise RuntimeError("bug in matching")

    monkeypatch.setattr("bot.pipeline.match_order", broken)
    ask(world, ref, "Will this survive a bug?")
    world.poll()
    world.poll()  # not due yet: no second attempt
    clock.advance(31)
    world.poll()
    clock.advance(61)
    world.poll()
    assert [int((a - attempts[0]).total_seconds()) for a in attempts] == [0, 31, 92]
    (row,) = ledger(world)
    assert (row.status, row.attempts, row.next_attempt_at, row.location) == (InboundStatus.FAILED, 3, None, "failed")
    assert people_uids(world, "INBOX") == [] and len(people_uids(world, "SupplierbotFailed")) == 1
    ops = Party("ops@example.test", world.supplier.imap_port, world.supplier.smtp_port)
    assert "bug in matching" in ops.wait_for("failed 3 times and was set aside").text

    listed = CliRunner().invoke(main, ["--config", str(world.config_path), "failed", "list", "--json"])
    assert [(r["id"], r["attempts"], r["next_attempt_at"]) for r in json.loads(listed.output)] == [(row.id, 3, None)]

    monkeypatch.setattr("bot.pipeline.match_order", match_order)  # the fix is deployed
    result = CliRunner().invoke(main, ["--config", str(world.config_path), "failed", "retry", str(row.id)])
    assert result.exit_code == 0 and f"#{row.id}: applied (comment relayed)" in result.output
    assert "Will this survive a bug?" in world.buyer.wait_for("Question from").text


def test_mail_queued_while_smtp_is_down_is_sent_when_it_is_back(world: World, tmp_path: Path) -> None:
    port_line = f"port = {world.supplier.smtp_port}\nsecurity"
    world.config_path.write_text(world.config_path.read_text().replace(port_line, "port = 9\nsecurity"))
    world.reconfigure()
    ref = world.order()
    report = world.poll()
    assert report.send.sent == 0 and report.send.deferred == 1 and "SMTP 127.0.0.1:9" in report.send.error
    world.config_path.write_text(world.config_path.read_text().replace("port = 9\nsecurity", port_line))
    world.reconfigure()
    assert world.poll().send.sent == 1
    world.supplier.wait_for(f"[{ref}] New order")
    assert world.poll().send.sent == 0


def test_an_imap_drop_mid_batch_is_resumed_by_the_next_poll(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = world.order()
    world.poll()
    for n in range(6):
        ask(world, ref, f"Question {n}")
    monkeypatch.setattr(mailbox, "FETCH_BATCH", 2)
    with IMAPClient("127.0.0.1", port=world.supplier.imap_port, ssl=False) as client:
        client.login(world.bot, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        questions = client.search(["NOT", "FROM", world.bot])  # the bot's copies are never fetched whole
        sizes = [d[b"RFC822.SIZE"] for _, d in sorted(client.fetch(questions, ["RFC822.SIZE"]).items())]
    # mid-way through the questions
    proxy = CuttingProxy(world.supplier.imap_port, cut_after=sum(sizes[:4]) + 2000)
    text = world.config_path.read_text().replace(f"port = {world.supplier.imap_port}", f"port = {proxy.port}")
    world.config_path.write_text(text)
    world.reconfigure()
    first = world.poll()
    assert proxy.cuts == 1 and first.fetch_error
    assert 0 < len(ledger(world)) < 6
    second = world.poll()
    assert not second.fetch_error and len(ledger(world)) == 6
    questions = [m.text for m in world.buyer.inbox()]
    assert all(any(f"Question {n}" in q for q in questions) for n in range(6)) and len(questions) == 6
    proxy.close()


def test_a_bounce_of_our_email_marks_it_and_tells_the_operator(world: World) -> None:
    world.reconfigure(bot={"operator_address": "ops@example.test"})
    ref = world.order()
    world.poll()
    with session(world.app.engine) as s:
        sent = s.exec(select(OutboxMessage)).one()
    bounce = EmailMessage()
    bounce["From"], bounce["To"] = "MAILER-DAEMON@mx.supplier.test", world.bot
    bounce["Subject"], bounce["Message-ID"] = "Undelivered Mail Returned to Sender", "<dsn-1@mx.supplier.test>"
    bounce["Return-Path"] = "<>"
    bounce.set_content("The mail could not be delivered.")
    original = EmailMessage()
    original["Message-ID"], original["Subject"] = sent.message_id, sent.subject
    original.set_content("...")
    bounce.add_attachment(original)
    world.supplier.send(bounce)
    report = world.poll()
    assert report.outcomes["ignored"] == 1
    with session(world.app.engine) as s:
        assert s.get(OutboxMessage, sent.id).status is OutboxStatus.BOUNCED
    ops = Party("ops@example.test", world.supplier.imap_port, world.supplier.smtp_port)
    assert world.supplier.address in ops.wait_for(f"Bounce: [{ref}] New order").text
    assert ledger(world)[0].disposition.endswith(f"bounce of outbox #{sent.id}")


def test_answers_to_one_sender_are_capped_per_day(world: World) -> None:
    world.reconfigure(bot={"error_replies_per_sender_per_day": 2})
    for n in range(4):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = world.stranger.address, world.bot, f"Hello {n}"
        message["Message-ID"] = f"<budget-{n}-{world.bot}>"
        message.set_content("Anyone there?")
        world.stranger.send(message)
    report = world.poll()
    assert report.outcomes["refused"] == 4 and report.send.sent == 2
    assert [r.disposition for r in ledger(world)][2:] == ["refused: unknown_order (not answered: budget spent)"] * 2


class AutoResponder:
    """A mailbox that answers every mail it gets, like a vacation program, in a thread."""

    def __init__(self, party: Party, polite: bool) -> None:
        self.party, self.polite, self.answered = party, polite, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for received in self.party.inbox()[self.answered:]:
                headers = {"Auto-Submitted": "auto-replied"} if self.polite else {}
                self.party.reply(received, "I am on holiday until Monday.", extra_headers=headers)
                self.answered += 1
            time.sleep(0.1)


@pytest.mark.parametrize("polite, bot_answers", [(True, 1), (False, 3)])
def test_two_robots_stop_talking(world: World, polite: bool, bot_answers: int) -> None:
    world.reconfigure(bot={"error_replies_per_sender_per_day": 3})
    robot = AutoResponder(world.stranger, polite)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = world.stranger.address, world.bot, "Catalogue"
    message["Message-ID"] = f"<robot-start-{world.bot}>"
    message.set_content("Our new catalogue is out.")
    world.stranger.send(message)
    for _ in range(8):
        world.poll()
        time.sleep(0.3)
    robot.stop.set()
    robot.thread.join()
    with session(world.app.engine) as s:
        answers = s.exec(select(OutboxMessage).where(OutboxMessage.recipients == world.stranger.address)).all()
    assert len(answers) == bot_answers and robot.answered == bot_answers


def test_sigkill_at_random_points_loses_nothing_and_applies_nothing_twice(mail_server: LocalMailServer,
                                                                          tmp_path: Path) -> None:
    report = run_kill_test(mail_server, orders=20, seed=3, max_rounds=80, folder=tmp_path, window=(0.0, 0.35),
                           copy_wait=2, waves=4)
    print("\n".join(report.lines()))
    assert report.kills >= 2, "the bot was never killed mid-run: the test proved nothing"
    assert not report.problems
    assert (report.lost_inbound, report.double_effects, report.lost_emails) == (0, 0, 0)
    assert report.applied_once == report.inbound == 40
    assert report.delivered_distinct == report.expected_emails == 80
    assert report.delivered_twice == 0


def test_a_new_uidvalidity_resyncs_without_double_effects(world: World) -> None:
    world.reconfigure(imap={"folder": "Orders"})
    ref = world.order()
    world.poll()
    raws = [world.supplier.reply_message(world.supplier.wait_for(f"[{ref}] New order"), f"Question {n}").as_bytes()
            for n in range(3)]
    with IMAPClient("127.0.0.1", port=world.supplier.imap_port, ssl=False) as client:
        client.login(world.bot, PASSWORD)
        client.create_folder("Orders")
        client.multiappend("Orders", raws)
    assert world.poll().outcomes["applied"] == 3
    with IMAPClient("127.0.0.1", port=world.supplier.imap_port, ssl=False) as client:
        client.login(world.bot, PASSWORD)
        before = client.folder_status("Orders", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
        client.delete_folder("Orders")  # the server rebuilt the folder: old UIDs mean nothing now
        client.create_folder("Orders")
        client.multiappend("Orders", raws)
        assert client.folder_status("Orders", [b"UIDVALIDITY"])[b"UIDVALIDITY"] != before
    report = world.poll()
    assert report.outcomes["ignored"] == 3 and report.send.sent == 0
    assert all(r.disposition.startswith("duplicate of inbound") for r in ledger(world)[3:])
    assert len(world.buyer.inbox()) == 3


def test_one_poll_sends_everything_queued_however_much(world: World) -> None:
    import asyncio

    from bot.outbox import send_outbox

    for _ in range(5):
        world.order()
    report = asyncio.run(send_outbox(world.app, chunk=2))
    assert (report.sent, report.deferred) == (5, 0)
    assert len(world.supplier.inbox()) == 5


def test_idle_sees_new_mail_within_seconds_after_every_server_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "STABLE_SECONDS", 1.0)
    with LocalMailServer() as server:  # its own Dovecot: restarting the shared one would cut other tests
        settings = ServerSettings("127.0.0.1", server.imap_port, "none", "bot@example.test", PASSWORD, timeout_seconds=5,
                                  login=Login("imap", "password", "bot@example.test", PASSWORD))
        calls: list[float] = []
        stop = threading.Event()
        watcher = mailbox.IdleWatcher(settings, lambda: calls.append(time.monotonic()), stop)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        sender = Party("sales@supplier.test", server.imap_port, server.smtp_port)
        waits = []
        try:
            for n in range(4):  # without the reset the waits are 1, 2, 4, 8 s
                healthy_by = time.monotonic() + 30
                while watcher.connected_at is None or time.monotonic() - watcher.connected_at < 1.2:
                    assert time.monotonic() < healthy_by and thread.is_alive(), "the watcher never connected"
                    time.sleep(0.05)  # until the connection has lived long enough to count as healthy
                server.restart_dovecot()
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = sender.address, "bot@example.test", f"After {n}"
                message.set_content("New mail while the bot reconnects.")
                sender.send(message)
                delivered = time.monotonic()
                deadline = delivered + 10
                while not any(t > delivered for t in calls) and time.monotonic() < deadline:
                    time.sleep(0.05)
                waits.append(min((t for t in calls if t > delivered), default=deadline) - delivered)
        finally:
            stop.set()
            thread.join(timeout=10)
    print("seconds from delivery to the watcher's call, per restart:", [round(w, 1) for w in waits])
    assert all(w < 3.5 for w in waits), waits
