"""Peak memory of a process and everything it starts (workers, reader pool, OCR), sampled from /proc."""
from __future__ import annotations

import threading
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
