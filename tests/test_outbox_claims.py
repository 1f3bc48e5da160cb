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
