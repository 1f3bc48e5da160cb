"""Several senders on one store (threads of one bot, or processes on PostgreSQL) send each email once."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app import build_app, utc_now
from bot.config import load_config
from bot.outbox import CLAIM_LEASE, SendReport, send_outbox
from storage import queries
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import World
from tests.test_postgres import pg_world  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_world(request: pytest.FixtureRequest) -> World:
    return request.getfixturevalue("world" if request.param == "sqlite" else "pg_world")


def _statuses(world: World) -> list[OutboxStatus]:
    with session(world.app.engine) as s:
        return [row.status for row in s.exec(select(OutboxMessage))]


def test_two_senders_started_together_send_every_email_once(any_world: World) -> None:
    world = any_world
    for _ in range(24):
        world.order()
    second = build_app(load_config(world.config_path))
    reports: list[SendReport] = []
    start = threading.Barrier(2)

    def sender(app) -> None:
        start.wait()
        reports.append(asyncio.run(send_outbox(app, chunk=5)))

    threads = [threading.Thread(target=sender, args=(app,)) for app in (world.app, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    second.engine.dispose()

    inbox = world.supplier.inbox()  # the relay answers 250 only after delivery
    assert len(inbox) == 24
    assert len({m.message["Message-ID"] for m in inbox}) == 24
    assert sum(r.sent for r in reports) == 24
    assert _statuses(world) == [OutboxStatus.SENT] * 24


def _hold(world: World, owner: str, until_minutes: float) -> list[int]:
    now = utc_now()
    with session(world.app.engine) as s:
        ids = queries.claim_outbox(s, owner, now, now + timedelta(minutes=until_minutes), 100)
        s.commit()
    return ids


def test_claims_of_a_sender_killed_on_this_host_are_taken_over_at_once(world: World) -> None:
    for _ in range(3):
        world.order()
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert len(_hold(world, f"{socket.gethostname()}:{gone.pid}:dead", 10)) == 3

    report = asyncio.run(send_outbox(world.app))

    assert report.sent == 3
    assert len(world.supplier.inbox()) == 3


def test_a_live_claim_elsewhere_is_respected_until_its_lease_runs_out(world: World) -> None:
    for _ in range(2):
        world.order()
    assert len(_hold(world, "other-host.example:4242:live", CLAIM_LEASE.total_seconds() / 60)) == 2
    world.order()

    first = asyncio.run(send_outbox(world.app))
    assert first.sent == 1  # only the row nobody held
    assert sorted(s.value for s in _statuses(world)) == ["queued", "queued", "sent"]

    later = utc_now() + CLAIM_LEASE + timedelta(seconds=5)
    world.reconfigure(clock=lambda: later)
    assert asyncio.run(send_outbox(world.app)).sent == 2
    assert len(world.supplier.inbox()) == 3


def test_a_run_gives_back_what_it_could_not_send(world: World) -> None:
    world.order()
    port_line = f"port = {world.supplier.smtp_port}\nsecurity"
    world.config_path.write_text(world.config_path.read_text().replace(port_line, "port = 9\nsecurity"))
    world.reconfigure()  # nothing listens on port 9
    assert asyncio.run(send_outbox(world.app)).deferred == 1
    with session(world.app.engine) as s:
        row = s.exec(select(OutboxMessage)).one()
    assert (row.status, row.claimed_by, row.claimed_until) == (OutboxStatus.QUEUED, "", None)


def _killed_sender() -> str:
    """The owner name of a sender process on this host that is gone."""
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}:killed"


def _crashed_while_sending(world: World, owner: str) -> OutboxMessage:
    """The state a SIGKILL leaves between "sending" and the fold: the row queued and held by the
    dead sender, its mark in the send log still saying "sending"."""
    from bot.sendlog import SendLog

    with session(world.app.engine) as s:
        row = s.exec(select(OutboxMessage)).one()
        row.status, row.sent_at, row.claimed_by = OutboxStatus.QUEUED, None, owner
        row.claimed_until = world.app.clock() + CLAIM_LEASE
        s.commit()
    sendlog = SendLog(world.app.config.storage.data_dir)
    sendlog.sending(row.id, row.message_id, owner, world.app.clock())
    sendlog.close()
    return row


def test_an_email_accepted_before_a_crash_is_found_by_its_copy_and_not_sent_again(world: World) -> None:
    ref = world.order()
    assert asyncio.run(send_outbox(world.app)).sent == 1  # delivered, and its copy filed in the bot's INBOX
    row = _crashed_while_sending(world, _killed_sender())  # as if killed after the 250, before the mark
    report = asyncio.run(send_outbox(world.app))
    assert report.sent == 0
    with session(world.app.engine) as s:
        settled = s.get(OutboxMessage, row.id)
        assert settled.status is OutboxStatus.SENT and "copy was found" in settled.last_error
    assert len(world.supplier.inbox()) == 1 and world.supplier.wait_for(f"[{ref}] New order")


def test_an_email_cut_off_before_it_went_out_waits_for_its_copy_then_goes_once(world: World) -> None:
    from tests.test_faults import Clock

    clock = Clock()
    world.reconfigure(clock, bot={"sent_copy_wait_seconds": 60})
    ref = world.order()
    _crashed_while_sending(world, _killed_sender())  # killed before the server took it
    assert asyncio.run(send_outbox(world.app)).sent == 0  # its copy may still come: not yet
    clock.advance(30)
    assert asyncio.run(send_outbox(world.app)).sent == 0
    assert world.supplier.inbox() == []
    clock.advance(31)
    assert asyncio.run(send_outbox(world.app)).sent == 1
    assert world.supplier.wait_for(f"[{ref}] New order")
    with session(world.app.engine) as s:
        (row,) = s.exec(select(OutboxMessage)).all()
    assert row.status is OutboxStatus.SENT and "no copy within 60 s: sent again" in row.last_error
    assert len(world.supplier.inbox()) == 1
