"""The worker processes of `supplierbot run --workers N`: started beside the first, restarted
when one dies, stopped with it.

A worker that dies (the kernel's OOM killer, a crash in a native library) loses nothing: its
claims are taken over by the others at once (its pid is gone), and it is started again. One
that keeps dying soon after its start is started again less and less often, so a broken
configuration or database does not turn into a busy loop of start-ups.
"""
from __future__ import annotations

import logging
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


def restart_delay(lived: float, quick_deaths: int) -> float:
    """Seconds to wait before starting a worker again that died after `lived` seconds, the
    `quick_deaths`-th time in a row that it died soon after its start (1 for the first)."""
    if lived >= HEALTHY_SECONDS:
        return 0.0
    return min(MAX_DELAY_SECONDS, 2.0 ** (quick_deaths - 1))


@dataclass
class _Slot:
    process: subprocess.Popen
    started: float
    quick_deaths: int = 0
    due: float | None = None  # when a dead worker is started again


class Workers:
    """`count` processes of `command`, kept running until `stop()`."""

    def __init__(self, command: list[str], count: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.command, self.count, self.clock = command, count, clock
        self.slots: list[_Slot] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="workers-watch", daemon=True)

    def start(self, watch: bool = True) -> Workers:
        """Start the workers, and (`watch`) the thread that checks on them every WATCH_SECONDS."""
        self.slots = [_Slot(self._spawn(), self.clock()) for _ in range(self.count)]
        if self.slots and watch:
            self._thread.start()
        return self

    def pids(self) -> list[int]:
        with self._lock:
            return [slot.process.pid for slot in self.slots if slot.process.poll() is None]

    def stop(self) -> None:
        """SIGTERM to every worker (each finishes what it holds) and wait for them."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            for slot in self.slots:
                if slot.process.poll() is None:
                    slot.process.send_signal(signal.SIGTERM)
            for slot in self.slots:
                slot.process.wait()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.command)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            with self._lock:
                if not self._stop.is_set():
                    self.check()

    def check(self) -> None:
        """Plan a restart for each worker found dead, and start those that are due."""
        now = self.clock()
        for number, slot in enumerate(self.slots, start=2):  # the first is this process
            if slot.due is None and slot.process.poll() is not None:
                lived = now - slot.started
                slot.quick_deaths = 0 if lived >= HEALTHY_SECONDS else slot.quick_deaths + 1
                slot.due = now + restart_delay(lived, slot.quick_deaths)
                log.warning("worker process ended; it is started again", extra={
                    "worker": number, "pid": slot.process.pid, "returncode": slot.process.returncode,
                    "lived_seconds": round(lived, 1), "restart_in_seconds": round(slot.due - now, 1)})
            if slot.due is not None and now >= slot.due:
                slot.process, slot.started, slot.due = self._spawn(), now, None
                self.restarts += 1
                log.info("worker process started again", extra={"worker": number, "pid": slot.process.pid})
