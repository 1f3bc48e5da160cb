"""`supplierbot run` as a real process: IDLE wakes it on new mail; SIGTERM stops it cleanly."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from bot.runner import run_forever
from tests.conftest import World, terminate


def test_run_answers_new_mail_at_once_through_idle(world: World) -> None:
    # the scheduled poll runs at start, then only every 10 minutes: a quick answer means IDLE
    world.reconfigure(bot={"poll_interval_seconds": 600})
    ref = world.order()
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(world.config_path), "run"],
                           env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=15)
        world.supplier.reply(new_order, "When do you need the bolts?")
        started = time.monotonic()
        assert "When do you need the bolts?" in world.buyer.wait_for("Question from", timeout=15).text
        assert time.monotonic() - started < 5
    finally:
        terminate(bot, timeout=10)
    assert bot.returncode == 0, bot.stderr.read().decode() if bot.stderr else ""


def test_run_reconnects_idle_after_the_connection_drops(world: World) -> None:
    from tests.tcpproxy import CuttingProxy

    proxy = CuttingProxy(world.supplier.imap_port)
    world.config_path.write_text(world.config_path.read_text().replace(
        f"port = {world.supplier.imap_port}", f"port = {proxy.port}"))
    world.reconfigure(bot={"poll_interval_seconds": 600})
    ref = world.order()
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(world.config_path), "run"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=15)
        time.sleep(1.5)  # the watcher is in IDLE now
        proxy.cut_all()
        assert proxy.cuts >= 1
        time.sleep(0.5)
        world.supplier.reply(new_order, "Still there?")
        started = time.monotonic()
        assert "Still there?" in world.buyer.wait_for("Question from", timeout=15).text
        assert time.monotonic() - started < 6  # IDLE again after a 1 s backoff, not the 10-minute poll
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=15)
        proxy.close()
    assert bot.returncode == 0


class FlakySmtp:
    """An SMTP server that answers DATA with 451 (try again later) `refusals` times, then accepts."""

    def __init__(self, refusals: int) -> None:
        from aiosmtpd.controller import Controller

        from bot.devmail import free_port

        self.refusals = refusals
        self.attempts: dict[bytes, list[float]] = {}  # by subject
        self.accepted: list[bytes] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port = self.controller.port

    async def handle_DATA(self, server, session, envelope) -> str:
        subject = re.search(rb"(?m)^Subject: (.*)$", envelope.content).group(1)
        tries = self.attempts.setdefault(subject, [])
        tries.append(time.monotonic())
        if len(tries) <= self.refusals:
            return "451 4.3.0 Temporary local problem, try again later"
        self.accepted.append(subject)
        return "250 OK"


def test_a_temporary_refusal_is_retried_on_its_own_timer_not_at_the_next_poll(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.outbox.backoff", lambda attempts: timedelta(seconds=2 * attempts))
    smtp = FlakySmtp(refusals=2)
    world.config_path.write_text(world.config_path.read_text().replace(
        f"port = {world.supplier.smtp_port}\nsecurity", f"port = {smtp.port}\nsecurity"))
    world.reconfigure(bot={"poll_interval_seconds": 600})  # the scheduled poll: at start, then in 10 minutes
    ref = world.order()
    stop = threading.Event()
    bot = threading.Thread(target=run_forever, args=(world.app, stop), daemon=True)
    bot.start()
    try:
        deadline = time.monotonic() + 20
        while not any(ref.encode() in subject for subject in smtp.accepted) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        bot.join(timeout=15)
        smtp.controller.stop()
    assert not bot.is_alive()
    (attempts,) = [tries for subject, tries in smtp.attempts.items() if ref.encode() in subject]
    gaps = [round(b - a, 1) for a, b in zip(attempts, attempts[1:])]
    print("seconds between attempts:", gaps)
    # back-off 2 s, then 4 s; the upper bounds leave room for a loaded machine (the next poll is 600 s away)
    assert len(gaps) == 2 and 1.7 < gaps[0] < 6.0 and 3.7 < gaps[1] < 9.0


def _polls(fetched: list[int], wake_during: set[int] = frozenset()) -> int:
    """How many polls poll_until_quiet runs when the polls find `fetched` new messages one after
    the other (0 once the list is used up) and IDLE announces mail during the polls in `wake_during`."""
    from bot.runner import PollReport, poll_until_quiet
    wake, stop = threading.Event(), threading.Event()
    counts = iter(fetched)
    done: list[int] = []

    def poll() -> PollReport:
        if len(done) in wake_during:
            wake.set()
        done.append(1)
        return PollReport(fetched=next(counts, 0))

    return poll_until_quiet(poll, wake, stop)


def test_a_poll_that_found_mail_looks_again_at_once_for_the_rest_of_the_burst() -> None:
    # Dovecot announces new mail half a second late: the rest of a burst that arrived while the
    # scans at its head were fetched is fetched at once, not at the next IDLE notice
    assert _polls([20, 50]) == 3
    assert _polls([3]) == 2


def test_polls_stop_when_nothing_came_and_nothing_was_announced() -> None:
    assert _polls([]) == 1
    assert _polls([], wake_during={0}) == 2  # announced during the first poll, and nothing found after
    assert _polls([0, 2], wake_during={0}) == 3


def test_polls_for_found_mail_alone_are_bounded() -> None:
    # a server that gives a new UIDVALIDITY at every session has the whole mailbox "new" each
    # time: the polls do not go on back to back for ever, only IDLE and the schedule start more
    from bot.runner import AGAIN_AFTER_FOUND
    assert _polls([7] * 100) == AGAIN_AFTER_FOUND + 1
    assert _polls([7] * 100, wake_during={3}) == 4 + AGAIN_AFTER_FOUND + 1  # an announcement starts the count again


@pytest.mark.parametrize("early", [True, False])
def test_run_starts_the_readers_at_once_unless_told_to_wait_for_a_document(world: World, early: bool) -> None:
    world.reconfigure(bot={"poll_interval_seconds": 600}, reading={"start_early": early})
    stop = threading.Event()
    bot = threading.Thread(target=run_forever, args=(world.app, stop), daemon=True)
    bot.start()
    try:
        readers = world.app.readers
        deadline = time.monotonic() + (20 if early else 2)  # not started: looked at for 2 s
        while readers._pool is None and time.monotonic() < deadline:
            time.sleep(0.05)
        started = readers._pool is not None
    finally:
        stop.set()
        bot.join(timeout=15)
        world.app.readers.close()
    assert started is early
