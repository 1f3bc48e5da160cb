"""The worker processes of `supplierbot run --workers N`: started beside the first, restarted
when one dies, stopped with it.

A worker that dies (the kernel's OOM killer, a crash in a native library) loses nothing: its
claims are taken over by the others at once (its pid is gone), and it is started again. One
that keeps dying soon after its start is started again less and less often, so a broken
configuration or database does not turn into a busy loop of start-ups.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("supplierbot.supervise")

#: a worker that lived this long before it died was healthy: it is started again at once
HEALTHY_SECONDS = 60.0
MAX_DELAY_SECONDS = 60.0
WATCH_SECONDS = 0.5
STOP_SECONDS = 30.0  # a worker still running this long after SIGTERM is killed
PARENT_ENV = "SUPPLIERBOT_WORKER_OF"  # set in a worker's environment: the first process's pid


def restart_delay(lived: float, quick_deaths: int) -> float:
    """Seconds to wait before starting a worker again that died after `lived` seconds, the
    `quick_deaths`-th time in a row that it died soon after its start (1 for the first)."""
    if lived >= HEALTHY_SECONDS:
        return 0.0
    return min(MAX_DELAY_SECONDS, 2.0 ** min(max(quick_deaths - 1, 0), 16))


@dataclass
class _Slot:
    process: subprocess.Popen | None  # None: could not be started; tried again when due
    started: float
    quick_deaths: int = 0
    due: float | None = None  # when a dead worker is started again


class Workers:
    """`count` processes of `command`, kept running until `stop()`."""

    def __init__(self, command: list[str], count: int, clock: Callable[[], float] = time.monotonic,
                 stopping: threading.Event | None = None) -> None:
        """`stopping`: set when the first process begins to stop (its SIGTERM or SIGINT, which
        the workers got too): a worker that ends from then on is not started again."""
        self.command, self.count, self.clock = command, count, clock
        self.stopping = stopping or threading.Event()
        self.slots: list[_Slot] = []
        self.restarts = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="workers-watch", daemon=True)

    def start(self, watch: bool = True) -> Workers:
        """Start the workers, and (`watch`) the thread that checks on them every WATCH_SECONDS.
        A worker that cannot be started now is tried again as if it had died at its start."""
        now = self.clock()
        for _ in range(self.count):
            process = self._spawn()
            slot = _Slot(process, now) if process is not None else _Slot(None, now, 1, now + restart_delay(0, 1))
            self.slots.append(slot)
        if self.slots and watch:
            self._thread.start()
        return self

    def pids(self) -> list[int]:
        with self._lock:
            return [slot.process.pid for slot in self.slots if slot.process is not None and slot.process.poll() is None]

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM to every worker (each finishes what it holds) and wait for them; one still
        running after `timeout` is killed (its claims pass to the others at once)."""
        self.stopping.set()  # the watch ends, and starts nothing more
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process did not stop in time; killed", extra={"pid": process.pid})
                process.kill()
                process.wait()

    def _spawn(self) -> subprocess.Popen | None:
        """A new worker; None when the system cannot start one now (out of memory or processes)."""
        try:
            return subprocess.Popen(self.command, env={**os.environ, PARENT_ENV: str(os.getpid())})
        except OSError as exc:
            log.error("worker process could not be started", extra={"error": str(exc)})
            return None

    def _watch(self) -> None:
        while not self.stopping.wait(WATCH_SECONDS):
            with self._lock:
                try:
                    self.check()
                except Exception:  # the watch goes on: a worker short is better than none restarted
                    log.exception("watching the worker processes failed")

    def check(self) -> None:
        """Plan a restart for each worker found dead, and start those that are due (none once
        the first process is stopping)."""
        if self.stopping.is_set():
            return
        now = self.clock()
        for number, slot in enumerate(self.slots, start=2):  # the first is this process
            if slot.due is None and slot.process is not None and slot.process.poll() is not None:
                lived = now - slot.started
                slot.quick_deaths = 0 if lived >= HEALTHY_SECONDS else slot.quick_deaths + 1
                slot.due = now + restart_delay(lived, slot.quick_deaths)
                log.warning("worker process ended; it is started again", extra={
                    "worker": number, "pid": slot.process.pid, "returncode": slot.process.returncode,
                    "lived_seconds": round(lived, 1), "restart_in_seconds": round(slot.due - now, 1)})
            if slot.due is not None and now >= slot.due:
                process = self._spawn()
                if process is None:  # tried again later, as after a death at start
                    slot.quick_deaths += 1
                    slot.due = now + restart_delay(0.0, slot.quick_deaths)
                    continue
                slot.process, slot.started, slot.due = process, now, None
                self.restarts += 1
                log.info("worker process started again", extra={"worker": number, "pid": process.pid})


def stop_with_parent(stop: threading.Event) -> None:
    """In a worker started by `Workers`: set `stop` when the first process is gone (killed
    without a chance to stop its workers), so a restarted first process does not find the old
    workers still running beside the new ones."""
    parent = os.environ.get(PARENT_ENV, "")
    if not parent.isdigit():
        return

    def watch() -> None:
        while not stop.wait(WATCH_SECONDS):
            if os.getppid() != int(parent):
                log.warning("the first process is gone; this worker stops")
                stop.set()
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
