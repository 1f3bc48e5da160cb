"""The sender thread: the outbox goes out while the worker goes on applying.

A worker that sends its own answers stops applying for every send (connections, SMTP round
trips), and a thread that sends beside it waits for the GIL at every round trip. Here one thread
owns an event loop and a `Sender` (its SMTP connections kept open between sends) for the life of
the process; whoever commits rows to the outbox calls `kick()`, and the rows go out at once,
over connections already open, while the committing thread carries on. A short switch interval
(bot/runner.py's `short_switches`) hands the GIL to this thread within a millisecond of its
socket becoming readable.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from bot.app import App
from bot.outbox import Sender, SendReport

log = logging.getLogger("supplierbot.sending")

#: a process's main loop sets this: the sender's round trips are not held up by a busy worker
SWITCH_INTERVAL = 0.001


class SenderThread:
    """Sends what is queued each time it is kicked (a kick during a send makes one more), and
    once more at `close()`. `on_report` sees every send's report (the retry timer plans from it)."""

    def __init__(self, app: App, on_report: Callable[[SendReport], None] = lambda report: None) -> None:
        self.app, self.on_report = app, on_report
        self.total = SendReport()
        self.sends = 0
        self.sender = Sender(app)  # used on this thread's loop only
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sender", daemon=True)

    def start(self) -> SenderThread:
        self._thread.start()
        return self

    def kick(self) -> None:
        """Rows were committed to the outbox: send them now."""
        self._wake.set()

    def close(self, timeout: float | None = None) -> SendReport:
        """Send what is queued, then stop (`timeout`: a send still running after it is left to the
        daemon thread, and settled as unsure at the next start); the sum of every send's report
        (`deferred` and `error` from the last)."""
        self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return self.total

    def _run(self) -> None:
        loop, sender = asyncio.new_event_loop(), self.sender
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                closing = self._closing
                self._send(loop, sender)
                if closing:
                    return
        finally:
            try:
                loop.run_until_complete(sender.close())
            finally:
                loop.close()

    def _send(self, loop: asyncio.AbstractEventLoop, sender: Sender) -> None:
        try:
            report = loop.run_until_complete(sender.send())
        except Exception as exc:  # the database is away, say: the rows stay queued for the next kick
            log.exception("sender failed; the rows stay queued")
            self.total.error = f"sending failed: {type(exc).__name__}: {exc}"
            return
        finally:
            _cancel_leftovers(loop)
        self.sends += 1
        self.total.sent += report.sent
        self.total.failed += report.failed
        self.total.deferred = report.deferred  # what still waits after the latest send
        self.total.error = report.error
        try:
            self.on_report(report)
        except Exception:  # planning the next retry failed (stopping, the database away): the next kick plans
            log.exception("after a send")


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """What a send left running on the loop (a connection still in DATA when another failed) is
    cancelled now, as asyncio.run would: never resumed at the next kick, after its row was given
    back and perhaps sent again."""
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
