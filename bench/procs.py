"""Peak memory of a process and everything it starts (workers, reader pool, OCR), and where the
machine's CPU went during a benchmark, sampled from /proc."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _peak_kib(pid: int) -> tuple[str, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return command[:120], int(line.split()[1])
    return None


class TreePeaks:
    """Samples VmHWM (peak RSS) of a process tree every `interval` seconds until stopped."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root, self.interval = root, interval
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TreePeaks:
        self._thread.start()
        return self

    def stop(self) -> dict[int, tuple[str, int]]:
        self._stop.set()
        self._thread.join()
        return self.peaks

    def _run(self) -> None:
        while not self._stop.is_set():
            todo, seen = [self.root], set()
            while todo:
                pid = todo.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                sample = _peak_kib(pid)
                if sample is not None:
                    self.peaks[pid] = (sample[0], max(sample[1], self.peaks.get(pid, ("", 0))[1]))
                todo += _children(pid)
            self._stop.wait(self.interval)

    def summary(self) -> str:
        """The largest peak, and each kind of process's largest."""
        kinds: dict[str, int] = {}
        for command, kib in self.peaks.values():
            kind = ("reader pool" if "forkserver" in command or "multiprocessing" in command
                    else "tesseract" if "tesseract" in command else "bot")
            kinds[kind] = max(kinds.get(kind, 0), kib)
        parts = ", ".join(f"{kind} {kib / 1024:.0f} MB" for kind, kib in sorted(kinds.items()))
        return f"peak RSS of each process ({len(self.peaks)} processes): largest {parts}"


def _busy_ticks() -> tuple[int, int]:
    """The machine's (busy, total) clock ticks since boot, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return total - fields[3] - fields[4], total


def _cpu_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after the command, which may hold spaces
    return int(fields[11]) + int(fields[12])  # utime, stime


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class CpuAccount:
    """Where the machine's CPU went while a benchmark ran: every process's CPU time, sampled from
    /proc every `interval` seconds (a process that lives shorter than that is missed; one that
    ends between samples loses at most its last interval), grouped by kind, and the machine's
    busy time. On a machine that runs the mail system and the database beside the bot, this
    tells a bound of the machine from a bound of the bot: a rate cannot exceed the cores
    divided by the CPU all processes spend on one message."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, bot_root: int, interval: float = 0.2) -> None:
        self.bot_root, self.interval = bot_root, interval
        self.used: dict[int, int] = {}  # pid → ticks used since the start
        self.kinds: dict[int, str] = {}
        self._base: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuAccount:
        self._started = time.monotonic()
        self._machine = _busy_ticks()
        self._base = {pid: ticks for pid in self._pids() if (ticks := _cpu_ticks(pid)) is not None}
        self._thread.start()
        return self

    def stop(self) -> CpuAccount:
        self._stop.set()
        self._thread.join()
        self._sample()
        busy, total = _busy_ticks()
        self.seconds = time.monotonic() - self._started
        self.busy_cores = (busy - self._machine[0]) / (total - self._machine[1]) * os.cpu_count()
        return self

    @staticmethod
    def _pids() -> list[int]:
        return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]

    def _bot_tree(self) -> set[int]:
        todo, seen = [self.bot_root], set()
        while todo:
            pid = todo.pop()
            if pid not in seen:
                seen.add(pid)
                todo += _children(pid)
        return seen

    def _sample(self) -> None:
        tree = self._bot_tree()
        for pid in self._pids():
            ticks = _cpu_ticks(pid)
            if ticks is None:
                continue
            if pid not in self.kinds:
                self.kinds[pid] = self._kind(pid, tree)
            base = self._base.get(pid, 0)
            if ticks < base:  # the pid was reused by a new process
                self._base[pid] = base = 0
            self.used[pid] = max(self.used.get(pid, 0), ticks - base)

    def _kind(self, pid: int, tree: set[int]) -> str:
        if pid in tree:
            command = _command(pid)
            return "bot's readers" if "forkserver" in command or "multiprocessing" in command else "bot"
        if pid == os.getpid():
            return "relay and bench"  # the dev relay (aiosmtpd) runs in the bench's own process
        command = _command(pid)
        for kind in ("postgres", "dovecot"):
            if kind in command:
                return kind
        return "other (not the benchmark's)"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def cores(self) -> dict[str, float]:
        """Each kind's CPU over the run, in cores (1.0: one core busy all the time)."""
        spent: dict[str, float] = {}
        for pid, ticks in self.used.items():
            spent[self.kinds[pid]] = spent.get(self.kinds[pid], 0.0) + ticks / self.TICK / self.seconds
        return spent

    def summary(self, messages: int) -> str:
        """The machine's busy cores, each kind's share, the CPU per message, and the rate the
        machine's cores would allow at that CPU per message."""
        cores = self.cores()
        total_ms = sum(cores.values()) * self.seconds * 1000 / messages
        bot_ms = (cores.get("bot", 0.0) + cores.get("bot's readers", 0.0)) * self.seconds * 1000 / messages
        kinds = ", ".join(f"{kind} {value:.2f}" for kind, value in sorted(cores.items(), key=lambda kv: -kv[1]))
        ceiling = os.cpu_count() * 1000 / total_ms if total_ms else 0.0
        return (f"CPU: machine {self.busy_cores:.2f} of {os.cpu_count()} cores busy; by kind (cores): {kinds}; "
                f"a message costs {bot_ms:.1f} ms of the bot's CPU and {total_ms:.1f} ms of all processes' "
                f"(at that cost {os.cpu_count()} cores allow at most {ceiling:,.0f} msg/s)")
