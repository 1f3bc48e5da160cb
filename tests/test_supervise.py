"""`run --workers N`: a worker process that dies is started again, at once after a healthy
life, less and less often when it keeps dying at its start; all of them stop with the first."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.supervise import HEALTHY_SECONDS, MAX_DELAY_SECONDS, Workers, restart_delay
from tests.conftest import terminate
from tests.test_postgres import pg_world  # noqa: F401  (fixture)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
QUITTER = [sys.executable, "-c", "raise SystemExit(3)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _dead(process: subprocess.Popen) -> None:
    process.wait(timeout=10)


def test_restart_delays_grow_only_for_workers_that_die_soon_after_their_start() -> None:
    assert restart_delay(HEALTHY_SECONDS, 5) == 0.0
    assert [restart_delay(1.0, n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert restart_delay(1.0, 30) == MAX_DELAY_SECONDS
    assert restart_delay(1.0, 5000) == MAX_DELAY_SECONDS  # a day of a broken setup: no overflow


def test_a_worker_killed_after_a_healthy_life_is_started_again_at_once() -> None:
    clock = Clock()
    workers = Workers(SLEEPER, 2, clock).start(watch=False)
    try:
        first, second = (slot.process for slot in workers.slots)
        clock.now += HEALTHY_SECONDS + 5
        first.send_signal(signal.SIGKILL)  # the OOM killer, say
        _dead(first)
        workers.check()
        assert workers.restarts == 1
        assert workers.slots[0].process is not first and workers.slots[0].process.poll() is None
        assert workers.slots[1].process is second  # the other one was left alone
        assert sorted(workers.pids()) == sorted([workers.slots[0].process.pid, second.pid])
    finally:
        workers.stop()
    assert all(slot.process.poll() is not None for slot in workers.slots)


def test_a_worker_that_dies_at_its_start_is_started_again_less_and_less_often() -> None:
    clock = Clock()
    workers = Workers(QUITTER, 1, clock).start(watch=False)
    started = []
    try:
        for _ in range(4):
            _dead(workers.slots[0].process)
            workers.check()  # found dead: its restart is planned
            due = workers.slots[0].due
            assert due is not None
            started.append(due - clock.now)
            clock.now = due - 0.01
            workers.check()
            assert workers.slots[0].due == due, "started before its time"
            clock.now = due
            workers.check()
            assert workers.slots[0].due is None
        assert started == [1.0, 2.0, 4.0, 8.0]
        assert workers.restarts == 4
    finally:
        workers.stop()


def test_stopping_ends_every_worker_with_sigterm() -> None:
    workers = Workers(SLEEPER, 2).start()
    assert len(workers.pids()) == 2
    started = time.monotonic()
    workers.stop()
    assert time.monotonic() - started < 10  # not the sleepers' 60 s
    assert [slot.process.returncode for slot in workers.slots] == [-signal.SIGTERM] * 2
    assert workers.restarts == 0


def test_a_worker_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    stubborn = [sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(60)"]
    workers = Workers(stubborn, 1).start(watch=False)
    time.sleep(0.5)  # its handler is in place
    workers.stop(timeout=0.5)
    assert workers.slots[0].process.returncode == -signal.SIGKILL


def test_no_worker_is_started_again_once_the_first_process_is_stopping() -> None:
    # SIGINT from a terminal, or systemd's SIGTERM to the whole group, ends the workers while
    # the first process still stops: they are not started again meanwhile
    clock, stopping = Clock(), threading.Event()
    workers = Workers(SLEEPER, 1, clock, stopping=stopping).start(watch=False)
    try:
        child = workers.slots[0].process
        child.send_signal(signal.SIGTERM)
        _dead(child)
        stopping.set()
        clock.now += HEALTHY_SECONDS + 5
        workers.check()
        assert workers.restarts == 0 and workers.slots[0].process is child
    finally:
        workers.stop()


def test_a_worker_that_cannot_be_started_is_tried_again_later() -> None:
    clock = Clock()
    workers = Workers(["/nonexistent/supplierbot"], 1, clock).start(watch=False)  # Popen raises OSError
    assert workers.slots[0].process is None and workers.slots[0].due == clock.now + 1
    clock.now += 1
    workers.check()  # fails again: the next try later still
    assert workers.slots[0].process is None and workers.slots[0].due == clock.now + 2
    workers.command = SLEEPER  # the system can start processes again
    clock.now += 2
    workers.check()
    try:
        assert workers.restarts == 1 and workers.slots[0].process.poll() is None
    finally:
        workers.stop()


def test_a_worker_stops_when_the_first_process_is_gone(monkeypatch) -> None:
    from bot.supervise import PARENT_ENV, stop_with_parent

    monkeypatch.setenv(PARENT_ENV, str(os.getppid()))
    alive = threading.Event()
    stop_with_parent(alive)
    monkeypatch.setenv(PARENT_ENV, str(os.getppid() + 100000))  # as if the first process had died
    orphan = threading.Event()
    stop_with_parent(orphan)
    assert orphan.wait(5)
    assert not alive.is_set()
    alive.set()  # ends its watch


def _bot_children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                if b"bot.cli" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.add(child)
            except OSError:
                pass
    return found


def _wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_run_with_two_workers_starts_a_killed_worker_again_and_keeps_answering(request: pytest.FixtureRequest) -> None:
    world = request.getfixturevalue("pg_world")  # skips without a PostgreSQL server
    world.reconfigure(bot={"poll_interval_seconds": 600})
    ref = world.order()
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(world.config_path), "run",
                            "--workers", "2"], env={**os.environ}, stderr=subprocess.PIPE)
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=20)
        (child,) = _wait_for(lambda: _bot_children(bot.pid))
        os.kill(child, signal.SIGKILL)
        (again,) = _wait_for(lambda: _bot_children(bot.pid) - {child})
        assert again != child
        world.supplier.reply(new_order, "When do you need the bolts?")
        assert "When do you need the bolts?" in world.buyer.wait_for("Question from", timeout=20).text
    finally:
        terminate(bot, timeout=20)
    stderr = bot.stderr.read().decode() if bot.stderr else ""
    assert bot.returncode == 0, stderr
    assert "worker process ended; it is started again" in stderr
    assert not Path(f"/proc/{again}").exists()  # the new worker stopped with the first
