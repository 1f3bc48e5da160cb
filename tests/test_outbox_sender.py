"""bot.outbox.Sender keeps its SMTP connections between sends; bot.sendlog.GroupCommit writes the
marks of several connections together; bot.smtpfile.sendmail_bytes sends what aiosmtplib would."""
from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import select

import bot.outbox
from bot.outbox import Sender
from bot.sendlog import FILENAME, SENDING, SENT, GroupCommit, SendLog
from bot.smtpfile import NothingSent, sendmail_bytes
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import World
from tests.smtpsink import relayed


def _statuses(world: World) -> list[OutboxStatus]:
    with session(world.app.engine) as s:
        return [row.status for row in s.exec(select(OutboxMessage))]


def _marks(world: World) -> list[tuple]:
    with sqlite3.connect(world.app.config.storage.data_dir / FILENAME) as db:
        return db.execute("SELECT outbox_id, state FROM mark").fetchall()


def test_a_sender_keeps_its_connections_from_one_send_to_the_next(world: World) -> None:
    with asyncio.Runner() as runner:
        sender = Sender(world.app)
        world.order()
        assert runner.run(sender.send()).sent == 1
        assert sender.opened == 1 and len(sender.idle) == 1
        kept = sender.idle[0][0]
        for _ in range(3):
            world.order()
        assert runner.run(sender.send()).sent == 3
        assert sender.opened <= 3 and any(smtp is kept for smtp, _ in sender.idle)  # reused, not reopened
        runner.run(sender.close())
        assert sender.idle == [] and not kept.is_connected
    assert len(world.supplier.inbox()) == 4
    assert _statuses(world) == [OutboxStatus.SENT] * 4 and _marks(world) == []


def test_a_connection_idle_too_long_is_replaced(world: World) -> None:
    with asyncio.Runner() as runner:
        sender = Sender(world.app, max_idle=0)
        world.order()
        runner.run(sender.send())
        (old, _), = sender.idle
        world.order()
        assert runner.run(sender.send()).sent == 1
        assert sender.opened == 2 and not old.is_connected
        runner.run(sender.close())
    assert len(world.supplier.inbox()) == 2


def test_a_connection_dropped_before_data_sends_its_email_once_on_a_fresh_one(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = bot.outbox.sendmail_bytes, []

    async def dropped_once(smtp, sender, recipients, raw):
        calls.append(smtp)
        if len(calls) == 1:  # as a server that closed the idle session: MAIL FROM fails
            smtp.close()
            raise NothingSent("the connection failed before DATA: Connection lost")
        return await real(smtp, sender, recipients, raw)

    monkeypatch.setattr(bot.outbox, "sendmail_bytes", dropped_once)
    ref = world.order()
    with asyncio.Runner() as runner:
        sender = Sender(world.app)
        report = runner.run(sender.send())
        runner.run(sender.close())
    assert (report.sent, report.failed, report.deferred) == (1, 0, 0)
    assert len(calls) == 2 and calls[0] is not calls[1] and sender.opened == 2
    assert world.supplier.wait_for(f"[{ref}] New order") and len(world.supplier.inbox()) == 1
    with session(world.app.engine) as s:
        row = s.exec(select(OutboxMessage)).one()
    assert row.status is OutboxStatus.SENT and row.last_error == "" and _marks(world) == []


def test_after_a_dropped_kept_connection_the_email_goes_on_a_new_one_not_another_kept_one(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # a server restart drops every idle session at once: the next kept connection is as doubtful
    real, stale = bot.outbox.sendmail_bytes, set()

    async def dropped_if_stale(smtp, sender, recipients, raw):
        if smtp in stale:  # the session is gone, though the socket has not told us yet
            raise NothingSent("the connection failed before DATA: Connection lost")
        return await real(smtp, sender, recipients, raw)

    monkeypatch.setattr(bot.outbox, "sendmail_bytes", dropped_if_stale)
    with asyncio.Runner() as runner:
        sender = Sender(world.app)
        world.order(), world.order()
        assert runner.run(sender.send()).sent == 2
        assert len(sender.idle) == 2  # one connection kept from each lane
        stale.update(smtp for smtp, _ in sender.idle)
        ref = world.order()
        report = runner.run(sender.send())
        runner.run(sender.close())
    assert (report.sent, report.failed, report.deferred) == (1, 0, 0)
    assert sender.opened == 3 and all(not smtp.is_connected for smtp in stale)
    assert world.supplier.wait_for(f"[{ref}] New order")


def test_twice_dropped_before_data_the_email_waits_without_a_doubt(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    async def always_dropped(smtp, sender, recipients, raw):
        raise NothingSent("the connection failed before DATA: Connection lost")

    monkeypatch.setattr(bot.outbox, "sendmail_bytes", always_dropped)
    world.order()
    report = asyncio.run(bot.outbox.send_outbox(world.app))
    assert (report.sent, report.failed) == (0, 0)
    with session(world.app.engine) as s:
        row = s.exec(select(OutboxMessage)).one()
    # a temporary failure, retried after its back-off; no "unknown" mark waiting for a copy
    assert row.status is OutboxStatus.QUEUED and row.attempts == 1 and "before DATA" in row.last_error
    assert _marks(world) == []


def test_group_commit_makes_sending_durable_before_it_returns(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)

    def seen() -> list[tuple]:
        with sqlite3.connect(tmp_path / FILENAME) as db:
            return db.execute("SELECT outbox_id, state FROM mark ORDER BY outbox_id").fetchall()

    sendlog = SendLog(tmp_path)
    marks = GroupCommit(sendlog)

    async def lanes() -> None:
        await asyncio.gather(*(marks.sending(n, f"<{n}@x>", "me", now) for n in range(1, 6)))
        assert seen() == [(n, SENDING) for n in range(1, 6)]
        marks.sent(1)
        marks.sent(2)
        assert seen()[0] == (1, SENDING)  # a "sent" mark waits for the next group
        await marks.sending(6, "<6@x>", "me", now)
        assert seen()[:2] == [(1, SENT), (2, SENT)]
        marks.sent(3)

    asyncio.run(lanes())
    marks.flush_now()  # the end of a run, outside the loop
    assert seen()[2] == (3, SENT)
    sendlog.close()


def test_a_sent_mark_whose_group_failed_to_write_goes_with_the_next(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    sendlog = SendLog(tmp_path)
    marks = GroupCommit(sendlog)
    real, failures = sendlog._write, [OSError("disk full")]

    def flaky(statements):
        if failures and any(params[:1] == (SENT,) for _, params in statements):
            raise failures.pop()
        return real(statements)

    sendlog._write = flaky  # type: ignore[method-assign]

    async def lanes() -> None:
        await marks.sending(1, "<1@x>", "me", now)
        marks.sent(1)
        with pytest.raises(OSError):
            await marks.sending(2, "<2@x>", "me", now)  # its group (with 1's "sent") was not written
        await marks.sending(3, "<3@x>", "me", now)

    asyncio.run(lanes())
    assert {m.outbox_id: m.state for m in sendlog.marks()} == {1: SENT, 3: SENDING}
    sendlog.close()


@pytest.mark.parametrize("raw", [
    b"Subject: plain\r\n\r\nbody\r\n",
    b"Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\nend",
    b"Subject: bare\n\nlf only\nand \r cr\r\n.dot\n",
])
def test_sendmail_bytes_delivers_what_aiosmtplib_sendmail_would(raw: bytes) -> None:
    async def both(port: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            assert await sendmail_bytes(smtp, "bot@example.test", ["a@example.test"], raw) == {}
            await smtp.sendmail("bot@example.test", ["a@example.test"], raw)

    _, envelopes = relayed(both)
    assert envelopes[0].original_content == envelopes[1].original_content


def test_sendmail_bytes_on_a_closed_connection_sent_nothing() -> None:
    async def dropped(port: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await smtp.connect()
        smtp.close()
        with pytest.raises(NothingSent):
            await sendmail_bytes(smtp, "bot@example.test", ["a@example.test"], b"Subject: x\r\n\r\ny\r\n")

    assert relayed(dropped)[1] == []


def test_senders_opening_a_new_send_log_at_once_all_open_it(tmp_path: Path) -> None:
    # switching a new file to WAL can fail at once with "database is locked" when another sender
    # opens it at the same moment (SQLite does not always wait in its busy handler for that);
    # before the retry about one round in 25 of these failed
    import threading

    for round_ in range(100):
        folder = tmp_path / str(round_)
        folder.mkdir()
        errors: list[Exception] = []
        barrier = threading.Barrier(8)

        def open_one() -> None:
            barrier.wait()
            try:
                SendLog(folder).close()
            except Exception as exc:  # noqa: BLE001  (collected for the assertion)
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {round_}: {errors[0]}"
        with sqlite3.connect(folder / FILENAME) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
