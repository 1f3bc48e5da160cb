"""The sender thread: answers go out while the worker goes on applying, over one event loop."""
from __future__ import annotations

import time

from sqlmodel import func, select

from bot.sending import SenderThread
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import World


def _answers(world: World) -> list[OutboxMessage]:
    with session(world.app.engine) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.purpose != "new_order")))


def test_a_polls_answers_go_out_while_it_still_applies(world: World) -> None:
    refs = [world.order() for _ in range(3)]
    world.poll()
    orders = [world.supplier.wait_for(f"[{ref}] New order") for ref in refs]
    for n in range(30):
        world.supplier.reply(orders[n % 3], f"Question {n}: can you deliver the bolts on a Monday?")
    report = world.poll()
    assert report.outcomes["applied"] == 30 and report.send.sent == 30 and not report.send.error
    answers = _answers(world)
    assert len(answers) == 30 and all(a.status is OutboxStatus.SENT for a in answers)
    # the first round's answers were accepted by SMTP before the last round's were even written
    assert min(a.sent_at for a in answers) < max(a.created_at for a in answers)
    world.buyer.wait_for("Question from", count=30)


def test_the_sender_sends_at_each_kick_and_what_is_left_at_close(world: World) -> None:
    ref = world.order()  # its new-order email is queued
    sender = SenderThread(world.app).start()
    sender.kick()
    world.supplier.wait_for(f"[{ref}] New order")
    deadline = time.monotonic() + 10
    while not sender.sends and time.monotonic() < deadline:  # that send is over: it takes nothing more
        time.sleep(0.01)
    second = world.order()  # queued after the last kick
    with session(world.app.engine) as s:
        assert s.exec(select(func.count()).select_from(OutboxMessage)
                      .where(OutboxMessage.status == OutboxStatus.QUEUED)).one() == 1
    assert sender.close().sent == 2  # closing sends what is queued
    world.supplier.wait_for(f"[{second}] New order")


def test_the_sender_thread_keeps_its_smtp_connection_between_kicks(world: World) -> None:
    sender = SenderThread(world.app).start()
    try:
        for _ in range(3):
            ref = world.order()
            sender.kick()
            world.supplier.wait_for(f"[{ref}] New order")
    finally:
        report = sender.close()
    assert report.sent == 3 and sender.sender.opened == 1


def test_an_address_that_cannot_go_on_an_smtp_command_line_fails_its_row_alone(world: World) -> None:
    import asyncio

    from bot.outbox import send_outbox

    world.order()
    second = world.order()
    with session(world.app.engine) as s:  # as if a sender wrote `From: Bob <a b@evil.test>`
        first = s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert first is not None
        first.recipients = "a b@evil.test"
        s.commit()
    report = asyncio.run(send_outbox(world.app))
    assert (report.sent, report.failed) == (1, 1)
    world.supplier.wait_for(f"[{second}] New order")
    with session(world.app.engine) as s:
        failed = s.get(OutboxMessage, first.id)
        assert failed is not None and failed.status is OutboxStatus.FAILED
        assert "SMTP command line" in failed.last_error
    assert asyncio.run(send_outbox(world.app)).failed == 0  # failed for good: not taken again
