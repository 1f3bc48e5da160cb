"""The senders' own journal: which outbox rows are on the wire, and which the server accepted.

It is a small SQLite file of its own (in the data folder), written only by senders, so a
"sent" mark never waits for the write lock a poll holds on the main database while it
processes a batch. Marks are folded into the outbox table at the next claim. A row whose
mark says "sending" when its sender died, or "unknown" after a connection dropped
mid-send, had an outcome nobody knows: the sender looks for the bot's own copy of it
before sending it again (bot/outbox.py).
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
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


def _set_wal(db: sqlite3.Connection, tries: int = 100) -> None:
    """WAL, as the file is already in after its first opening. Switching a new file to WAL while
    another sender opens it too can fail at once with "database is locked" (SQLite does not
    always wait in its busy handler for that lock): it is tried again, for up to ~5 s."""
    for attempt in range(tries):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)


class SendLog:
    """One short autocommitted statement per call, on one connection shared by the threads of
    one sender run (under a lock); other processes have their own."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILENAME
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        _set_wal(self.db)
        # FULL: a "sending" mark must survive a power cut too, or a crash would look like "never sent"
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS mark (outbox_id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, "
                        "state TEXT NOT NULL, owner TEXT NOT NULL, at REAL NOT NULL)")

    def close(self) -> None:
        self.db.close()

    def _run(self, sql: str, params: Iterable[object] = ()) -> None:
        with self.lock:
            self.db.execute(sql, tuple(params))

    def write(self, statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
        """Several marks in one transaction: durable together, at the cost of one fsync."""
        with self.lock:
            self._write(statements)

    def _write(self, statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
        """Under `lock`."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self.db.execute(sql, params)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def sending(self, outbox_id: int, message_id: str, owner: str, now: datetime) -> None:
        """Written before the first byte of the email goes out."""
        self._run(*_sending(outbox_id, message_id, owner, now))

    def sent(self, outbox_id: int) -> None:
        """The server said 250 (or the bot's copy of the email was found)."""
        self._run(*_sent(outbox_id))

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


def _sending(outbox_id: int, message_id: str, owner: str, now: datetime) -> tuple[str, tuple[object, ...]]:
    return ("INSERT OR REPLACE INTO mark VALUES (?, ?, ?, ?, ?)",
            (outbox_id, message_id, SENDING, owner, now.timestamp()))


def _sent(outbox_id: int) -> tuple[str, tuple[object, ...]]:
    return "UPDATE mark SET state = ? WHERE outbox_id = ?", (SENT, outbox_id)


class GroupCommit:
    """The marks of several SMTP connections written together, one transaction (one fsync) for
    whatever piled up while the previous one was being written, in a worker thread.

    `await sending(...)` returns once that mark is durable: only then may its DATA start.
    `sent(...)` only queues its mark: it goes with the next group (the next "sending", a
    `flush`, or `flush_now` at the end of a run). A "sent" mark lost in a crash costs no email
    twice: the row still says "sending", and its copy is looked for before it is sent again.
    """

    def __init__(self, sendlog: SendLog) -> None:
        self.sendlog = sendlog
        self.pending: list[tuple[str, tuple[object, ...]]] = []
        self.unwritten: list[tuple[str, tuple[object, ...]]] = []  # "sent" marks of a group whose write failed
        self.inflight: _Batch | None = None
        self.writer: asyncio.Task[None] | None = None
        self.written: asyncio.Future[None] | None = None  # resolved when `pending` is durable

    async def sending(self, outbox_id: int, message_id: str, owner: str, now: datetime) -> None:
        self.pending.append(_sending(outbox_id, message_id, owner, now))
        await self._durable()

    def sent(self, outbox_id: int) -> None:
        self.pending.append(_sent(outbox_id))

    async def flush(self) -> None:
        if self.pending:
            await self._durable()
        elif self.written is not None:
            await asyncio.shield(self.written)

    def flush_now(self) -> None:
        """From outside the event loop (a run ending, even cancelled): whatever was not written yet."""
        with self.sendlog.lock:
            if self.inflight is not None and not self.inflight.done:
                self.pending[:0] = self.inflight.statements  # never started (cancelled): write it here
                self.inflight.done = True
        statements, self.pending, self.unwritten = self.unwritten + self.pending, [], []
        if statements:
            self.sendlog.write(statements)

    async def _durable(self) -> None:
        if self.written is None:
            self.written = asyncio.get_running_loop().create_future()
            self.written.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
        waiting = self.written
        if self.writer is None or self.writer.done():
            self.writer = asyncio.ensure_future(self._write())
        await asyncio.shield(waiting)

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending, self.unwritten = _Batch(self.unwritten + self.pending), [], []
            done, self.written = self.written, None
            self.inflight = batch
            try:
                await asyncio.to_thread(self._write_batch, batch)
            except BaseException as exc:
                if not batch.done:  # its "sent" marks go with the next group (lost, their rows would be unsure)
                    self.unwritten += [statement for statement in batch.statements if statement[1][:1] == (SENT,)]
                if done is not None and not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("send log not written"))
                if not isinstance(exc, Exception):
                    raise
                continue
            if done is not None and not done.done():
                done.set_result(None)

    def _write_batch(self, batch: _Batch) -> None:
        with self.sendlog.lock:
            if not batch.done:
                self.sendlog._write(batch.statements)
                batch.done = True


class _Batch:
    def __init__(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        self.statements, self.done = statements, False
