"""The senders' own journal: which outbox rows are on the wire, and which the server accepted.

It is a small SQLite file of its own (in the data folder), written only by senders, so a
"sent" mark never waits for the write lock a poll holds on the main database while it
processes a batch. Marks are folded into the outbox table at the next claim. A row whose
mark says "sending" when its sender died, or "unknown" after a connection dropped
mid-send, had an outcome nobody knows: the sender looks for the bot's own copy of it
before sending it again (bot/outbox.py).
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

FILENAME = "outbox-sendlog.sqlite"
SENDING, SENT, UNKNOWN = "sending", "sent", "unknown"


@dataclass(frozen=True)
class Mark:
    outbox_id: int
    message_id: str
    state: str
    owner: str
    at: datetime


class SendLog:
    """One short autocommitted statement per call, on one connection shared by the threads of
    one sender run (under a lock); other processes have their own."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILENAME
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a "sending" mark must survive a power cut too, or a crash would look like "never sent"
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS mark (outbox_id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, "
                        "state TEXT NOT NULL, owner TEXT NOT NULL, at REAL NOT NULL)")

    def close(self) -> None:
        self.db.close()

    def _run(self, sql: str, params: Iterable[object] = ()) -> None:
        with self.lock:
            self.db.execute(sql, tuple(params))

    def sending(self, outbox_id: int, message_id: str, owner: str, now: datetime) -> None:
        """Written before the first byte of the email goes out."""
        self._run("INSERT OR REPLACE INTO mark VALUES (?, ?, ?, ?, ?)",
                  (outbox_id, message_id, SENDING, owner, now.timestamp()))

    def sent(self, outbox_id: int) -> None:
        """The server said 250 (or the bot's copy of the email was found)."""
        self._run("UPDATE mark SET state = ? WHERE outbox_id = ?", (SENT, outbox_id))

    def unknown(self, outbox_id: int) -> None:
        """The connection broke while the email was on the wire: it may or may not have gone."""
        self._run("UPDATE mark SET state = ? WHERE outbox_id = ?", (UNKNOWN, outbox_id))

    def forget(self, outbox_ids: Iterable[int]) -> None:
        ids = list(outbox_ids)
        if ids:
            self._run(f"DELETE FROM mark WHERE outbox_id IN ({','.join('?' * len(ids))})", ids)

    def marks(self) -> list[Mark]:
        with self.lock:
            rows = self.db.execute("SELECT outbox_id, message_id, state, owner, at FROM mark "
                                   "ORDER BY outbox_id").fetchall()
        return [Mark(int(i), str(m), str(st), str(o), datetime.fromtimestamp(float(a), timezone.utc))
                for i, m, st, o, a in rows]
